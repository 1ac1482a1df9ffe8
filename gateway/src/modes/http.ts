/**
 * Plain node:http behind nginx proxy_pass: the baseline the other protocols are measured against.
 * Connections are accepted by our own net.Server and handed to an http.Server that never listens,
 * so a graceful close can stop accepting without cutting idle keep-alive connections at once
 * (Node's server.close() would, racing with nginx reusing them).
 */
import { createServer as createHttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { runListener } from '../http/adapter.js';
import { createSessionServer, newStats, sweepInterval } from './session-server.js';
import type { ProtocolServer, ProtocolServerOptions } from './types.js';

const DRAIN_IDLE_GRACE_MS = 1000;
const served = new WeakMap<Socket, number>();

type WriteRaw = (data: string, encoding: BufferEncoding, callback?: () => void) => boolean;

/** Runs `write` (one of ServerResponse's interim-response methods) with its bytes dropped. */
function withoutInterimBytes(res: ServerResponse, write: () => void): void {
  const target = res as unknown as { _writeRaw?: WriteRaw };
  target._writeRaw = (_data, _encoding, callback) => {
    if (typeof callback === 'function') process.nextTick(callback);
    return true;
  };
  try {
    write();
  } finally {
    delete target._writeRaw;
  }
}

/**
 * nginx's proxy_pass takes the first head it reads as the response: an interim one (100, 102,
 * 103) would become the client's final status, the real response a body that never ends. As in
 * the FastCGI and uwsgi modes, they are validated and called back exactly as node:http does, and
 * not sent.
 */
class ProxiedResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  override writeContinue(callback?: () => void): void {
    withoutInterimBytes(this, () => super.writeContinue(callback));
  }
  override writeProcessing(callback?: () => void): void {
    withoutInterimBytes(this, () => super.writeProcessing(callback));
  }
  override writeEarlyHints(hints: Record<string, string | string[]>, callback?: () => void): void {
    withoutInterimBytes(this, () => super.writeEarlyHints(hints, callback));
  }
}

export function createHttpModeServer(options: ProtocolServerOptions): ProtocolServer {
  const { config, listener, log } = options;
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
      IncomingMessage,
      ServerResponse: ProxiedResponse,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket as Socket & { encrypted?: true };
      // Over FastCGI and uwsgi nginx says HTTPS=on; here it sets X-Forwarded-Proto (replacing any a
      // client sent), and this port is nginx's alone. The request then looks like one on a TLS
      // socket, as it does in the other modes, so the app's links say https. Set per request:
      // nginx reuses its connections for requests of either scheme, one at a time.
      if (/^https$/i.test(String(req.headers['x-forwarded-proto']))) socket.encrypted = true;
      else delete socket.encrypted;
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
      runListener(listener, log, req, res, config.requestScope);
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
