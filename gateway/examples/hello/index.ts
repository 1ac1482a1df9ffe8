/**
 * The smallest app the gateway can host: a plain (req, res) listener answering a small JSON
 * body. Protocol tests use it, and benchmarks use it to measure the gateway's own overhead.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

const body = Buffer.from('{"hello":"world"}');

export function hello(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export default async function createApp(): Promise<RequestListener> {
  return hello;
}
