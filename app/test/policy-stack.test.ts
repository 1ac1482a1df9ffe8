/**
 * An operator's policy file through the whole stack (nginx, the gateway, this service and
 * PostgreSQL, started by scripts/stack.sh) with secure RBAC on: one rule loosened, one
 * tightened; a gateway reload starts workers that read the changed file; the openstack client
 * with project- and system-scoped tokens; a broken file stops start-up with one line naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { untilWorkersStopped } from './events.js';
import { adminEnv, openstack, openstackScenario } from './osc.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${root}/scripts/stack.sh`;
const dir = mkdtempSync(join(tmpdir(), 'policy-stack-'));
chmodSync(dir, 0o755); // the stack's PostgreSQL runs as postgres
const policyFile = join(dir, 'policy.yaml');
const env = {
  ...process.env,
  IDENTITY_POLICY_ENFORCE_SCOPE: 'true',
  IDENTITY_POLICY_ENFORCE_NEW_DEFAULTS: 'true',
  IDENTITY_POLICY_FILE: policyFile,
  GATEHOUSE_STACK_DIR: join(dir, 'stack'),
};
const stack = (...args: string[]) =>
  spawnSync(script, args, { cwd: root, encoding: 'utf8', timeout: 120_000, env });

interface Reply {
  status: number;
  body: ReturnType<typeof JSON.parse>;
  token: string | null;
}

describe('an operator policy file, through nginx', {
  skip: existsSync(script) ? false : 'scripts/stack.sh is absent',
}, () => {
  let base = '';
  let adminPassword = '';
  const call = async (method: string, path: string, token: string | null, body?: unknown): Promise<Reply> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { 'x-auth-token': token } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : null,
      token: res.headers.get('x-subject-token'),
    };
  };
  const auth = async (user: unknown, scope: unknown): Promise<string> => {
    const res = await call('POST', '/v3/auth/tokens', null, {
      auth: { identity: { methods: ['password'], password: { user } }, scope },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.token as string;
  };
  /** The worker pids the gateway's status page reports. */
  const workers = async (): Promise<number[]> => {
    const res = await fetch(`${base}/gateway/status?json&full`);
    return ((await res.json()) as { processes: Array<{ pid: number }> }).processes.map((p) => p.pid);
  };

  after(() => {
    stack('stop');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a loosened and a tightened rule; a reload reads the file again', async () => {
    writeFileSync(
      policyFile,
      [
        '# loosened: members of a project may list users',
        '"identity:list_users": "rule:admin_required or role:member"',
        '# tightened: only admins list regions (the default is any token)',
        '"identity:list_regions": "role:admin"',
        '',
      ].join('\n'),
    );
    const started = stack('start', '--protocol', 'fastcgi', '--workers', '2');
    assert.equal(started.status, 0, started.stderr);
    base = /^GATEHOUSE_URL=(.*)$/m.exec(started.stdout)?.[1] as string;
    adminPassword = /^export OS_PASSWORD=(.*)$/m.exec(started.stdout)?.[1] as string;
    const admin = await auth(
      { name: 'admin', domain: { id: 'default' }, password: adminPassword },
      { project: { name: 'admin', domain: { id: 'default' } } },
    );
    const project = (await call('GET', '/v3/auth/projects', admin)).body.projects[0].id as string;
    const roles = Object.fromEntries(
      ((await call('GET', '/v3/roles', admin)).body.roles as Array<{ id: string; name: string }>).map((r) => [
        r.name,
        r.id,
      ]),
    );
    const created = await call('POST', '/v3/users', admin, {
      user: { name: 'policy-member', domain_id: 'default', password: 'member password' },
    });
    assert.equal(created.status, 201);
    const userId = created.body.user.id as string;
    assert.equal(
      (await call('PUT', `/v3/projects/${project}/users/${userId}/roles/${roles.member}`, admin)).status,
      204,
    );
    assert.equal(
      (await call('PUT', `/v3/domains/default/users/${userId}/roles/${roles.admin}`, admin)).status,
      204,
    );
    const member = await auth({ id: userId, password: 'member password' }, { project: { id: project } });
    const domainAdmin = await auth(
      { id: userId, password: 'member password' },
      { domain: { id: 'default' } },
    );

    // Loosened: Keystone's list_users refuses a project member (the protection matrix's 403).
    assert.equal((await call('GET', '/v3/users', member)).status, 200);
    // Tightened: any token lists regions by default; now only an admin.
    assert.equal((await call('GET', '/v3/regions', member)).status, 403);
    assert.equal((await call('GET', '/v3/regions', admin)).status, 200);
    // Secure RBAC: list_domains is scoped to system and project; a domain admin is refused.
    assert.equal((await call('GET', '/v3/domains', domainAdmin)).status, 403);
    assert.equal((await call('GET', '/v3/domains', admin)).status, 200);
    const refused = await call('GET', '/v3/regions', member);
    assert.deepEqual(Object.keys(refused.body.error).sort(), ['code', 'message', 'title']);

    // The operator swaps the two; a reload starts workers that read the file again.
    writeFileSync(policyFile, '"identity:list_regions": "role:member"\n');
    const before = await workers();
    assert.equal(stack('reload').status, 0);
    // The old workers drained and stopped (each logs it); the status page lists new ones only.
    await untilWorkersStopped(join(dir, 'stack', 'logs'), before);
    const now = await workers();
    assert.ok(
      now.length === before.length && now.every((pid) => !before.includes(pid)),
      `the old workers ${before} are still serving: ${now}`,
    );
    assert.equal((await call('GET', '/v3/users', member)).status, 403, 'list_users is back to its default');
    assert.equal((await call('GET', '/v3/regions', member)).status, 200, 'list_regions now lets members');
  });

  test('the openstack client under secure RBAC: project- and system-scoped admins', async () => {
    const env = adminEnv(`${base}/v3`, adminPassword);
    await openstackScenario(env);
    const system = {
      ...env,
      OS_PROJECT_NAME: '',
      OS_PROJECT_DOMAIN_NAME: '',
      OS_SYSTEM_SCOPE: 'all',
    };
    const issued = await openstack(system, 'token', 'issue', '-f', 'json');
    assert.equal(issued.status, 0, issued.stderr);
    assert.equal(JSON.parse(issued.stdout).system, 'all');
    const name = `srbac-${process.pid}`;
    const project = await openstack(system, 'project', 'create', '--domain', 'default', name, '-f', 'json');
    assert.equal(project.status, 0, project.stderr);
    const user = await openstack(
      system,
      'user',
      'create',
      '--domain',
      'default',
      '--project',
      name,
      name,
      '-f',
      'json',
    );
    assert.equal(user.status, 0, user.stderr);
    const added = await openstack(env, 'role', 'add', '--user', name, '--project', name, 'reader');
    assert.equal(added.status, 0, added.stderr);
    const listed = await openstack(
      system,
      'role',
      'assignment',
      'list',
      '--user',
      name,
      '--names',
      '-f',
      'json',
    );
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Array<{ Role: string; Project: string }>).map((r) => [r.Role, r.Project]),
      [['reader', `${name}@Default`]],
    );
    // The project admin reads a project outside its own (Keystone 25's get_project).
    const shown = await openstack(env, 'project', 'show', name, '-f', 'json');
    assert.equal(shown.status, 0, shown.stderr);
    for (const [kind, id] of [
      ['user', name],
      ['project', name],
    ] as const)
      assert.equal((await openstack(system, kind, 'delete', id)).status, 0);
  });

  test('a broken file stops start-up with one line naming it', () => {
    stack('stop');
    writeFileSync(policyFile, '"identity:list_users": "role:admin or"\n');
    const failed = stack('start', '--protocol', 'fastcgi', '--workers', '1');
    assert.notEqual(failed.status, 0);
    const line = `IDENTITY_POLICY_FILE="${policyFile}": rule "identity:list_users": unexpected end of "role:admin or"`;
    const last = failed.stderr.trimEnd().split('\n').at(-1) as string;
    assert.ok(last.endsWith(line), last);
    assert.match(stack('status').stdout, /gateway: stopped/);
  });
});
