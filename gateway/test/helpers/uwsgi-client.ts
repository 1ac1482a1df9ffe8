/**
 * A uwsgi client as nginx behaves: one request per new connection (TCP or unix socket), then
 * the raw HTTP response read until the server closes the connection.
 */
import { connect } from 'node:net';
import { encodeRequest } from '../../src/protocol/uwsgi/index.js';

export type UwsgiAddress = { host: string; port: number } | { path: string };

export interface UwsgiResponse {
  status: number;
  reason: string;
  /** Lower-case names; every value of a repeated header, in order. */
  headers: Record<string, string[]>;
  body: Buffer;
  /** Every byte received, head included. */
  raw: Buffer;
}

export interface UwsgiRequestOptions {
  modifier1?: number;
  modifier2?: number;
  /** Fails the request when the server has not closed the connection by then; default 10 s. */
  timeoutMs?: number;
}

export function uwsgiRequest(
  address: UwsgiAddress,
  vars: Iterable<readonly [string, string]>,
  body?: Buffer,
  options: UwsgiRequestOptions = {},
): Promise<UwsgiResponse> {
  const packet = encodeRequest(vars, body, options.modifier1, options.modifier2);
  return new Promise((resolve, reject) => {
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    const chunks: Buffer[] = [];
    let failure: Error | null = null;
    const timer = setTimeout(() => {
      failure = new Error(`no end of response within ${options.timeoutMs ?? 10_000} ms`);
      socket.destroy();
    }, options.timeoutMs ?? 10_000);
    socket.on('connect', () => socket.write(packet));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      failure ??= err;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      try {
        resolve(parseHttpResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Splits a whole HTTP/1.x response: status line, headers, and the rest as the body. */
export function parseHttpResponse(raw: Buffer): UwsgiResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no HTTP head in ${raw.length} bytes`);
  const [statusLine = '', ...lines] = raw.toString('latin1', 0, end).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = headers[name] ?? [];
    values.push(line.slice(colon + 1).trim());
    headers[name] = values;
  }
  return { status: Number(match[1]), reason: match[2] ?? '', headers, body: raw.subarray(end + 4), raw };
}
