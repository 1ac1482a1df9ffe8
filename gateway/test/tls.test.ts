/**
 * HTTPS at the edge, through scripts/stack.sh --tls (the containers' nginx template and TLS
 * snippet, a throwaway certificate authority): the certificate verifies against the printed
 * authority only, HTTP/2 is negotiated, plain HTTP redirects except ACME's challenge path, session
 * tickets are off, and testssl.sh (bounded to protocols, cipher categories and headers) finds no
 * protocol below TLS 1.2, no weak cipher category, and HSTS.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const stack = (...args: string[]) =>
  spawnSync(`${root}/scripts/stack.sh`, args, { cwd: root, encoding: 'utf8', timeout: 90_000 });
const hello = 'gateway/dist/examples/hello/index.js';

/** curl, with -w's output last on stdout. */
function curl(...args: string[]) {
  return spawnSync('curl', ['-sS', ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('scripts/stack.sh start --tls', () => {
  let url = '';
  let httpUrl = '';
  let cacert = '';
  before(() => {
    const started = stack('start', '--tls', '--protocol', 'fastcgi', '--app', hello);
    assert.equal(started.status, 0, started.stderr);
    url = /^GATEHOUSE_URL=(.*)$/m.exec(started.stdout)?.[1] ?? '';
    httpUrl = /^GATEHOUSE_HTTP_URL=(.*)$/m.exec(started.stdout)?.[1] ?? '';
    cacert = /^export OS_CACERT=(.*)$/m.exec(started.stdout)?.[1] ?? '';
  });
  after(() => stack('stop'));

  test('prints the HTTPS URL, the redirecting HTTP URL and the authority to trust', () => {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(httpUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(httpUrl.split(':')[2], url.split(':')[2]);
    assert.ok(existsSync(cacert), cacert);
    assert.match(readFileSync(cacert, 'utf8'), /BEGIN CERTIFICATE/);
  });

  test('the certificate verifies against that authority only; HTTP/2 is negotiated; HSTS is sent', () => {
    const untrusted = curl('-o', '/dev/null', `${url}/index.html`);
    assert.equal(untrusted.status, 60, `curl without --cacert: ${untrusted.stderr}`); // CURLE_PEER_FAILED_VERIFICATION
    const page = curl(
      '--cacert',
      cacert,
      '-D',
      '-',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version}',
      `${url}/index.html`,
    );
    assert.equal(page.status, 0, page.stderr);
    assert.match(page.stdout, /^HTTP\/2 200/);
    assert.match(page.stdout, /^strict-transport-security: max-age=63072000\r?$/m);
    assert.ok(page.stdout.endsWith('\n2'), page.stdout);
    const app = curl('--cacert', cacert, '-w', '\n%{http_version}', `${url}/anything`);
    assert.equal(app.status, 0, app.stderr);
    assert.deepEqual(app.stdout.split('\n'), ['{"hello":"world"}', '2']);
  });

  test('plain HTTP redirects to HTTPS (method kept), except the ACME challenge path', () => {
    const port = url.split(':')[2];
    for (const method of ['GET', 'POST']) {
      const r = curl(
        '-X',
        method,
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{redirect_url}',
        `${httpUrl}/v3/auth/tokens?a=b`,
      );
      assert.equal(r.stdout, `308 https://127.0.0.1:${port}/v3/auth/tokens?a=b`, method);
    }
    const followed = curl('-L', '--cacert', cacert, `${httpUrl}/anything`);
    assert.equal(followed.stdout, '{"hello":"world"}');
    const token = `t${Date.now()}`;
    const file = join(root, '.stack/acme/.well-known/acme-challenge', token);
    writeFileSync(file, 'challenge-answer');
    try {
      const served = curl('-w', ' %{http_code}', `${httpUrl}/.well-known/acme-challenge/${token}`);
      assert.equal(served.stdout, 'challenge-answer 200');
      const missing = curl(
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `${httpUrl}/.well-known/acme-challenge/none`,
      );
      assert.equal(missing.stdout, '404');
    } finally {
      rmSync(file);
    }
  });

  test('no TLS session tickets (no rotation of their key in nginx): TLS 1.2 resumes from the cache', () => {
    const [host, port] = url.slice('https://'.length).split(':') as [string, string];
    const dir = mkdtempSync(join(tmpdir(), 'tls-session-'));
    try {
      const s_client = (...extra: string[]) =>
        spawnSync(
          'openssl',
          ['s_client', '-connect', `${host}:${port}`, '-tls1_2', '-CAfile', cacert, ...extra],
          {
            input: '',
            encoding: 'utf8',
            timeout: 30_000,
          },
        );
      const first = s_client('-sess_out', join(dir, 'session'));
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /Verify return code: 0 \(ok\)/);
      assert.doesNotMatch(first.stdout, /TLS session ticket/);
      const again = s_client('-sess_in', join(dir, 'session'));
      assert.match(again.stdout, /^Reused, TLSv1\.2/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('testssl.sh: TLS 1.2 and 1.3 only, no weak cipher category, HSTS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'testssl-'));
    try {
      // Protocols (-p), cipher categories (-s) and headers (-h) only, no DNS look-ups: ~40 s.
      const run = spawnSync(
        'testssl',
        [
          ...['--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none'],
          ...['-p', '-s', '-h', '--jsonfile', join(dir, 'findings.json'), `${url}/index.html`],
        ],
        { encoding: 'utf8', timeout: 240_000 },
      );
      assert.ok(run.error === undefined, `testssl (Debian package testssl.sh): ${run.error}`);
      assert.equal(run.status, 0, run.stdout + run.stderr);
      const findings = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as Array<{
        id: string;
        severity: string;
        finding: string;
      }>;
      const finding = (id: string) => {
        const f = findings.find((x) => x.id === id);
        assert.ok(f, `testssl reported no ${id}`);
        return f;
      };
      for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1'])
        assert.match(finding(id).finding, /^not offered/, id);
      assert.match(finding('TLS1_2').finding, /^offered/);
      assert.match(finding('TLS1_3').finding, /^offered/);
      for (const id of ['NULL', 'aNULL', 'EXPORT', 'LOW', '3DES_IDEA', 'AVERAGE'])
        assert.match(finding(`cipherlist_${id}`).finding, /^not offered/, id);
      assert.match(finding('cipherlist_STRONG').finding, /^offered/);
      assert.match(finding('ALPN_HTTP2').finding, /h2/);
      assert.equal(finding('HSTS_time').severity, 'OK');
      const bad = findings.filter((f) => ['HIGH', 'CRITICAL'].includes(f.severity));
      assert.deepEqual(bad, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
