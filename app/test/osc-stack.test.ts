/**
 * The real `openstack` client through the whole stack — nginx, the gateway in each mode, this
 * service and PostgreSQL — started by scripts/stack.sh, over plain
 * HTTP and over HTTPS (--tls, the client given the throwaway authority with --os-cacert).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import pg from 'pg';
import { openstack, openstackScenario, oscStack } from './osc.js';

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

/**
 * attack: the gateway connects to PostgreSQL as the superuser and holds the admin password. The
 * gateway's environment has neither the admin password nor a superuser's URL; every connection
 * the app holds (the invalidation LISTEN, the pool) is the app role's, which is no superuser.
 */
async function leastPrivilege(dir: string, mode: string): Promise<void> {
  const pid = readFileSync(`${dir}/gateway.pid`, 'utf8').trim();
  const environ = new Map(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter((entry) => entry.includes('='))
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const),
  );
  assert.equal(environ.has('IDENTITY_ADMIN_PASSWORD'), false, 'the gateway holds the admin password');
  assert.equal(new URL(environ.get('DATABASE_URL') ?? '').username, 'gatehouse_app');
  if (mode === 'cgi') return; // no process of the gateway itself connects; each CGI child does, briefly
  const port = readFileSync(`${dir}/pg/port`, 'utf8').trim();
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ usename: string; rolsuper: boolean }>(
      `SELECT DISTINCT a.usename, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
        WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()`,
    );
    assert.deepEqual(rows, [{ usename: 'gatehouse_app', rolsuper: false }]);
  } finally {
    await admin.end();
  }
}

/**
 * attack: a body the app refuses (over IDENTITY_MAX_REQUEST_BODY_SIZE) announced to nginx, which
 * would buffer it (up to 16 MiB) before the app said 413. nginx now answers at once, from the
 * Content-Length alone, with Keystone's error body.
 */
async function bodyLimit(url: URL): Promise<void> {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('nginx waited for the body instead of refusing it'));
    }, 10_000);
    socket.on('connect', () =>
      socket.write(
        'POST /v3/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{"user":',
      ),
    );
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).includes('}}')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Buffer.concat(chunks).toString());
      }
    });
    socket.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /\{"error":\{"code":413,"title":"Request Entity Too Large"/);
}

describe('the openstack client, through nginx, in every gateway mode', () => {
  // One PostgreSQL for every mode (--keep-postgres): each start replaces nginx and the gateway,
  // and migrates and bootstraps the same database again, as a restarted cluster would have it.
  const s = oscStack('osc-stack');
  for (const mode of ['fastcgi', 'uwsgi', 'http', 'cgi']) {
    test(`${mode}: token issue, catalog list, endpoint list, --os-token, token revoke`, async () => {
      s.start('--keep-postgres', '--protocol', mode);
      const env = s.env;
      assert.match(env.OS_AUTH_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v3$/);
      await openstackScenario(env);
      // A client cannot make links say https over plain HTTP: nginx replaces the header (http
      // mode) and the app does not read it (the others).
      const base = (env.OS_AUTH_URL ?? '').replace(/\/v3$/, '');
      assert.equal(versionLink(base, 'https'), `${base}/v3/`);
      await leastPrivilege(s.dir, mode);
      await bodyLimit(new URL(env.OS_AUTH_URL ?? ''));
    });
  }

  for (const mode of ['fastcgi', 'uwsgi', 'http', 'cgi']) {
    test(`${mode} over HTTPS (--tls, --os-cacert): the scenario, and https links and catalog`, async () => {
      s.start('--keep-postgres', '--tls', '--protocol', mode);
      const { OS_CACERT: cacert, ...env } = s.env;
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
