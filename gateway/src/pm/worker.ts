/**
 * A pool worker: loads the app once, serves the configured protocol on the pool's socket, and
 * drains when the master says so (reload, recycle, stop).
 */
import cluster from 'node:cluster';
import type { RequestListener } from 'node:http';
import type { GatewayConfig } from '../config.js';
import { errorTable, isGatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { createProtocolServer } from '../modes/index.js';
import { loadApp } from './app.js';
import type { MasterMessage, WorkerMessage } from './messages.js';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** Answers the ping path itself and counts finished requests for max_requests. */
function wrapListener(
  config: GatewayConfig,
  app: RequestListener,
  onRequestDone: () => void,
): RequestListener {
  const ping = config.pingPath;
  return (req, res) => {
    res.once('finish', onRequestDone);
    if (ping !== '' && req.url === ping) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4, 'cache-control': 'no-store' });
      res.end('pong');
      return;
    }
    app(req, res);
  };
}

export async function runWorker(config: GatewayConfig, log: Logger): Promise<void> {
  let app: Awaited<ReturnType<typeof loadApp>> | null = null;
  if (config.protocol !== 'cgi') {
    try {
      app = await loadApp(config.app);
    } catch (err) {
      send({
        type: 'app-error',
        message: isGatewayError(err) ? err.message : `${errorTable.GW_ERR_APP_LOAD}: ${String(err)}`,
      });
      log.error('application failed to load', { err });
      process.exit(1);
    }
  }
  let served = 0;
  let recycling = false;
  const onRequestDone = () => {
    served++;
    if (config.pmMaxRequests > 0 && served >= config.pmMaxRequests && !recycling) {
      recycling = true;
      send({ type: 'recycle' });
    }
  };
  const listener = wrapListener(config, app?.handler ?? (() => {}), onRequestDone);
  const server = createProtocolServer({ config, listener, log });

  server.server.once('error', (err: NodeJS.ErrnoException) => {
    send({ type: 'listen-error', message: err.message, code: err.code });
    process.exit(1);
  });
  const { listen } = config;
  const onListening = () => send({ type: 'ready' });
  if (listen.kind === 'unix')
    server.server.listen({ path: listen.path, backlog: config.backlog }, onListening);
  else server.server.listen({ port: listen.port, host: listen.host, backlog: config.backlog }, onListening);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => {
      log.warn('drain deadline passed, closing what is left', { inFlight: server.stats().requestsInFlight });
      server.destroy();
    }, config.gracefulTimeoutMs);
    deadline.unref();
    await server.close();
    await app?.close().catch((err: unknown) => log.warn('application close failed', { err }));
    clearTimeout(deadline);
    cluster.worker?.disconnect();
    process.exit(0);
  };
  process.on('message', (message: MasterMessage) => {
    if (message?.type === 'shutdown') void shutdown();
  });
  // The master owns signals; a worker ignores the terminal's SIGINT and is told over IPC.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => void shutdown());
}
