/**
 * cgi mode: one fresh process per request behind FastCGI. The cap queues excess requests and a
 * full queue answers 503 with Retry-After; a child past the timeout is killed and the client gets
 * 504; the child's stderr reaches the web server as FCGI_STDERR; no zombie processes remain.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trustedParams } from '../../src/cgi/params.js';
import { requestParams } from '../../src/cgi/program.js';
import { FastcgiClient, parseCgiResponse } from '../helpers/fastcgi-client.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'gw-cgi-'));
const script = join(dir, 'program.sh');
writeFileSync(
  script,
  `#!/bin/sh
case "$REQUEST_URI" in
  /sleep/*) sleep "\${REQUEST_URI#/sleep/}" ;;
  /wait/*) read -r line < "${dir}/\${REQUEST_URI#/wait/}" ;;
esac
if [ "$REQUEST_URI" = /stderr ]; then echo "something went wrong" >&2; fi
if [ "$REQUEST_URI" = /garbage ]; then echo "this is not a CGI response"; echo; exit 0; fi
if [ "$REQUEST_URI" = /silent ]; then exit 3; fi
if [ "$REQUEST_URI" = /env ]; then printf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'; env; exit 0; fi
body=$(cat)
printf 'Status: 201 Created\\r\\nContent-Type: text/plain\\r\\nX-Method: %s\\r\\n\\r\\n%s|%s' "$REQUEST_METHOD" "$QUERY_STRING" "$body"
`,
  { mode: 0o755 },
);

const params = (uri: string, extra: Record<string, string> = {}) => ({
  REQUEST_METHOD: 'GET',
  REQUEST_URI: uri,
  QUERY_STRING: uri.split('?')[1] ?? '',
  CONTENT_LENGTH: '',
  CONTENT_TYPE: '',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '127.0.0.1',
  HTTP_PROXY: 'http://evil.example',
  ...extra,
});

/** `ps` lines (pid, state) of the process's children; none is an empty list, a failing ps throws. */
function childrenOf(pid: number): string[] {
  const ps = spawnSync('ps', ['-o', 'pid=,stat=', '--ppid', String(pid)], { encoding: 'utf8' });
  // ps exits 1 with no output when nothing matches; anything else is ps failing.
  if (ps.status === 1 && ps.stdout.trim() === '') return [];
  assert.equal(ps.status, 0, `ps failed: ${ps.stderr}`);
  return ps.stdout.split('\n').filter((l) => l.trim() !== '');
}

/**
 * A request whose CGI program waits (GET /wait/NAME reads the fifo NAME): `running` resolves once
 * the program is running (it has opened the fifo), `release()` lets it answer.
 */
async function waiting(name: string) {
  const fifo = join(dir, name);
  execFileSync('mkfifo', [fifo]);
  // Opening a fifo for writing completes when its reader, the program, has opened it.
  const opened = open(fifo, 'w');
  return {
    running: opened.then(() => undefined),
    async release() {
      const handle = await opened;
      await handle.write('go\n');
      await handle.close();
    },
  };
}

// What the gateway's own environment holds (its configuration), as an operator would set it.
process.env.IDENTITY_REGION = 'RegionFromTheGateway';
process.env.PGHOST = '127.0.0.1';
process.env.GATEHOUSE_NOT_FOR_CHILDREN = 'secret';

describe('cgi mode', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({
      protocol: 'cgi',
      env: {
        GATEWAY_CGI_COMMAND: `sh ${script}`,
        GATEWAY_CGI_MAX_CHILDREN: '2',
        GATEWAY_CGI_QUEUE: '1',
        GATEWAY_CGI_TIMEOUT: '600ms',
        GATEWAY_FCGI_STDERR: 'true',
        // What an auth module adds (nginx's fastcgi_param FED_GROUPS …); IDENTITY_REGION is named
        // too, and still never replaces the gateway's own.
        GATEWAY_CGI_PARAMS: 'FED_*,IDENTITY_REGION',
      },
    });
  });
  after(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the program gets meta-variables and the body, and its CGI response is relayed', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const body = Buffer.from('hello body');
    const r = await client.request({
      params: params('/echo?x=1', { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length) }),
      stdin: body,
    });
    const res = parseCgiResponse(r.stdout);
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-method']?.[0], 'POST');
    assert.equal(res.body.toString(), 'x=1|hello body');
  });

  test("the program's stderr is sent as FCGI_STDERR", async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const r = await client.request({ params: params('/stderr') });
    assert.match(r.stderr.toString(), /something went wrong/);
    assert.equal(parseCgiResponse(r.stdout).status, 201);
  });

  test('a program that outlives the timeout is killed and the client gets 504', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    // The program would answer 201 after 5 s: a 504 is the timeout's.
    const r = await client.request({ params: params('/sleep/5') });
    assert.equal(parseCgiResponse(r.stdout).status, 504);
  });

  test('malformed output or no output is a 502', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    assert.equal(
      parseCgiResponse((await client.request({ keepConn: true, params: params('/garbage') })).stdout).status,
      502,
    );
    assert.equal(parseCgiResponse((await client.request({ params: params('/silent') })).stdout).status, 502);
  });

  test('past the cap requests queue; past the queue they get 503 with Retry-After', async () => {
    // Its own gateway, with a timeout no test waits for: the programs answer when released.
    const capped = await startGateway({
      protocol: 'cgi',
      env: {
        GATEWAY_CGI_COMMAND: `sh ${script}`,
        GATEWAY_CGI_MAX_CHILDREN: '2',
        GATEWAY_CGI_QUEUE: '1',
        GATEWAY_CGI_TIMEOUT: '60s',
      },
    });
    try {
      const clients = await Promise.all([0, 1, 2, 3].map(() => FastcgiClient.connect(capped.address)));
      const [a, b, c] = await Promise.all(['cap-a', 'cap-b', 'cap-c'].map(waiting));
      // Two programs run: the cap is reached.
      const first = clients
        .slice(0, 2)
        .map((client, i) => client.request({ params: params(`/wait/cap-${'ab'[i]}`) }));
      await Promise.all([a?.running, b?.running]);
      // The third request queues; the fourth finds the queue full.
      const queued = clients[2]?.request({ params: params('/wait/cap-c') });
      const refused = parseCgiResponse(
        (await clients[3]?.request({ params: params('/') }))?.stdout as Buffer,
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after']?.[0], '1');
      await a?.release();
      await b?.release();
      // A slot is free: the queued request's program runs now.
      await c?.running;
      await c?.release();
      const statuses = (await Promise.all([...first, queued])).map(
        (r) => parseCgiResponse(r?.stdout as Buffer).status,
      );
      assert.deepEqual(statuses, [201, 201, 201]);
    } finally {
      await capped.close();
    }
  });

  test('attack: request params named NODE_OPTIONS, PGHOST, IDENTITY_* never reach the child as its environment', async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const r = await client.request({
      params: params('/env', {
        NODE_OPTIONS: '--require=/tmp/evil.js',
        PGHOST: 'evil.example',
        IDENTITY_REGION: 'EvilRegion',
        IDENTITY_FERNET_KEY_REPOSITORY: '/tmp/evil-keys',
        LD_PRELOAD: '/tmp/evil.so',
        PATH: '/tmp/evil-bin',
        HTTP_X_CUSTOM: 'a header',
      }),
    });
    const res = parseCgiResponse(r.stdout);
    assert.equal(res.status, 200);
    const env = new Map(
      res.body
        .toString()
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
    );
    // The request's own meta-variables and headers are there...
    assert.equal(env.get('REQUEST_URI'), '/env');
    assert.equal(env.get('REQUEST_METHOD'), 'GET');
    assert.equal(env.get('HTTP_X_CUSTOM'), 'a header');
    assert.equal(env.get('GATEWAY_INTERFACE'), 'CGI/1.1');
    // ...and what the app needs comes from the gateway's environment, not from the request.
    assert.equal(env.get('IDENTITY_REGION'), 'RegionFromTheGateway');
    assert.equal(env.get('PGHOST'), '127.0.0.1');
    assert.equal(env.get('PATH'), process.env.PATH);
    assert.equal(env.has('NODE_OPTIONS'), false);
    assert.equal(env.has('LD_PRELOAD'), false);
    assert.equal(env.has('IDENTITY_FERNET_KEY_REPOSITORY'), false);
    assert.equal(env.has('HTTP_PROXY'), false);
    // Nothing else of the gateway's environment that the configuration does not name.
    assert.equal(env.has('GATEHOUSE_NOT_FOR_CHILDREN'), false);
  });

  test("GATEWAY_CGI_PARAMS passes the web server's own params on, named in GATEWAY_PARAM_NAMES", async () => {
    const client = await FastcgiClient.connect(gateway.address);
    const r = await client.request({
      params: params('/env', {
        REMOTE_USER: 'alice',
        FED_GROUPS: 'engineers;staff',
        IDENTITY_REGION: 'EvilRegion',
        OTHER_PARAM: 'not named',
        HTTP_FED_FORGED: 'a header',
      }),
    });
    client.close();
    const res = parseCgiResponse(r.stdout);
    assert.equal(res.status, 200);
    const env = new Map(
      res.body
        .toString()
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
    );
    assert.equal(env.get('FED_GROUPS'), 'engineers;staff');
    assert.equal(env.get('REMOTE_USER'), 'alice');
    assert.equal(env.get('IDENTITY_REGION'), 'RegionFromTheGateway');
    assert.equal(env.has('OTHER_PARAM'), false);
    assert.equal(env.get('HTTP_FED_FORGED'), 'a header');
    const names = (env.get('GATEWAY_PARAM_NAMES') ?? '').split(',');
    assert.ok(names.includes('FED_GROUPS') && names.includes('REMOTE_USER') && names.includes('REQUEST_URI'));
    assert.ok(
      !names.includes('IDENTITY_REGION') && !names.includes('HTTP_FED_FORGED') && !names.includes('PATH'),
    );
  });

  test("the CGI program's request is the listed params and the headers, never its own environment", () => {
    const env = {
      DATABASE_URL: 'postgres://secret@db/identity',
      PATH: '/usr/bin',
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/v3',
      FED_GROUPS: 'staff',
      HTTP_HOST: 'identity.test',
      GATEWAY_PARAM_NAMES: 'REQUEST_METHOD,REQUEST_URI,FED_GROUPS',
    };
    const listed = requestParams(env);
    assert.deepEqual(
      { ...trustedParams(listed) },
      {
        REQUEST_METHOD: 'GET',
        REQUEST_URI: '/v3',
        FED_GROUPS: 'staff',
      },
    );
    // Under another CGI server (no list): RFC 3875's meta-variables only.
    const { GATEWAY_PARAM_NAMES: _, ...foreign } = env;
    assert.deepEqual(
      { ...trustedParams(requestParams(foreign)) },
      { REQUEST_METHOD: 'GET', REQUEST_URI: '/v3' },
    );
  });

  test('no zombie processes remain', async () => {
    const zombies = () =>
      childrenOf(process.pid).filter((line) => /\bZ/.test(line.trim().split(/\s+/)[1] ?? ''));
    // A child that has just exited is reaped when the event loop handles its SIGCHLD: a few
    // turns of the loop, not a time. A zombie the gateway never reaps stays.
    for (let turn = 0; turn < 10 && zombies().length > 0; turn++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(zombies(), []);
  });
});
