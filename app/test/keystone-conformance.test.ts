/**
 * What Keystone's conformance suite (tempest) found, each pinned down here on its own: request
 * bodies read as Keystone reads them, the legacy endpoint `region`, projects acting as domains
 * through /v3/projects, microsecond expiry of application credentials, access rules that outlive
 * their credentials, credential PATCH limited to the blob, HEAD on every GET, and JSON-Home.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { prefersJsonHome } from '../src/api/discovery.js';
import { build } from '../src/app.js';
import { client, issue, type Json } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

let t: TestDatabase;
let app: FastifyInstance;
let admin: string;
let adminId: string;
let api: ReturnType<typeof client>;
const call: typeof api.call = (...a) => api.call(...a);
const ok: typeof api.ok = (...a) => api.ok(...a);

before(async () => {
  t = await testDatabase();
  app = await build({ config: t.config, db: t.db });
  api = client(app, () => admin);
  admin = (await issue(app, passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }))).token;
  adminId = (await ok('GET', '/v3/users?name=admin')).users[0].id;
});
after(async () => {
  await app.close();
  await t.drop();
});

const raw = (method: string, url: string, headers: Record<string, string>, payload?: string) =>
  app.inject({ method: method as 'PUT', url, headers: { 'x-auth-token': admin, ...headers }, payload });

describe('request bodies as Keystone reads them', () => {
  test('an empty body with a JSON content type is no body (tempest grants roles this way)', async () => {
    const role = (await ok('POST', '/v3/roles', { role: { name: 'empty-body-role' } }, 201)).role;
    const project = (await ok('POST', '/v3/projects', { project: { name: 'empty-body-project' } }, 201))
      .project;
    const grant = `/v3/projects/${project.id}/users/${adminId}/roles/${role.id}`;
    const put = await raw('PUT', grant, { 'content-type': 'application/json' }, '');
    assert.equal(put.statusCode, 204, put.body);
    assert.equal((await raw('HEAD', grant, { 'content-type': 'application/json' }, '')).statusCode, 204);
    // Any other type with nothing after it is no body either.
    assert.equal((await raw('DELETE', grant, { 'content-type': 'text/plain' }, '')).statusCode, 204);
  });

  test('a body without a content type is JSON; one that is not an object is 400', async () => {
    const made = await raw('POST', '/v3/regions', {}, JSON.stringify({ region: { id: 'NoTypeRegion' } }));
    assert.equal(made.statusCode, 201, made.body);
    for (const payload of ['[]', '"text"', '7', 'null']) {
      const res = await raw('POST', '/v3/regions', { 'content-type': 'application/json' }, payload);
      assert.equal(res.statusCode, 400, payload);
      assert.match(res.json().error.message, /^Expecting to find valid JSON in request body\./);
    }
    const typed = await raw('POST', '/v3/regions', { 'content-type': 'text/plain' }, '{"region": {}}');
    assert.equal(typed.statusCode, 400);
    assert.match(typed.json().error.message, /^Expecting to find application\/json in Content-Type header\./);
  });
});

describe('catalog', () => {
  test('an endpoint given the legacy `region` creates that region when it is missing', async () => {
    const service = (await ok('POST', '/v3/services', { service: { type: 'legacy-region' } }, 201)).service;
    const endpoint = (
      await ok(
        'POST',
        '/v3/endpoints',
        { endpoint: { service_id: service.id, interface: 'public', url: 'https://x.test', region: 'Fresh' } },
        201,
      )
    ).endpoint;
    assert.equal(endpoint.region_id, 'Fresh');
    assert.equal(endpoint.region, 'Fresh');
    assert.equal((await ok('GET', '/v3/regions/Fresh')).region.id, 'Fresh');
    const moved = await ok('PATCH', `/v3/endpoints/${endpoint.id}`, { endpoint: { region: 'Fresher' } });
    assert.equal(moved.endpoint.region_id, 'Fresher');
    // region_id keeps its meaning: it must name an existing region.
    const strict = await call('PATCH', `/v3/endpoints/${endpoint.id}`, {
      endpoint: { region_id: 'Nowhere' },
    });
    assert.equal(strict.status, 400);
  });
});

describe('projects acting as domains', () => {
  test('one created with is_domain is reached, updated and deleted through /v3/projects', async () => {
    const made = (
      await ok(
        'POST',
        '/v3/projects',
        { project: { name: 'acting-domain', is_domain: true, domain_id: null } },
        201,
      )
    ).project;
    assert.equal(made.is_domain, true);
    const shown = (await ok('GET', `/v3/projects/${made.id}`)).project;
    assert.deepEqual([shown.id, shown.is_domain, shown.domain_id], [made.id, true, null]);
    assert.ok((await ok('GET', '/v3/domains')).domains.some((d: Json) => d.id === made.id));
    // Enabled, it cannot go (Keystone: disable first); disabled, it can, with its domain.
    assert.equal((await call('DELETE', `/v3/projects/${made.id}`)).status, 403);
    const disabled = (await ok('PATCH', `/v3/projects/${made.id}`, { project: { enabled: false } })).project;
    assert.equal(disabled.enabled, false);
    assert.equal((await call('DELETE', `/v3/projects/${made.id}`)).status, 204);
    assert.equal((await call('GET', `/v3/domains/${made.id}`)).status, 404);
    assert.equal((await call('GET', `/v3/projects/${made.id}`)).status, 404);
  });
});

describe('application credentials', () => {
  test('expires_at keeps its microseconds and is rendered as Keystone does; a past one is 400', async () => {
    const inAnHour = new Date(Date.now() + 3600_000).toISOString().replace(/\.(\d{3})Z$/, '.$1456');
    const made = await ok(
      'POST',
      `/v3/users/${adminId}/application_credentials`,
      { application_credential: { name: 'micro', expires_at: inAnHour } },
      201,
    );
    assert.equal(made.application_credential.expires_at, inAnHour);
    const shown = await ok(
      'GET',
      `/v3/users/${adminId}/application_credentials/${made.application_credential.id}`,
    );
    assert.equal(shown.application_credential.expires_at, inAnHour);
    const past = await call('POST', `/v3/users/${adminId}/application_credentials`, {
      application_credential: { name: 'past', expires_at: '2001-01-01T00:00:00' },
    });
    assert.equal(past.status, 400);
    assert.match(past.body.error.message, /^The 'expires_at' must not be before now\./);
  });

  test('access rules outlive their credential, are shared when given again, and go when unused', async () => {
    const rules = `/v3/users/${adminId}/access_rules`;
    const rule = { service: 'compute', path: '/v2.1/servers/*/ips', method: 'GET' };
    const create = (name: string, access_rules: unknown[]) =>
      ok(
        'POST',
        `/v3/users/${adminId}/application_credentials`,
        { application_credential: { name, access_rules } },
        201,
      );
    const first = (await create('rules-1', [rule])).application_credential;
    const ruleId = first.access_rules[0].id as string;
    assert.match(ruleId, /^[0-9a-f]{32}$/);
    // The same rule again, and by id: one rule, shared.
    const second = (await create('rules-2', [rule])).application_credential;
    const third = (await create('rules-3', [{ id: ruleId }])).application_credential;
    assert.equal(second.access_rules[0].id, ruleId);
    assert.deepEqual(third.access_rules, [{ id: ruleId, ...rule }]);
    assert.equal((await ok('GET', rules)).access_rules.length, 1);
    assert.equal((await call('DELETE', `${rules}/${ruleId}`)).status, 403, 'in use');
    for (const c of [first, second, third])
      await ok('DELETE', `/v3/users/${adminId}/application_credentials/${c.id}`, undefined, 204);
    assert.equal((await ok('GET', rules)).access_rules.length, 1, 'kept after its credentials went');
    assert.equal((await call('DELETE', `${rules}/${ruleId}`)).status, 204);
    assert.equal((await ok('GET', rules)).access_rules.length, 0);
    assert.equal((await call('DELETE', `${rules}/${ruleId}`)).status, 404);
  });
});

describe('credentials', () => {
  test('PATCH changes the blob only (CVE-2026-90460); an ec2 access key stays', async () => {
    const made = (
      await ok(
        'POST',
        '/v3/credentials',
        { credential: { user_id: adminId, type: 'totp', blob: 'seed-1' } },
        201,
      )
    ).credential;
    const other = (await ok('POST', '/v3/projects', { project: { name: 'credential-other' } }, 201)).project;
    for (const extra of [{ project_id: other.id }, { type: 'ec2' }, { user_id: 'someone' }]) {
      const res = await call('PATCH', `/v3/credentials/${made.id}`, { credential: { blob: 'x', ...extra } });
      assert.equal(res.status, 400, JSON.stringify(extra));
    }
    const patched = await ok('PATCH', `/v3/credentials/${made.id}`, { credential: { blob: 'seed-2' } });
    assert.deepEqual([patched.credential.blob, patched.credential.type], ['seed-2', 'totp']);
    const project = (await ok('GET', '/v3/projects?name=admin')).projects[0].id;
    const ec2 = (
      await ok(
        'POST',
        '/v3/credentials',
        {
          credential: {
            user_id: adminId,
            project_id: project,
            type: 'ec2',
            blob: '{"access":"a1","secret":"s1"}',
          },
        },
        201,
      )
    ).credential;
    const rekeyed = await call('PATCH', `/v3/credentials/${ec2.id}`, {
      credential: { blob: '{"access":"a2","secret":"s1"}' },
    });
    assert.equal(rekeyed.status, 400);
    await ok('PATCH', `/v3/credentials/${ec2.id}`, { credential: { blob: '{"access":"a1","secret":"s2"}' } });
  });

  test('a token from an application credential cannot reach credentials', async () => {
    const made = await ok(
      'POST',
      `/v3/users/${adminId}/application_credentials`,
      { application_credential: { name: 'delegated', secret: 'delegated-secret', unrestricted: true } },
      201,
    );
    const delegated = (
      await issue(app, {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: made.application_credential.id, secret: 'delegated-secret' },
          },
        },
      })
    ).token;
    const mine = (
      await ok(
        'POST',
        '/v3/credentials',
        { credential: { user_id: adminId, type: 'totp', blob: 'mine' } },
        201,
      )
    ).credential;
    assert.equal((await call('GET', `/v3/credentials/${mine.id}`, undefined, delegated)).status, 403);
    assert.equal(
      (await call('PATCH', `/v3/credentials/${mine.id}`, { credential: { blob: 'y' } }, delegated)).status,
      403,
    );
    assert.equal((await call('DELETE', `/v3/credentials/${mine.id}`, undefined, delegated)).status, 403);
    const created = await call(
      'POST',
      '/v3/credentials',
      { credential: { user_id: adminId, type: 'totp', blob: 'new' } },
      delegated,
    );
    assert.equal(created.status, 403);
    assert.deepEqual((await call('GET', '/v3/credentials', undefined, delegated)).body.credentials, []);
    assert.equal((await call('GET', `/v3/credentials/${mine.id}`)).status, 200, 'the user still can');
  });
});

describe('HEAD and JSON-Home', () => {
  test('every GET route answers HEAD with the GET status and no body', async () => {
    const project = (await ok('GET', '/v3/projects?name=admin')).projects[0].id;
    const urls = ['/', '/v3', '/v3/users', `/v3/users/${adminId}`, '/v3/projects', `/v3/projects/${project}`];
    urls.push('/v3/roles', '/v3/domains', '/v3/regions', '/v3/services', '/v3/endpoints', '/v3/credentials');
    urls.push(
      '/v3/auth/catalog',
      '/v3/auth/projects',
      '/v3/role_assignments',
      `/v3/users/${adminId}/nothing`,
    );
    for (const url of urls) {
      const get = await app.inject({ method: 'GET', url, headers: { 'x-auth-token': admin } });
      const head = await app.inject({ method: 'HEAD', url, headers: { 'x-auth-token': admin } });
      assert.equal(head.statusCode, get.statusCode, url);
      assert.equal(head.body, '', url);
    }
  });

  test('GET / and /v3 give the JSON-Home document when it is preferred', async () => {
    const v3 = await app.inject({ method: 'GET', url: '/v3', headers: { accept: 'application/json-home' } });
    assert.equal(v3.statusCode, 200);
    assert.match(v3.headers['content-type'] as string, /^application\/json-home/);
    const resources = v3.json().resources;
    const REL = 'https://docs.openstack.org/api/openstack-identity/3/rel/';
    assert.deepEqual(resources[`${REL}users`], { href: '/users' });
    assert.deepEqual(resources[`${REL}user`], {
      'href-template': '/users/{user_id}',
      'href-vars': { user_id: 'https://docs.openstack.org/api/openstack-identity/3/param/user_id' },
    });
    // Only what is served: trusts are, PKI revocation lists are not.
    assert.deepEqual(
      resources['https://docs.openstack.org/api/openstack-identity/3/ext/OS-TRUST/1.0/rel/trusts'],
      {
        href: '/OS-TRUST/trusts',
      },
    );
    assert.equal(
      Object.keys(resources).some((rel) => rel.includes('OS-PKI')),
      false,
    );
    const root = await app.inject({ method: 'GET', url: '/', headers: { accept: 'application/json-home' } });
    assert.equal(root.statusCode, 200);
    assert.deepEqual(root.json().resources[`${REL}users`], { href: '/v3/users' });
    // JSON is still the answer to JSON, to */*, and to a tie.
    const plain = await app.inject({ method: 'GET', url: '/v3', headers: { accept: '*/*' } });
    assert.ok(plain.json().version);
    assert.equal(prefersJsonHome('application/json, application/json-home'), false);
    assert.equal(prefersJsonHome('application/json;q=0.5, application/json-home'), true);
    assert.equal(prefersJsonHome(undefined), false);
  });
});
