/**
 * The real `openstack` client through nginx and the gateway (scripts/stack.sh) on OS-TRUST:
 * `trust create/list/show/delete` as the trustor, a trustee login with `--os-trust-id`
 * (`openstack token issue`), and that login refused once the trust is deleted. Skipped when
 * scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openstack } from './osc.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${root}/scripts/stack.sh`;
const state = mkdtempSync(join(tmpdir(), 'osc-trust-'));
chmodSync(state, 0o755); // PostgreSQL runs as its own user when the tests run as root
const stack = (...args: string[]) =>
  spawnSync(script, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, GATEHOUSE_STACK_DIR: join(state, 'stack') },
  });

describe('openstack trust create/list/show/delete and --os-trust-id through nginx', {
  skip: existsSync(script) ? false : 'scripts/stack.sh is absent',
}, () => {
  const env: Record<string, string> = {};
  before(() => {
    const started = stack('start', '--protocol', 'fastcgi');
    assert.equal(started.status, 0, started.stderr);
    for (const m of started.stdout.matchAll(/^export (OS_\w+)=(.*)$/gm)) env[m[1] as string] = m[2] as string;
  });
  after(() => {
    stack('stop');
    rmSync(state, { recursive: true, force: true });
  });

  const run = async (e: Record<string, string>, ...args: string[]) => {
    const r = await openstack(e, ...args);
    assert.equal(r.status, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const json = async (e: Record<string, string>, ...args: string[]) =>
    JSON.parse(await run(e, ...args, '-f', 'json'));

  test('a trustor delegates a role; the trustee logs in with the trust until it is deleted', async () => {
    const project = await json(env, 'project', 'create', 'trusted');
    const trustor = await json(env, 'user', 'create', '--password', 'trustor pass', 'trustor');
    const trustee = await json(env, 'user', 'create', '--password', 'trustee pass', 'trustee');
    const role = await json(env, 'role', 'show', 'member');
    await run(env, 'role', 'add', '--user', trustor.id, '--project', project.id, 'member');
    const asTrustor = {
      ...env,
      OS_USERNAME: 'trustor',
      OS_PASSWORD: 'trustor pass',
      OS_PROJECT_NAME: 'trusted',
    };
    // Ids: a plain user may not look others (or roles) up by name.
    const trust = await json(
      asTrustor,
      'trust',
      'create',
      '--project',
      project.id,
      '--role',
      role.id,
      '--impersonate',
      trustor.id,
      trustee.id,
    );
    assert.match(trust.id, /^[0-9a-f]{32}$/);
    assert.equal(trust.trustor_user_id, trustor.id);
    assert.equal(trust.trustee_user_id, trustee.id);
    assert.equal(trust.project_id, project.id);
    assert.equal(trust.impersonation, true);
    assert.equal(trust.roles, 'member');
    // This client lists every trust (no filter): an administrator's view, as in Keystone.
    const listed = await json(env, 'trust', 'list');
    assert.ok(
      listed.some((t: { ID: string }) => t.ID === trust.id),
      JSON.stringify(listed),
    );
    assert.equal((await json(asTrustor, 'trust', 'show', trust.id)).trustee_user_id, trustee.id);

    // The trustee's login through the trust: a token on the trust's project, acting as the trustor.
    const asTrustee: Record<string, string> = { ...env, OS_USERNAME: 'trustee', OS_PASSWORD: 'trustee pass' };
    delete asTrustee.OS_PROJECT_NAME;
    delete asTrustee.OS_PROJECT_DOMAIN_NAME;
    const token = await json(asTrustee, '--os-trust-id', trust.id, 'token', 'issue');
    assert.match(token.id, /^gAAAAA[\w-]+$/);
    assert.equal(token.project_id, project.id);
    assert.equal(token.user_id, trustor.id);

    await run(asTrustor, 'trust', 'delete', trust.id);
    const refused = await openstack(asTrustee, '--os-trust-id', trust.id, 'token', 'issue');
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /401|authentication/i);
    // The client looks a trust up by id (404), then by name in the whole list (an administrator's).
    const gone = await openstack(env, 'trust', 'show', trust.id);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /No trust with a name or ID of/);
  });
});
