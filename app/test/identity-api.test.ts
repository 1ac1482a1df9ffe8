/**
 * The identity and resource APIs against real PostgreSQL: shapes and filters, project
 * hierarchy and tags, the integrity rules (concurrent creates, bad input that stores nothing,
 * cascades) and the sessions that end with a membership, a user or a password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { build } from '../src/app.js';
import { createPool } from '../src/db.js';
import { until } from './events.js';
import { type TestDatabase, testDatabase } from './helpers.js';
import { createPersonas, PERSONA_PASSWORD, type Personas } from './personas.js';

let t: TestDatabase;
let app: FastifyInstance;
let p: Personas;
let admin: Record<string, string>;

before(async () => {
  t = await testDatabase({ env: { IDENTITY_PASSWORD_EXPIRES_DAYS: '30' } });
  p = await createPersonas(t);
  admin = p.headers('system_admin');
  app = await build({ config: t.config, db: t.db, clock: () => Date.now() + clockAhead });
});
after(async () => {
  await app.close();
  await t.drop();
});

const call = (method: InjectOptions['method'], url: string, payload?: unknown, headers = admin) =>
  app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
const count = async (table: string) =>
  Number((await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
const validate = (token: string) =>
  app.inject({
    method: 'GET',
    url: '/v3/auth/tokens',
    headers: { 'x-auth-token': admin['x-auth-token'] as string, 'x-subject-token': token },
  });
const login = async (userId: string, password: string, scope?: unknown) => {
  const res = await app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: {
      auth: {
        identity: { methods: ['password'], password: { user: { id: userId, password } } },
        ...(scope ? { scope } : {}),
      },
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.headers['x-subject-token'] as string;
};

/**
 * Broad revocation events (user, project) cover tokens issued before their whole second, so a
 * token must be a second old for the event that ends it (token/repository.ts addRevocation).
 */
let clockAhead = 0;
/** Moves the app's clock (tokens issued, revocations stamped) to its next whole second. */
const nextSecond = () => {
  const now = Date.now() + clockAhead;
  clockAhead += 1000 - (now % 1000);
};

function assertKeystoneError(res: { statusCode: number; json(): unknown }, status: number, message?: RegExp) {
  assert.equal(res.statusCode, status);
  const body = res.json() as { error: { code: number; title: string; message: string } };
  assert.equal(body.error.code, status);
  assert.equal(typeof body.error.title, 'string');
  if (message) assert.match(body.error.message, message);
}

describe('shapes, filters and links', () => {
  test('a created user shows every attribute but the password, extra attributes kept', async () => {
    const res = await call('POST', '/v3/users', {
      user: {
        name: 'shape',
        domain_id: p.domainId,
        password: 'pw',
        email: 'shape@example.test',
        unknown_flag: 1,
      },
    });
    assert.equal(res.statusCode, 201);
    const { user } = res.json();
    assert.deepEqual(Object.keys(user).sort(), [
      'domain_id',
      'email',
      'enabled',
      'id',
      'links',
      'name',
      'options',
      'password_expires_at',
      'unknown_flag',
    ]);
    assert.match(user.password_expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'expiry days apply');
    assert.equal(user.links.self, `http://identity.test:5000/v3/users/${user.id}`);
    const shown = await call('GET', `/v3/users/${user.id}`);
    assert.equal(shown.json().user.password, undefined);
    assert.ok(!shown.body.includes('"pw"'));
  });

  test('lists carry Keystone links, ignore unknown parameters and honour name__*/enabled/domain_id', async () => {
    const res = await call('GET', `/v3/users?domain_id=${p.domainId}&name__icontains=SHAP&bogus=1`);
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(body.links, {
      self: `http://identity.test:5000/v3/users?domain_id=${p.domainId}&name__icontains=SHAP&bogus=1`,
      previous: null,
      next: null,
    });
    assert.deepEqual(
      body.users.map((u: { name: string }) => u.name),
      ['shape'],
    );
    const disabled = await call('POST', '/v3/users', {
      user: { name: 'off', domain_id: p.domainId, enabled: false },
    });
    const off = await call('GET', `/v3/users?enabled=false&domain_id=${p.domainId}`);
    assert.deepEqual(
      off.json().users.map((u: { id: string }) => u.id),
      [disabled.json().user.id],
    );
  });

  test('password_expires_at filters with lt:/gt:, and a malformed one is a 400', async () => {
    const soon = new Date(Date.now() + 31 * 86_400_000).toISOString();
    const lt = await call('GET', `/v3/users?password_expires_at=lt:${soon}&name=shape`);
    assert.equal(lt.json().users.length, 1);
    const gt = await call('GET', `/v3/users?password_expires_at=gt:${soon}&name=shape`);
    assert.equal(gt.json().users.length, 0);
    assertKeystoneError(
      await call('GET', '/v3/users?password_expires_at=soon'),
      400,
      /^Timestamp not in expected format\./,
    );
  });

  test('a domain reader lists only its own domain', async () => {
    const res = await call('GET', '/v3/users', undefined, p.headers('domain_reader'));
    assert.equal(res.statusCode, 200);
    const domains = new Set(res.json().users.map((u: { domain_id: string }) => u.domain_id));
    assert.deepEqual([...domains], [p.domainId]);
  });

  test('domains: tags and options kept, name filter, the enabled one cannot be deleted', async () => {
    const res = await call('POST', '/v3/domains', {
      domain: { name: 'tagged', tags: ['blue'], options: { immutable: false }, description: 'd' },
    });
    assert.equal(res.statusCode, 201);
    const { domain } = res.json();
    assert.deepEqual(domain.tags, ['blue']);
    assert.deepEqual(domain.options, { immutable: false });
    const listed = await call('GET', '/v3/domains?name=tagged');
    assert.deepEqual(
      listed.json().domains.map((d: { id: string }) => d.id),
      [domain.id],
    );
    assertKeystoneError(
      await call('DELETE', `/v3/domains/${domain.id}`),
      403,
      /^Cannot delete a domain that is enabled, please disable it first\.$/,
    );
    const patched = await call('PATCH', `/v3/domains/${domain.id}`, {
      domain: { options: { immutable: null } },
    });
    assert.deepEqual(patched.json().domain.options, {});
  });
});

describe('project hierarchy and tags', () => {
  let top: string;
  let child: string;
  let grandchild: string;
  before(async () => {
    const mk = async (name: string, extra: Record<string, unknown>) => {
      const res = await call('POST', '/v3/projects', { project: { name, ...extra } });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().project;
    };
    const a = await mk('top', { domain_id: p.domainId, tags: ['red', 'green'] });
    top = a.id;
    assert.equal(a.parent_id, p.domainId, 'parent_id defaults to the domain');
    const b = await mk('child', { parent_id: top, domain_id: p.domainId, tags: ['red'] });
    child = b.id;
    assert.equal(b.parent_id, top);
    grandchild = (await mk('grandchild', { parent_id: child, domain_id: p.domainId })).id;
    // The lists show the projects the caller has a role on.
    for (const id of [top, child, grandchild])
      await app.services.assignment.grant({
        actor: { type: 'user', id: p.userIds.system_admin },
        target: { type: 'project', id },
        roleId: p.roles.reader as string,
      });
  });

  test('parents_as_list nearest first, subtree_as_list, parents_as_ids', async () => {
    const res = await call('GET', `/v3/projects/${grandchild}?parents_as_list`);
    assert.deepEqual(
      res.json().project.parents.map((x: { project: { id: string } }) => x.project.id),
      [child, top],
    );
    const down = await call('GET', `/v3/projects/${top}?subtree_as_list`);
    assert.deepEqual(
      down.json().project.subtree.map((x: { project: { id: string } }) => x.project.id),
      [child, grandchild],
    );
    const ids = await call('GET', `/v3/projects/${grandchild}?parents_as_ids`);
    assert.deepEqual(ids.json().project.parents, { [child]: { [top]: { [p.domainId]: null } } });
    const subtreeIds = await call('GET', `/v3/projects/${top}?subtree_as_ids`);
    assert.deepEqual(subtreeIds.json().project.subtree, { [child]: { [grandchild]: null } });
  });

  test('a parent in another domain is a 400; a project with children cannot be deleted (403)', async () => {
    // Without a domain_id the project is in the caller's (here the default) domain, as Keystone's.
    assertKeystoneError(
      await call('POST', '/v3/projects', { project: { name: 'stray', parent_id: top } }),
      400,
      /^Cannot create project, since it specifies its domain_id default, but specifies a parent in a different domain/,
    );
    assertKeystoneError(
      await call('POST', '/v3/projects', {
        project: { name: 'stray', parent_id: top, domain_id: p.otherDomainId },
      }),
      400,
      /parent in a different domain/,
    );
    assertKeystoneError(await call('DELETE', `/v3/projects/${child}`), 403, /not a leaf in the hierarchy/);
    assertKeystoneError(
      await call('PATCH', `/v3/projects/${child}`, { project: { parent_id: p.domainId } }),
      400,
      /parent_id/,
    );
  });

  test('tags, tags-any, not-tags, not-tags-any and parent_id filters', async () => {
    const names = async (query: string) =>
      (await call('GET', `/v3/projects?domain_id=${p.domainId}&${query}`))
        .json()
        .projects.map((x: { name: string }) => x.name)
        .filter((n: string) => ['top', 'child', 'grandchild'].includes(n))
        .sort();
    assert.deepEqual(await names('tags=red,green'), ['top']);
    assert.deepEqual(await names('tags-any=green,red'), ['child', 'top']);
    assert.deepEqual(await names('not-tags=red,green'), ['child', 'grandchild']);
    assert.deepEqual(await names('not-tags-any=red'), ['grandchild']);
    assert.deepEqual(await names(`parent_id=${top}`), ['child']);
  });

  test('/tags: PUT replaces, PUT one adds (201), GET one is 204 or 404, DELETE removes', async () => {
    const put = await call('PUT', `/v3/projects/${grandchild}/tags`, { tags: ['one', 'two'] });
    assert.equal(put.statusCode, 200);
    assert.deepEqual(put.json(), { links: { self: 'http://identity.test:5000/v3' }, tags: ['one', 'two'] });
    const add = await call('PUT', `/v3/projects/${grandchild}/tags/three`);
    assert.equal(add.statusCode, 201);
    assert.equal(add.body, '');
    assert.equal(add.headers.location, `http://identity.test:5000/v3/projects/${grandchild}/tags/three`);
    assert.equal((await call('GET', `/v3/projects/${grandchild}/tags/two`)).statusCode, 204);
    assert.equal((await call('GET', `/v3/projects/${grandchild}/tags/four`)).statusCode, 404);
    assert.equal((await call('DELETE', `/v3/projects/${grandchild}/tags/two`)).statusCode, 204);
    assert.deepEqual((await call('GET', `/v3/projects/${grandchild}/tags`)).json(), {
      links: { self: 'http://identity.test:5000/v3' },
      tags: ['one', 'three'],
    });
    assertKeystoneError(await call('PUT', `/v3/projects/${grandchild}/tags`, { tags: ['a/b'] }), 400);
    assert.deepEqual((await call('GET', `/v3/projects/${grandchild}/tags`)).json(), {
      links: { self: 'http://identity.test:5000/v3' },
      tags: ['one', 'three'],
    });
  });

  test('hierarchy rules: depth limit, no enabled child under a disabled parent, no disabling a parent', async () => {
    let parent = grandchild;
    // top (1), child (2), grandchild (3): two more levels reach Keystone's limit of 5.
    for (const name of ['level-4', 'level-5']) {
      const res = await call('POST', '/v3/projects', {
        project: { name, parent_id: parent, domain_id: p.domainId },
      });
      assert.equal(res.statusCode, 201, res.body);
      parent = res.json().project.id;
    }
    assertKeystoneError(
      await call('POST', '/v3/projects', {
        project: { name: 'level-6', parent_id: parent, domain_id: p.domainId },
      }),
      403,
      /^Max hierarchy depth reached for \w+ branch\.$/,
    );
    assertKeystoneError(
      await call('PATCH', `/v3/projects/${top}`, { project: { enabled: false } }),
      403,
      /since its subtree contains enabled projects/,
    );
    assert.equal(
      (await call('PATCH', `/v3/projects/${parent}`, { project: { enabled: false } })).statusCode,
      200,
    );
    const under = await call('POST', '/v3/projects', {
      project: { name: 'under-disabled', parent_id: parent, domain_id: p.domainId },
    });
    assert.equal(under.statusCode, 403);
    assert.equal((await call('DELETE', `/v3/projects/${parent}`)).statusCode, 204);
  });

  test('is_domain=true creates and lists projects acting as domains', async () => {
    const res = await call('POST', '/v3/projects', { project: { name: 'as-domain', is_domain: true } });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().project.is_domain, true);
    assert.equal(res.json().project.domain_id, null);
    const listed = await call('GET', '/v3/projects?is_domain=true&name=as-domain');
    assert.deepEqual(
      listed.json().projects.map((x: { id: string }) => x.id),
      [res.json().project.id],
    );
    assert.equal((await call('GET', `/v3/domains/${res.json().project.id}`)).statusCode, 200);
  });
});

describe('integrity', () => {
  test('concurrent creates of one name: exactly one 201, the rest 409, one row', async () => {
    const bodies: Array<[string, string, unknown]> = [
      ['domains', 'domain', { domain: { name: 'race-domain' } }],
      ['projects', 'project', { project: { name: 'race-project', domain_id: p.domainId } }],
      ['users', '"user"', { user: { name: 'race-user', domain_id: p.domainId, password: 'x' } }],
      ['groups', '"group"', { group: { name: 'race-group', domain_id: p.domainId } }],
    ];
    for (const [path, table, body] of bodies) {
      const before = await count(table);
      const results = await Promise.all(Array.from({ length: 8 }, () => call('POST', `/v3/${path}`, body)));
      const statuses = results.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409], path);
      const failed = results.find((r) => r.statusCode === 409);
      assertKeystoneError(failed as (typeof results)[number], 409, /^Conflict occurred attempting to store /);
      assert.equal(await count(table), before + 1, path);
    }
  });

  test('bad input gets a Keystone error and stores nothing', async () => {
    const tables = ['domain', 'project', '"user"', '"group"', 'password'];
    const before = await Promise.all(tables.map(count));
    const raw = (url: string, payload: string) =>
      app.inject({ method: 'POST', url, headers: { ...admin, 'content-type': 'application/json' }, payload });
    assertKeystoneError(
      await raw('/v3/users', '{"user": {"name": "x",'),
      400,
      /^Expecting to find valid JSON in request body\./,
    );
    assertKeystoneError(await raw('/v3/projects', '[1, 2]'), 400);
    assertKeystoneError(await call('POST', '/v3/users', { user: { name: 5 } }), 400);
    assertKeystoneError(
      await call('POST', '/v3/users', { user: { name: 'x', enabled: 'yes' } }),
      400,
      /^Invalid input for field 'user\/enabled': /,
    );
    assertKeystoneError(
      await call('POST', '/v3/projects', { project: { name: 'p'.repeat(65) } }),
      400,
      /^Invalid input for field 'project\/name': /,
    );
    assertKeystoneError(
      await app.inject({
        method: 'POST',
        url: '/v3/users',
        headers: { ...admin, 'content-type': 'text/plain' },
        payload: 'x',
      }),
      400,
      /^Expecting to find application\/json in Content-Type header\./,
    );
    assertKeystoneError(await call('POST', '/v3/domains', { domain: { name: 'd'.repeat(65) } }), 400);
    assertKeystoneError(await call('POST', '/v3/groups', { group: { name: 'g'.repeat(65) } }), 400);
    assertKeystoneError(await call('POST', '/v3/users', { user: { name: 'u'.repeat(256) } }), 400);
    assertKeystoneError(await call('POST', '/v3/users', { user: { name: '   ' } }), 400);
    assertKeystoneError(
      await call('POST', '/v3/users', { user: { name: 'x', options: { no_such_option: true } } }),
      400,
    );
    assertKeystoneError(
      await call('POST', '/v3/users', {
        user: { name: 'nodomain', domain_id: 'nosuchdomain', password: 'x' },
      }),
      404,
      /^Could not find domain: nosuchdomain\.$/,
    );
    assertKeystoneError(
      await call('POST', '/v3/projects', { project: { name: 'orphan', parent_id: 'nosuchproject' } }),
      400,
      /^Could not find project: nosuchproject\.$/,
    );
    assertKeystoneError(await call('GET', `/v3/users/${'x'.repeat(65)}`), 400);
    assertKeystoneError(
      await call('GET', '/v3/groups/nosuchgroup'),
      404,
      /^Could not find group: nosuchgroup\.$/,
    );
    assertKeystoneError(await call('PUT', `/v3/groups/nosuchgroup/users/${p.userIds.own_user}`), 404);
    assertKeystoneError(
      await call('PATCH', `/v3/users/${p.userIds.own_user}`, { user: { domain_id: 'default' } }),
      400,
    );
    assert.deepEqual(await Promise.all(tables.map(count)), before);
  });

  test('deleting a user removes its grants, memberships, application credentials and tokens', async () => {
    const created = await call('POST', '/v3/users', {
      user: { name: 'doomed', domain_id: p.domainId, password: 'pw' },
    });
    const id = created.json().user.id as string;
    const s = app.services;
    await s.assignment.grant({
      actor: { type: 'user', id },
      target: { type: 'project', id: p.projectId },
      roleId: p.roles.member as string,
    });
    const group = (
      await call('POST', '/v3/groups', { group: { name: 'doomed-group', domain_id: p.domainId } })
    ).json().group.id;
    assert.equal((await call('PUT', `/v3/groups/${group}/users/${id}`)).statusCode, 204);
    await s.credential.createApplicationCredential({
      id: 'doomedappcred',
      name: 'doomed',
      userId: id,
      projectId: p.projectId,
      secret: 'secret',
      roleIds: [p.roles.member as string],
    });
    const token = await login(id, 'pw', { project: { id: p.projectId } });
    assert.equal((await validate(token)).statusCode, 200);
    nextSecond();
    assert.equal((await call('DELETE', `/v3/users/${id}`)).statusCode, 204);
    const left = await t.db.query(
      `SELECT (SELECT count(*) FROM assignment WHERE actor_id = $1) AS grants,
              (SELECT count(*) FROM group_member WHERE user_id = $1) AS memberships,
              (SELECT count(*) FROM application_credential WHERE user_id = $1) AS appcreds,
              (SELECT count(*) FROM password WHERE user_id = $1) AS passwords`,
      [id],
    );
    assert.deepEqual(left.rows[0], { grants: '0', memberships: '0', appcreds: '0', passwords: '0' });
    assert.equal((await validate(token)).statusCode, 404);
    assert.equal((await call('DELETE', `/v3/users/${id}`)).statusCode, 404);
  });

  test('deleting a disabled domain removes its projects, users, groups and grants', async () => {
    const domain = (await call('POST', '/v3/domains', { domain: { name: 'doomed-domain' } })).json().domain
      .id;
    const project = (
      await call('POST', '/v3/projects', { project: { name: 'dp', domain_id: domain } })
    ).json().project.id;
    const user = (await call('POST', '/v3/users', { user: { name: 'du', domain_id: domain } })).json().user
      .id;
    const group = (await call('POST', '/v3/groups', { group: { name: 'dg', domain_id: domain } })).json()
      .group.id;
    const s = app.services;
    await s.assignment.grant({
      actor: { type: 'user', id: user },
      target: { type: 'project', id: project },
      roleId: p.roles.member as string,
    });
    // A grant of an outside user on the doomed project, and of the doomed group elsewhere.
    await s.assignment.grant({
      actor: { type: 'user', id: p.userIds.own_user },
      target: { type: 'project', id: project },
      roleId: p.roles.reader as string,
    });
    await s.assignment.grant({
      actor: { type: 'group', id: group },
      target: { type: 'project', id: p.projectId },
      roleId: p.roles.reader as string,
    });
    assert.equal(
      (await call('PATCH', `/v3/domains/${domain}`, { domain: { enabled: false } })).statusCode,
      200,
    );
    assert.equal((await call('DELETE', `/v3/domains/${domain}`)).statusCode, 204);
    const left = await t.db.query(
      `SELECT (SELECT count(*) FROM project WHERE domain_id = $1) AS projects,
              (SELECT count(*) FROM "user" WHERE domain_id = $1) AS users,
              (SELECT count(*) FROM "group" WHERE domain_id = $1) AS groups,
              (SELECT count(*) FROM assignment WHERE actor_id IN ($2, $3) OR target_id IN ($1, $4)) AS grants`,
      [domain, user, group, project],
    );
    assert.deepEqual(left.rows[0], { projects: '0', users: '0', groups: '0', grants: '0' });
    assertKeystoneError(await call('GET', `/v3/domains/${domain}`), 404);
  });
});

describe('sessions and passwords', () => {
  test("leaving a group revokes the member's tokens; joining does not", async () => {
    const group = (
      await call('POST', '/v3/groups', { group: { name: 'session-group', domain_id: p.domainId } })
    ).json().group.id;
    const token = await login(p.userIds.project_member, PERSONA_PASSWORD, { project: { id: p.projectId } });
    assert.equal(
      (await call('PUT', `/v3/groups/${group}/users/${p.userIds.project_member}`)).statusCode,
      204,
    );
    assert.equal((await validate(token)).statusCode, 200);
    nextSecond();
    assert.equal(
      (await call('HEAD', `/v3/groups/${group}/users/${p.userIds.project_member}`)).statusCode,
      204,
    );
    const users = await call('GET', `/v3/groups/${group}/users`);
    assert.deepEqual(
      users.json().users.map((u: { id: string }) => u.id),
      [p.userIds.project_member],
    );
    assert.equal(
      (await call('DELETE', `/v3/groups/${group}/users/${p.userIds.project_member}`)).statusCode,
      204,
    );
    assert.equal((await validate(token)).statusCode, 404);
    assert.equal(
      (await call('HEAD', `/v3/groups/${group}/users/${p.userIds.project_member}`)).statusCode,
      404,
    );
    assertKeystoneError(await call('DELETE', `/v3/groups/${group}/users/${p.userIds.project_member}`), 404);
  });

  test('a user changes only its own password, with the original; lock_password forbids it', async () => {
    const id = (
      await call('POST', '/v3/users', {
        user: { name: 'changer', domain_id: p.domainId, password: 'old password' },
      })
    ).json().user.id;
    const change = (original: string, next: string, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url: `/v3/users/${id}/password`,
        headers,
        payload: { user: { original_password: original, password: next } },
      });
    // Someone else's token does not help without the original password.
    assertKeystoneError(await change('guess', 'taken over', p.headers('project_admin')), 401);
    const token = await login(id, 'old password');
    nextSecond();
    assert.equal((await change('old password', 'new password')).statusCode, 204);
    assert.equal((await validate(token)).statusCode, 404, 'the change ends the sessions');
    await login(id, 'new password');
    assert.equal(
      (await call('PATCH', `/v3/users/${id}`, { user: { options: { lock_password: true } } })).statusCode,
      200,
    );
    assertKeystoneError(await change('new password', 'newer password'), 403, /password policy disallowing/);
    await login(id, 'new password');
  });

  test("an administrator's reset and disabling end the user's sessions", async () => {
    const id = (
      await call('POST', '/v3/users', { user: { name: 'reset-me', domain_id: p.domainId, password: 'one' } })
    ).json().user.id;
    const first = await login(id, 'one');
    nextSecond();
    assert.equal((await call('PATCH', `/v3/users/${id}`, { user: { password: 'two' } })).statusCode, 200);
    assert.equal((await validate(first)).statusCode, 404);
    const second = await login(id, 'two');
    nextSecond();
    const off = await call('PATCH', `/v3/users/${id}`, { user: { enabled: false } });
    assert.equal(off.json().user.enabled, false);
    assert.equal((await validate(second)).statusCode, 404);
  });
});

describe('change_password_upon_first_use', () => {
  let t2: TestDatabase;
  let app2: FastifyInstance;
  let adminHeaders: Record<string, string>;
  before(async () => {
    t2 = await testDatabase({ env: { IDENTITY_CHANGE_PASSWORD_UPON_FIRST_USE: 'true' } });
    adminHeaders = (await createPersonas(t2)).headers('system_admin');
    app2 = await build({ config: t2.config, db: t2.db });
  });
  after(async () => {
    await app2.close();
    await t2.drop();
  });
  const auth = (id: string, password: string) =>
    app2.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: { auth: { identity: { methods: ['password'], password: { user: { id, password } } } } },
    });

  test('a password an administrator sets must be changed by its owner first; the option exempts', async () => {
    const create = (name: string, options = {}) =>
      app2.inject({
        method: 'POST',
        url: '/v3/users',
        headers: adminHeaders,
        payload: { user: { name, password: 'given', options } },
      });
    const user = (await create('newcomer')).json().user;
    assert.ok(Date.parse(user.password_expires_at) <= Date.now());
    assertKeystoneError(await auth(user.id, 'given'), 401, /password is expired and needs to be changed/);
    const changed = await app2.inject({
      method: 'POST',
      url: `/v3/users/${user.id}/password`,
      payload: { user: { original_password: 'given', password: 'chosen' } },
    });
    assert.equal(changed.statusCode, 204);
    assert.equal((await auth(user.id, 'chosen')).statusCode, 201);
    // An administrator's reset expires it again.
    const reset = await app2.inject({
      method: 'PATCH',
      url: `/v3/users/${user.id}`,
      headers: adminHeaders,
      payload: { user: { password: 'reset' } },
    });
    assert.equal(reset.statusCode, 200);
    assertKeystoneError(await auth(user.id, 'reset'), 401, /password is expired/);
    const exempt = (await create('exempt', { ignore_change_password_upon_first_use: true })).json().user;
    assert.equal(exempt.password_expires_at, null);
    assert.equal((await auth(exempt.id, 'given')).statusCode, 201);
  });
});

describe('cached user lists stay coherent', () => {
  test('a write in one instance shows in its own next list at once and in another within a second', async () => {
    const otherDb = createPool(t.url, 2);
    const other = await build({ config: t.config, db: otherDb });
    try {
      // Wait until both instances listen (the cache is off until then).
      for (const instance of [app, other])
        await until(
          'LISTEN',
          instance.services.invalidation.changes,
          'change',
          () => instance.services.invalidation.enabled,
        );
      const url = `/v3/users?domain_id=${p.domainId}&name__startswith=cached`;
      const names = async (by: FastifyInstance) =>
        (await by.inject({ method: 'GET', url, headers: admin }))
          .json()
          .users.map((u: { name: string; description?: string }) => `${u.name}:${u.description ?? ''}`);
      assert.deepEqual(await names(app), []);
      assert.deepEqual(await names(other), []);
      const created = await call('POST', '/v3/users', {
        user: { name: 'cached-one', domain_id: p.domainId },
      });
      assert.deepEqual(await names(app), ['cached-one:'], 'the writer sees its write at once');
      // Checked at once and on each invalidation the other instance hears, for up to a second.
      const within = async (want: string[]) => {
        let got: string[] = [];
        await until(
          `the other instance to list ${want}`,
          other.services.invalidation.changes,
          'change',
          async () => {
            got = await names(other);
            return JSON.stringify(got) === JSON.stringify(want);
          },
          1000,
        ).catch(() => {});
        assert.deepEqual(got, want);
      };
      await within(['cached-one:']);
      // A change only a list shows (the description) reaches the other instance too.
      await call('PATCH', `/v3/users/${created.json().user.id}`, { user: { description: 'now described' } });
      assert.deepEqual(await names(app), ['cached-one:now described']);
      await within(['cached-one:now described']);
      // Project lists too: a tag added here is in this instance's next filtered list.
      const tagged = `/v3/projects?domain_id=${p.domainId}&tags=cache-probe`;
      assert.deepEqual((await call('GET', tagged)).json().projects, []);
      assert.equal((await call('PUT', `/v3/projects/${p.projectId}/tags/cache-probe`)).statusCode, 201);
      assert.deepEqual(
        (await call('GET', tagged)).json().projects.map((x: { id: string }) => x.id),
        [p.projectId],
      );
    } finally {
      await other.close();
      await otherDb.end();
    }
  });
});
