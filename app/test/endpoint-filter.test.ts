/**
 * OS-EP-FILTER against real PostgreSQL: endpoint groups and their filters, project associations
 * with endpoints and groups, the listings both ways, and project-scoped catalogs narrowed to a
 * project's endpoints (the whole catalog for a project with none), as Keystone's
 * endpoint_filter.sql catalog gives them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client, issue, type Json } from './api.js';
import { ADMIN_PASSWORD, passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

let t: TestDatabase;
let app: FastifyInstance;
let admin: string;
let api: ReturnType<typeof client>;
const call: typeof api.call = (...a) => api.call(...a);
const ok: typeof api.ok = (...a) => api.ok(...a);
const EP = '/v3/OS-EP-FILTER';

let compute: string;
let storage: string;
const endpoints: Record<string, string> = {};
let project: string;
let other: string;

before(async () => {
  t = await testDatabase();
  app = await build({ config: t.config, db: t.db });
  api = client(app, () => admin);
  admin = (await issue(app, passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }))).token;
  compute = (await ok('POST', '/v3/services', { service: { type: 'compute', name: 'nova' } }, 201)).service
    .id;
  storage = (await ok('POST', '/v3/services', { service: { type: 'object-store', name: 'swift' } }, 201))
    .service.id;
  for (const [service, iface] of [
    [compute, 'public'],
    [compute, 'internal'],
    [storage, 'public'],
  ] as const) {
    const e = await ok(
      'POST',
      '/v3/endpoints',
      {
        endpoint: {
          service_id: service,
          interface: iface,
          url: `https://${iface}.test`,
          region_id: 'RegionOne',
        },
      },
      201,
    );
    endpoints[`${service === compute ? 'compute' : 'storage'}-${iface}`] = e.endpoint.id;
  }
  project = (await ok('POST', '/v3/projects', { project: { name: 'filtered' } }, 201)).project.id;
  other = (await ok('POST', '/v3/projects', { project: { name: 'unfiltered' } }, 201)).project.id;
  const adminUser = (await ok('GET', '/v3/users?name=admin')).users[0].id;
  const member = (await ok('GET', '/v3/roles?name=member')).roles[0].id;
  for (const p of [project, other])
    await ok('PUT', `/v3/projects/${p}/users/${adminUser}/roles/${member}`, undefined, 204);
});
after(async () => {
  await app.close();
  await t.drop();
});

/** The endpoint ids of the catalog a token scoped to `projectId` carries, and /v3/auth/catalog's. */
async function catalogOf(projectId: string): Promise<{ token: string[]; auth: string[] }> {
  const res = await app.inject({
    method: 'POST',
    url: '/v3/auth/tokens',
    payload: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } },
        },
        scope: { project: { id: projectId } },
      },
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  const ids = (catalog: Json[]) => catalog.flatMap((s: Json) => s.endpoints.map((e: Json) => e.id)).sort();
  const token = res.headers['x-subject-token'] as string;
  const auth = (await call('GET', '/v3/auth/catalog', undefined, token)).body.catalog;
  return { token: ids(res.json().token.catalog), auth: ids(auth) };
}

describe('endpoint groups', () => {
  test('create, show, list, update and delete; filters are checked', async () => {
    const made = (
      await ok(
        'POST',
        `${EP}/endpoint_groups`,
        {
          endpoint_group: { name: 'computes', description: 'all compute', filters: { service_id: compute } },
        },
        201,
      )
    ).endpoint_group;
    assert.deepEqual(made, {
      id: made.id,
      name: 'computes',
      description: 'all compute',
      filters: { service_id: compute },
      links: { self: `http://identity.test:5000${EP}/endpoint_groups/${made.id}` },
    });
    assert.deepEqual((await ok('GET', `${EP}/endpoint_groups/${made.id}`)).endpoint_group, made);
    assert.ok((await ok('GET', `${EP}/endpoint_groups`)).endpoint_groups.some((g: Json) => g.id === made.id));
    assert.equal((await call('HEAD', `${EP}/endpoint_groups/${made.id}`)).status, 200);
    const updated = await ok('PATCH', `${EP}/endpoint_groups/${made.id}`, {
      endpoint_group: { filters: { service_id: compute, interface: 'public' } },
    });
    assert.deepEqual(updated.endpoint_group.filters, { service_id: compute, interface: 'public' });
    const selected = await ok('GET', `${EP}/endpoint_groups/${made.id}/endpoints`);
    assert.deepEqual(
      selected.endpoints.map((e: Json) => e.id),
      [endpoints['compute-public']],
    );
    for (const filters of [{}, { url: 'x' }]) {
      const bad = await call('POST', `${EP}/endpoint_groups`, { endpoint_group: { name: 'bad', filters } });
      assert.equal(bad.status, 400, JSON.stringify(filters));
    }
    assert.equal(
      (await call('POST', `${EP}/endpoint_groups`, { endpoint_group: { name: 'x' } })).status,
      400,
    );
    await ok('DELETE', `${EP}/endpoint_groups/${made.id}`, undefined, 204);
    assert.equal((await call('GET', `${EP}/endpoint_groups/${made.id}`)).status, 404);
  });
});

describe('project associations and the filtered catalog', () => {
  test('an endpoint and a group associated with a project narrow its catalog, and only its', async () => {
    // No associations: the whole catalog (ours and the identity endpoints the bootstrap made).
    const whole = (await catalogOf(project)).token;
    for (const id of Object.values(endpoints)) assert.ok(whole.includes(id));
    assert.deepEqual((await catalogOf(other)).token, whole);

    const direct = `${EP}/projects/${project}/endpoints/${endpoints['storage-public']}`;
    await ok('PUT', direct, undefined, 204);
    assert.equal((await call('HEAD', direct)).status, 204);
    assert.equal((await call('GET', direct)).status, 204);
    assert.deepEqual(await catalogOf(project), {
      token: [endpoints['storage-public']],
      auth: [endpoints['storage-public']],
    });
    assert.deepEqual((await catalogOf(other)).token, whole, 'another project');

    const group = (
      await ok(
        'POST',
        `${EP}/endpoint_groups`,
        { endpoint_group: { name: 'internal', filters: { service_id: compute, interface: 'internal' } } },
        201,
      )
    ).endpoint_group;
    const link = `${EP}/endpoint_groups/${group.id}/projects/${project}`;
    await ok('PUT', link, undefined, 204);
    assert.equal((await call('HEAD', link)).status, 204);
    assert.deepEqual((await ok('GET', link)).project_endpoint_group, {
      endpoint_group_id: group.id,
      project_id: project,
      links: { self: `http://identity.test:5000${link}` },
    });
    assert.deepEqual(
      (await catalogOf(project)).token,
      [endpoints['storage-public'], endpoints['compute-internal']].sort(),
    );

    // The listings, both ways.
    assert.deepEqual(
      (await ok('GET', `${EP}/projects/${project}/endpoints`)).endpoints.map((e: Json) => e.id).sort(),
      [endpoints['storage-public'], endpoints['compute-internal']].sort(),
    );
    assert.deepEqual(
      (await ok('GET', `${EP}/projects/${project}/endpoint_groups`)).endpoint_groups.map((g: Json) => g.id),
      [group.id],
    );
    assert.deepEqual(
      (await ok('GET', `${EP}/endpoint_groups/${group.id}/projects`)).projects.map((p: Json) => p.id),
      [project],
    );
    assert.deepEqual(
      (await ok('GET', `${EP}/endpoints/${endpoints['storage-public']}/projects`)).projects.map(
        (p: Json) => p.id,
      ),
      [project],
    );

    // Gone again: the whole catalog.
    await ok('DELETE', link, undefined, 204);
    await ok('DELETE', direct, undefined, 204);
    assert.equal((await call('HEAD', direct)).status, 404);
    assert.equal((await call('DELETE', direct)).status, 404);
    assert.deepEqual((await catalogOf(project)).token, whole);
  });

  test('unknown objects are 404 and a member may not manage associations', async () => {
    assert.equal((await call('PUT', `${EP}/projects/${project}/endpoints/nothing`)).status, 404);
    assert.equal(
      (await call('PUT', `${EP}/projects/nothing/endpoints/${endpoints['storage-public']}`)).status,
      404,
    );
    assert.equal((await call('PUT', `${EP}/endpoint_groups/nothing/projects/${project}`)).status, 404);
    const user = (
      await ok('POST', '/v3/users', { user: { name: 'plain-member', password: 'plain-member-pw' } }, 201)
    ).user.id;
    const member = (await ok('GET', '/v3/roles?name=member')).roles[0].id;
    await ok('PUT', `/v3/projects/${project}/users/${user}/roles/${member}`, undefined, 204);
    const token = (
      await issue(app, {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { id: user, password: 'plain-member-pw' } },
          },
          scope: { project: { id: project } },
        },
      })
    ).token;
    const refused = await call(
      'PUT',
      `${EP}/projects/${project}/endpoints/${endpoints['storage-public']}`,
      undefined,
      token,
    );
    assert.equal(refused.status, 403);
    assert.equal((await call('GET', `${EP}/endpoint_groups`, undefined, token)).status, 403);
  });
});
