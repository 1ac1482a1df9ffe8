/**
 * OS-FEDERATION's objects against real PostgreSQL, with the statuses, bodies and error texts the
 * reference Keystone 22 gives: identity providers (auto-created domain, remote ids unique across
 * providers, 409s), protocols (mapping must exist; deleted with their provider), mappings (rules
 * checked by Keystone's schema, its messages), service providers (defaults, URL checks) and the
 * enabled service providers every token lists.
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
const F = '/v3/OS-FEDERATION';
const BASE = 'http://identity.test:5000';

const rules = [
  {
    local: [{ user: { name: '{0}' } }, { group_ids: '{1}' }],
    remote: [{ type: 'openstack_username' }, { type: 'group_ids', whitelist: ['abc', '123'] }],
  },
];

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

const error = (res: { status: number; body: Json }, code: number, message: string) => {
  assert.equal(res.status, code, JSON.stringify(res.body));
  assert.deepEqual(res.body.error, { code, title: res.body.error.title, message });
};

describe('identity providers', () => {
  test('created without a domain: a domain of its own, disabled, remote ids empty, links', async () => {
    const created = await call('PUT', `${F}/identity_providers/acme`, { identity_provider: {} });
    assert.equal(created.status, 201);
    const idp = created.body.identity_provider;
    assert.deepEqual(Object.keys(idp), [
      'id',
      'domain_id',
      'enabled',
      'description',
      'remote_ids',
      'authorization_ttl',
      'links',
    ]);
    assert.deepEqual(
      { ...idp, domain_id: undefined },
      {
        id: 'acme',
        domain_id: undefined,
        enabled: false,
        description: null,
        remote_ids: [],
        authorization_ttl: null,
        links: {
          self: `${BASE}${F}/identity_providers/acme`,
          protocols: `${BASE}${F}/identity_providers/acme/protocols`,
        },
      },
    );
    const domain = (await ok('GET', `/v3/domains/${idp.domain_id}`)).domain;
    assert.equal(domain.name, idp.domain_id);
    assert.equal(domain.description, 'Auto generated federated domain for Identity Provider: acme');
    assert.equal(domain.enabled, true);
    // No body at all is an empty provider too, as Keystone reads a missing envelope.
    assert.equal((await call('PUT', `${F}/identity_providers/bare`)).status, 201);
  });

  test('with a domain, remote ids, enabled and a ttl; shown, listed and filtered', async () => {
    const idp = (
      await ok(
        'PUT',
        `${F}/identity_providers/corp`,
        {
          identity_provider: {
            domain_id: 'default',
            remote_ids: ['https://idp.corp/b', 'https://idp.corp/a'],
            enabled: true,
            description: 'Corp',
            authorization_ttl: 60,
          },
        },
        201,
      )
    ).identity_provider;
    assert.equal(idp.domain_id, 'default');
    assert.deepEqual(idp.remote_ids, ['https://idp.corp/a', 'https://idp.corp/b']);
    assert.deepEqual((await ok('GET', `${F}/identity_providers/corp`)).identity_provider, idp);
    const enabled = (await ok('GET', `${F}/identity_providers?enabled=true`)).identity_providers;
    assert.deepEqual(
      enabled.map((i: Json) => i.id),
      ['corp'],
    );
    const byId = await ok('GET', `${F}/identity_providers?id=corp`);
    assert.deepEqual(byId.links, {
      self: `${BASE}${F}/identity_providers?id=corp`,
      previous: null,
      next: null,
    });
    assert.equal(byId.identity_providers.length, 1);
    assert.equal(
      (
        await app.inject({
          method: 'HEAD',
          url: `${F}/identity_providers/corp`,
          headers: { 'x-auth-token': admin },
        })
      ).statusCode,
      200,
    );
  });

  test('a remote id or an id already taken is Keystone’s 409, and leaves no domain behind', async () => {
    const domains = (await ok('GET', '/v3/domains')).domains.length;
    error(
      await call('PUT', `${F}/identity_providers/other`, {
        identity_provider: { remote_ids: ['https://idp.corp/a'] },
      }),
      409,
      'Conflict occurred attempting to store identity_provider - Duplicate remote ID: https://idp.corp/a.',
    );
    error(
      await call('PUT', `${F}/identity_providers/corp`, { identity_provider: {} }),
      409,
      'Conflict occurred attempting to store identity_provider - Duplicate entry: corp.',
    );
    assert.equal((await ok('GET', '/v3/domains')).domains.length, domains);
    // An update to another provider's remote id is refused the same way.
    await ok('PUT', `${F}/identity_providers/other`, { identity_provider: { remote_ids: ['x'] } }, 201);
    error(
      await call('PATCH', `${F}/identity_providers/other`, {
        identity_provider: { remote_ids: ['https://idp.corp/b'] },
      }),
      409,
      'Conflict occurred attempting to store identity_provider - Duplicate remote ID: https://idp.corp/b.',
    );
    assert.deepEqual((await ok('GET', `${F}/identity_providers/other`)).identity_provider.remote_ids, ['x']);
  });

  test('updates; bad input is 400; an unknown provider or domain is 404', async () => {
    const idp = (
      await ok('PATCH', `${F}/identity_providers/other`, {
        identity_provider: { enabled: true, remote_ids: null, description: 'changed', authorization_ttl: 5 },
      })
    ).identity_provider;
    assert.deepEqual(
      [idp.enabled, idp.remote_ids, idp.description, idp.authorization_ttl],
      [true, [], 'changed', 5],
    );
    for (const body of [
      { identity_provider: {} },
      { identity_provider: { domain_id: 'default' } },
      { identity_provider: { enabled: 'yes' } },
      { identity_provider: { authorization_ttl: -1 } },
    ])
      assert.equal(
        (await call('PATCH', `${F}/identity_providers/other`, body)).status,
        400,
        JSON.stringify(body),
      );
    assert.equal(
      (await call('PUT', `${F}/identity_providers/dup`, { identity_provider: { remote_ids: ['a', 'a'] } }))
        .status,
      400,
    );
    assert.equal(
      (await call('PUT', `${F}/identity_providers/x`, { identity_provider: { nope: 1 } })).status,
      400,
    );
    error(await call('GET', `${F}/identity_providers/nope`), 404, 'Could not find Identity Provider: nope.');
    error(
      await call('DELETE', `${F}/identity_providers/nope`),
      404,
      'Could not find Identity Provider: nope.',
    );
    error(
      await call('PUT', `${F}/identity_providers/lost`, { identity_provider: { domain_id: 'nodomain' } }),
      404,
      'Could not find domain: nodomain.',
    );
  });
});

describe('mappings and protocols', () => {
  test('a mapping is created with PUT, shown as written, listed, updated', async () => {
    const created = await call('PUT', `${F}/mappings/m1`, { mapping: { rules } });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, {
      mapping: { id: 'm1', rules, links: { self: `${BASE}${F}/mappings/m1` } },
    });
    // The rules keep the order of their keys as written (Keystone stores the JSON text).
    const reordered = [{ remote: [{ type: 'b' }], local: [{ user: { type: 'local', name: 'n' } }] }];
    const updated = await ok('PATCH', `${F}/mappings/m1`, { mapping: { rules: reordered } });
    assert.equal(JSON.stringify(updated.mapping.rules), JSON.stringify(reordered));
    assert.equal(
      JSON.stringify((await ok('GET', `${F}/mappings/m1`)).mapping.rules),
      JSON.stringify(reordered),
    );
    assert.ok((await ok('GET', `${F}/mappings`)).mappings.some((m: Json) => m.id === 'm1'));
    error(
      await call('PUT', `${F}/mappings/m1`, { mapping: { rules } }),
      409,
      'Conflict occurred attempting to store mapping - Duplicate entry.',
    );
    error(await call('GET', `${F}/mappings/none`), 404, 'Could not find mapping: none.');
  });

  test('invalid rules are refused with Keystone’s schema messages', async () => {
    error(await call('PUT', `${F}/mappings/bad`, { mapping: {} }), 400, "'rules' is a required property\n");
    error(await call('PUT', `${F}/mappings/bad`), 400, "'rules' is a required property\n");
    error(
      await call('PUT', `${F}/mappings/bad`, {
        mapping: { rules: [{ local: [{ user: { type: 'bad' } }], remote: [] }] },
      }),
      400,
      "'bad' is not one of ['ephemeral', 'local']\n[] is too short\n",
    );
    error(
      await call('PATCH', `${F}/mappings/m1`, {
        mapping: { rules: [{ local: [], remote: [{ type: 'a', foo: 1 }] }] },
      }),
      400,
      "{'type': 'a', 'foo': 1} is not valid under any of the given schemas\n",
    );
  });

  test('protocols: the mapping must exist, Keystone’s bodies and links, 409, 404', async () => {
    await ok('PUT', `${F}/mappings/m2`, { mapping: { rules } }, 201);
    const created = await call('PUT', `${F}/identity_providers/corp/protocols/saml2`, {
      protocol: { mapping_id: 'm1', remote_id_attribute: 'Shib-Identity-Provider' },
    });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, {
      protocol: {
        id: 'saml2',
        mapping_id: 'm1',
        links: { self: `${BASE}/v3/protocols/saml2`, identity_provider: `${BASE}/v3/corp` },
      },
    });
    error(
      await call('PUT', `${F}/identity_providers/corp/protocols/saml2`, { protocol: { mapping_id: 'm1' } }),
      409,
      'Conflict occurred attempting to store federation_protocol - Duplicate entry found with ID saml2.',
    );
    error(
      await call('PUT', `${F}/identity_providers/corp/protocols/oidc`, { protocol: { mapping_id: 'nope' } }),
      400,
      'Invalid mapping id: nope',
    );
    error(
      await call('PUT', `${F}/identity_providers/ghost/protocols/oidc`, { protocol: { mapping_id: 'm1' } }),
      404,
      'Could not find Identity Provider: ghost.',
    );
    assert.equal((await call('PUT', `${F}/identity_providers/corp/protocols/oidc`, {})).status, 400);
    // The list shows every column (Keystone does not filter it).
    const list = await ok('GET', `${F}/identity_providers/corp/protocols`);
    assert.deepEqual(list.protocols, [
      {
        id: 'saml2',
        idp_id: 'corp',
        mapping_id: 'm1',
        remote_id_attribute: 'Shib-Identity-Provider',
        links: { self: `${BASE}/v3/protocols/saml2`, identity_provider: `${BASE}/v3/corp` },
      },
    ]);
    assert.deepEqual((await ok('GET', `${F}/identity_providers/ghost/protocols`)).protocols, []);
    const updated = await ok('PATCH', `${F}/identity_providers/corp/protocols/saml2`, {
      protocol: { mapping_id: 'm2' },
    });
    assert.equal(updated.protocol.mapping_id, 'm2');
    error(
      await call('PATCH', `${F}/identity_providers/corp/protocols/saml2`, {
        protocol: { mapping_id: 'nope' },
      }),
      400,
      'Invalid mapping id: nope',
    );
    await ok('PATCH', `${F}/identity_providers/corp/protocols/saml2`, {
      protocol: { remote_id_attribute: 'y' },
    });
    assert.equal(
      (await ok('GET', `${F}/identity_providers/corp/protocols`)).protocols[0].remote_id_attribute,
      'y',
    );
    assert.equal((await ok('GET', `${F}/identity_providers/corp/protocols/saml2`)).protocol.mapping_id, 'm2');
    error(
      await call('GET', `${F}/identity_providers/corp/protocols/nope`),
      404,
      'Could not find federated protocol nope for Identity Provider: corp.',
    );
  });

  test('deleting a provider removes its protocols, not its domain; a mapping in use may go', async () => {
    await ok('PUT', `${F}/identity_providers/temp`, {}, 201);
    const domainId = (await ok('GET', `${F}/identity_providers/temp`)).identity_provider.domain_id;
    await ok('PUT', `${F}/identity_providers/temp/protocols/p`, { protocol: { mapping_id: 'm2' } }, 201);
    await ok('DELETE', `${F}/identity_providers/temp`, undefined, 204);
    // A provider made again with the same id starts without the old protocol.
    await ok('PUT', `${F}/identity_providers/temp`, {}, 201);
    assert.deepEqual((await ok('GET', `${F}/identity_providers/temp/protocols`)).protocols, []);
    await ok('GET', `/v3/domains/${domainId}`);
    await ok('DELETE', `${F}/identity_providers/corp/protocols/saml2`, undefined, 204);
    error(
      await call('DELETE', `${F}/identity_providers/corp/protocols/saml2`),
      404,
      'Could not find federated protocol saml2 for Identity Provider: corp.',
    );
    await ok('PUT', `${F}/identity_providers/corp/protocols/saml2`, { protocol: { mapping_id: 'm2' } }, 201);
    await ok('DELETE', `${F}/mappings/m2`, undefined, 204);
    assert.equal((await ok('GET', `${F}/identity_providers/corp/protocols/saml2`)).protocol.mapping_id, 'm2');
  });

  test('deleting a provider’s domain deletes the provider, as Keystone’s domain callback does', async () => {
    await ok('PUT', `${F}/identity_providers/doomed`, {}, 201);
    const domainId = (await ok('GET', `${F}/identity_providers/doomed`)).identity_provider.domain_id;
    await ok('PATCH', `/v3/domains/${domainId}`, { domain: { enabled: false } });
    await ok('DELETE', `/v3/domains/${domainId}`, undefined, 204);
    assert.equal((await call('GET', `${F}/identity_providers/doomed`)).status, 404);
  });
});

describe('service providers', () => {
  const sp = { auth_url: 'https://sp.test/v3/auth', sp_url: 'https://sp.test/Shibboleth.sso/SAML2/ECP' };

  test('defaults: disabled, the configured relay state prefix; shown, listed, updated', async () => {
    const created = await call('PUT', `${F}/service_providers/sp1`, {
      service_provider: { ...sp, description: 'd' },
    });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.service_provider, {
      auth_url: sp.auth_url,
      id: 'sp1',
      enabled: false,
      description: 'd',
      relay_state_prefix: 'ss:mem:',
      sp_url: sp.sp_url,
      links: { self: `${BASE}${F}/service_providers/sp1` },
    });
    const custom = (
      await ok(
        'PUT',
        `${F}/service_providers/sp2`,
        { service_provider: { ...sp, relay_state_prefix: 'rs:' } },
        201,
      )
    ).service_provider;
    assert.equal(custom.relay_state_prefix, 'rs:');
    assert.deepEqual(
      (await ok('GET', `${F}/service_providers/sp1`)).service_provider,
      created.body.service_provider,
    );
    const updated = (await ok('PATCH', `${F}/service_providers/sp1`, { service_provider: { enabled: true } }))
      .service_provider;
    assert.equal(updated.enabled, true);
    assert.deepEqual(
      (await ok('GET', `${F}/service_providers?enabled=false`)).service_providers.map((s: Json) => s.id),
      ['sp2'],
    );
    error(
      await call('PUT', `${F}/service_providers/sp1`, { service_provider: sp }),
      409,
      'Conflict occurred attempting to store service_provider - Duplicate entry found with ID sp1.',
    );
    error(await call('GET', `${F}/service_providers/nope`), 404, 'Could not find Service Provider: nope.');
  });

  test('a URL without a scheme, a missing URL or an empty update is 400', async () => {
    for (const body of [
      { service_provider: { ...sp, auth_url: 'not-a-url' } },
      { service_provider: { ...sp, sp_url: 'not-a-url' } },
      { service_provider: { auth_url: sp.auth_url } },
      {},
    ])
      assert.equal((await call('PUT', `${F}/service_providers/bad`, body)).status, 400, JSON.stringify(body));
    error(await call('PUT', `${F}/service_providers/bad`), 400, "'auth_url' is a required property");
    for (const body of [{ service_provider: {} }, { service_provider: { auth_url: 'nope' } }])
      assert.equal((await call('PATCH', `${F}/service_providers/sp1`, body)).status, 400);
  });

  test('tokens list the enabled service providers, and stop when none is', async () => {
    const tokenBody = async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/v3/auth/tokens?nocatalog',
        payload: passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }),
      });
      assert.equal(res.statusCode, 201);
      const validated = await app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': admin, 'x-subject-token': res.headers['x-subject-token'] as string },
      });
      return [res.json().token, validated.json().token] as const;
    };
    for (const token of await tokenBody())
      assert.deepEqual(token.service_providers, [{ auth_url: sp.auth_url, id: 'sp1', sp_url: sp.sp_url }]);
    await ok('PATCH', `${F}/service_providers/sp1`, { service_provider: { enabled: false } });
    for (const token of await tokenBody()) assert.equal('service_providers' in token, false);
    await ok('DELETE', `${F}/service_providers/sp1`, undefined, 204);
    error(await call('DELETE', `${F}/service_providers/sp1`), 404, 'Could not find Service Provider: sp1.');
  });
});
