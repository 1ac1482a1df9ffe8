/** scripts/stack.sh keeps its contract: start prints the addresses, status/reload/stop work. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { send } from './helpers/http-client.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const stack = (...args: string[]) =>
  spawnSync(`${root}/scripts/stack.sh`, args, { cwd: root, encoding: 'utf8', timeout: 90_000 });
const hello = 'gateway/dist/examples/hello/index.js';
const gatewayLog = join(process.env.GATEHOUSE_STACK_DIR ?? join(root, '.stack'), 'logs/gateway.log');

/** The stack's gateway log, its JSON lines. */
const logLines = () =>
  readFileSync(gatewayLog, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return []; // not a log line, or one still being written
      }
    });

/** Resolves once the stack's gateway log satisfies `done`, re-read as the file changes. */
function logged(done: (lines: Array<Record<string, unknown>>) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(gatewayLog, () => check());
    const check = () => {
      if (!done(logLines())) return;
      watcher.close();
      resolve();
    };
    check();
  });
}

/** A reload is over once the master has seen every worker it replaced exit. */
const reloaded = (reloads: number) => (lines: Array<Record<string, unknown>>) => {
  const starts = lines.flatMap((l, i) => (l.msg === 'reloading' ? [i] : []));
  if (starts.length < reloads) return false;
  const at = starts[reloads - 1] as number;
  const replacing = Number(lines[at]?.replacing);
  return lines.slice(at).filter((l) => l.msg === 'worker exited').length >= replacing;
};

describe('scripts/stack.sh', () => {
  after(() => stack('stop'));

  for (const [protocol, ...extra] of [['fastcgi'], ['uwsgi', '--unix']] as const) {
    test(`start --protocol ${protocol} ${extra.join(' ')}: nginx serves the page and the app`, async () => {
      const started = stack('start', '--protocol', protocol, '--app', hello, ...extra);
      assert.equal(started.status, 0, started.stderr);
      const vars = Object.fromEntries(
        started.stdout
          .split('\n')
          .filter((l) => /^[A-Z_]+=/.test(l))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      assert.match(vars.GATEHOUSE_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(vars.GATEWAY_LISTEN ?? '', extra.length ? /^unix:\// : /^127\.0\.0\.1:\d+$/);
      const page = await send(`${vars.GATEHOUSE_URL}/index.html`);
      assert.equal(page.status, 200);
      const app = await send(`${vars.GATEHOUSE_URL}/anything`);
      assert.deepEqual(JSON.parse(app.body.toString()), { hello: 'world' });
      assert.equal(app.headers['x-gatehouse-protocol'], protocol);
      const status = stack('status');
      assert.equal(status.status, 0);
      assert.match(status.stdout, new RegExp(`gateway: running .*${protocol}`));
      const reloads = logLines().filter((l) => l.msg === 'reloading').length;
      assert.equal(stack('reload').status, 0);
      // The new generation serves and the old one has gone.
      await logged(reloaded(reloads + 1));
      assert.equal((await send(`${vars.GATEHOUSE_URL}/anything`)).status, 200, 'serving after a reload');
    });
  }

  test('stop stops everything it started; status then says so', () => {
    assert.equal(stack('stop').status, 0);
    const status = stack('status');
    assert.notEqual(status.status, 0);
    assert.match(status.stdout, /gateway: stopped/);
    assert.match(status.stdout, /nginx: stopped/);
    assert.match(status.stdout, /postgresql: stopped/);
  });

  test('a part that fails to start is a clear error and leaves nothing running', () => {
    const failed = stack('start', '--protocol', 'fastcgi', '--app', '/nonexistent/app.js');
    assert.notEqual(failed.status, 0);
    assert.match(failed.stderr, /the gateway exited/);
    assert.match(failed.stderr, /GW_ERR_APP_LOAD|could not be loaded/);
    assert.match(stack('status').stdout, /gateway: stopped/);
    const bad = stack('start', '--protocol', 'spdy');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /GATEWAY_PROTOCOL/);
  });
});
