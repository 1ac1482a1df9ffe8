/**
 * The real `openstack` client through nginx and the gateway (scripts/stack.sh) on OS-EP-FILTER:
 * `endpoint group create/list/show/delete`, `endpoint group add project`, `endpoint add project`,
 * `endpoint list --project`, and a login scoped to the project whose catalog holds only its
 * endpoints. Skipped when scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openstack, oscStack } from './osc.js';

describe('openstack endpoint group and endpoint add project through nginx', () => {
  const s = oscStack('osc-ep-filter', '--protocol', 'fastcgi');

  const os = s.run;
  const json = s.json;

  test('groups and associations made with the client narrow the project token catalog', async () => {
    const service = await json('service', 'create', '--name', 'nova', 'compute');
    const endpoint = await json(
      'endpoint',
      'create',
      '--region',
      'RegionOne',
      service.id,
      'public',
      'https://nova.test',
    );
    await json(
      'endpoint',
      'create',
      '--region',
      'RegionOne',
      service.id,
      'internal',
      'https://nova.internal',
    );
    const project = await json('project', 'create', 'ep-filtered');
    await os('role', 'add', '--user', 'admin', '--project', project.id, 'member');

    const filters = join(s.dir, 'filters.json');
    writeFileSync(filters, JSON.stringify({ service_id: service.id, interface: 'public' }));
    const group = await json(
      'endpoint',
      'group',
      'create',
      '--description',
      'public compute',
      'computes',
      filters,
    );
    assert.deepEqual(group.filters, { service_id: service.id, interface: 'public' });
    assert.ok((await json('endpoint', 'group', 'list')).some((g: { ID: string }) => g.ID === group.id));
    assert.equal((await json('endpoint', 'group', 'show', group.id)).name, 'computes');

    await os('endpoint', 'group', 'add', 'project', group.id, project.id);
    await os('endpoint', 'add', 'project', endpoint.id, project.id);
    const listed = await json('endpoint', 'list', '--project', project.id);
    assert.deepEqual(
      listed.map((e: { ID: string }) => e.ID),
      [endpoint.id],
    );

    // A token scoped to the project carries only its endpoint.
    const scoped = { ...s.env, OS_PROJECT_NAME: 'ep-filtered' };
    const catalog = await openstack(scoped, 'catalog', 'list', '-f', 'json');
    assert.equal(catalog.status, 0, catalog.stderr);
    const entries = JSON.parse(catalog.stdout) as Array<{ Type: string; Endpoints: Array<{ url: string }> }>;
    assert.deepEqual(
      entries.map((s) => [s.Type, s.Endpoints.map((e) => e.url)]),
      [['compute', ['https://nova.test']]],
    );

    await os('endpoint', 'remove', 'project', endpoint.id, project.id);
    await os('endpoint', 'group', 'remove', 'project', group.id, project.id);
    await os('endpoint', 'group', 'delete', group.id);
    assert.equal((await json('endpoint', 'list', '--project', project.id)).length, 0);
  });
});
