/** Small HTTP client helpers for tests that go through nginx (node:http, no pooling surprises). */
import { request as httpRequest } from 'node:http';

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
