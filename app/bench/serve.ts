/**
 * Serves handler.ts on 127.0.0.1 (port from PORT, default a free one) with a plain
 * http.createServer, for app-level benchmarks without the gateway; prints the URL.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import createApp from '../src/handler.js';

const app = await createApp();
const server = createServer(app.handler).listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
const stop = () => server.close(() => void app.close());
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
