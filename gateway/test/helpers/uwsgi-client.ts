/** Sends one uwsgi request on a new connection and reads the raw HTTP response until close. */
import { connect } from 'node:net';
import { encodeRequest } from '../../src/protocol/uwsgi/index.js';

export interface UwsgiResponse {
  status: number;
  reason: string;
  headers: Record<string, string[]>;
  body: Buffer;
  raw: Buffer;
}

export function uwsgiRequest(
  address: { host: string; port: number } | { path: string },
  vars: Iterable<readonly [string, string]>,
  body?: Buffer,
): Promise<UwsgiResponse> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(encodeRequest(vars, body)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks);
      const end = raw.indexOf('\r\n\r\n');
      if (end === -1) return reject(new Error(`no HTTP head in ${raw.length} bytes`));
      const [statusLine = '', ...lines] = raw.toString('latin1', 0, end).split('\r\n');
      const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
      if (!match) return reject(new Error(`bad status line ${JSON.stringify(statusLine)}`));
      const headers: Record<string, string[]> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        const list = headers[name] ?? [];
        list.push(line.slice(colon + 1).trim());
        headers[name] = list;
      }
      resolve({
        status: Number(match[1]),
        reason: match[2] ?? '',
        headers,
        body: raw.subarray(end + 4),
        raw,
      });
    });
  });
}
