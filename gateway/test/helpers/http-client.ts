/** Small HTTP client helpers for tests that go through nginx (node:http, no pooling surprises). */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | Buffer[];
    chunked?: boolean;
  } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    const body = options.body;
    if (body && !options.chunked) {
      headers['content-length'] = String(Array.isArray(body) ? Buffer.concat(body).length : body.length);
    }
    const req = httpRequest(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.chunked) req.setHeader('transfer-encoding', 'chunked');
    for (const piece of Array.isArray(body) ? body : body ? [body] : []) req.write(piece);
    req.end();
  });
}

/**
 * Sends GET `path` on a raw connection and closes it once `inApp` resolves: the app's word that
 * the request has reached it (nginx may hold the first bytes of the response back, so waiting
 * for data would not do).
 */
export async function disconnectMidRequest(
  port: number,
  path: string,
  inApp: Promise<unknown>,
): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  await inApp;
  socket.destroy();
}
