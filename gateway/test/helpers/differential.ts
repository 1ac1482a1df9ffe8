/**
 * The differential harness: one request listener served by node:http (the reference, reached
 * directly) and by the gateway in fastcgi, uwsgi and http mode, each behind a real nginx, and the
 * fastcgi and uwsgi gateways also asked with no nginx in between (libfcgi's cgi-fcgi;
 * test/helpers/uwsgi-ask.py); the same requests to all; and a comparison of what the client
 * receives: status and reason, headers (minus hop-by-hop ones and those nginx sets itself), body
 * bytes, and whether the response arrived whole.
 *
 * Responses are generated as programs (sequences of ServerResponse calls) by fast-check, as are
 * requests. Differences that are deliberate are normalised here, each with its reason; they are the
 * list in gateway/README.md.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type ClientRequest,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Protocol } from '../../src/config.js';
import { type CgiResponse, parseCgiResponse } from './fastcgi-client.js';
import { startGateway, type TestGateway } from './gateway.js';
import { type RunningNginx, startNginx } from './nginx.js';

// --- response programs ------------------------------------------------------------------------

export type Chunk =
  | { type: 'string'; text: string; encoding: BufferEncoding }
  | { type: 'buffer'; bytes: number[] }
  | { type: 'uint8'; bytes: number[]; offset: number }
  | { type: 'uint16'; values: number[] }
  | { type: 'dataview'; size: number };

export type HeaderValue = string | number | string[];

export type Op =
  | { op: 'setHeader'; name: string; value: HeaderValue }
  | { op: 'appendHeader'; name: string; value: string | string[] }
  | { op: 'removeHeader'; name: string }
  | { op: 'statusCode'; status: number }
  | { op: 'statusMessage'; reason: string }
  | { op: 'writeHead'; status: number; reason?: string; headers?: Record<string, HeaderValue> | string[] }
  | { op: 'write'; chunk: Chunk; callback: boolean }
  | { op: 'cork' }
  | { op: 'uncork' }
  | { op: 'flushHeaders' }
  | { op: 'addTrailers'; name: string; value: string }
  | { op: 'writeContinue' }
  | { op: 'writeProcessing' }
  | { op: 'writeEarlyHints'; link: string }
  | { op: 'tick' }
  | { op: 'throw' }
  | { op: 'destroy' }
  | { op: 'end'; chunk?: Chunk };

export interface Program {
  /** Read the whole request body first and report its length and digest in a header. */
  readBody: boolean;
  ops: Op[];
}

export function chunkValue(chunk: Chunk): string | Uint8Array | Uint16Array | DataView {
  switch (chunk.type) {
    case 'string':
      return chunk.text;
    case 'buffer':
      return Buffer.from(chunk.bytes);
    case 'uint8': {
      const backing = new Uint8Array(chunk.bytes.length + chunk.offset + 3);
      backing.set(chunk.bytes, chunk.offset);
      return backing.subarray(chunk.offset, chunk.offset + chunk.bytes.length);
    }
    case 'uint16':
      return new Uint16Array(chunk.values);
    case 'dataview':
      return new DataView(new ArrayBuffer(chunk.size));
  }
}

type Writer = (chunk: unknown, encoding?: BufferEncoding, cb?: () => void) => unknown;

function applyWrite(
  res: ServerResponse,
  method: 'write' | 'end',
  chunk: Chunk | undefined,
  cb: boolean,
): void {
  const call = res[method].bind(res) as unknown as Writer;
  if (chunk === undefined) {
    call(undefined);
    return;
  }
  const value = chunkValue(chunk);
  const callback = cb ? () => {} : undefined;
  if (chunk.type === 'string') call(value, chunk.encoding, callback);
  else call(value, undefined, callback);
}

function apply(res: ServerResponse, op: Op): void {
  switch (op.op) {
    // node:http keeps a header's array as given and appendHeader() pushes into it: each target
    // gets its own copy of the program's values.
    case 'setHeader':
      res.setHeader(op.name, Array.isArray(op.value) ? [...op.value] : op.value);
      return;
    case 'appendHeader':
      res.appendHeader(op.name, Array.isArray(op.value) ? [...op.value] : op.value);
      return;
    case 'removeHeader':
      res.removeHeader(op.name);
      return;
    case 'statusCode':
      res.statusCode = op.status;
      return;
    case 'statusMessage':
      res.statusMessage = op.reason;
      return;
    case 'writeHead':
      {
        const headers = Array.isArray(op.headers)
          ? [...op.headers]
          : op.headers
            ? { ...op.headers }
            : undefined;
        if (op.reason === undefined) res.writeHead(op.status, headers as Record<string, string>);
        else res.writeHead(op.status, op.reason, headers as Record<string, string>);
      }
      return;
    case 'write':
      applyWrite(res, 'write', op.chunk, op.callback);
      return;
    case 'cork':
      res.cork();
      return;
    case 'uncork':
      res.uncork();
      return;
    case 'flushHeaders':
      res.flushHeaders();
      return;
    case 'addTrailers':
      res.addTrailers({ [op.name]: op.value });
      return;
    case 'writeContinue':
      res.writeContinue();
      return;
    case 'writeProcessing':
      res.writeProcessing();
      return;
    case 'writeEarlyHints':
      res.writeEarlyHints({ link: op.link });
      return;
    case 'throw':
      throw new Error('thrown by the program');
    case 'destroy':
      res.destroy();
      return;
    case 'end':
      applyWrite(res, 'end', op.chunk, false);
      return;
    case 'tick':
      return;
  }
}

/** Runs ops from `at`: synchronously up to the first tick, the rest after it (a returned promise). */
function runOps(res: ServerResponse, ops: Op[], at: number): undefined | Promise<void> {
  for (let i = at; i < ops.length; i++) {
    const op = ops[i] as Op;
    if (op.op === 'tick')
      return new Promise<void>((r) => setImmediate(r)).then(() => runOps(res, ops, i + 1));
    apply(res, op);
  }
  return undefined;
}

function digest(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha1');
    let length = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    req.on('end', () => resolve(`${length}:${hash.digest('hex').slice(0, 16)}`));
    req.on('error', reject);
  });
}

/** The listener that runs the program named by the request (programs are registered by id). */
export function programListener(programs: Map<string, Program>) {
  return (req: IncomingMessage, res: ServerResponse): undefined | Promise<void> => {
    const id = req.headers['x-program'];
    const program = typeof id === 'string' ? programs.get(id) : undefined;
    if (!program) {
      res.end('no such program');
      return undefined;
    }
    if (!program.readBody) return runOps(res, program.ops, 0);
    return digest(req).then((body) => {
      res.setHeader('x-request-body', body);
      return runOps(res, program.ops, 0);
    });
  };
}

// --- arbitraries ------------------------------------------------------------------------------

const headerName = fc.constantFrom(
  'x-a',
  'x-b',
  'X-Mixed-Case',
  'cache-control',
  'content-type',
  'set-cookie',
  'link',
);
const token = fc.stringMatching(/^[A-Za-z0-9 ._=;/-]{0,12}$/).map((s) => s.trim());
const headerValue: fc.Arbitrary<HeaderValue> = fc.oneof(
  token,
  fc.integer({ min: 0, max: 99999 }),
  fc.array(token, { minLength: 1, maxLength: 3 }),
);
const finalStatus = fc.constantFrom(
  200,
  201,
  202,
  204,
  206,
  301,
  302,
  304,
  400,
  401,
  404,
  418,
  422,
  500,
  503,
);
const reason = fc.stringMatching(/^[A-Za-z][A-Za-z ]{0,15}$/);
const byte = fc.integer({ min: 0, max: 255 });

export const chunkArb: fc.Arbitrary<Chunk> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('string' as const),
      text: fc.string({ maxLength: 40 }),
      encoding: fc.constant('utf8' as BufferEncoding),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('string' as const),
      text: fc.string({ unit: 'binary', maxLength: 20 }),
      encoding: fc.constantFrom<BufferEncoding>('latin1', 'ascii', 'utf16le'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('string' as const),
      text: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('hex')),
      encoding: fc.constant('hex' as BufferEncoding),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('string' as const),
      text: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('base64')),
      encoding: fc.constant('base64' as BufferEncoding),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ type: fc.constant('buffer' as const), bytes: fc.array(byte, { maxLength: 64 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('uint8' as const),
      bytes: fc.array(byte, { maxLength: 64 }),
      offset: fc.integer({ min: 0, max: 7 }),
    }),
  },
  // Large: several records, views rather than copies.
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('buffer' as const),
      bytes: fc
        .integer({ min: 3000, max: 200_000 })
        .map((n) => Array.from({ length: n }, (_, i) => i & 0xff)),
    }),
  },
  // Types node:http refuses (it throws).
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('uint16' as const),
      values: fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('dataview' as const), size: fc.integer({ min: 0, max: 4 }) }),
  },
);

const headOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('setHeader' as const), name: headerName, value: headerValue }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('appendHeader' as const),
      name: headerName,
      value: fc.oneof(token, fc.array(token, { minLength: 1, maxLength: 2 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeHeader' as const), name: headerName }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('statusCode' as const), status: finalStatus }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('statusMessage' as const), reason }) },
  { weight: 1, arbitrary: fc.constant({ op: 'writeContinue' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'writeProcessing' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('writeEarlyHints' as const),
      link: fc.constantFrom('</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script'),
    }),
  },
);

const writeHeadOp: fc.Arbitrary<Op> = fc.record(
  {
    op: fc.constant('writeHead' as const),
    status: finalStatus,
    reason,
    headers: fc.oneof(
      fc.dictionary(headerName, headerValue, { maxKeys: 3 }),
      fc.array(fc.tuple(headerName, token), { maxLength: 3 }).map((pairs) => pairs.flat()),
    ),
  },
  { requiredKeys: ['op', 'status'] },
);

const bodyOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('write' as const), chunk: chunkArb, callback: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'cork' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'uncork' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'flushHeaders' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('addTrailers' as const),
      name: fc.constant('x-trailer'),
      value: token,
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: 'tick' as const }) },
);

const ending: fc.Arbitrary<Op[]> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .option(chunkArb, { nil: undefined })
      .map((chunk) => [{ op: 'end' as const, ...(chunk ? { chunk } : {}) }]),
  },
  // Writes after the end.
  {
    weight: 1,
    arbitrary: fc.tuple(chunkArb, chunkArb).map(([a, b]): Op[] => [
      { op: 'end', chunk: a },
      { op: 'write', chunk: b, callback: false },
    ]),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(chunkArb, chunkArb)
      .map(([a, b]): Op[] => [{ op: 'end', chunk: a }, { op: 'tick' }, { op: 'end', chunk: b }]),
  },
  { weight: 1, arbitrary: fc.constant<Op[]>([{ op: 'throw' }]) },
  { weight: 1, arbitrary: fc.constant<Op[]>([{ op: 'tick' }, { op: 'throw' }]) },
  { weight: 1, arbitrary: fc.constant<Op[]>([{ op: 'destroy' }]) },
);

export const programArb: fc.Arbitrary<Program> = fc
  .record({
    readBody: fc.boolean(),
    head: fc.array(headOp, { maxLength: 5 }),
    writeHead: fc.option(writeHeadOp, { nil: undefined }),
    body: fc.array(bodyOp, { maxLength: 5 }),
    ending,
  })
  .map(({ readBody, head, writeHead, body, ending }) => ({
    readBody,
    ops: [...head, ...(writeHead ? [writeHead] : []), ...body, ...ending],
  }));

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS';
  /** Body size in bytes; sent with Content-Length, or chunked. */
  bodySize: number;
  chunked: boolean;
  expectContinue: boolean;
}

export const requestArb: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
    bodySize: fc.oneof(
      { weight: 4, arbitrary: fc.constant(0) },
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 5000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1 << 20, max: 3 << 20 }) },
    ),
    chunked: fc.boolean(),
    expectContinue: fc.boolean(),
  })
  .map((spec) => {
    // A body on GET/HEAD/OPTIONS is legal but unusual; keep bodies to the methods that carry them.
    if (spec.method === 'GET' || spec.method === 'HEAD' || spec.method === 'OPTIONS')
      return { ...spec, bodySize: 0, chunked: false, expectContinue: false };
    return spec;
  });

// --- targets ----------------------------------------------------------------------------------

/** node:http (the reference), the gateway behind nginx in each mode, or reached by a protocol client. */
export type Target = 'node' | Protocol | 'fastcgi direct' | 'uwsgi direct';

export interface Observed {
  /** 'failed': the client got an error, or a response cut short. */
  outcome: 'whole' | 'failed';
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** A client's failure, or a response cut short: nothing of it is compared. */
const failure = (): Observed => ({
  outcome: 'failed',
  status: 0,
  reason: '',
  headers: [],
  body: Buffer.alloc(0),
});

/** Hop-by-hop headers, and what nginx (or node:http's own framing) sets by design. */
const IGNORED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'content-length',
  'date',
  'server',
]);

/** The headers nginx's template adds to every response (add_header … always). */
const nginxHeaders = (() => {
  const template = readFileSync(
    fileURLToPath(new URL('../../../../nginx/templates/gatehouse.conf.template', import.meta.url)),
    'utf8',
  );
  return new Set(
    [...template.matchAll(/add_header\s+([A-Za-z-]+)/g)].map((m) => (m[1] as string).toLowerCase()),
  );
})();

/** What a client of node:http gets from a request it sent: the answer, whole, or a failure. */
function observe(req: ClientRequest, settled: () => void = () => {}): Promise<Observed> {
  return new Promise((resolve) => {
    const settle = (observed: Observed): void => {
      settled();
      resolve(observed);
    };
    const failed = (status = 0): void =>
      settle({ outcome: 'failed', status, reason: '', headers: [], body: Buffer.alloc(0) });
    req.on('error', () => failed());
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => failed(res.statusCode));
      res.on('end', () => {
        if (!res.complete) return failed(res.statusCode);
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = (res.rawHeaders[i] as string).toLowerCase();
          if (!IGNORED.has(name)) pairs.push([name, res.rawHeaders[i + 1] as string]);
        }
        settle({
          outcome: 'whole',
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? '',
          headers: pairs,
          body: Buffer.concat(chunks),
        });
      });
    });
  });
}

function send(base: string, path: string, spec: RequestSpec, programId: string): Promise<Observed> {
  const body = Buffer.alloc(spec.bodySize, 'b');
  // Keep-alive, closed by this client once it has the answer: node:http closes a `Connection:
  // close` exchange as soon as its response is written, and when the client's body comes later
  // (after a 100 Continue, to a program that never reads it) that close is a reset which can
  // take the response's last bytes with it. A race of the reference itself, not a difference.
  const headers: Record<string, string> = { 'x-program': programId, connection: 'keep-alive' };
  if (spec.bodySize > 0 && !spec.chunked) headers['content-length'] = String(spec.bodySize);
  if (spec.chunked && spec.bodySize > 0) headers['transfer-encoding'] = 'chunked';
  if (spec.expectContinue) headers.expect = '100-continue';
  const req = request(`${base}${path}`, { method: spec.method, headers, agent: false });
  const observed = observe(req, () => req.destroy());
  const write = () => {
    if (spec.bodySize > 0) {
      // In pieces, so chunked requests have several chunks.
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
    }
    req.end();
  };
  if (spec.expectContinue) {
    req.once('continue', write);
    // A server may answer without asking for the body: node:http then ends the request itself.
    req.on('response', () => {
      if (!req.writableEnded) req.end();
    });
  } else write();
  return observed;
}

// --- the protocols' own clients, without nginx -------------------------------------------------

/**
 * The CGI variables nginx sends (nginx/snippets/fastcgi.conf, uwsgi.conf), for a request a client
 * of the protocol makes itself. A body goes with its length, as nginx sends one it has buffered
 * (FastCGI and uwsgi have no chunked framing); Expect is nginx's business.
 */
function cgiVariables(path: string, spec: RequestSpec, programId: string): Array<[string, string]> {
  const [uri = '/', query = ''] = path.split('?');
  return [
    ['QUERY_STRING', query],
    ['REQUEST_METHOD', spec.method],
    ['CONTENT_TYPE', ''],
    ['CONTENT_LENGTH', spec.bodySize > 0 ? String(spec.bodySize) : ''],
    ['SCRIPT_NAME', ''],
    ['PATH_INFO', uri],
    ['REQUEST_URI', path],
    ['DOCUMENT_URI', uri],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'],
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['REMOTE_PORT', '40000'],
    ['SERVER_ADDR', '127.0.0.1'],
    ['SERVER_PORT', '80'],
    ['SERVER_NAME', 'localhost'],
    ['HTTP_HOST', 'localhost'],
    ['HTTP_X_PROGRAM', programId],
  ];
}

/**
 * FastCGI through libfcgi's cgi-fcgi, a client independent of this project: it passes its
 * environment as the request's parameters and its stdin as the body, prints the CGI response, and
 * exits non-zero when the connection ends without FCGI_END_REQUEST (a response cut short).
 */
function askFastcgi(address: TestGateway['address'], path: string, spec: RequestSpec, programId: string) {
  const connect = 'path' in address ? address.path : `${address.host}:${address.port}`;
  const child = spawn('cgi-fcgi', ['-bind', '-connect', connect], {
    env: { PATH: process.env.PATH, ...Object.fromEntries(cgiVariables(path, spec, programId)) },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  // cgi-fcgi may stop reading a body the app never reads.
  child.stdin.on('error', () => {});
  child.stdin.end(Buffer.alloc(spec.bodySize, 'b'));
  return new Promise<Observed>((resolve) => {
    child.on('close', (code) => {
      if (code !== 0) return resolve(failure());
      let answer: CgiResponse;
      try {
        answer = parseCgiResponse(Buffer.concat(out));
      } catch {
        return resolve(failure());
      }
      const headers = Object.entries(answer.headers).flatMap(([name, values]) =>
        name === 'status' || IGNORED.has(name) ? [] : values.map((value): [string, string] => [name, value]),
      );
      resolve({ outcome: 'whole', status: answer.status, reason: answer.reason, headers, body: answer.body });
    });
  });
}

const uwsgiAsk = fileURLToPath(new URL('../../../test/helpers/uwsgi-ask.py', import.meta.url));

/**
 * uwsgi through test/helpers/uwsgi-ask.py, a client independent of the gateway's codec (and of
 * node:net, which on Node 20 and 22 reports a reset that follows data as a plain close): one packet
 * on a new connection, the HTTP response read until the server closes it, then parsed by
 * node:http's own client. A reset means the response was cut short.
 */
function askUwsgi(address: TestGateway['address'], path: string, spec: RequestSpec, programId: string) {
  const target = 'path' in address ? address.path : `${address.host}:${address.port}`;
  const variables = JSON.stringify(cgiVariables(path, spec, programId));
  const child = spawn('python3', [uwsgiAsk, target, variables, String(spec.bodySize)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const received: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => received.push(c));
  return new Promise<Observed>((resolve) => {
    child.on('close', (code) => {
      if (code !== 0) return resolve(failure());
      const wire = new Duplex({ read() {}, write: (_chunk, _encoding, done) => done() });
      const req = request({ method: spec.method, path, createConnection: () => wire as Socket });
      resolve(observe(req));
      req.end();
      wire.push(Buffer.concat(received));
      wire.push(null);
    });
  });
}

type Ask = (path: string, spec: RequestSpec, programId: string) => Promise<Observed>;

export interface Harness {
  readonly targets: Array<{ name: Target; ask: Ask }>;
  programs: Map<string, Program>;
  /** Every target's answer to one request (after the reference's). */
  exchange(program: Program, spec: RequestSpec): Promise<Map<Target, Observed>>;
  /** Requests to a listener other than the program listener: same comparison. */
  exchangeRaw(path: string, spec: RequestSpec): Promise<Map<Target, Observed>>;
  gateways: TestGateway[];
  close(): Promise<void>;
}

/**
 * Node:http's own server with the failure handling the gateway applies (500 before the head,
 * the response cut short after it): the reference for what a listener's throw should look like.
 */
function startReference(
  listener: ReturnType<typeof programListener>,
): Promise<{ server: Server; url: string }> {
  const fail = (res: ServerResponse) => {
    if (res.writableEnded || res.destroyed) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = 500;
    res.setHeader('content-type', 'text/plain');
    res.end('Internal Server Error');
  };
  const server = createServer((req, res) => {
    res.on('error', () => {});
    try {
      const result = listener(req, res);
      if (result instanceof Promise) result.catch(() => fail(res));
    } catch {
      fail(res);
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    });
  });
}

export async function startHarness(
  modes: Protocol[] = ['fastcgi', 'uwsgi', 'http'],
  listener?: (req: IncomingMessage, res: ServerResponse) => unknown,
): Promise<Harness> {
  const programs = new Map<string, Program>();
  const own = listener ?? programListener(programs);
  const reference = await startReference(own as ReturnType<typeof programListener>);
  const gateways: TestGateway[] = [];
  const nginxes: RunningNginx[] = [];
  const targets: Array<{ name: Target; ask: Ask }> = [
    { name: 'node', ask: (path, spec, id) => send(reference.url, path, spec, id) },
  ];
  for (const mode of modes) {
    const gateway = await startGateway({
      protocol: mode,
      listener: own as (req: IncomingMessage, res: ServerResponse) => void,
    });
    gateways.push(gateway);
    const nginx = await startNginx({ protocol: mode, upstream: gateway.upstream, workers: 1 });
    nginxes.push(nginx);
    targets.push({ name: mode, ask: (path, spec, id) => send(nginx.url, path, spec, id) });
    // The same gateway, asked by a client of its protocol with no nginx in between.
    if (mode === 'fastcgi')
      targets.push({
        name: 'fastcgi direct',
        ask: (path, spec, id) => askFastcgi(gateway.address, path, spec, id),
      });
    if (mode === 'uwsgi')
      targets.push({
        name: 'uwsgi direct',
        ask: (path, spec, id) => askUwsgi(gateway.address, path, spec, id),
      });
  }
  let next = 0;
  const everywhere = async (path: string, spec: RequestSpec, id: string) => {
    const results = new Map<Target, Observed>();
    await Promise.all(targets.map(async (t) => results.set(t.name, await t.ask(path, spec, id))));
    return results;
  };
  return {
    targets,
    programs,
    gateways,
    async exchange(program, spec) {
      const id = String(next++);
      programs.set(id, program);
      try {
        return await everywhere('/program', spec, id);
      } finally {
        programs.delete(id);
      }
    },
    exchangeRaw: (path, spec) => everywhere(path, spec, ''),
    async close() {
      for (const nginx of nginxes) await nginx.stop();
      for (const gateway of gateways) await gateway.close();
      reference.server.closeAllConnections();
      await new Promise((r) => reference.server.close(r));
    },
  };
}

// --- comparison -------------------------------------------------------------------------------

/**
 * The deliberate differences, applied to what nginx delivers before comparing with node:http:
 * - a response that fails before any head reaches nginx is nginx's own 502 (node:http's client
 *   sees the connection close);
 * - nginx answers a HEAD request itself from the upstream's head, and a 304 or 204 without a body;
 * - header names are compared lower-case (nginx passes FastCGI header names as written, as does
 *   node:http; HTTP/2 or proxies may not) and repeated headers in order.
 */
export function normalise(observed: Observed, target: Target, spec?: RequestSpec): Observed {
  if (observed.outcome === 'whole') observed = normaliseHead(observed);
  if (
    target !== 'node' &&
    observed.outcome === 'whole' &&
    observed.status === 502 &&
    observed.reason === 'Bad Gateway'
  ) {
    // nginx's own error page (none for HEAD); the programs never answer 502 themselves.
    const html = observed.body.toString('latin1');
    if (html.includes('<center>nginx</center>') || (spec?.method === 'HEAD' && html === '')) return failure();
  }
  if (observed.outcome === 'failed') return failure();
  return observed;
}

/**
 * - Headers nginx adds itself (the template's add_header list) are dropped.
 * - Headers are compared grouped by name, each name's values in order: nginx emits Content-Type
 *   (and, over FastCGI, the Status line's headers) in its own order.
 * - Content-Type is single-valued for nginx: of several, it keeps the last, and drops it if empty.
 * - A reason phrase's trailing blanks: nginx trims the value of a FastCGI Status header.
 */
function normaliseHead(observed: Observed): Observed {
  let headers = observed.headers;
  // Dropped on both sides: an app may set them too (express does, on its 404 page).
  headers = headers.filter(([name]) => !nginxHeaders.has(name));
  const types = headers.filter(([name]) => name === 'content-type');
  const type = types[types.length - 1];
  if (type && (types.length > 1 || type[1] === '')) {
    headers = headers.filter(([name]) => name !== 'content-type');
    if (type[1] !== '') headers.push(type);
  }
  const order = [...new Set(headers.map(([name]) => name))].sort();
  headers = order.flatMap((name) => headers.filter(([n]) => n === name));
  return { ...observed, headers, reason: observed.reason.trimEnd() };
}

export function describeDifference(a: Observed, b: Observed): string | null {
  if (a.outcome !== b.outcome) return `outcome ${a.outcome} vs ${b.outcome}`;
  if (a.outcome === 'failed') return null;
  if (a.status !== b.status) return `status ${a.status} vs ${b.status}`;
  if (a.reason !== b.reason) return `reason ${JSON.stringify(a.reason)} vs ${JSON.stringify(b.reason)}`;
  const ha = JSON.stringify(a.headers);
  const hb = JSON.stringify(b.headers);
  if (ha !== hb) return `headers ${ha} vs ${hb}`;
  if (!a.body.equals(b.body))
    return `body ${a.body.length} bytes ${JSON.stringify(a.body.toString('latin1').slice(0, 80))} vs ${b.body.length} bytes ${JSON.stringify(b.body.toString('latin1').slice(0, 80))}`;
  return null;
}

/** Every target compared with node:http; the differences, by target. */
export function differences(
  results: Map<Target, Observed>,
  spec?: RequestSpec,
  unreadBody = false,
): string[] {
  const reference = normalise(results.get('node') as Observed, 'node');
  const out: string[] = [];
  for (const [target, observed] of results) {
    if (target === 'node') continue;
    // A response sent (or destroyed) while the client is still sending a body nobody reads (Expect:
    // 100-continue, or a body the app ignores): the closing side resets the connection, and
    // whether the other end had read the answer first is a race, directly and behind nginx.
    const normalised = normalise(observed, target, spec);
    if (unreadBody && spec && spec.bodySize > 0 && reference.outcome !== normalised.outcome) continue;
    const diff = describeDifference(reference, normalised);
    if (diff) out.push(`${target}: ${diff}`);
  }
  return out;
}
