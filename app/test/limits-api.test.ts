/**
 * Unified limits against real PostgreSQL: registered limits and limits created as lists (all or
 * none), their filters, uniqueness and reference checks with Keystone's statuses and texts, the
 * limit list narrowed by the caller's token, what deleting a project, domain, service or region
 * does to limits, and the strict_two_level model's checks (keystone/tests/unit/test_limits.py's
 * trees) and its bound on project depth.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client, type Json } from './api.js';
import { type TestDatabase, testDatabase } from './helpers.js';
import { createPersonas, type Personas } from './personas.js';

const CLIENT_ERROR =
  'The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

let t: TestDatabase;
let app: FastifyInstance;
let p: Personas;
let api: ReturnType<typeof client>;
const call: typeof api.call = (...a) => api.call(...a);
const ok: typeof api.ok = (...a) => api.ok(...a);

let compute: string;
let storage: string;
let region2: string;

before(async () => {
  t = await testDatabase();
  p = await createPersonas(t);
  app = await build({ config: t.config, db: t.db });
  api = client(app, () => p.tokens.system_admin);
  compute = (await ok('POST', '/v3/services', { service: { type: 'compute', name: 'nova' } }, 201)).service
    .id;
  storage = (await ok('POST', '/v3/services', { service: { type: 'volumev3', name: 'cinder' } }, 201)).service
    .id;
  region2 = (await ok('POST', '/v3/regions', { region: { id: 'RegionTwo' } }, 201)).region.id;
});
after(async () => {
  await app.close();
  await t.drop();
});

let n = 0;
const resource = (prefix = 'res') => `${prefix}-${++n}`;
const registered = async (fields: Record<string, unknown>) =>
  (await ok('POST', '/v3/registered_limits', { registered_limits: [fields] }, 201)).registered_limits[0];
const error = (status: number, message: string) => ({
  error: {
    code: status,
    title: { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict' }[status],
    message,
  },
});

describe('registered limits', () => {
  test('a list is created in one request and shown as Keystone shows it', async () => {
    const name = resource('cores');
    const body = await ok(
      'POST',
      '/v3/registered_limits',
      {
        registered_limits: [
          {
            service_id: compute,
            region_id: 'RegionOne',
            resource_name: name,
            default_limit: 10,
            description: 'd',
          },
          { service_id: compute, resource_name: name, default_limit: -1 },
        ],
      },
      201,
    );
    assert.deepEqual(Object.keys(body), ['registered_limits']);
    const [a, b] = body.registered_limits;
    assert.deepEqual(a, {
      id: a.id,
      service_id: compute,
      region_id: 'RegionOne',
      resource_name: name,
      default_limit: 10,
      description: 'd',
      links: { self: `http://identity.test:5000/v3/registered_limits/${a.id}` },
    });
    assert.equal(b.region_id, null);
    assert.equal(b.description, null);
    assert.deepEqual((await ok('GET', `/v3/registered_limits/${a.id}`)).registered_limit, a);
    assert.equal((await call('HEAD', `/v3/registered_limits/${a.id}`)).status, 200);
  });

  test('lists filter on service_id, region_id and resource_name', async () => {
    const name = resource('filtered');
    await ok(
      'POST',
      '/v3/registered_limits',
      {
        registered_limits: [
          { service_id: compute, region_id: 'RegionOne', resource_name: name, default_limit: 1 },
          { service_id: storage, region_id: region2, resource_name: name, default_limit: 2 },
        ],
      },
      201,
    );
    const values = async (query: string) =>
      (await ok('GET', `/v3/registered_limits?${query}`)).registered_limits.map((r: Json) => r.default_limit);
    assert.deepEqual(await values(`resource_name=${name}`), [1, 2]);
    assert.deepEqual(await values(`resource_name=${name}&service_id=${storage}`), [2]);
    assert.deepEqual(await values(`resource_name=${name}&region_id=RegionOne`), [1]);
    assert.deepEqual(await values(`resource_name=${name}&region_id=nowhere`), []);
    const all = await ok('GET', '/v3/registered_limits?unknown=1');
    assert.ok(all.registered_limits.length >= 2);
    assert.deepEqual(all.links, {
      self: 'http://identity.test:5000/v3/registered_limits?unknown=1',
      previous: null,
      next: null,
    });
  });

  test('service, region and resource are unique together: 409, and a batch is all or none', async () => {
    const name = resource('unique');
    await registered({ service_id: compute, resource_name: name, default_limit: 1 });
    const again = await call('POST', '/v3/registered_limits', {
      registered_limits: [{ service_id: compute, resource_name: name, default_limit: 5 }],
    });
    assert.equal(again.status, 409);
    assert.deepEqual(
      again.body,
      error(409, 'Conflict occurred attempting to store registered_limit - Duplicate entry.'),
    );
    // The first item of this batch is new; the second repeats it: nothing is stored.
    const other = resource('batch');
    const batch = await call('POST', '/v3/registered_limits', {
      registered_limits: [
        { service_id: storage, resource_name: other, default_limit: 1 },
        { service_id: storage, resource_name: other, default_limit: 2 },
      ],
    });
    assert.equal(batch.status, 409);
    assert.deepEqual((await ok('GET', `/v3/registered_limits?resource_name=${other}`)).registered_limits, []);
    // Another region is another registered limit.
    await registered({ service_id: compute, region_id: region2, resource_name: name, default_limit: 1 });
  });

  test('an unknown service or region is a 400 naming the attribute; bad input is a 400', async () => {
    const unknownService = await call('POST', '/v3/registered_limits', {
      registered_limits: [{ service_id: 'nosuchservice', resource_name: 'x', default_limit: 1 }],
    });
    assert.deepEqual(
      unknownService.body,
      error(400, `Expecting to find service_id in registered_limit. ${CLIENT_ERROR}`),
    );
    const unknownRegion = await call('POST', '/v3/registered_limits', {
      registered_limits: [
        { service_id: compute, region_id: 'fake_region', resource_name: 'x', default_limit: 1 },
      ],
    });
    assert.deepEqual(
      unknownRegion.body,
      error(400, `Expecting to find region_id in registered_limit. ${CLIENT_ERROR}`),
    );
    for (const item of [
      { service_id: compute, resource_name: 'x', default_limit: 'not_int' },
      { service_id: compute, resource_name: 123, default_limit: 1 },
      { service_id: compute, resource_name: 'x', default_limit: -2 },
      { service_id: compute, resource_name: 'x', default_limit: 2 ** 31 },
      { service_id: compute, resource_name: '', default_limit: 1 },
      { service_id: compute, default_limit: 1 },
      { service_id: compute, resource_name: 'x', default_limit: 1, extra: true },
    ])
      assert.equal(
        (await call('POST', '/v3/registered_limits', { registered_limits: [item] })).status,
        400,
        JSON.stringify(item),
      );
    assert.equal((await call('POST', '/v3/registered_limits', { registered_limits: [] })).status, 400);
    assert.equal((await call('POST', '/v3/registered_limits', { registered_limit: {} })).status, 400);
  });

  test('update: fields change, region_id to null, a conflict is 409, unknown refs 400, missing 404', async () => {
    const name = resource('update');
    const r = await registered({
      service_id: compute,
      region_id: 'RegionOne',
      resource_name: name,
      default_limit: 10,
    });
    const updated = (
      await ok('PATCH', `/v3/registered_limits/${r.id}`, {
        registered_limit: { default_limit: 5, description: 'five', resource_name: `${name}-b` },
      })
    ).registered_limit;
    assert.deepEqual(
      [updated.default_limit, updated.description, updated.resource_name],
      [5, 'five', `${name}-b`],
    );
    assert.equal(
      (await ok('PATCH', `/v3/registered_limits/${r.id}`, { registered_limit: { region_id: null } }))
        .registered_limit.region_id,
      null,
    );
    // Another one for RegionOne; moving it to no region collides with the first.
    const s = await registered({
      service_id: compute,
      region_id: 'RegionOne',
      resource_name: `${name}-b`,
      default_limit: 1,
    });
    const collide = await call('PATCH', `/v3/registered_limits/${s.id}`, {
      registered_limit: { region_id: null },
    });
    assert.deepEqual(
      collide.body,
      error(409, 'Conflict occurred attempting to store registered_limit - Duplicate entry.'),
    );
    const badService = await call('PATCH', `/v3/registered_limits/${s.id}`, {
      registered_limit: { service_id: 'nosuchservice' },
    });
    assert.deepEqual(
      badService.body,
      error(400, `Expecting to find service_id in registered_limit. ${CLIENT_ERROR}`),
    );
    assert.equal(
      (await call('PATCH', `/v3/registered_limits/${s.id}`, { registered_limit: { region_id: '' } })).status,
      400,
    );
    assert.equal(
      (await call('PATCH', `/v3/registered_limits/${s.id}`, { registered_limit: { description: 123 } }))
        .status,
      400,
    );
    const missing = await call('PATCH', '/v3/registered_limits/nosuch', {
      registered_limit: { default_limit: 1 },
    });
    assert.deepEqual(missing.body, error(404, 'Could not find registered limit for nosuch.'));
    assert.deepEqual(
      (await call('GET', '/v3/registered_limits/nosuch')).body,
      error(404, 'Could not find registered limit for nosuch.'),
    );
  });

  test('one that limits refer to cannot be updated or deleted (403); otherwise delete is 204', async () => {
    const name = resource('referenced');
    const r = await registered({ service_id: compute, resource_name: name, default_limit: 10 });
    const made = (
      await ok(
        'POST',
        '/v3/limits',
        {
          limits: [{ project_id: p.projectId, service_id: compute, resource_name: name, resource_limit: 3 }],
        },
        201,
      )
    ).limits[0];
    const refused = error(
      403,
      `Unable to update or delete registered limit ${r.id} because there are project limits associated with it.`,
    );
    assert.deepEqual(
      (await call('PATCH', `/v3/registered_limits/${r.id}`, { registered_limit: { description: 'x' } })).body,
      refused,
    );
    assert.deepEqual((await call('DELETE', `/v3/registered_limits/${r.id}`)).body, refused);
    await ok('DELETE', `/v3/limits/${made.id}`, undefined, 204);
    await ok('DELETE', `/v3/registered_limits/${r.id}`, undefined, 204);
    assert.equal((await call('DELETE', `/v3/registered_limits/${r.id}`)).status, 404);
  });
});

describe('limits', () => {
  let volumes: string;
  let backups: string;
  before(async () => {
    volumes = resource('volumes');
    backups = resource('backups');
    await ok(
      'POST',
      '/v3/registered_limits',
      {
        registered_limits: [
          { service_id: storage, region_id: 'RegionOne', resource_name: volumes, default_limit: 10 },
          { service_id: storage, resource_name: backups, default_limit: 5 },
        ],
      },
      201,
    );
  });

  test('project and domain limits; a domain id as project_id makes a domain limit', async () => {
    const body = await ok(
      'POST',
      '/v3/limits',
      {
        limits: [
          {
            project_id: p.projectId,
            service_id: storage,
            region_id: 'RegionOne',
            resource_name: volumes,
            resource_limit: 7,
            description: 'seven',
          },
          { domain_id: p.domainId, service_id: storage, resource_name: backups, resource_limit: 9 },
          { project_id: p.otherDomainId, service_id: storage, resource_name: backups, resource_limit: 8 },
        ],
      },
      201,
    );
    assert.deepEqual(Object.keys(body), ['limits']);
    const [a, b, c] = body.limits;
    assert.deepEqual(a, {
      id: a.id,
      project_id: p.projectId,
      domain_id: null,
      service_id: storage,
      region_id: 'RegionOne',
      resource_name: volumes,
      resource_limit: 7,
      description: 'seven',
      links: { self: `http://identity.test:5000/v3/limits/${a.id}` },
    });
    assert.deepEqual([b.project_id, b.domain_id, b.region_id, b.description], [null, p.domainId, null, null]);
    assert.deepEqual([c.project_id, c.domain_id], [null, p.otherDomainId]);
    assert.deepEqual((await ok('GET', `/v3/limits/${a.id}`)).limit, a);
  });

  test('a limit needs its registered limit (403) and is unique per project or domain (409)', async () => {
    const noReference = await call('POST', '/v3/limits', {
      limits: [
        {
          project_id: p.ownProjectId,
          service_id: storage,
          region_id: region2,
          resource_name: volumes,
          resource_limit: 1,
        },
      ],
    });
    assert.deepEqual(
      noReference.body,
      error(403, 'Unable to create a limit that has no corresponding registered limit.'),
    );
    const limit = {
      project_id: p.ownProjectId,
      service_id: storage,
      resource_name: backups,
      resource_limit: 1,
    };
    await ok('POST', '/v3/limits', { limits: [limit] }, 201);
    const again = await call('POST', '/v3/limits', { limits: [limit] });
    assert.deepEqual(
      again.body,
      error(409, 'Conflict occurred attempting to store limit - Duplicate entry.'),
    );
    // All or none: the good first item is not kept when the second fails.
    const batch = await call('POST', '/v3/limits', {
      limits: [
        { project_id: p.otherProjectId, service_id: storage, resource_name: backups, resource_limit: 1 },
        {
          project_id: p.otherProjectId,
          service_id: storage,
          resource_name: 'unregistered',
          resource_limit: 1,
        },
      ],
    });
    assert.equal(batch.status, 403);
    assert.deepEqual((await ok('GET', `/v3/limits?project_id=${p.otherProjectId}`)).limits, []);
  });

  test('unknown references are 400 naming the attribute; bad input is 400', async () => {
    const base = { service_id: storage, resource_name: backups, resource_limit: 1 };
    for (const [item, attribute] of [
      [{ ...base, project_id: 'nosuchproject' }, 'project_id'],
      [{ ...base, domain_id: 'nosuchdomain' }, 'domain_id'],
      [{ ...base, project_id: p.projectId, service_id: 'nosuch' }, 'service_id'],
      [{ ...base, project_id: p.projectId, region_id: 'fake_region' }, 'region_id'],
    ] as const)
      assert.deepEqual(
        (await call('POST', '/v3/limits', { limits: [item] })).body,
        error(400, `Expecting to find ${attribute} in limit. ${CLIENT_ERROR}`),
      );
    for (const item of [
      { ...base, project_id: p.projectId, domain_id: p.domainId },
      { ...base },
      { ...base, project_id: p.projectId, resource_limit: 'not_int' },
      { ...base, project_id: p.projectId, resource_name: 123 },
      { ...base, project_id: p.projectId, region_id: null },
    ])
      assert.equal((await call('POST', '/v3/limits', { limits: [item] })).status, 400, JSON.stringify(item));
  });

  test('update changes the value (0 included) and the description; 404 for a missing limit', async () => {
    const made = (
      await ok(
        'POST',
        '/v3/limits',
        {
          limits: [
            {
              domain_id: p.otherDomainId,
              service_id: storage,
              region_id: 'RegionOne',
              resource_name: volumes,
              resource_limit: 4,
            },
          ],
        },
        201,
      )
    ).limits[0];
    const updated = (
      await ok('PATCH', `/v3/limits/${made.id}`, { limit: { resource_limit: 0, description: 'none' } })
    ).limit;
    assert.deepEqual({ ...updated }, { ...made, resource_limit: 0, description: 'none' });
    assert.equal(
      (await call('PATCH', `/v3/limits/${made.id}`, { limit: { resource_limit: 'x' } })).status,
      400,
    );
    assert.equal(
      (await call('PATCH', `/v3/limits/${made.id}`, { limit: { service_id: storage } })).status,
      400,
    );
    assert.deepEqual(
      (await call('PATCH', '/v3/limits/nosuch', { limit: { resource_limit: 1 } })).body,
      error(404, 'Could not find limit for nosuch.'),
    );
    await ok('DELETE', `/v3/limits/${made.id}`, undefined, 204);
    assert.deepEqual(
      (await call('DELETE', `/v3/limits/${made.id}`)).body,
      error(404, `Could not find limit for ${made.id}.`),
    );
  });

  test('lists filter, and are narrowed to what the token reaches', async () => {
    const ids = async (query: string, token = p.tokens.system_admin) =>
      (await call('GET', `/v3/limits${query}`, undefined, token)).body.limits.map(
        (l: Json) => `${l.project_id ?? l.domain_id}:${l.resource_name}`,
      );
    const all = await ids(`?service_id=${storage}`);
    assert.ok(all.includes(`${p.projectId}:${volumes}`));
    assert.ok(all.includes(`${p.otherDomainId}:${backups}`));
    assert.deepEqual(await ids(`?resource_name=${volumes}`), [`${p.projectId}:${volumes}`]);
    assert.deepEqual(await ids(`?region_id=RegionOne`), [`${p.projectId}:${volumes}`]);
    assert.deepEqual(await ids(`?domain_id=${p.domainId}`), [`${p.domainId}:${backups}`]);
    assert.deepEqual(await ids(`?project_id=${p.ownProjectId}`), [`${p.ownProjectId}:${backups}`]);

    // A project token: its own project's limits only, whatever it asks.
    assert.deepEqual(await ids('', p.tokens.project_reader), [`${p.projectId}:${volumes}`]);
    assert.deepEqual(await ids(`?project_id=${p.ownProjectId}`, p.tokens.project_reader), []);
    assert.deepEqual(await ids(`?domain_id=${p.domainId}`, p.tokens.project_reader), []);
    // A domain token: the domain's own limits and its projects'.
    assert.deepEqual(
      (await ids('', p.tokens.domain_reader)).sort(),
      [`${p.domainId}:${backups}`, `${p.ownProjectId}:${backups}`, `${p.projectId}:${volumes}`].sort(),
    );
    assert.deepEqual(await ids(`?project_id=${p.otherProjectId}`, p.tokens.domain_reader), []);
    // other_user's project has no limits; the other domain's limit is not its project's.
    assert.deepEqual(await ids('', p.tokens.other_user), []);
  });

  test('GET /v3/limits/model reports the flat model by default', async () => {
    assert.deepEqual(await ok('GET', '/v3/limits/model'), {
      model: {
        name: 'flat',
        description: 'Limit enforcement and validation does not take project hierarchy into consideration.',
      },
    });
    assert.equal((await call('GET', '/v3/limits/model', undefined, null)).status, 401);
    assert.equal((await call('HEAD', '/v3/limits/model')).status, 200);
  });
});

describe('deleting what limits refer to', () => {
  test("a project's limits go with it; a service's or region's registered limits stay (as in Keystone)", async () => {
    const service = (await ok('POST', '/v3/services', { service: { type: 'dns' } }, 201)).service.id;
    const region = (await ok('POST', '/v3/regions', { region: { id: resource('Region') } }, 201)).region.id;
    const name = resource('zones');
    const r = await registered({
      service_id: service,
      region_id: region,
      resource_name: name,
      default_limit: 1,
    });
    const project = (
      await ok('POST', '/v3/projects', { project: { name: resource('doomed'), domain_id: p.domainId } }, 201)
    ).project.id;
    const limit = (
      await ok(
        'POST',
        '/v3/limits',
        {
          limits: [
            {
              project_id: project,
              service_id: service,
              region_id: region,
              resource_name: name,
              resource_limit: 1,
            },
          ],
        },
        201,
      )
    ).limits[0];
    await ok('DELETE', `/v3/projects/${project}`, undefined, 204);
    assert.equal((await call('GET', `/v3/limits/${limit.id}`)).status, 404);

    await ok('DELETE', `/v3/services/${service}`, undefined, 204);
    await ok('DELETE', `/v3/regions/${region}`, undefined, 204);
    assert.equal((await ok('GET', `/v3/registered_limits/${r.id}`)).registered_limit.service_id, service);
  });

  test("a domain's limits and its projects' limits go with the domain", async () => {
    const name = resource('domain-owned');
    await registered({ service_id: compute, resource_name: name, default_limit: 1 });
    const domain = (await ok('POST', '/v3/domains', { domain: { name: resource('gone') } }, 201)).domain.id;
    const project = (
      await ok('POST', '/v3/projects', { project: { name: 'in-gone', domain_id: domain } }, 201)
    ).project.id;
    await ok(
      'POST',
      '/v3/limits',
      {
        limits: [
          { domain_id: domain, service_id: compute, resource_name: name, resource_limit: 2 },
          { project_id: project, service_id: compute, resource_name: name, resource_limit: 1 },
        ],
      },
      201,
    );
    await ok('PATCH', `/v3/domains/${domain}`, { domain: { enabled: false } });
    await ok('DELETE', `/v3/domains/${domain}`, undefined, 204);
    assert.deepEqual((await ok('GET', `/v3/limits?resource_name=${name}`)).limits, []);
  });
});

describe('strict_two_level', () => {
  let strict: TestDatabase;
  let sApp: FastifyInstance;
  let s: ReturnType<typeof client>;
  let service: string;
  const tree: Record<string, string> = {};
  before(async () => {
    strict = await testDatabase({ env: { IDENTITY_LIMIT_ENFORCEMENT_MODEL: 'strict_two_level' } });
    sApp = await build({ config: strict.config, db: strict.db });
    const ps = await createPersonas(strict);
    s = client(sApp, () => ps.tokens.system_admin);
    service = (await s.ok('POST', '/v3/services', { service: { type: 'volumev3' } }, 201)).service.id;
    // keystone's tree: domains A and D, projects B, C in A and E, F in D.
    for (const d of ['A', 'D'])
      tree[d] = (await s.ok('POST', '/v3/domains', { domain: { name: `strict-${d}` } }, 201)).domain.id;
    for (const [name, d] of [
      ['B', 'A'],
      ['C', 'A'],
      ['E', 'D'],
      ['F', 'D'],
    ] as const)
      tree[name] = (
        await s.ok('POST', '/v3/projects', { project: { name, domain_id: tree[d] } }, 201)
      ).project.id;
  });
  after(async () => {
    await sApp.close();
    await strict.drop();
  });

  const limitOf = (owner: string, value: number, resourceName: string) => ({
    [owner === 'A' || owner === 'D' ? 'domain_id' : 'project_id']: tree[owner],
    service_id: service,
    region_id: 'RegionOne',
    resource_name: resourceName,
    resource_limit: value,
  });
  const refusal = (owner: string, value: number, resourceName: string) =>
    error(
      403,
      `Invalid resource limit: The resource limit (${owner === 'A' || owner === 'D' ? 'domain_id' : 'project_id'}: ${tree[owner]}, resource_name: ${resourceName}, resource_limit: ${value}, service_id: ${service}, region_id: RegionOne) doesn't satisfy current hierarchy model..`,
    );
  const fresh = async (defaultLimit = 10) => {
    const name = resource('volume');
    await s.ok(
      'POST',
      '/v3/registered_limits',
      {
        registered_limits: [
          { service_id: service, region_id: 'RegionOne', resource_name: name, default_limit: defaultLimit },
        ],
      },
      201,
    );
    return name;
  };
  const post = (name: string, ...limits: Array<[string, number]>) =>
    s.call('POST', '/v3/limits', { limits: limits.map(([owner, value]) => limitOf(owner, value, name)) });

  test('the model is reported', async () => {
    assert.equal((await s.ok('GET', '/v3/limits/model')).model.name, 'strict_two_level');
  });

  test('a project limit is at most its domain limit, or the registered default without one', async () => {
    const name = await fresh();
    assert.equal((await post(name, ['A', 20])).status, 201);
    assert.equal((await post(name, ['B', 15])).status, 201);
    const over = await post(name, ['C', 21]);
    assert.deepEqual(over.body, refusal('C', 21, name));
    assert.equal((await post(name, ['C', 18])).status, 201);
    // D has no limit: the registered default, 10, bounds its projects.
    assert.equal((await post(name, ['E', 5])).status, 201);
    assert.deepEqual((await post(name, ['F', 11])).body, refusal('F', 11, name));
  });

  test('a domain limit is at least each of its project limits', async () => {
    const name = await fresh();
    assert.equal((await post(name, ['B', 9])).status, 201);
    assert.deepEqual((await post(name, ['A', 8])).body, refusal('A', 8, name));
    assert.equal((await post(name, ['A', 12])).status, 201);
  });

  test('a batch is checked as a tree, and refused whole', async () => {
    const name = await fresh();
    assert.equal((await post(name, ['A', 12], ['B', 9], ['C', 5], ['D', 9], ['E', 5], ['F', 4])).status, 201);
    const other = await fresh();
    const refused = await post(other, ['A', 12], ['B', 9], ['C', 5], ['D', 9], ['E', 5], ['F', 10]);
    assert.deepEqual(refused.body, refusal('F', 10, other));
    assert.deepEqual((await s.ok('GET', `/v3/limits?resource_name=${other}`)).limits, []);
    const third = await fresh();
    assert.equal((await post(third, ['A', 12], ['B', 9], ['E', 5])).status, 201);
    assert.deepEqual((await post(third, ['C', 5], ['D', 4])).body, refusal('D', 4, third));
  });

  test('updates are checked against the tree', async () => {
    const name = await fresh();
    const a = (await post(name, ['A', 10])).body.limits[0].id;
    await post(name, ['B', 6]);
    const c = (await post(name, ['C', 7])).body.limits[0].id;
    assert.equal((await s.call('PATCH', `/v3/limits/${c}`, { limit: { resource_limit: 9 } })).status, 200);
    assert.deepEqual(
      (await s.call('PATCH', `/v3/limits/${c}`, { limit: { resource_limit: 11 } })).body,
      refusal('C', 11, name),
    );
    assert.equal((await s.call('PATCH', `/v3/limits/${a}`, { limit: { resource_limit: 9 } })).status, 200);
    assert.deepEqual(
      (await s.call('PATCH', `/v3/limits/${a}`, { limit: { resource_limit: 6 } })).body,
      refusal('A', 6, name),
    );
  });

  test('projects nest two levels below their domain, no deeper', async () => {
    const child = (
      await s.ok(
        'POST',
        '/v3/projects',
        { project: { name: 'B1', domain_id: tree.A, parent_id: tree.B } },
        201,
      )
    ).project.id;
    const deeper = await s.call('POST', '/v3/projects', {
      project: { name: 'B11', domain_id: tree.A, parent_id: child },
    });
    assert.deepEqual(deeper.body, error(403, `Max hierarchy depth reached for ${child} branch.`));
    // Under the flat model the same tree grows a level further.
    const flatChild = (
      await ok(
        'POST',
        '/v3/projects',
        { project: { name: resource('P1'), domain_id: p.domainId, parent_id: p.projectId } },
        201,
      )
    ).project.id;
    await ok(
      'POST',
      '/v3/projects',
      { project: { name: resource('P2'), domain_id: p.domainId, parent_id: flatChild } },
      201,
    );
  });
});
