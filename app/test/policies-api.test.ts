/**
 * /v3/policies and OS-ENDPOINT-POLICY against real PostgreSQL: a policy's blob, type and extra
 * attributes as Keystone keeps them, the type filters, and the associations of a policy with an
 * endpoint, a service and a service in a region, with the effective-policy lookup of
 * keystone/endpoint_policy/core.py (endpoint, then the region and its parents, then the service).
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
  admin = (await issue(app, passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }))).token;
});
after(async () => {
  await app.close();
  await t.drop();
});

const newPolicy = async (type = 'application/json', blob = '{"default": ""}', extra = {}) =>
  (await ok('POST', '/v3/policies', { policy: { blob, type, ...extra } }, 201)).policy;

describe('policies', () => {
  test('create, show, update and delete; extra attributes are kept, an id in the request is not', async () => {
    const made = await newPolicy('application/json', '{"rule": "role:admin"}', {
      id: 'chosen',
      'os:flavor': 'x',
      'project-id': 'p',
      note: { a: 1 },
    });
    assert.notEqual(made.id, 'chosen');
    assert.match(made.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(made, {
      id: made.id,
      blob: '{"rule": "role:admin"}',
      type: 'application/json',
      os_flavor: 'x',
      project_id: 'p',
      note: { a: 1 },
      links: { self: `${BASE}/v3/policies/${made.id}` },
    });
    assert.deepEqual((await ok('GET', `/v3/policies/${made.id}`)).policy, made);
    assert.equal((await call('HEAD', `/v3/policies/${made.id}`)).status, 200);

    const updated = (
      await ok('PATCH', `/v3/policies/${made.id}`, {
        policy: { blob: 'new blob', note: 'replaced', more: true },
      })
    ).policy;
    assert.deepEqual(updated, {
      ...made,
      blob: 'new blob',
      note: 'replaced',
      more: true,
    });
    assert.deepEqual((await ok('GET', `/v3/policies/${made.id}`)).policy, updated);
    // The same id is accepted; another is refused.
    await ok('PATCH', `/v3/policies/${made.id}`, { policy: { id: made.id, type: 'text/plain' } });
    assert.deepEqual(await call('PATCH', `/v3/policies/${made.id}`, { policy: { id: 'other' } }), {
      status: 400,
      body: { error: { code: 400, title: 'Bad Request', message: 'Cannot change policy ID' } },
    });

    await ok('DELETE', `/v3/policies/${made.id}`, undefined, 204);
    assert.deepEqual(await call('GET', `/v3/policies/${made.id}`), {
      status: 404,
      body: { error: { code: 404, title: 'Not Found', message: `Could not find policy: ${made.id}.` } },
    });
    assert.equal((await call('DELETE', `/v3/policies/${made.id}`)).status, 404);
    assert.equal((await call('PATCH', `/v3/policies/${made.id}`, { policy: { blob: 'x' } })).status, 404);
  });

  test('the schema: blob and type required on create, strings, type at most 255; an update names something', async () => {
    for (const policy of [
      { type: 'a' },
      { blob: 'b' },
      { blob: 1, type: 'a' },
      { blob: 'b', type: 'x'.repeat(256) },
    ])
      assert.equal((await call('POST', '/v3/policies', { policy })).status, 400, JSON.stringify(policy));
    const p = await newPolicy();
    const res = await call('PATCH', `/v3/policies/${p.id}`, { policy: {} });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.title, 'Bad Request');
  });

  test('the list, filtered by type exactly or inexactly; other query keys are ignored', async () => {
    const a = await newPolicy('text/x-list-a');
    const b = await newPolicy('text/x-list-b');
    const list = await ok('GET', '/v3/policies?type=text/x-list-a');
    assert.deepEqual(list, {
      policies: [a],
      links: { self: `${BASE}/v3/policies?type=text/x-list-a`, previous: null, next: null },
    });
    const ids = (body: Json) => body.policies.map((p: Json) => p.id).sort();
    assert.deepEqual(ids(await ok('GET', '/v3/policies?type__startswith=text/x-list')), [a.id, b.id].sort());
    assert.deepEqual(ids(await ok('GET', '/v3/policies?type__iendswith=LIST-B')), [b.id]);
    assert.ok(ids(await ok('GET', '/v3/policies?blob=nothing')).includes(a.id));
  });
});

describe('OS-ENDPOINT-POLICY', () => {
  let service: string;
  let other: string;
  const endpoints: Record<string, string> = {};

  before(async () => {
    service = (await ok('POST', '/v3/services', { service: { type: 'compute', name: 'nova' } }, 201)).service
      .id;
    other = (await ok('POST', '/v3/services', { service: { type: 'volume', name: 'cinder' } }, 201)).service
      .id;
    // RegionOne > child > grandchild
    await ok('POST', '/v3/regions', { region: { id: 'ep-parent' } }, 201);
    await ok('POST', '/v3/regions', { region: { id: 'ep-child', parent_region_id: 'ep-parent' } }, 201);
    await ok('POST', '/v3/regions', { region: { id: 'ep-grandchild', parent_region_id: 'ep-child' } }, 201);
    for (const [name, svc, region] of [
      ['parent', service, 'ep-parent'],
      ['child', service, 'ep-child'],
      ['grandchild', service, 'ep-grandchild'],
      ['nowhere', service, null],
      ['volume', other, 'ep-child'],
    ] as const) {
      endpoints[name] = (
        await ok(
          'POST',
          '/v3/endpoints',
          {
            endpoint: {
              service_id: svc,
              interface: 'public',
              url: `https://${name}.test`,
              region_id: region,
            },
          },
          201,
        )
      ).endpoint.id;
    }
  });

  const assoc = (policy: string, rest: string) => `/v3/policies/${policy}/OS-ENDPOINT-POLICY/${rest}`;
  const effective = async (endpoint: string) => {
    const res = await call('GET', `/v3/endpoints/${endpoint}/OS-ENDPOINT-POLICY/policy`);
    return res.status === 200 ? res.body.policy.id : res;
  };

  test('PUT, GET/HEAD (204) and DELETE of each kind of association; a missing one is 404', async () => {
    const p = await newPolicy();
    for (const rest of [
      `endpoints/${endpoints.nowhere}`,
      `services/${other}`,
      `services/${other}/regions/ep-child`,
    ]) {
      const url = assoc(p.id, rest);
      assert.deepEqual(await call('GET', url), {
        status: 404,
        body: { error: { code: 404, title: 'Not Found', message: 'Could not find policy association.' } },
      });
      assert.deepEqual(await call('PUT', url), { status: 204, body: null });
      assert.deepEqual(await call('GET', url), { status: 204, body: null });
      assert.equal((await call('HEAD', url)).status, 204);
      assert.deepEqual(await call('DELETE', url), { status: 204, body: null });
      assert.equal((await call('HEAD', url)).status, 404);
      // Deleting what is not there is still 204, as in Keystone.
      assert.equal((await call('DELETE', url)).status, 204);
    }
    await ok('DELETE', `/v3/policies/${p.id}`, undefined, 204);
  });

  test('every object in the path must exist: policy first, then endpoint or service, then region', async () => {
    const p = await newPolicy();
    const notFound = (type: string, id: string) => ({
      status: 404,
      body: { error: { code: 404, title: 'Not Found', message: `Could not find ${type}: ${id}.` } },
    });
    assert.deepEqual(await call('PUT', assoc('nope', 'endpoints/nope')), notFound('policy', 'nope'));
    assert.deepEqual(await call('PUT', assoc(p.id, 'endpoints/nope')), notFound('endpoint', 'nope'));
    assert.deepEqual(await call('GET', assoc(p.id, 'services/nope')), notFound('service', 'nope'));
    assert.deepEqual(
      await call('DELETE', assoc(p.id, `services/${service}/regions/nope`)),
      notFound('region', 'nope'),
    );
    assert.deepEqual(await call('GET', assoc('nope', 'endpoints')), notFound('policy', 'nope'));
    assert.deepEqual(
      await call('GET', '/v3/endpoints/nope/OS-ENDPOINT-POLICY/policy'),
      notFound('endpoint', 'nope'),
    );
  });

  test('the effective policy: endpoint, then region and service up the parents, then service', async () => {
    const [byEndpoint, byParent, byChild, byService] = [
      await newPolicy(),
      await newPolicy(),
      await newPolicy(),
      await newPolicy(),
    ];
    assert.deepEqual(await effective(endpoints.grandchild as string), {
      status: 404,
      body: {
        error: {
          code: 404,
          title: 'Not Found',
          message: `No policy is associated with endpoint ${endpoints.grandchild}.`,
        },
      },
    });
    await ok('PUT', assoc(byService.id, `services/${service}`), undefined, 204);
    assert.equal(await effective(endpoints.grandchild as string), byService.id);
    assert.equal(await effective(endpoints.nowhere as string), byService.id);
    await ok('PUT', assoc(byParent.id, `services/${service}/regions/ep-parent`), undefined, 204);
    assert.equal(await effective(endpoints.grandchild as string), byParent.id);
    assert.equal(await effective(endpoints.parent as string), byParent.id);
    assert.equal(await effective(endpoints.nowhere as string), byService.id);
    await ok('PUT', assoc(byChild.id, `services/${service}/regions/ep-child`), undefined, 204);
    assert.equal(await effective(endpoints.grandchild as string), byChild.id);
    assert.equal(await effective(endpoints.parent as string), byParent.id);
    await ok('PUT', assoc(byEndpoint.id, `endpoints/${endpoints.grandchild}`), undefined, 204);
    const shown = await ok('GET', `/v3/endpoints/${endpoints.grandchild}/OS-ENDPOINT-POLICY/policy`);
    // Keystone links the policy under the endpoints collection.
    assert.deepEqual(shown, {
      policy: { ...byEndpoint, links: { self: `${BASE}/v3/endpoints/${byEndpoint.id}` } },
    });
    // Another service's endpoint in the same region gets none of these.
    assert.equal(
      (await call('GET', `/v3/endpoints/${endpoints.volume}/OS-ENDPOINT-POLICY/policy`)).status,
      404,
    );

    // The endpoints each policy reaches: the region's subtree for a region association.
    const reached = async (policy: string) =>
      (await ok('GET', assoc(policy, 'endpoints'))).endpoints.map((e: Json) => e.id).sort();
    assert.deepEqual(await reached(byChild.id), [endpoints.child, endpoints.grandchild].sort());
    assert.deepEqual(
      await reached(byParent.id),
      [endpoints.parent, endpoints.child, endpoints.grandchild].sort(),
    );
    assert.deepEqual(await reached(byEndpoint.id), [endpoints.grandchild]);
    assert.deepEqual(
      await reached(byService.id),
      [endpoints.parent, endpoints.child, endpoints.grandchild, endpoints.nowhere].sort(),
    );
    const listed = await ok('GET', assoc(byEndpoint.id, 'endpoints'));
    assert.equal(listed.links.self, `${BASE}/v3/policies/${byEndpoint.id}/OS-ENDPOINT-POLICY/endpoints`);
    assert.equal(listed.endpoints[0].links.self, `${BASE}/v3/endpoints/${endpoints.grandchild}`);

    // A new association for the same target replaces the old one.
    await ok('PUT', assoc(byChild.id, `endpoints/${endpoints.grandchild}`), undefined, 204);
    assert.equal(await effective(endpoints.grandchild as string), byChild.id);
    assert.equal((await call('GET', assoc(byEndpoint.id, `endpoints/${endpoints.grandchild}`))).status, 404);

    // Deleting a policy removes its associations: the lookup falls through to the next level.
    await ok('DELETE', `/v3/policies/${byChild.id}`, undefined, 204);
    assert.equal(await effective(endpoints.grandchild as string), byParent.id);
    for (const p of [byEndpoint, byParent, byService])
      await ok('DELETE', `/v3/policies/${p.id}`, undefined, 204);
  });

  test('deleting an endpoint, a service or a region removes its associations', async () => {
    const p = await newPolicy();
    const svc = (await ok('POST', '/v3/services', { service: { type: 'image' } }, 201)).service.id;
    await ok('POST', '/v3/regions', { region: { id: 'ep-doomed' } }, 201);
    const ep = (
      await ok(
        'POST',
        '/v3/endpoints',
        { endpoint: { service_id: svc, interface: 'admin', url: 'https://doomed.test' } },
        201,
      )
    ).endpoint.id;
    await ok('PUT', assoc(p.id, `endpoints/${ep}`), undefined, 204);
    await ok('PUT', assoc(p.id, `services/${svc}/regions/ep-doomed`), undefined, 204);
    await ok('PUT', assoc(p.id, `services/${other}/regions/ep-doomed`), undefined, 204);
    await ok('PUT', assoc(p.id, `services/${svc}`), undefined, 204);
    const count = async () =>
      Number(
        (await t.db.query('SELECT count(*) AS n FROM policy_association WHERE policy_id = $1', [p.id]))
          .rows[0].n,
      );
    assert.equal(await count(), 4);
    await ok('DELETE', `/v3/endpoints/${ep}`, undefined, 204);
    assert.equal(await count(), 3);
    await ok('DELETE', '/v3/regions/ep-doomed', undefined, 204);
    assert.equal(await count(), 1);
    await ok('DELETE', `/v3/services/${svc}`, undefined, 204);
    assert.equal(await count(), 0);
    await ok('PUT', assoc(p.id, `services/${other}`), undefined, 204);
    await ok('DELETE', `/v3/policies/${p.id}`, undefined, 204);
    assert.equal(await count(), 0);
  });
});
