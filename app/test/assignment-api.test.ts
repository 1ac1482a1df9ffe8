/**
 * Roles, implied roles, grants (project, domain, system, OS-INHERIT) and GET
 * /v3/role_assignments through the API, against real PostgreSQL: shapes, Keystone's rules and
 * 400s, effective expansion, and the tokens a grant change affects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client, issue, type Json } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

let t: TestDatabase;
let app: FastifyInstance;
let admin: string;
let api: ReturnType<typeof client>;
const call: typeof api.call = (...a) => api.call(...a);
const ok: typeof api.ok = (...a) => api.ok(...a);
const BASE = 'http://identity.test:5000';

before(async () => {
  t = await testDatabase();
  app = await build({ config: t.config, db: t.db });
  api = client(app, () => admin);
  admin = (await issue(app, passwordAuth({ system: { all: true } }))).token;
});
after(async () => {
  await app.close();
  await t.drop();
});

async function makeUser(name: string, domainId = 'default', password = 'secret-pass-1') {
  return (await ok('POST', '/v3/users', { user: { name, domain_id: domainId, password } }, 201)).user
    .id as string;
}
async function makeProject(name: string, extra: Json = {}) {
  return (await ok('POST', '/v3/projects', { project: { name, domain_id: 'default', ...extra } }, 201))
    .project.id as string;
}
async function makeRole(name: string, extra: Json = {}) {
  return (await ok('POST', '/v3/roles', { role: { name, ...extra } }, 201)).role as Json;
}
async function login(name: string, scope: unknown, password = 'secret-pass-1') {
  return issue(app, {
    auth: {
      identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password } } },
      scope,
    },
  });
}

describe('roles', () => {
  test('create, show, list, update, delete with Keystone shapes', async () => {
    const role = await makeRole('observer', { description: 'sees things' });
    assert.match(role.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(role, {
      id: role.id,
      name: 'observer',
      domain_id: null,
      description: 'sees things',
      options: {},
      links: { self: `${BASE}/v3/roles/${role.id}` },
    });
    assert.deepEqual((await ok('GET', `/v3/roles/${role.id}`)).role, role);
    const list = await ok('GET', '/v3/roles?name=observer');
    assert.deepEqual(
      list.roles.map((r: Json) => r.id),
      [role.id],
    );
    assert.deepEqual(list.links, { self: `${BASE}/v3/roles?name=observer`, previous: null, next: null });
    const updated = (await ok('PATCH', `/v3/roles/${role.id}`, { role: { name: 'watcher' } })).role;
    assert.equal(updated.name, 'watcher');
    assert.equal(updated.description, 'sees things');
    assert.equal((await call('DELETE', `/v3/roles/${role.id}`)).status, 204);
    const gone = await call('GET', `/v3/roles/${role.id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, {
      error: { code: 404, title: 'Not Found', message: `Could not find role: ${role.id}.` },
    });
  });

  test('domain-specific roles are listed only with their domain_id, and names are unique per domain', async () => {
    const global = await makeRole('shared-name');
    const scoped = await makeRole('shared-name', { domain_id: 'default' });
    assert.equal(scoped.domain_id, 'default');
    const globals = (await ok('GET', '/v3/roles')).roles.map((r: Json) => r.id);
    assert.ok(globals.includes(global.id) && !globals.includes(scoped.id));
    const inDomain = (await ok('GET', '/v3/roles?domain_id=default')).roles.map((r: Json) => r.id);
    assert.deepEqual(inDomain, [scoped.id]);
    const dup = await call('POST', '/v3/roles', { role: { name: 'shared-name' } });
    assert.equal(dup.status, 409);
    assert.equal(
      dup.body.error.message,
      'Conflict occurred attempting to store role - Duplicate entry found with name shared-name.',
    );
    const missing = await call('POST', '/v3/roles', { role: { name: 'x', domain_id: 'no-such-domain' } });
    assert.equal(missing.status, 404);
    const move = await call('PATCH', `/v3/roles/${scoped.id}`, { role: { domain_id: null } });
    assert.equal(move.status, 400);
  });

  test('an immutable role is neither updated nor deleted until the option is cleared', async () => {
    const role = await makeRole('pinned', { options: { immutable: true } });
    assert.deepEqual(role.options, { immutable: true });
    assert.equal((await call('PATCH', `/v3/roles/${role.id}`, { role: { name: 'moved' } })).status, 403);
    assert.equal((await call('DELETE', `/v3/roles/${role.id}`)).status, 403);
    const cleared = await ok('PATCH', `/v3/roles/${role.id}`, { role: { options: { immutable: false } } });
    assert.deepEqual(cleared.role.options, { immutable: false });
    assert.equal((await call('DELETE', `/v3/roles/${role.id}`)).status, 204);
  });

  test('bad input is a 400 with Keystone’s body and stores nothing', async () => {
    const before = (await ok('GET', '/v3/roles')).roles.length;
    for (const payload of [
      { role: { name: 'x'.repeat(256) } },
      { role: { name: 42 } },
      { role: { name: '' } },
      { role: {} },
      { rol: { name: 'typo' } },
      { role: { name: 'x', options: { immutable: 'yes' } } },
      { role: { name: 'x', options: { unknown: true } } },
    ]) {
      const res = await call('POST', '/v3/roles', payload);
      assert.equal(res.status, 400, JSON.stringify(payload));
      assert.equal(res.body.error.code, 400);
      assert.equal(res.body.error.title, 'Bad Request');
    }
    const malformed = await app.inject({
      method: 'POST',
      url: '/v3/roles',
      headers: { 'x-auth-token': admin, 'content-type': 'application/json' },
      payload: '{"role": {"name": ',
    });
    assert.equal(malformed.statusCode, 400);
    assert.match(
      malformed.json().error.message,
      /^Expecting to find valid JSON in request body\. The server could not comply/,
    );
    assert.equal((await ok('GET', '/v3/roles')).roles.length, before);
  });

  test('concurrent creates of one name: one 201, the rest 409', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => call('POST', '/v3/roles', { role: { name: 'racer' } })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert.equal((await ok('GET', '/v3/roles?name=racer')).roles.length, 1);
  });
});

describe('implied roles', () => {
  test('PUT 201, GET, HEAD, list, role_inferences, DELETE', async () => {
    const prior = await makeRole('prior-a');
    const implied = await makeRole('implied-a');
    const path = `/v3/roles/${prior.id}/implies/${implied.id}`;
    const created = await ok('PUT', path, undefined, 201);
    const ref = (r: Json) => ({ id: r.id, name: r.name, links: { self: `${BASE}/v3/roles/${r.id}` } });
    assert.deepEqual(created, {
      role_inference: { prior_role: ref(prior), implies: ref(implied) },
      links: { self: `${BASE}${path}` },
    });
    assert.deepEqual(await ok('GET', path), created);
    assert.equal((await call('HEAD', path)).status, 204);
    const list = await ok('GET', `/v3/roles/${prior.id}/implies`);
    assert.deepEqual(list.role_inference, { prior_role: ref(prior), implies: [ref(implied)] });
    const all = await ok('GET', '/v3/role_inferences');
    const mine = all.role_inferences.find((i: Json) => i.prior_role.id === prior.id);
    assert.deepEqual(mine, { prior_role: ref(prior), implies: [ref(implied)] });
    // bootstrap's chain admin ⇒ manager ⇒ member ⇒ reader is there too.
    const names = all.role_inferences.map(
      (i: Json) => `${i.prior_role.name}>${i.implies.map((r: Json) => r.name)}`,
    );
    for (const rule of ['admin>manager', 'manager>member', 'member>reader'])
      assert.ok(names.includes(rule), rule);
    assert.equal((await call('PUT', path)).status, 409);
    assert.equal((await call('DELETE', path)).status, 204);
    assert.equal((await call('GET', path)).status, 404);
    assert.equal((await call('HEAD', path)).status, 404);
  });

  test('Keystone’s rules: never admin, a global role cannot imply a domain role (403); itself is allowed', async () => {
    const a = await makeRole('rule-a');
    const domainRole = await makeRole('rule-d', { domain_id: 'default' });
    const adminId = (await ok('GET', '/v3/roles?name=admin')).roles[0].id;
    assert.equal((await call('PUT', `/v3/roles/${a.id}/implies/${a.id}`)).status, 201);
    const admin = await call('PUT', `/v3/roles/${a.id}/implies/${adminId}`);
    assert.equal(admin.status, 403);
    assert.equal(admin.body.error.message, `${adminId} cannot be an implied roles.`);
    assert.equal((await call('PUT', `/v3/roles/${a.id}/implies/${domainRole.id}`)).status, 403);
    assert.equal((await call('PUT', `/v3/roles/${domainRole.id}/implies/${a.id}`)).status, 201);
    assert.equal((await call('PUT', `/v3/roles/${a.id}/implies/nope`)).status, 404);
  });

  test('deleting a role removes its inferences and grants', async () => {
    const prior = await makeRole('doomed');
    const implied = await makeRole('survivor');
    await ok('PUT', `/v3/roles/${prior.id}/implies/${implied.id}`, undefined, 201);
    const user = await makeUser('doomed-holder');
    const project = await makeProject('doomed-project');
    assert.equal((await call('PUT', `/v3/projects/${project}/users/${user}/roles/${prior.id}`)).status, 204);
    assert.equal((await call('DELETE', `/v3/roles/${prior.id}`)).status, 204);
    const inferences = (await ok('GET', '/v3/role_inferences')).role_inferences;
    assert.ok(!inferences.some((i: Json) => i.prior_role.id === prior.id));
    const left = await ok('GET', `/v3/role_assignments?user.id=${user}`);
    assert.deepEqual(left.role_assignments, []);
  });
});

describe('grants and role assignments', () => {
  let member: string;
  let reader: string;
  before(async () => {
    const roles = (await ok('GET', '/v3/roles')).roles as Json[];
    member = roles.find((r) => r.name === 'member')?.id;
    reader = roles.find((r) => r.name === 'reader')?.id;
  });

  test('user grants on a project: PUT, HEAD, GET, list, DELETE (204s and 404s)', async () => {
    const user = await makeUser('granted');
    const project = await makeProject('granted-project');
    const path = `/v3/projects/${project}/users/${user}/roles/${member}`;
    assert.equal((await call('HEAD', path)).status, 404);
    assert.equal((await call('PUT', path)).status, 204);
    assert.equal((await call('PUT', path)).status, 204, 'idempotent');
    assert.equal((await call('HEAD', path)).status, 204);
    assert.equal((await call('GET', path)).status, 204);
    const list = await ok('GET', `/v3/projects/${project}/users/${user}/roles`);
    assert.deepEqual(
      list.roles.map((r: Json) => r.name),
      ['member'],
    );
    assert.equal((await call('DELETE', path)).status, 204);
    const again = await call('DELETE', path);
    assert.equal(again.status, 404);
    assert.equal(
      again.body.error.message,
      `Could not find role assignment with role: ${member}, user or group: ${user}, project, domain, or system: ${project}.`,
    );
    assert.equal((await call('PUT', `/v3/projects/${project}/users/nobody/roles/${member}`)).status, 404);
    assert.equal((await call('PUT', `/v3/projects/nowhere/users/${user}/roles/${member}`)).status, 404);
    assert.equal((await call('PUT', `/v3/projects/${project}/users/${user}/roles/norole`)).status, 404);
  });

  test('removing a grant ends the tokens it supported', async () => {
    const user = await makeUser('revoked-by-grant');
    const project = await makeProject('revoked-project');
    const path = `/v3/projects/${project}/users/${user}/roles/${member}`;
    await call('PUT', path);
    const { status, token } = await login('revoked-by-grant', { project: { id: project } });
    assert.equal(status, 201);
    const check = () =>
      app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': admin, 'x-subject-token': token },
      });
    assert.equal((await check()).statusCode, 200);
    await call('DELETE', path);
    assert.equal((await check()).statusCode, 404);
  });

  test('a domain-specific role stays in its domain', async () => {
    const other = (await ok('POST', '/v3/domains', { domain: { name: 'elsewhere' } }, 201)).domain.id;
    const role = await makeRole('local-only', { domain_id: other });
    const user = await makeUser('crosser');
    const project = await makeProject('crossed');
    assert.equal((await call('PUT', `/v3/projects/${project}/users/${user}/roles/${role.id}`)).status, 403);
    assert.equal((await call('PUT', `/v3/system/users/${user}/roles/${role.id}`)).status, 400);
  });

  test('effective assignments: groups, inheritance, implied roles, names and links', async () => {
    const user = await makeUser('effective-user');
    const group = (
      await ok('POST', '/v3/groups', { group: { name: 'effective-group', domain_id: 'default' } }, 201)
    ).group.id as string;
    assert.equal((await call('PUT', `/v3/groups/${group}/users/${user}`)).status, 204);
    const parent = await makeProject('eff-parent');
    const child = await makeProject('eff-child', { parent_id: parent });
    // A group grant on the parent, inherited to its subtree; a direct domain grant; a system grant.
    const inherit = `/v3/OS-INHERIT/projects/${parent}/groups/${group}/roles/${member}/inherited_to_projects`;
    assert.equal((await call('PUT', inherit)).status, 204);
    assert.equal((await call('HEAD', inherit)).status, 204);
    assert.equal((await call('PUT', `/v3/domains/default/users/${user}/roles/${reader}`)).status, 204);
    assert.equal((await call('PUT', `/v3/system/users/${user}/roles/${reader}`)).status, 204);
    assert.equal((await call('HEAD', `/v3/system/users/${user}/roles/${reader}`)).status, 204);
    assert.deepEqual(
      (await ok('GET', `/v3/system/users/${user}/roles`)).roles.map((r: Json) => r.name),
      ['reader'],
    );
    assert.deepEqual(
      (
        await ok('GET', `/v3/OS-INHERIT/projects/${parent}/groups/${group}/roles/inherited_to_projects`)
      ).roles.map((r: Json) => r.name),
      ['member'],
    );

    const stored = await ok('GET', `/v3/role_assignments?group.id=${group}`);
    assert.deepEqual(stored.role_assignments, [
      {
        role: { id: member },
        group: { id: group },
        scope: { project: { id: parent }, 'OS-INHERIT:inherited_to': 'projects' },
        links: { assignment: `${BASE}${inherit}` },
      },
    ]);

    const effective = await ok('GET', `/v3/role_assignments?user.id=${user}&effective`);
    const summary = effective.role_assignments
      .map((a: Json) => {
        const scope = a.scope.project
          ? `project:${a.scope.project.id}`
          : a.scope.domain
            ? 'domain'
            : 'system';
        const role = a.role.id === member ? 'member' : a.role.id === reader ? 'reader' : a.role.id;
        return `${scope}/${role}${a.links.membership ? '/via-group' : ''}${a.links.prior_role ? '/implied' : ''}`;
      })
      .sort();
    assert.deepEqual(
      summary,
      [
        'domain/reader',
        `project:${child}/member/via-group`,
        `project:${child}/reader/via-group/implied`,
      ].sort(),
    );
    // System grants only when asked for, as Keystone 22 lists them.
    const system = await ok('GET', `/v3/role_assignments?user.id=${user}&effective&scope.system=all`);
    assert.deepEqual(
      system.role_assignments.map((a: Json) => [a.role.id, a.scope]),
      [[reader, { system: { all: true } }]],
    );
    const viaGroup = effective.role_assignments.find((a: Json) => a.links.prior_role);
    assert.deepEqual(viaGroup.links, {
      assignment: `${BASE}${inherit}`,
      membership: `${BASE}/v3/groups/${group}/users/${user}`,
      prior_role: `${BASE}/v3/prior_role/${reader}/implies/${member}`,
    });
    assert.deepEqual(viaGroup.user, { id: user });
    assert.ok(!('OS-INHERIT:inherited_to' in viaGroup.scope));

    const named = await ok(
      'GET',
      `/v3/role_assignments?user.id=${user}&scope.project.id=${child}&effective&include_names`,
    );
    const first = named.role_assignments.find((a: Json) => a.role.id === member);
    assert.deepEqual(first.role, { id: member, name: 'member' });
    assert.deepEqual(first.user, {
      id: user,
      name: 'effective-user',
      domain: { id: 'default', name: 'Default' },
    });
    assert.deepEqual(first.scope.project, {
      id: child,
      name: 'eff-child',
      domain: { id: 'default', name: 'Default' },
    });

    const tree = await ok('GET', `/v3/role_assignments?scope.project.id=${parent}&include_subtree&effective`);
    assert.ok(tree.role_assignments.every((a: Json) => a.scope.project.id === child));
    assert.ok(tree.role_assignments.length >= 2);

    // The token for the child project carries the inherited role and what it implies.
    const { status, token } = await login('effective-user', { project: { id: child } });
    assert.equal(status, 201);
    const body = (
      await app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': admin, 'x-subject-token': token },
      })
    ).json();
    assert.deepEqual(body.token.roles.map((r: Json) => r.name).sort(), ['member', 'reader']);

    // Leaving the group takes the inherited roles away.
    assert.equal((await call('DELETE', `/v3/groups/${group}/users/${user}`)).status, 204);
    const after = await ok('GET', `/v3/role_assignments?user.id=${user}&effective&scope.project.id=${child}`);
    assert.deepEqual(after.role_assignments, []);
  });

  test('Keystone’s 400s for filters that contradict each other', async () => {
    for (const query of [
      'user.id=a&group.id=b',
      'scope.project.id=a&scope.domain.id=b',
      'scope.project.id=a&scope.system=all',
      'scope.domain.id=a&scope.system=all',
      'group.id=a&effective',
      'include_subtree',
    ]) {
      const res = await call('GET', `/v3/role_assignments?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.title, 'Bad Request');
    }
    // Unknown filters and values are ignored, and effective lists hold no inherited grants.
    for (const query of ['no_such_filter=1', 'scope.OS-INHERIT:inherited_to=domains', 'scope.system=some'])
      assert.equal((await call('GET', `/v3/role_assignments?${query}`)).status, 200, query);
    const none = await ok('GET', '/v3/role_assignments?effective&scope.OS-INHERIT:inherited_to=projects');
    assert.deepEqual(none.role_assignments, []);
  });
});
