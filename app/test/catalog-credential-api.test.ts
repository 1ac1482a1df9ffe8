/**
 * The catalog (regions, services, endpoints), credentials and application credentials through
 * the API, against real PostgreSQL: shapes, Keystone's rules, the token catalog following what
 * is stored, blobs encrypted at rest, and logging in with an application credential.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
  admin = (await issue(app, passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }))).token;
});
after(async () => {
  await app.close();
  await t.drop();
});

const catalogOf = async (token = admin) =>
  (await call('GET', '/v3/auth/catalog', undefined, token)).body.catalog;

describe('regions', () => {
  test('POST with and without an id, PUT with the id, parents, PATCH, cycles refused, DELETE cascades', async () => {
    const top = (await ok('POST', '/v3/regions', { region: { id: 'Top', description: 'the top' } }, 201))
      .region;
    assert.deepEqual(top, {
      id: 'Top',
      description: 'the top',
      parent_region_id: null,
      links: { self: `${BASE}/v3/regions/Top` },
    });
    const generated = (await ok('POST', '/v3/regions', { region: {} }, 201)).region;
    assert.match(generated.id, /^[0-9a-f]{32}$/);
    const child = (await ok('PUT', '/v3/regions/Child', { region: { parent_region_id: 'Top' } }, 201)).region;
    assert.equal(child.parent_region_id, 'Top');
    assert.equal((await call('POST', '/v3/regions', { region: { id: 'Top' } })).status, 409);
    assert.equal(
      (await call('POST', '/v3/regions', { region: { parent_region_id: 'Nowhere' } })).status,
      404,
    );
    const children = await ok('GET', '/v3/regions?parent_region_id=Top');
    assert.deepEqual(
      children.regions.map((r: Json) => r.id),
      ['Child'],
    );
    const cycle = await call('PATCH', '/v3/regions/Top', { region: { parent_region_id: 'Child' } });
    assert.equal(cycle.status, 400);
    assert.equal(
      cycle.body.error.message,
      'The specified parent region Child would create a circular region hierarchy.',
    );
    const edited = await ok('PATCH', '/v3/regions/Child', { region: { description: 'below' } });
    assert.equal(edited.region.description, 'below');
    assert.equal(edited.region.parent_region_id, 'Top');
    assert.equal((await call('DELETE', '/v3/regions/Top')).status, 204);
    assert.equal((await call('GET', '/v3/regions/Child')).status, 404, 'child regions go with their parent');
    // Any token may read regions.
    assert.equal((await call('GET', '/v3/regions', undefined, null)).status, 401);
  });
});

describe('services and endpoints', () => {
  test('CRUD, and the token catalog follows what is stored', async () => {
    await ok('POST', '/v3/regions', { region: { id: 'RegionTwo' } }, 201);
    const service = (
      await ok(
        'POST',
        '/v3/services',
        { service: { type: 'compute', name: 'nova', description: 'Compute service' } },
        201,
      )
    ).service;
    assert.deepEqual(service, {
      id: service.id,
      type: 'compute',
      name: 'nova',
      enabled: true,
      description: 'Compute service',
      links: { self: `${BASE}/v3/services/${service.id}` },
    });
    assert.deepEqual((await ok('GET', `/v3/services/${service.id}`)).service, service);
    assert.deepEqual(
      (await ok('GET', '/v3/services?type=compute')).services.map((s: Json) => s.id),
      [service.id],
    );
    const endpoint = (
      await ok(
        'POST',
        '/v3/endpoints',
        {
          endpoint: {
            interface: 'public',
            url: 'http://compute.test:8774/v2.1',
            service_id: service.id,
            region_id: 'RegionTwo',
          },
        },
        201,
      )
    ).endpoint;
    assert.deepEqual(endpoint, {
      id: endpoint.id,
      interface: 'public',
      region_id: 'RegionTwo',
      region: 'RegionTwo',
      service_id: service.id,
      url: 'http://compute.test:8774/v2.1',
      enabled: true,
      links: { self: `${BASE}/v3/endpoints/${endpoint.id}` },
    });
    let compute = (await catalogOf()).find((s: Json) => s.type === 'compute');
    assert.deepEqual(compute.endpoints, [
      {
        id: endpoint.id,
        interface: 'public',
        region: 'RegionTwo',
        region_id: 'RegionTwo',
        url: 'http://compute.test:8774/v2.1',
      },
    ]);
    await ok('PATCH', `/v3/endpoints/${endpoint.id}`, { endpoint: { url: 'http://compute.test:9999/' } });
    compute = (await catalogOf()).find((s: Json) => s.type === 'compute');
    assert.equal(compute.endpoints[0].url, 'http://compute.test:9999/');
    await ok('PATCH', `/v3/endpoints/${endpoint.id}`, { endpoint: { enabled: false } });
    compute = (await catalogOf()).find((s: Json) => s.type === 'compute');
    assert.deepEqual(compute.endpoints, []);
    await ok('PATCH', `/v3/services/${service.id}`, { service: { enabled: false } });
    assert.equal(
      (await catalogOf()).find((s: Json) => s.type === 'compute'),
      undefined,
    );

    // A region with endpoints stays; the service's deletion takes its endpoints.
    assert.equal((await call('DELETE', '/v3/regions/RegionTwo')).status, 403);
    assert.equal((await call('DELETE', `/v3/services/${service.id}`)).status, 204);
    assert.equal((await call('GET', `/v3/endpoints/${endpoint.id}`)).status, 404);
    assert.equal((await call('DELETE', '/v3/regions/RegionTwo')).status, 204);
  });

  test('bad endpoints: Keystone’s 400s, nothing stored', async () => {
    const service = (await ok('POST', '/v3/services', { service: { type: 'image' } }, 201)).service;
    const count = async () => (await ok('GET', '/v3/endpoints')).endpoints.length;
    const before = await count();
    const cases: Array<[Json, string | null]> = [
      [
        { interface: 'public', url: 'http://x.test/', service_id: 'nope' },
        'Expecting to find endpoint service_id in service table.',
      ],
      [
        { interface: 'public', url: 'http://x.test/', service_id: service.id, region_id: 'Mars' },
        'Expecting to find endpoint region_id in region table.',
      ],
      [{ interface: 'outer', url: 'http://x.test/', service_id: service.id }, null],
      [{ interface: 'public', url: 'not a url', service_id: service.id }, null],
      [{ interface: 'public', service_id: service.id }, null],
      [{ interface: 'public', url: 'http://x.test/', service_id: service.id, enabled: 'yes' }, null],
    ];
    for (const [endpoint, message] of cases) {
      const res = await call('POST', '/v3/endpoints', { endpoint });
      assert.equal(res.status, 400, JSON.stringify(endpoint));
      if (message) assert.ok(res.body.error.message.startsWith(message), res.body.error.message);
    }
    assert.equal((await call('POST', '/v3/services', { service: { name: 'typeless' } })).status, 400);
    assert.equal(await count(), before);
  });
});

describe('credentials', () => {
  test('CRUD; the blob is encrypted at rest; an ec2 credential’s id is the SHA-256 of its access key', async () => {
    const adminUser = (await call('GET', '/v3/users?name=admin')).body.users[0].id as string;
    const project = (await call('GET', '/v3/projects?name=admin')).body.projects[0].id as string;
    const blob = JSON.stringify({ access: 'AKIA-test', secret: 'very-secret-value' });
    const created = (
      await ok(
        'POST',
        '/v3/credentials',
        { credential: { user_id: adminUser, project_id: project, type: 'ec2', blob } },
        201,
      )
    ).credential;
    assert.equal(created.id, createHash('sha256').update('AKIA-test').digest('hex'));
    assert.deepEqual(created, {
      id: created.id,
      user_id: adminUser,
      project_id: project,
      type: 'ec2',
      blob,
      links: { self: `${BASE}/v3/credentials/${created.id}` },
    });
    const { rows } = await t.db.query('SELECT encrypted_blob, key_hash FROM credential WHERE id = $1', [
      created.id,
    ]);
    assert.ok(!rows[0].encrypted_blob.includes('very-secret-value'));
    assert.match(rows[0].encrypted_blob, /^gAAAAA[A-Za-z0-9_-]+=*$/);
    assert.match(rows[0].key_hash, /^[0-9a-f]{40}$/);
    assert.deepEqual((await ok('GET', `/v3/credentials/${created.id}`)).credential, created);
    const listed = await ok('GET', `/v3/credentials?user_id=${adminUser}&type=ec2`);
    assert.deepEqual(
      listed.credentials.map((c: Json) => c.id),
      [created.id],
    );
    assert.equal(
      (
        await call('POST', '/v3/credentials', {
          credential: { user_id: adminUser, project_id: project, type: 'ec2', blob },
        })
      ).status,
      409,
    );
    const totp = (
      await ok(
        'POST',
        '/v3/credentials',
        { credential: { user_id: adminUser, type: 'totp', blob: 'GEZDGNBVGY3TQOJQ' } },
        201,
      )
    ).credential;
    assert.match(totp.id, /^[0-9a-f]{32}$/);
    const patched = await ok('PATCH', `/v3/credentials/${totp.id}`, {
      credential: { blob: 'MFRGGZDFMZTWQ2LK' },
    });
    assert.equal(patched.credential.blob, 'MFRGGZDFMZTWQ2LK');
    assert.equal((await call('DELETE', `/v3/credentials/${totp.id}`)).status, 204);
    assert.equal((await call('GET', `/v3/credentials/${totp.id}`)).status, 404);
  });

  test('bad credentials: 400 (ec2 without project or access), 404 (unknown user), nothing stored', async () => {
    const adminUser = (await call('GET', '/v3/users?name=admin')).body.users[0].id as string;
    const count = async () => (await ok('GET', '/v3/credentials')).credentials.length;
    const before = await count();
    const bad: Array<[Json, number]> = [
      [{ user_id: adminUser, type: 'ec2', blob: '{"access":"a"}' }, 400],
      [{ user_id: adminUser, project_id: 'p', type: 'ec2', blob: 'not json' }, 400],
      [{ user_id: adminUser, project_id: 'p', type: 'ec2', blob: '{"secret":"s"}' }, 400],
      [{ user_id: adminUser, type: 'totp' }, 400],
      [{ user_id: adminUser, type: 'totp', blob: 42 }, 400],
      [{ user_id: 'nobody', type: 'totp', blob: 'x' }, 404],
    ];
    for (const [credential, status] of bad)
      assert.equal(
        (await call('POST', '/v3/credentials', { credential })).status,
        status,
        JSON.stringify(credential),
      );
    assert.equal(await count(), before);
  });
});

describe('application credentials', () => {
  test('create (secret shown once), list, show, log in with it, delete', async () => {
    const userId = (await call('GET', '/v3/users?name=admin')).body.users[0].id as string;
    const path = `/v3/users/${userId}/application_credentials`;
    const created = (
      await ok(
        'POST',
        path,
        {
          application_credential: {
            name: 'ci',
            description: 'for CI',
            roles: [{ name: 'reader' }],
            access_rules: [{ service: 'compute', path: '/v2.1/servers', method: 'GET' }],
          },
        },
        201,
      )
    ).application_credential;
    assert.match(created.secret, /^[A-Za-z0-9_-]{86}$/);
    assert.equal(created.unrestricted, false);
    assert.equal(created.expires_at, null);
    assert.deepEqual(
      created.roles.map((r: Json) => r.name),
      ['reader'],
    );
    assert.equal(created.access_rules.length, 1);
    assert.equal(created.links.self, `${BASE}/v3/application_credentials/${created.id}`);
    assert.equal(created.system, null);
    assert.deepEqual(Object.keys(created.roles[0]).sort(), [
      'description',
      'domain_id',
      'id',
      'name',
      'options',
    ]);
    const shown = (await ok('GET', `${path}/${created.id}`)).application_credential;
    assert.ok(!('secret' in shown));
    const { secret: _, ...withoutSecret } = created;
    assert.deepEqual(shown, withoutSecret);
    assert.deepEqual(
      (await ok('GET', `${path}?name=ci`)).application_credentials.map((c: Json) => c.id),
      [created.id],
    );
    const rules = await ok('GET', `/v3/users/${userId}/access_rules`);
    assert.deepEqual(
      rules.access_rules.map((r: Json) => `${r.method} ${r.service}${r.path}`),
      ['GET compute/v2.1/servers'],
    );
    const rule = rules.access_rules[0];
    assert.equal(rule.links.self, `${BASE}/v3/access_rules/${rule.id}`);
    assert.deepEqual((await ok('GET', `/v3/users/${userId}/access_rules/${rule.id}`)).access_rule, rule);
    const inUse = await call('DELETE', `/v3/users/${userId}/access_rules/${rule.id}`);
    assert.equal(inUse.status, 403);
    assert.equal(inUse.body.error.message, 'May not delete access rule in use');
    const missing = await call('DELETE', `/v3/users/${userId}/access_rules/999999`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'Could not find Access Rule: 999999.');
    assert.equal((await call('POST', path, { application_credential: { name: 'ci' } })).status, 409);
    const unassigned = await call('POST', path, {
      application_credential: { name: 'too-much', roles: [{ name: 'service' }] },
    });
    assert.equal(unassigned.status, 400, 'only roles the user holds on the project');
    assert.equal(
      unassigned.body.error.message,
      'Invalid application credential: Cannot create an application credential with unassigned role',
    );
    const unknown = await call('POST', path, {
      application_credential: { name: 'x', roles: [{ name: 'nosuch' }] },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.message, 'Role nosuch is not defined');

    const login = await issue(app, {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: created.id, secret: created.secret },
        },
      },
    });
    assert.equal(login.status, 201);
    // The credential has access rules: only a validator that enforces them may see its tokens.
    const rulesAware = { 'openstack-identity-access-rules': '1.0' };
    const token = (
      await app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': admin, 'x-subject-token': login.token, ...rulesAware },
      })
    ).json().token;
    assert.deepEqual(
      token.roles.map((r: Json) => r.name),
      ['reader'],
    );
    assert.equal(token.application_credential.id, created.id);
    // A restricted application credential cannot make more.
    const nested = await app.inject({
      method: 'POST',
      url: path,
      headers: { 'x-auth-token': login.token, ...rulesAware },
      payload: { application_credential: { name: 'nested' } },
    });
    assert.equal(nested.statusCode, 403);

    assert.equal((await call('DELETE', `${path}/${created.id}`)).status, 204);
    const after = await app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': admin, 'x-subject-token': login.token, ...rulesAware },
    });
    assert.equal(after.statusCode, 404, 'tokens made with it end with it');
    assert.equal((await call('GET', `${path}/${created.id}`)).status, 404);
  });

  test('a given secret and an expiry; an expired one cannot log in', async () => {
    const userId = (await call('GET', '/v3/users?name=admin')).body.users[0].id as string;
    const path = `/v3/users/${userId}/application_credentials`;
    const past = (
      await ok(
        'POST',
        path,
        { application_credential: { name: 'old', secret: 'my-secret', expires_at: '2999-01-01T00:00:00' } },
        201,
      )
    ).application_credential;
    assert.equal(past.secret, 'my-secret');
    // Keystone's rendering of a stored datetime: microseconds, no zone designator.
    assert.equal(past.expires_at, '2999-01-01T00:00:00.000000');
    // One that has expired since (Keystone refuses to create one already past).
    await t.db.query(
      `UPDATE application_credential SET expires_at = now() - interval '1 minute' WHERE id = $1`,
      [past.id],
    );
    const login = await issue(app, {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: past.id, secret: 'my-secret' },
        },
      },
    });
    assert.equal(login.status, 401);
    assert.equal(
      (await call('POST', path, { application_credential: { name: 'x', expires_at: 'soon' } })).status,
      400,
    );
    assert.equal((await call('POST', path, { application_credential: { name: 'x', bogus: 1 } })).status, 400);
  });
});
