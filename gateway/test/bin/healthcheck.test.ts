/**
 * gatehouse-healthcheck against the real gateway (master and workers) in every protocol, on TCP
 * and on a unix socket: it speaks the configured protocol and exits 0 only on a 200 "pong".
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Protocol } from '../../src/config.js';
import { freePort } from '../helpers/nginx.js';

const gatewayBin = fileURLToPath(new URL('../../src/bin/gateway.js', import.meta.url));
const healthcheckBin = fileURLToPath(new URL('../../src/bin/healthcheck.js', import.meta.url));
const app = fileURLToPath(new URL('../pm/app.js', import.meta.url));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function healthcheck(env: Record<string, string>, args: string[] = []): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [healthcheckBin, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('gatehouse-healthcheck', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  after(() => {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function start(protocol: Protocol, listen: string): Promise<Record<string, string>> {
    const env = { GATEWAY_PROTOCOL: protocol, GATEWAY_LISTEN: listen };
    const child = spawn(process.execPath, [gatewayBin], {
      env: {
        ...process.env,
        ...env,
        GATEWAY_APP: app,
        GATEWAY_PM_MAX_CHILDREN: '1',
        GATEWAY_ACCESS_LOG: 'false',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    // The master says when its first worker listens; an exit before that is the failure.
    let log = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('"msg":"gateway ready"')) resolve();
      });
      child.once('exit', () =>
        reject(new Error(`the gateway (${protocol} on ${listen}) exited before it was ready: ${log}`)),
      );
    });
    return env;
  }

  const cases: Array<[Protocol, boolean]> = [
    ['fastcgi', false],
    ['fastcgi', true],
    ['uwsgi', false],
    ['uwsgi', true],
    ['http', false],
    ['cgi', false],
  ];
  for (const [protocol, unix] of cases) {
    test(`${protocol} on ${unix ? 'a unix socket' : 'TCP (0.0.0.0, reached on loopback)'}: pong, exit 0`, async () => {
      let listen: string;
      if (unix) {
        const dir = mkdtempSync(join(tmpdir(), 'gw-health-'));
        dirs.push(dir);
        listen = `unix:${join(dir, 'gateway.sock')}`;
      } else {
        listen = `0.0.0.0:${await freePort()}`;
      }
      const env = await start(protocol, listen);
      const outcome = await healthcheck(env);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(outcome.stdout, new RegExp(`^${protocol} .*/gateway/ping: pong\\n$`));
    });
  }

  test('another protocol on the port than the one configured: exit 1, one line saying why', async () => {
    const env = await start('http', `127.0.0.1:${await freePort()}`);
    const outcome = await healthcheck({ ...env, GATEWAY_PROTOCOL: 'fastcgi' }, ['--timeout', '2']);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /^gatehouse-healthcheck: fastcgi 127\.0\.0\.1:\d+\/gateway\/ping: .+\n$/);
  });

  test('nothing listening: exit 1 naming the address', async () => {
    const port = await freePort();
    const outcome = await healthcheck({ GATEWAY_PROTOCOL: 'uwsgi', GATEWAY_LISTEN: `127.0.0.1:${port}` });
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, new RegExp(`uwsgi 127\\.0\\.0\\.1:${port}/gateway/ping: .*ECONNREFUSED`));
  });

  test('a bad variable stops it with the GW_ERR_CONFIG line', async () => {
    const outcome = await healthcheck({ GATEWAY_PROTOCOL: 'scgi' });
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /GATEWAY_PROTOCOL/);
  });
});
