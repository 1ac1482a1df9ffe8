/**
 * Integrity of grants, the catalog and credentials against real PostgreSQL: concurrent
 * creates end in one success and 409s (or, for an idempotent PUT, in one row), deletes cascade
 * as Keystone's do, and bad input changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client, issue } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

let t: TestDatabase;
let app: FastifyInstance;
let admin: string;
let api: ReturnType<typeof client>;
const call: typeof api.call = (...a) => api.call(...a);
const ok: typeof api.ok = (...a) => api.ok(...a);
let member: string;

before(async () => {
  t = await testDatabase();
  app = await build({ config: t.config, db: t.db });
  api = client(app, () => admin);
  admin = (await issue(app, passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }))).token;
  member = (await ok('GET', '/v3/roles?name=member')).roles[0].id;
});
after(async () => {
  await app.close();
  await t.drop();
});

const count = async (table: string) =>
  Number((await t.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);

test('concurrent creates: one 201 and 409s for regions and application credentials; one row for a grant', async () => {
  const regions = await Promise.all(
    Array.from({ length: 6 }, () => call('POST', '/v3/regions', { region: { id: 'RaceRegion' } })),
  );
  assert.deepEqual(regions.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409]);

  const user = (await ok('GET', '/v3/users?name=admin')).users[0].id;
  const creds = await Promise.all(
    Array.from({ length: 4 }, () =>
      call('POST', `/v3/users/${user}/application_credentials`, { application_credential: { name: 'race' } }),
    ),
  );
  assert.deepEqual(creds.map((r) => r.status).sort(), [201, 409, 409, 409]);
  assert.equal(
    (await ok('GET', `/v3/users/${user}/application_credentials?name=race`)).application_credentials.length,
    1,
  );

  const project = (
    await ok('POST', '/v3/projects', { project: { name: 'race-project', domain_id: 'default' } }, 201)
  ).project.id;
  const path = `/v3/projects/${project}/users/${user}/roles/${member}`;
  const grants = await Promise.all(Array.from({ length: 6 }, () => call('PUT', path)));
  assert.deepEqual(
    grants.map((r) => r.status),
    [204, 204, 204, 204, 204, 204],
  );
  const stored = await ok('GET', `/v3/role_assignments?scope.project.id=${project}`);
  assert.equal(stored.role_assignments.length, 1);
});

test('deleting a user takes its grants, group memberships, credentials and application credentials', async () => {
  const user = (
    await ok(
      'POST',
      '/v3/users',
      { user: { name: 'leaver', domain_id: 'default', password: 'leaver-pass-1' } },
      201,
    )
  ).user.id;
  const project = (
    await ok('POST', '/v3/projects', { project: { name: 'leaver-project', domain_id: 'default' } }, 201)
  ).project.id;
  const group = (
    await ok('POST', '/v3/groups', { group: { name: 'leaver-group', domain_id: 'default' } }, 201)
  ).group.id;
  await ok('PUT', `/v3/groups/${group}/users/${user}`, undefined, 204);
  await ok('PUT', `/v3/projects/${project}/users/${user}/roles/${member}`, undefined, 204);
  await ok('PUT', `/v3/system/users/${user}/roles/${member}`, undefined, 204);
  await ok('POST', '/v3/credentials', { credential: { user_id: user, type: 'totp', blob: 'seed' } }, 201);
  const login = await issue(app, {
    auth: {
      identity: { methods: ['password'], password: { user: { id: user, password: 'leaver-pass-1' } } },
      scope: { project: { id: project } },
    },
  });
  assert.equal(login.status, 201);
  const ac = await call(
    'POST',
    `/v3/users/${user}/application_credentials`,
    { application_credential: { name: 'mine' } },
    login.token,
  );
  assert.equal(ac.status, 201);

  await ok('DELETE', `/v3/users/${user}`, undefined, 204);
  assert.deepEqual((await ok('GET', `/v3/role_assignments?user.id=${user}`)).role_assignments, []);
  assert.deepEqual((await ok('GET', `/v3/credentials?user_id=${user}`)).credentials, []);
  const left = await t.db.query(
    `SELECT (SELECT count(*) FROM application_credential WHERE user_id = $1)
          + (SELECT count(*) FROM group_member WHERE user_id = $1)
          + (SELECT count(*) FROM assignment WHERE actor_id = $1) AS n`,
    [user],
  );
  assert.equal(Number(left.rows[0].n), 0);
});

test('deleting a project takes the grants on it and the application credentials for it', async () => {
  const user = (await ok('GET', '/v3/users?name=admin')).users[0].id;
  const project = (
    await ok('POST', '/v3/projects', { project: { name: 'short-lived', domain_id: 'default' } }, 201)
  ).project.id;
  const admins = (await ok('GET', '/v3/roles?name=admin')).roles[0].id;
  await ok('PUT', `/v3/projects/${project}/users/${user}/roles/${admins}`, undefined, 204);
  const scoped = await issue(app, passwordAuth({ project: { id: project } }));
  assert.equal(scoped.status, 201);
  await call(
    'POST',
    `/v3/users/${user}/application_credentials`,
    { application_credential: { name: 'on-short-lived' } },
    scoped.token,
  );
  await ok('PATCH', `/v3/projects/${project}`, { project: { enabled: false } });
  await ok('DELETE', `/v3/projects/${project}`, undefined, 204);
  assert.deepEqual(
    (await ok('GET', `/v3/role_assignments?scope.project.id=${project}`)).role_assignments,
    [],
  );
  assert.deepEqual(
    (await ok('GET', `/v3/users/${user}/application_credentials?name=on-short-lived`))
      .application_credentials,
    [],
  );
});

test('bad input for grants, regions, services and credentials: Keystone’s error body, nothing stored', async () => {
  const tables = ['assignment', 'region', 'service', 'endpoint', 'credential', 'role', 'implied_role'];
  const before = await Promise.all(tables.map(count));
  const long = 'x'.repeat(65);
  const cases: Array<[string, string, unknown, number]> = [
    ['PUT', `/v3/projects/${long}/users/u/roles/${member}`, undefined, 400],
    ['PUT', `/v3/system/users/${long}/roles/${member}`, undefined, 400],
    ['PUT', `/v3/domains/default/groups/no-such-group/roles/${member}`, undefined, 404],
    [
      'PUT',
      `/v3/OS-INHERIT/domains/no-such-domain/users/u/roles/${member}/inherited_to_projects`,
      undefined,
      404,
    ],
    ['PUT', `/v3/roles/${member}/implies/${long}`, undefined, 400],
    ['POST', '/v3/regions', { region: { id: 'r'.repeat(256) } }, 400],
    ['POST', '/v3/regions', { region: { description: 7 } }, 400],
    ['POST', '/v3/services', { service: { type: 't'.repeat(256) } }, 400],
    ['POST', '/v3/services', { service: { type: 'x', enabled: 'true' } }, 400],
    ['POST', '/v3/credentials', { credential: { user_id: long, type: 'totp', blob: 'b' } }, 400],
    ['PATCH', '/v3/regions/RegionOne', { region: { parent_region_id: 'RegionOne' } }, 400],
    ['PATCH', '/v3/regions/RegionOne', {}, 400],
  ];
  for (const [method, url, payload, status] of cases) {
    const res = await call(method, url, payload);
    assert.equal(res.status, status, `${method} ${url}`);
    assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message', 'title']);
    assert.equal(res.body.error.code, status);
  }
  const malformed = await app.inject({
    method: 'POST',
    url: '/v3/credentials',
    headers: { 'x-auth-token': admin, 'content-type': 'application/json' },
    payload: '{"credential": [',
  });
  assert.equal(malformed.statusCode, 400);
  assert.deepEqual(await Promise.all(tables.map(count)), before);
});
