/**
 * A net.Server whose connections are protocol sessions: counts them, and drains them gracefully
 * (idle ones close, busy ones close after their request) when the server closes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Protocol } from '../config.js';
import type { ProtocolServer, ServerStats } from './types.js';

export interface Session {
  readonly busy: boolean;
  drain(): void;
  destroy(): void;
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
  };
}

export function createSessionServer(
  protocol: Protocol,
  stats: ServerStats,
  maxConnections: number,
  startSession: (socket: Socket) => Session,
): ProtocolServer {
  const sessions = new Set<Session>();
  let closing: Promise<void> | null = null;
  let onAllClosed: (() => void) | null = null;

  // noDelay: Nagle off on every accepted socket, set once by the server (no extra setsockopt).
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
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
  if (maxConnections > 0) server.maxConnections = maxConnections;

  return {
    protocol,
    server,
    stats: () => ({ ...stats }),
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        let serverClosed = !server.listening;
        const check = () => {
          if (serverClosed && sessions.size === 0) resolve();
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
      if (server.listening) server.close();
      for (const session of sessions) session.destroy();
    },
  };
}
