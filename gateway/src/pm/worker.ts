/**
 * A pool worker: loads the app once, serves the configured protocol on the pool's socket, and
 * drains when the master says so (reload, recycle, stop).
 */
import cluster from 'node:cluster';
import type { RequestListener } from 'node:http';
import { Socket } from 'node:net';
import type { GatewayConfig } from '../config.js';
import { errorTable, isGatewayError } from '../errors.js';
import { containStrayErrors } from '../http/adapter.js';
import type { Logger } from '../log.js';
import { createProtocolServer } from '../modes/index.js';
import { type LoadedApp, loadApp } from './app.js';
import { applyListenPermissions } from './listen-socket.js';
import { HEARTBEAT_MS, type MasterMessage, type WorkerMessage } from './messages.js';
import { type Slowlog, startSlowlog } from './slowlog.js';
import { type PoolStatus, renderStatus, type WorkerStatus } from './status.js';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

interface Counters {
  requests: number;
  inFlight: number;
  lastRequest: WorkerStatus['lastRequest'];
  /** performance.now() when the last request ended (or the worker started). */
  lastActivity: number;
}

/**
 * Per-request concerns, the same in every protocol: the ping and status paths (answered by the
 * gateway itself), in-flight counting, the access log, the slow log and the terminate timeout.
 */
function wrapListener(
  config: GatewayConfig,
  app: RequestListener,
  health: LoadedApp['health'],
  log: Logger,
  counters: Counters,
  poolStatus: () => Promise<PoolStatus>,
  onRequestDone: () => void,
  slowlog: Slowlog | null,
): RequestListener {
  const { pingPath, statusPath, requestTerminateTimeoutMs, accessLog } = config;
  return (req, res) => {
    const started = performance.now();
    counters.inFlight++;
    const slow = slowlog?.track(req.method ?? '-', req.url ?? '-');
    let timer: NodeJS.Timeout | null = null;
    if (requestTerminateTimeoutMs > 0) {
      timer = setTimeout(() => {
        log.warn('request terminated', {
          code: 'GW_ERR_REQUEST_TIMEOUT',
          requestId: req.headers['x-request-id'],
          method: req.method,
          uri: req.url,
          timeoutMs: requestTerminateTimeoutMs,
        });
        if (!res.headersSent) {
          res.writeHead(504, { 'content-type': 'text/plain', connection: 'close' }).end('Gateway Timeout\n');
        } else {
          res.destroy();
        }
        req.destroy();
      }, requestTerminateTimeoutMs);
    }
    res.once('close', () => {
      if (timer) clearTimeout(timer);
      if (slow) slowlog?.end(slow);
      const ended = performance.now();
      const durationMs = ended - started;
      counters.lastActivity = ended;
      counters.inFlight--;
      counters.requests++;
      counters.lastRequest = {
        method: req.method ?? '-',
        uri: req.url ?? '-',
        durationMs,
        status: res.statusCode,
      };
      if (accessLog) {
        log.info('access', {
          requestId: req.headers['x-request-id'],
          method: req.method,
          uri: req.url,
          status: res.statusCode,
          ms: Math.round(durationMs * 10) / 10,
          remote: req.socket.remoteAddress,
          aborted: !res.writableFinished,
        });
      }
      onRequestDone();
    });
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (pingPath !== '' && path === pingPath) {
      const answer = (healthy: boolean, detail: string) => {
        const body = healthy ? 'pong' : `unhealthy: ${detail}\n`;
        res.writeHead(healthy ? 200 : 503, {
          'content-type': 'text/plain',
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
        });
        res.end(body);
      };
      // The app's own view (its database, say), when it gives one: a healthcheck sees what it sees.
      if (!health) answer(true, '');
      else
        Promise.resolve()
          .then(health)
          .then(
            (h) => answer(h.healthy, h.detail ?? 'the application reports itself unhealthy'),
            (err: unknown) =>
              answer(false, `the application's health check failed: ${(err as Error)?.message}`),
          );
      return;
    }
    if (statusPath !== '' && path === statusPath) {
      poolStatus().then(
        (pool) => {
          const { type, body } = renderStatus(pool, q === -1 ? '' : url.slice(q + 1));
          res.writeHead(200, {
            'content-type': type,
            'cache-control': 'no-store',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        },
        () => res.writeHead(503).end(),
      );
      return;
    }
    // Returned, so that the adapter sees a rejected promise and ends that one request (500).
    return app(req, res);
  };
}

export async function runWorker(config: GatewayConfig, log: Logger): Promise<void> {
  // A message with no listener is lost, and the app may take a while to load: a 'shutdown' sent
  // meanwhile (the next reload's generation was ready first) would leave this worker serving until
  // the master's deadline killed it, requests and all. It is kept until the worker can act on it.
  let stopRequested = false;
  const earlyStop = (message: MasterMessage) => {
    if (message?.type === 'shutdown') stopRequested = true;
  };
  process.on('message', earlyStop);
  let app: Awaited<ReturnType<typeof loadApp>> | null = null;
  if (config.protocol !== 'cgi') {
    try {
      app = await loadApp(config.app);
    } catch (err) {
      // Written before the master hears of it: the master's one line naming the cause comes last.
      log.error('application failed to load', { err });
      await log.close();
      send({
        type: 'app-error',
        message: isGatewayError(err) ? err.message : `${errorTable.GW_ERR_APP_LOAD}: ${String(err)}`,
      });
      process.exit(1);
    }
  }
  let served = 0;
  let recycling = false;
  const onRequestDone = () => {
    served++;
    if (config.pmMaxRequests > 0 && served >= config.pmMaxRequests && !recycling) {
      recycling = true;
      send({ type: 'recycle', reason: 'max requests reached' });
    }
  };
  const counters: Counters = { requests: 0, inFlight: 0, lastRequest: null, lastActivity: performance.now() };
  const slowlog =
    config.slowlogTimeoutMs > 0
      ? startSlowlog({
          timeoutMs: config.slowlogTimeoutMs,
          path: config.slowlog,
          fields: { role: 'worker', worker: workerId(), pid: process.pid },
          reportFd: reportFd(),
        })
      : null;
  const started = Date.now();
  const elu = performance.eventLoopUtilization();
  let server: ReturnType<typeof createProtocolServer> | null = null;
  const ownStatus = (): WorkerStatus => {
    const stats = server?.stats();
    return {
      pid: process.pid,
      startTime: started,
      requests: counters.requests,
      inFlight: counters.inFlight,
      acceptedConnections: stats?.acceptedConnections ?? 0,
      keepAliveReuses: stats?.keepAliveReuses ?? 0,
      aborted: stats?.aborted ?? 0,
      slowRequests: slowlog?.count ?? 0,
      lastRequest: counters.lastRequest,
      memory: process.memoryUsage().rss,
      eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
    };
  };
  let nextId = 0;
  const waiting = new Map<number, (pool: PoolStatus) => void>();
  const poolStatus = () =>
    new Promise<PoolStatus>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, resolve);
      send({ type: 'status', id });
      setTimeout(() => {
        if (waiting.delete(id)) reject(new Error('no answer from the master'));
      }, 2000).unref();
    });
  const listener = wrapListener(
    config,
    app?.handler ?? (() => {}),
    app?.health,
    log,
    counters,
    poolStatus,
    onRequestDone,
    slowlog,
  );
  server = createProtocolServer({ config, listener, log });
  const protocolServer = server;
  // An error that escapes every request leaves state nobody can vouch for: the master starts a
  // replacement and this worker drains, as after max requests, instead of dying mid-request.
  containStrayErrors(log, () => {
    if (recycling) return;
    recycling = true;
    if (process.connected) send({ type: 'recycle', reason: 'an exception escaped every request' });
    else void shutdown();
  });

  // The heartbeat: the master reads liveness (a stuck event loop stops it), load and idleness
  // from it. Utilisation is measured over each interval.
  let lastElu = performance.eventLoopUtilization();
  const heartbeat = (): WorkerMessage => {
    const now = performance.eventLoopUtilization();
    const interval = performance.eventLoopUtilization(now, lastElu);
    lastElu = now;
    const stats = protocolServer.stats();
    return {
      type: 'beat',
      inFlight: counters.inFlight,
      connections: stats.connections,
      utilization: interval.utilization,
      idleMs: counters.inFlight > 0 ? 0 : Math.round(performance.now() - counters.lastActivity),
      requests: counters.requests,
      acceptedConnections: stats.acceptedConnections,
      slowRequests: slowlog?.count ?? 0,
      aborted: stats.aborted,
      keepAliveReuses: stats.keepAliveReuses,
    };
  };

  process.off('message', earlyStop);
  process.on('message', (message: MasterMessage, handle?: unknown) => {
    if (message?.type === 'collect') {
      const { id } = message;
      if (!app?.metrics) send({ type: 'stats', id, status: ownStatus() });
      else
        app.metrics().then(
          (appMetrics) => send({ type: 'stats', id, status: { ...ownStatus(), appMetrics } }),
          (err: unknown) => {
            log.warn('application metrics failed', { err });
            send({ type: 'stats', id, status: ownStatus() });
          },
        );
    } else if (message?.type === 'status-reply') {
      waiting.get(message.id)?.(message.pool);
      waiting.delete(message.id);
    } else if (message?.type === 'connection') {
      // ondemand: the master accepted this connection and hands it over.
      if (handle instanceof Socket) {
        if (stopping) handle.destroy();
        else protocolServer.server.emit('connection', handle);
      }
    } else if (message?.type === 'shutdown') void shutdown();
  });

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    // Connections still open at the deadline with nothing in flight are no news; requests still
    // in flight then are.
    const deadline = setTimeout(() => {
      const inFlight = server?.stats().requestsInFlight ?? 0;
      if (inFlight > 0) log.warn('drain deadline passed, closing what is left', { inFlight });
      else
        log.info('drain deadline passed, closing idle connections', {
          connections: server?.stats().connections,
        });
      server?.destroy();
    }, config.gracefulTimeoutMs);
    deadline.unref();
    await server?.close();
    await app?.close().catch((err: unknown) => log.warn('application close failed', { err }));
    clearTimeout(deadline);
    log.info('worker stopped', { requests: counters.requests });
    // The last counters go to the master (its pool-wide totals), then exit directly: the server is
    // closed, and disconnecting first races the master's reply.
    if (process.connected) process.send?.(heartbeat(), undefined, {}, () => process.exit(0));
    else process.exit(0);
    setTimeout(() => process.exit(0), 1000).unref();
  };
  // The master owns signals; a worker ignores the terminal's SIGINT and is told over IPC.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => void shutdown());
  const onReady = () => {
    send({ type: 'ready' });
    setInterval(() => {
      if (process.connected) send(heartbeat());
    }, HEARTBEAT_MS).unref();
  };
  if (stopRequested) {
    // Told to stop while the app was loading (a reload right after a reload): never listen.
    log.info('stopping before serving: the master said stop while the application loaded');
    void shutdown();
  } else if (config.pm === 'ondemand') {
    // The master owns the listening socket and hands connections over.
    onReady();
  } else {
    protocolServer.server.once('error', (err: NodeJS.ErrnoException) => {
      send({ type: 'listen-error', message: err.message, code: err.code });
      process.exit(1);
    });
    const { listen } = config;
    if (listen.kind === 'unix')
      protocolServer.server.listen({ path: listen.path, backlog: config.backlog }, () => {
        // Each time the socket is created (a lone worker's respawn creates it anew).
        const denied = applyListenPermissions(config);
        if (denied) {
          send({ type: 'listen-error', message: denied.message, code: denied.code });
          process.exit(1);
        }
        onReady();
      });
    else
      protocolServer.server.listen(
        { port: listen.port, host: listen.host, backlog: config.backlog },
        onReady,
      );
  }
}

function workerId(): number | undefined {
  return cluster.worker?.id;
}

/** The side channel to the master (see master.ts), if it gave one. */
function reportFd(): number | null {
  const fd = Number(process.env.GATEWAY_WORKER_REPORT_FD);
  return Number.isInteger(fd) && fd > 2 ? fd : null;
}
