/**
 * The real `openstack` client through the whole stack — nginx, the gateway in each mode, this
 * service and PostgreSQL — started by scripts/stack.sh (skipped when it is absent), over plain
 * HTTP and over HTTPS (--tls, the client given the throwaway authority with --os-cacert).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openstack, openstackScenario } from './osc.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${root}/scripts/stack.sh`;
const stack = (...args: string[]) =>
  spawnSync(script, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });

/** GET /v3's self link, with a made-up X-Forwarded-Proto from the client. */
function versionLink(url: string, forwardedProto: string, ...curlArgs: string[]): string {
  const r = spawnSync(
    'curl',
    ['-sS', '-H', `X-Forwarded-Proto: ${forwardedProto}`, ...curlArgs, `${url}/v3`],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return (
    (JSON.parse(r.stdout) as { version: { links: Array<{ href: string }> } }).version.links[0]?.href ?? ''
  );
}

function exports(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of stdout.matchAll(/^export (OS_\w+)=(.*)$/gm)) env[m[1] as string] = m[2] as string;
  return env;
}

describe('the openstack client, through nginx, in every gateway mode', {
  skip: existsSync(script) ? false : 'scripts/stack.sh is absent',
}, () => {
  after(() => stack('stop'));
  for (const mode of ['fastcgi', 'uwsgi', 'http', 'cgi']) {
    test(`${mode}: token issue, catalog list, endpoint list, --os-token, token revoke`, async () => {
      const started = stack('start', '--protocol', mode);
      assert.equal(started.status, 0, started.stderr);
      const env = exports(started.stdout);
      assert.match(env.OS_AUTH_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v3$/);
      await openstackScenario(env);
      // A client cannot make links say https over plain HTTP: nginx replaces the header (http
      // mode) and the app does not read it (the others).
      const base = (env.OS_AUTH_URL ?? '').replace(/\/v3$/, '');
      assert.equal(versionLink(base, 'https'), `${base}/v3/`);
    });
  }

  for (const mode of ['fastcgi', 'uwsgi', 'http', 'cgi']) {
    test(`${mode} over HTTPS (--tls, --os-cacert): the scenario, and https links and catalog`, async () => {
      const started = stack('start', '--tls', '--protocol', mode);
      assert.equal(started.status, 0, started.stderr);
      const { OS_CACERT: cacert, ...env } = exports(started.stdout);
      assert.ok(cacert && existsSync(cacert), 'start --tls prints OS_CACERT');
      assert.match(env.OS_AUTH_URL ?? '', /^https:\/\/127\.0\.0\.1:\d+\/v3$/);
      const base = (env.OS_AUTH_URL ?? '').replace(/\/v3$/, '');
      if (mode === 'fastcgi') {
        const untrusted = await openstack(env, 'token', 'issue');
        assert.notEqual(untrusted.status, 0, 'without the authority the client refuses the certificate');
        assert.match(untrusted.stderr, /CERTIFICATE_VERIFY_FAILED/);
      }
      const { endpointUrls } = await openstackScenario(env, ['--os-cacert', cacert]);
      assert.deepEqual(endpointUrls, [`${base}/v3/`, `${base}/v3/`, `${base}/v3/`]);
      // The app learns the scheme from nginx (HTTPS=on, or X-Forwarded-Proto in http mode), not
      // from what the client claims.
      assert.equal(versionLink(base, 'http', '--cacert', cacert), `${base}/v3/`);
    });
  }
});
