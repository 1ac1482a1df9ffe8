/**
 * The real `openstack` client (python3-openstackclient) against the whole stack — nginx, the
 * gateway in each mode, this service and PostgreSQL — started by scripts/stack.sh.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const stack = (...args: string[]) =>
  spawnSync(`${root}/scripts/stack.sh`, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });

function openstack(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync('openstack', args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

describe('the openstack client, through nginx, in every gateway mode', () => {
  after(() => stack('stop'));

  for (const mode of ['fastcgi', 'uwsgi', 'http', 'cgi']) {
    test(`${mode}: token issue, catalog list, token revoke, token issue with --os-token`, () => {
      const started = stack('start', '--protocol', mode);
      assert.equal(started.status, 0, started.stderr);
      const env: Record<string, string> = {};
      for (const m of started.stdout.matchAll(/^export (OS_\w+)=(.*)$/gm))
        env[m[1] as string] = m[2] as string;
      assert.match(env.OS_AUTH_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v3$/);

      const issued = openstack(env, 'token', 'issue', '-f', 'json');
      assert.equal(issued.status, 0, issued.stderr);
      const token = JSON.parse(issued.stdout) as {
        id: string;
        project_id: string;
        user_id: string;
        expires: string;
      };
      assert.match(token.id, /^gAAAAA/);
      assert.match(token.project_id, /^[0-9a-f]{32}$/);

      const catalog = openstack(env, 'catalog', 'list', '-f', 'json');
      assert.equal(catalog.status, 0, catalog.stderr);
      const services = JSON.parse(catalog.stdout) as Array<{
        Name: string;
        Type: string;
        Endpoints: unknown;
      }>;
      assert.deepEqual(
        services.map((s) => [s.Name, s.Type]),
        [['keystone', 'identity']],
      );
      assert.match(JSON.stringify(services[0]?.Endpoints), new RegExp(`${env.OS_AUTH_URL}/`));

      // With a token instead of a password (the password variables would conflict).
      const tokenEnv = {
        ...env,
        OS_AUTH_TYPE: 'token',
        OS_TOKEN: token.id,
        OS_USERNAME: '',
        OS_PASSWORD: '',
        OS_USER_DOMAIN_NAME: '',
      };
      const reissued = openstack(tokenEnv, 'token', 'issue', '-f', 'json');
      assert.equal(reissued.status, 0, reissued.stderr);
      assert.equal(JSON.parse(reissued.stdout).project_id, token.project_id);

      const revoked = openstack(env, 'token', 'revoke', token.id);
      assert.equal(revoked.status, 0, revoked.stderr);
      const refused = openstack(tokenEnv, 'token', 'issue');
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /HTTP 401/);

      const wrong = openstack({ ...env, OS_PASSWORD: 'not the password' }, 'token', 'issue');
      assert.match(wrong.stderr, /requires authentication.*HTTP 401/);
    });
  }
});
