/**
 * The real `openstack` client through the whole stack — nginx, the gateway in each mode, this
 * service and PostgreSQL — started by scripts/stack.sh (skipped when it is absent).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openstackScenario } from './osc.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${root}/scripts/stack.sh`;
const stack = (...args: string[]) =>
  spawnSync(script, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('the openstack client, through nginx, in every gateway mode', {
  skip: existsSync(script) ? false : 'scripts/stack.sh is absent',
}, () => {
  after(() => stack('stop'));
  for (const mode of ['fastcgi', 'uwsgi', 'http', 'cgi']) {
    test(`${mode}: token issue, catalog list, endpoint list, --os-token, token revoke`, async () => {
      const started = stack('start', '--protocol', mode);
      assert.equal(started.status, 0, started.stderr);
      const env: Record<string, string> = {};
      for (const m of started.stdout.matchAll(/^export (OS_\w+)=(.*)$/gm))
        env[m[1] as string] = m[2] as string;
      assert.match(env.OS_AUTH_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v3$/);
      await openstackScenario(env);
    });
  }
});
