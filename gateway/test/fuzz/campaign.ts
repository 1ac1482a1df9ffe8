/**
 * A protocol fuzz campaign against the real gateway (master and workers) and the real nginx in
 * front of it: random bytes and mutated valid FastCGI records, uwsgi packets and HTTP requests at
 * the gateway port, mutated HTTP requests through nginx, with valid requests interleaved. Seeded:
 * the same seed replays the same inputs (timing aside). It reports what it saw; the test and
 * scripts/fuzz.sh decide what is a failure.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Protocol } from '../../src/config.js';
import {
  encodeBeginRequest,
  encodeParams,
  encodeRecord,
  encodeStream,
  FCGI_KEEP_CONN,
  RecordType,
  Role,
} from '../../src/protocol/fastcgi/index.js';
import { encodeRequest } from '../../src/protocol/uwsgi/index.js';
import { nginxParams } from '../helpers/exchange.js';
import { FastcgiClient, parseCgiResponse } from '../helpers/fastcgi-client.js';
import { startNginx } from '../helpers/nginx.js';
import { childrenOf, type RunningPool, startPool } from '../helpers/pool.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))),
  };
}
export type Random = ReturnType<typeof random>;

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'BREW', ''];
const URIS = ['/hello', '/slow?ms=0', '/', '/%00', '/..%2f..%2fetc', `/${'a'.repeat(3000)}`, '/hello?x=%ZZ'];

function params(rng: Random): Record<string, string> {
  const extra: Record<string, string> = {};
  for (let i = rng.int(4); i > 0; i--) {
    const name = rng.pick([
      'HTTP_X_A',
      'HTTP_COOKIE',
      'HTTP_TRANSFER_ENCODING',
      'CONTENT_LENGTH',
      'HTTPS',
      'HTTP_',
    ]);
    extra[name] = rng.pick([
      '',
      '1',
      '-1',
      'chunked',
      'on',
      '99999999999999999999',
      'x'.repeat(rng.int(500)),
    ]);
  }
  return nginxParams(rng.pick(METHODS), rng.pick(URIS), extra);
}

function validFastcgi(rng: Random): Buffer {
  const id = 1 + rng.int(3);
  const body = rng.bytes(rng.int(3) === 0 ? rng.int(3000) : 0);
  return Buffer.concat([
    encodeBeginRequest(id, rng.int(8) === 0 ? rng.int(5) : Role.Responder, rng.int(2) ? FCGI_KEEP_CONN : 0),
    encodeParams(id, Object.entries({ ...params(rng), CONTENT_LENGTH: String(body.length) })),
    ...(body.length > 0 ? encodeStream(RecordType.Stdin, id, body) : []),
    encodeRecord(RecordType.Stdin, id),
  ]);
}

function validUwsgi(rng: Random): Buffer {
  const body = rng.bytes(rng.int(3) === 0 ? rng.int(3000) : 0);
  return encodeRequest(
    Object.entries({ ...params(rng), CONTENT_LENGTH: String(body.length) }),
    body,
    rng.int(10) === 0 ? rng.int(256) : 0,
  );
}

function validHttp(rng: Random): Buffer {
  const body = rng.int(3) === 0 ? rng.bytes(rng.int(2000)) : Buffer.alloc(0);
  const headers = [`Host: ${rng.pick(['x', '', 'a'.repeat(300)])}`];
  for (let i = rng.int(4); i > 0; i--)
    headers.push(
      rng.pick([
        'Transfer-Encoding: chunked',
        'Content-Length: 5',
        'Content-Length: -1',
        'Connection: close',
        'Expect: 100-continue',
        `X-Long: ${'b'.repeat(rng.int(9000))}`,
        'X-A:\r\n b',
      ]),
    );
  if (body.length > 0) headers.push(`Content-Length: ${body.length}`);
  return Buffer.concat([
    Buffer.from(
      `${rng.pick(METHODS) || 'GET'} ${rng.pick(URIS)} HTTP/1.${rng.int(2)}\r\n${headers.join('\r\n')}\r\n\r\n`,
    ),
    body,
  ]);
}

/** One to four mutations: bit flips, random bytes, truncation, insertion, duplication, splicing. */
export function mutate(rng: Random, input: Buffer, another: () => Buffer): Buffer {
  let out = Buffer.from(input);
  for (let n = 1 + rng.int(4); n > 0 && out.length > 0; n--) {
    const at = rng.int(out.length);
    switch (rng.int(7)) {
      case 0:
        out[at] = (out[at] as number) ^ (1 << rng.int(8));
        break;
      case 1:
        out[at] = rng.int(256);
        break;
      case 2:
        out = out.subarray(0, at);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(16)), out.subarray(at)]);
        break;
      case 4: {
        const end = Math.min(out.length, at + 1 + rng.int(64));
        out = Buffer.concat([out.subarray(0, end), out.subarray(at, end), out.subarray(end)]);
        break;
      }
      case 5:
        out = Buffer.concat([out.subarray(0, at), another()]);
        break;
      default:
        // A length field at a random place set to its largest value.
        if (at + 1 < out.length) out.writeUInt16BE(0xffff, at);
    }
  }
  return out;
}

/**
 * Sends bytes in a few pieces, then either half-closes or goes silent, and waits for the server to
 * close (the header, body and idle timeouts cover silence); gives up after `patienceMs` and closes
 * itself. Resolves true when the server closed the connection, false when it held it.
 */
function throwAt(port: number, bytes: Buffer, rng: Random, patienceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const pieces = 1 + rng.int(3);
    const halfClose = rng.int(3) !== 0;
    let held = false;
    const timer = setTimeout(() => {
      held = true;
      socket.destroy();
    }, patienceMs);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(!held);
    });
    socket.on('connect', async () => {
      let at = 0;
      for (let i = 1; i <= pieces && !socket.destroyed; i++) {
        const end = i === pieces ? bytes.length : Math.min(bytes.length, at + rng.int(bytes.length + 1));
        socket.write(bytes.subarray(at, end));
        at = end;
        await new Promise((r) => setImmediate(r));
      }
      if (halfClose && !socket.destroyed) socket.end();
    });
  });
}

/**
 * How long a client waits for the gateway to close a connection it stopped feeding: past the
 * campaign's header, body (200 ms) and idle (1 s) timeouts, with room for a loaded machine.
 */
const PATIENCE_MS = 4000;

export interface ProtocolReport {
  protocol: Protocol;
  garbage: number;
  throughNginx: number;
  valid: number;
  validFailed: string[];
  /** Connections at the gateway port it held past every timeout (the client gave up first). */
  heldOpen: number;
  /** Sum of the workers' resident memory (bytes) after the warm-up and at the end. */
  rssAfterWarmup: number;
  rssAtEnd: number;
  workersBefore: number[];
  workersAfter: number[];
  masterAlive: boolean;
  /** Log lines that are neither requests nor a protocol error with its GW_ERR_* code. */
  unexpected: string[];
}

function rssOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {}
  }
  return total;
}

async function validRequest(
  protocol: Protocol,
  pool: RunningPool,
  nginxUrl: string,
  viaNginx: boolean,
): Promise<string | null> {
  try {
    if (viaNginx || protocol === 'http') {
      const url = viaNginx ? nginxUrl : `http://${pool.upstream}`;
      const res = await fetch(`${url}/slow?ms=0`, { signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      return res.status === 200 && text === 'slow'
        ? null
        : `${viaNginx ? 'nginx' : 'direct'}: ${res.status} ${text.slice(0, 80)}`;
    }
    if (protocol === 'uwsgi') {
      const res = await uwsgiRequest(
        { host: '127.0.0.1', port: pool.port },
        Object.entries(nginxParams('GET', '/slow?ms=0')),
      );
      return res.status === 200 && res.body.toString() === 'slow' ? null : `uwsgi: ${res.status}`;
    }
    const client = await FastcgiClient.connect({ host: '127.0.0.1', port: pool.port });
    try {
      const r = await client.request({ params: nginxParams('GET', '/slow?ms=0') });
      const res = parseCgiResponse(r.stdout);
      return res.status === 200 && res.body.toString() === 'slow' ? null : `fastcgi: ${res.status}`;
    } finally {
      client.close();
    }
  } catch (err) {
    return `${viaNginx ? 'nginx' : 'direct'}: ${(err as Error).message}`;
  }
}

/** Expected log lines: access, start-up, and rejections that carry a GW_ERR_* code. */
function unexpectedLine(line: Record<string, unknown>): boolean {
  if (typeof line.code === 'string' && line.code.startsWith('GW_ERR_') && line.code !== 'GW_ERR_WORKER_EXIT')
    return line.level === 'error' || line.level === 'fatal';
  if (line.level === 'error' || line.level === 'fatal') return true;
  return /failed|uncaught|exited/i.test(String(line.msg ?? ''));
}

export async function fuzzProtocol(
  protocol: Protocol,
  options: { seed: number; seconds: number; lanes?: number },
): Promise<ProtocolReport> {
  const pool = await startPool(protocol, {
    GATEWAY_HEADER_TIMEOUT: '200ms',
    GATEWAY_BODY_TIMEOUT: '200ms',
    GATEWAY_IDLE_TIMEOUT: '1s',
  });
  const nginx = await startNginx({ protocol, upstream: pool.upstream });
  const report: ProtocolReport = {
    protocol,
    garbage: 0,
    throughNginx: 0,
    valid: 0,
    validFailed: [],
    heldOpen: 0,
    rssAfterWarmup: 0,
    rssAtEnd: 0,
    workersBefore: [],
    workersAfter: [],
    masterAlive: false,
    unexpected: [],
  };
  const valid = (viaNginx: boolean) =>
    validRequest(protocol, pool, nginx.url, viaNginx).then((failure) => {
      report.valid++;
      if (failure) report.validFailed.push(failure);
    });
  try {
    report.workersBefore = pool.workers().sort();
    // Warm-up: every code path the valid requests take is compiled and its buffers allocated.
    for (let i = 0; i < 60; i++) await valid(i % 2 === 0);
    report.rssAfterWarmup = rssOf(report.workersBefore);

    const generate = protocol === 'fastcgi' ? validFastcgi : protocol === 'uwsgi' ? validUwsgi : validHttp;
    const deadline = Date.now() + options.seconds * 1000;
    const lane = async (laneRng: Random) => {
      while (Date.now() < deadline) {
        const roll = laneRng.int(10);
        if (roll < 5) {
          const input =
            laneRng.int(5) === 0
              ? laneRng.bytes(1 + laneRng.int(2048))
              : mutate(laneRng, generate(laneRng), () => generate(laneRng));
          report.garbage++;
          if (!(await throwAt(pool.port, input, laneRng, PATIENCE_MS))) report.heldOpen++;
        } else if (roll < 8) {
          report.throughNginx++;
          await throwAt(
            nginx.port,
            mutate(laneRng, validHttp(laneRng), () => validHttp(laneRng)),
            laneRng,
            2000,
          );
        } else {
          await valid(laneRng.int(2) === 0);
        }
      }
    };
    await Promise.all(
      Array.from({ length: options.lanes ?? 10 }, (_, i) => lane(random(options.seed * 31 + i + 1))),
    );
    // Still serving, every worker.
    for (let i = 0; i < 40; i++) await valid(i % 2 === 0);
    report.rssAtEnd = rssOf(report.workersBefore);
    report.workersAfter = childrenOf(pool.pid).sort();
    report.masterAlive = pool.child.exitCode === null;
    report.unexpected = pool.lines.filter(unexpectedLine).map((l) => JSON.stringify(l));
    return report;
  } finally {
    await nginx.stop();
    pool.kill();
  }
}
