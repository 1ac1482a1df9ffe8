/**
 * Unified limits through nginx and the gateway (scripts/stack.sh) with the real clients:
 * `openstack registered limit create/list/show/set/delete` and `openstack limit
 * create/list/show/set/delete`, then oslo.limit (Debian's python3-oslo.limit, as a service runs
 * it: keystoneauth with a system-scoped password, the endpoint_id of its catalog endpoint)
 * enforcing the limits made with the client: a claim within the limit passes, one past it is
 * ProjectOverLimit, and a project without its own limit gets the registered default. Skipped
 * when scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openstack, oscStack } from './osc.js';

const enforceScript = fileURLToPath(new URL('../../test/oslo_limit_enforce.py', import.meta.url));

/** oslo_limit_enforce.py's verdict: exit status and its JSON line. */
function enforce(
  config: string,
  projectId: string,
  resource: string,
  usage: number,
  delta: number,
): Promise<{ status: number | null; result: { result: string; over?: unknown[] }; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      '/usr/bin/python3',
      [enforceScript, config, projectId, resource, String(usage), String(delta)],
      { timeout: 60_000 },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => {
      try {
        resolve({ status, result: JSON.parse(stdout.trim().split('\n').pop() ?? ''), stderr });
      } catch {
        reject(new Error(`oslo_limit_enforce.py: ${status}\n${stdout}\n${stderr}`));
      }
    });
  });
}

describe('openstack registered limit / limit and oslo.limit through nginx', () => {
  const s = oscStack('osc-limits', '--protocol', 'fastcgi');

  const os = s.run;
  const json = s.json;

  test('limits made with the client are the ones oslo.limit enforces', async () => {
    const service = await json('service', 'create', '--name', 'nova', 'compute');
    const endpoint = await json(
      'endpoint',
      'create',
      '--region',
      'RegionOne',
      service.id,
      'public',
      'https://nova.test/v2.1',
    );
    const limited = await json('project', 'create', 'limited');
    const defaulted = await json('project', 'create', 'defaulted');

    const reg = await json(
      'registered',
      'limit',
      'create',
      '--service',
      'nova',
      '--region',
      'RegionOne',
      '--default-limit',
      '10',
      '--description',
      'cores per project',
      'cores',
    );
    assert.deepEqual(
      [reg.service_id, reg.region_id, reg.resource_name, reg.default_limit, reg.description],
      [service.id, 'RegionOne', 'cores', 10, 'cores per project'],
    );
    const listed = await json('registered', 'limit', 'list', '--service', 'nova', '--resource-name', 'cores');
    assert.deepEqual(
      listed.map((r: { ID: string }) => r.ID),
      [reg.id],
    );
    assert.deepEqual(
      (await json('registered', 'limit', 'list', '--region', 'RegionOne')).map((r: { ID: string }) => r.ID),
      [reg.id],
    );
    assert.deepEqual(await json('registered', 'limit', 'list', '--resource-name', 'ram'), []);
    await os('registered', 'limit', 'set', '--default-limit', '20', reg.id);
    assert.equal((await json('registered', 'limit', 'show', reg.id)).default_limit, 20);
    const duplicate = await openstack(
      s.admin,
      'registered',
      'limit',
      'create',
      '--service',
      'nova',
      '--region',
      'RegionOne',
      '--default-limit',
      '1',
      'cores',
    );
    assert.notEqual(duplicate.status, 0);
    assert.match(duplicate.stderr, /Duplicate entry.*HTTP 409/s);

    const lim = await json(
      'limit',
      'create',
      '--project',
      limited.id,
      '--service',
      'nova',
      '--region',
      'RegionOne',
      '--resource-limit',
      '5',
      'cores',
    );
    assert.deepEqual(
      [lim.project_id, lim.service_id, lim.region_id, lim.resource_name, lim.resource_limit],
      [limited.id, service.id, 'RegionOne', 'cores', 5],
    );
    // Keystone narrows a limit list to the token's reach: the admin's project token sees its own
    // project's limits only; a system-scoped token sees them all.
    assert.deepEqual(await json('limit', 'list', '--project', limited.id), []);
    const system = { ...s.env, OS_SYSTEM_SCOPE: 'all', OS_PROJECT_NAME: '', OS_PROJECT_DOMAIN_NAME: '' };
    const systemList = await openstack(system, 'limit', 'list', '--project', limited.id, '-f', 'json');
    assert.equal(systemList.status, 0, systemList.stderr);
    assert.deepEqual(
      JSON.parse(systemList.stdout).map((l: { ID: string }) => l.ID),
      [lim.id],
    );
    await os('limit', 'set', '--resource-limit', '3', '--description', 'three', lim.id);
    const shown = await json('limit', 'show', lim.id);
    assert.deepEqual([shown.resource_limit, shown.description], [3, 'three']);
    // A registered limit that a limit refers to is frozen.
    const frozen = await openstack(s.admin, 'registered', 'limit', 'set', '--default-limit', '30', reg.id);
    assert.notEqual(frozen.status, 0);
    assert.match(frozen.stderr, /project limits associated with it.*HTTP 403/s);

    // The service's oslo.limit configuration: a system-scoped admin, its catalog endpoint.
    const config = join(s.dir, 'nova-limits.conf');
    writeFileSync(
      config,
      [
        '[oslo_limit]',
        'auth_type = password',
        `auth_url = ${s.env.OS_AUTH_URL}`,
        'username = admin',
        `password = ${s.env.OS_PASSWORD}`,
        'user_domain_name = Default',
        'system_scope = all',
        `endpoint_id = ${endpoint.id}`,
        '',
      ].join('\n'),
    );
    const within = await enforce(config, limited.id, 'cores', 2, 1);
    assert.deepEqual([within.status, within.result], [0, { result: 'within' }], within.stderr);
    const over = await enforce(config, limited.id, 'cores', 2, 2);
    assert.equal(over.status, 3, over.stderr);
    assert.deepEqual(over.result.over, [{ resource_name: 'cores', limit: 3, current_usage: 2, delta: 2 }]);
    // No limit of its own: the registered default, 20.
    assert.equal((await enforce(config, defaulted.id, 'cores', 19, 1)).status, 0);
    const overDefault = await enforce(config, defaulted.id, 'cores', 20, 1);
    assert.deepEqual(overDefault.result.over, [
      { resource_name: 'cores', limit: 20, current_usage: 20, delta: 1 },
    ]);

    // Raised through the API, the new limit is what oslo.limit sees next.
    await os('limit', 'set', '--resource-limit', '4', lim.id);
    assert.equal((await enforce(config, limited.id, 'cores', 2, 2)).status, 0);

    await os('limit', 'delete', lim.id);
    assert.equal((await openstack(s.admin, 'limit', 'show', lim.id)).status, 1);
    await os('registered', 'limit', 'delete', reg.id);
    assert.deepEqual(await json('registered', 'limit', 'list', '--service', 'nova'), []);
  });
});
