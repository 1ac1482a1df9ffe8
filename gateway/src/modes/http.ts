/**
 * Plain node:http behind nginx proxy_pass: the baseline the other protocols are measured against.
 * Connections are accepted by our own net.Server and handed to an http.Server that never listens,
 * so a graceful close can stop accepting without cutting idle keep-alive connections at once
 * (Node's server.close() would, racing with nginx reusing them).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createSessionServer, newStats, sweepInterval } from './session-server.js';
import type { ProtocolServer, ProtocolServerOptions } from './types.js';

const DRAIN_IDLE_GRACE_MS = 1000;
const served = new WeakMap<Socket, number>();

export function createHttpModeServer(options: ProtocolServerOptions): ProtocolServer {
  const { config, listener } = options;
  const stats = newStats();
  let draining = false;
  const http = createHttpServer(
    {
      keepAliveTimeout: config.idleTimeoutMs,
      // node:http's own slow-client bounds, from the same settings as the other modes: headers
      // within the header timeout, the whole request (headers and body) within both.
      headersTimeout: config.headerTimeoutMs,
      requestTimeout: config.headerTimeoutMs + config.bodyTimeoutMs,
      connectionsCheckingInterval: sweepInterval(config),
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      const count = served.get(socket) ?? 0;
      served.set(socket, count + 1);
      if (count > 0) stats.keepAliveReuses++;
      stats.requestsInFlight++;
      if (draining) res.setHeader('connection', 'close');
      res.once('close', () => {
        stats.requestsInFlight--;
        if (res.writableFinished) stats.requestsTotal++;
        else stats.aborted++;
      });
      listener(req, res);
    },
  );
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // node:http's headersTimeout or requestTimeout: the client was too slow to send its request.
      stats.timedOut++;
      options.log.warn('request input timed out, connection closed', {
        code: 'GW_ERR_REQUEST_INPUT_TIMEOUT',
        remote: socket.remoteAddress,
      });
      if (socket.writable) socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      else socket.destroy();
      return;
    }
    stats.protocolErrors++;
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    options.log.debug('malformed HTTP input', { err });
  });

  // Connection tracking (idle detection, header and request timeouts) starts on 'listening'; this
  // server never listens itself, so it is told.
  http.emit('listening');

  const sessions = createSessionServer(
    { protocol: 'http', stats, config, maxConnections: config.maxConnections, log: options.log },
    (socket) => {
      http.emit('connection', socket);
      return {
        get busy() {
          return stats.requestsInFlight > 0;
        },
        drain() {
          if (draining) return;
          draining = true;
          setTimeout(
            () => setInterval(() => http.closeIdleConnections(), 250).unref(),
            DRAIN_IDLE_GRACE_MS,
          ).unref();
        },
        destroy: () => socket.destroy(),
      };
    },
  );
  return {
    ...sessions,
    async close() {
      await sessions.close();
      http.close(() => {}); // stops the connection-checking interval; nothing is listening
    },
  };
}
