/**
 * A net.Server whose connections are protocol sessions: counts them, and drains them gracefully
 * (idle ones close, busy ones close after their request) when the server closes. It is the gate
 * of the gateway port: a connection past the cap or from a client not allowed is closed before a
 * session exists, and a periodic sweep lets sessions close connections whose input is late (no
 * timer per request).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AllowedClients } from '../allow-list.js';
import type { GatewayConfig, Protocol } from '../config.js';
import type { GatewayErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ProtocolServer, ServerStats } from './types.js';

export interface Session {
  readonly busy: boolean;
  drain(): void;
  destroy(): void;
  /** Closes the connection if a request's input is past its deadline (`now`: Date.now()). */
  sweep?(now: number): void;
}

export interface SessionServerOptions {
  protocol: Protocol;
  stats: ServerStats;
  config: Pick<GatewayConfig, 'listen' | 'listenAllowedClients' | 'headerTimeoutMs' | 'bodyTimeoutMs'>;
  /** Connections held at once; past it new ones are closed. */
  maxConnections: number;
  log: Logger;
}

/** How often input deadlines are checked: a quarter of the shortest one, within these bounds. */
const SWEEP_MIN_MS = 25;
const SWEEP_MAX_MS = 1000;
const REFUSAL_LOG_INTERVAL_MS = 1000;

export function sweepInterval(config: Pick<GatewayConfig, 'headerTimeoutMs' | 'bodyTimeoutMs'>): number {
  const shortest = Math.min(config.headerTimeoutMs, config.bodyTimeoutMs);
  return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
}

/** One warning a second per reason at most: a flood of refused connections must not flood the log. */
function refusalLog(log: Logger): (code: GatewayErrorCode, remote: string | undefined) => void {
  const last = new Map<GatewayErrorCode, { at: number; suppressed: number }>();
  return (code, remote) => {
    const now = Date.now();
    const entry = last.get(code);
    if (entry && now - entry.at < REFUSAL_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    log.warn('connection refused', { code, remote, suppressed: entry?.suppressed ?? 0 });
    last.set(code, { at: now, suppressed: 0 });
  };
}

export function newStats(): ServerStats {
  return {
    connections: 0,
    acceptedConnections: 0,
    requestsInFlight: 0,
    requestsTotal: 0,
    keepAliveReuses: 0,
    aborted: 0,
    protocolErrors: 0,
    timedOut: 0,
    refusedConnections: 0,
  };
}

export function createSessionServer(
  options: SessionServerOptions,
  startSession: (socket: Socket) => Session,
): ProtocolServer {
  const { protocol, stats, config, maxConnections } = options;
  const sessions = new Set<Session>();
  let closing: Promise<void> | null = null;
  let onAllClosed: (() => void) | null = null;
  // A unix socket's clients are whoever its permissions let in; the list is for TCP clients.
  const allowed: AllowedClients | null = config.listen.kind === 'tcp' ? config.listenAllowedClients : null;
  const refused = refusalLog(options.log);
  const refuse = (socket: Socket, code: GatewayErrorCode) => {
    stats.refusedConnections++;
    refused(code, socket.remoteAddress);
    socket.on('error', () => {});
    socket.destroy();
  };

  // noDelay: Nagle off on every accepted socket, set once by the server (no extra setsockopt).
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    // Connections handed over by the master (ondemand) arrive here too, so both gates are here
    // rather than only in net.Server's maxConnections.
    if (allowed && !allowed.allows(socket.remoteAddress)) {
      refuse(socket, 'GW_ERR_CLIENT_NOT_ALLOWED');
      return;
    }
    if (stats.connections >= maxConnections) {
      refuse(socket, 'GW_ERR_MAX_CONNECTIONS');
      return;
    }
    stats.acceptedConnections++;
    stats.connections++;
    const session = startSession(socket);
    sessions.add(session);
    if (closing) session.drain();
    socket.on('close', () => {
      stats.connections--;
      sessions.delete(session);
      if (closing && sessions.size === 0) onAllClosed?.();
    });
  });
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const session of sessions) session.sweep?.(now);
  }, sweepInterval(config));
  sweeper.unref();

  return {
    protocol,
    server,
    stats: () => ({ ...stats }),
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        let serverClosed = !server.listening;
        const check = () => {
          if (serverClosed && sessions.size === 0) {
            clearInterval(sweeper);
            resolve();
          }
        };
        onAllClosed = check;
        if (server.listening)
          server.close(() => {
            serverClosed = true;
            check();
          });
        for (const session of sessions) session.drain();
        check();
      });
      return closing;
    },
    destroy(): void {
      clearInterval(sweeper);
      if (server.listening) server.close();
      for (const session of sessions) session.destroy();
    },
  };
}
