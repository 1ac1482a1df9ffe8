/**
 * Drives a Responder directly through a recording ResponseChannel: the adapter's behaviour
 * without any protocol framing.
 */
import type { RequestContext, Responder, ResponseChannel } from '../../src/session/types.js';

export interface Recorded {
  raw: Buffer;
  status: number;
  headers: Record<string, string[]>;
  body: Buffer;
  ended: boolean;
  /** The responder cut the response short (channel.fail()). */
  failed: boolean;
}

export interface ExchangeOptions {
  params: Record<string, string>;
  /** Meta-variables appended after `params` as they are, repeats included (name, value, …). */
  extraParams?: string[];
  body?: Buffer[];
  context?: RequestContext;
  /** Make the channel report congestion for this many writes. */
  congestedWrites?: number;
}

export function nginxParams(
  method: string,
  uri: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const [path, query = ''] = uri.split('?') as [string, string?];
  return {
    QUERY_STRING: query,
    REQUEST_METHOD: method,
    CONTENT_TYPE: '',
    CONTENT_LENGTH: '',
    SCRIPT_NAME: path,
    REQUEST_URI: uri,
    DOCUMENT_URI: path,
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_SCHEME: 'http',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'nginx/1.22.1',
    REMOTE_ADDR: '192.0.2.7',
    REMOTE_PORT: '51234',
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: '8080',
    SERVER_NAME: 'localhost',
    HTTP_HOST: 'localhost:8080',
    HTTP_USER_AGENT: 'test',
    ...extra,
  };
}

/** parseHead, or status 0 and no headers when nothing was sent. */
function parseHeadOrEmpty(raw: Buffer): Omit<Recorded, 'ended' | 'raw' | 'failed'> {
  if (raw.indexOf('\r\n\r\n') === -1) return { status: 0, headers: {}, body: raw };
  return parseHead(raw);
}

export function parseHead(raw: Buffer): Omit<Recorded, 'ended' | 'raw' | 'failed'> {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1)
    throw new Error(`no response head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.toString('latin1', 0, end).split('\r\n');
  const headers: Record<string, string[]> = {};
  let status = 200;
  const first = lines[0] ?? '';
  if (first.startsWith('HTTP/')) {
    status = Number(first.split(' ')[1]);
    lines.shift();
  }
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const list = headers[name] ?? [];
    list.push(value);
    headers[name] = list;
  }
  if (headers.status) status = Number(headers.status[0]?.split(' ')[0]);
  return { status, headers, body: raw.subarray(end + 4) };
}

export function runExchange(
  responder: Responder,
  options: ExchangeOptions,
): Promise<Recorded> & { abort(): void } {
  const chunks: Buffer[] = [];
  let congested = options.congestedWrites ?? 0;
  let abortFn = () => {};
  const promise = new Promise<Recorded>((resolve) => {
    let ended = false;
    let failed = false;
    const waiting: Array<() => void> = [];
    const channel: ResponseChannel = {
      write(chunk) {
        chunks.push(Buffer.from(chunk));
        if (congested > 0) {
          congested--;
          return false;
        }
        return true;
      },
      flush() {},
      onWritable(callback) {
        if (congested > 0) waiting.push(callback);
        else setImmediate(callback);
        setImmediate(() => {
          for (const cb of waiting.splice(0)) cb();
        });
      },
      end() {
        ended = true;
        const raw = Buffer.concat(chunks);
        resolve({ raw, ...parseHead(raw), ended, failed });
      },
      fail() {
        ended = true;
        failed = true;
        const raw = Buffer.concat(chunks);
        resolve({ raw, ...parseHeadOrEmpty(raw), ended, failed });
      },
      writeStderr() {},
      resumeInput() {},
      get aborted() {
        return ended;
      },
    };
    const params = Object.entries(options.params)
      .flat()
      .concat(options.extraParams ?? []);
    const handle = responder(params, channel, options.context ?? { protocol: 'fastcgi', reused: false });
    abortFn = () => handle.abort();
    (async () => {
      for (const chunk of options.body ?? []) {
        handle.body(chunk);
        await new Promise((r) => setImmediate(r));
      }
      handle.endBody();
    })();
  });
  return Object.assign(promise, { abort: () => abortFn() });
}
