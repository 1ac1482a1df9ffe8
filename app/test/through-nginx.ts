/**
 * The identity app behind the real stack for attack tests: Debian's nginx, rendered from the
 * deployment's template and snippets, in front of the gateway's FastCGI server, which runs this
 * process's app instance (so a test can watch the app's counters while requests go through
 * nginx). The gateway's test helpers are loaded from its build (both workspaces are built
 * before any test runs); the app never imports the gateway's sources.
 *
 *   const stack = await throughNginx(app, { authRate: '1r/m' });
 *   const res = await stack.request('POST', '/v3/auth/tokens', body);
 *   await stack.stop();
 */
import type { RequestListener } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { FastifyInstance } from 'fastify';

interface Gateway {
  upstream: string;
  close(): Promise<void>;
}
interface Nginx {
  url: string;
  port: number;
  stop(): Promise<void>;
}
type StartGateway = (o: { protocol: 'fastcgi'; listener: RequestListener }) => Promise<Gateway>;
type StartNginx = (o: { protocol: 'fastcgi'; upstream: string; authRate?: string }) => Promise<Nginx>;

const helpers = new URL('../../../gateway/dist/test/helpers/', import.meta.url);

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: ReturnType<typeof JSON.parse>;
}

export interface Stack {
  url: string;
  /** One request through nginx; `signal` aborts it (the client goes away). */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Response>;
  stop(): Promise<void>;
}

export async function throughNginx(
  app: FastifyInstance,
  options: { authRate?: string } = {},
): Promise<Stack> {
  const { startGateway } = (await import(new URL('gateway.js', helpers).href)) as {
    startGateway: StartGateway;
  };
  const { startNginx } = (await import(new URL('nginx.js', helpers).href)) as { startNginx: StartNginx };
  const gateway = await startGateway({ protocol: 'fastcgi', listener: app.routing as RequestListener });
  const nginx = await startNginx({
    protocol: 'fastcgi',
    upstream: gateway.upstream,
    ...(options.authRate ? { authRate: options.authRate } : {}),
  });
  return {
    url: nginx.url,
    request(method, path, body, headers = {}, signal) {
      return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = httpRequest(
          `${nginx.url}${path}`,
          {
            method,
            headers: {
              ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
              ...headers,
            },
            agent: false,
            ...(signal ? { signal } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString();
              let parsed: unknown = text;
              try {
                parsed = text ? JSON.parse(text) : null;
              } catch {
                // not JSON: the text itself
              }
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
    async stop() {
      await nginx.stop();
      await gateway.close();
    },
  };
}
