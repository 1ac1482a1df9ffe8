import type { RequestListener } from 'node:http';
import type { Server } from 'node:net';
import type { GatewayConfig, Protocol } from '../config.js';
import type { Logger } from '../log.js';

/** Counters a protocol server keeps for the status page and metrics. */
export interface ServerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  acceptedConnections: number;
  /** Requests being handled now. */
  requestsInFlight: number;
  /** Requests completed since start. */
  requestsTotal: number;
  /** Requests that arrived on a connection that had already carried one (keep-alive reuse). */
  keepAliveReuses: number;
  /** Requests whose client went away (connection closed or ABORT_REQUEST) before the response ended. */
  aborted: number;
  /** Connections closed because of malformed protocol input. */
  protocolErrors: number;
  /** Connections closed because a request's params or body did not arrive in time. */
  timedOut: number;
  /** Connections closed at once: past the connection cap, or from a client not allowed. */
  refusedConnections: number;
}

/**
 * A listener-agnostic server for one protocol. It is created unlistening: the process manager
 * decides how it listens (its own socket, a socket shared by the pool, or handles from the master).
 */
export interface ProtocolServer {
  readonly protocol: Protocol;
  readonly server: Server;
  stats(): ServerStats;
  /**
   * Graceful stop: stop accepting, close idle connections now and busy ones as soon as their
   * requests end (never mid-request). Resolves when every connection has closed.
   */
  close(): Promise<void>;
  /** Hard stop: destroy every connection now. */
  destroy(): void;
}

export interface ProtocolServerOptions {
  config: GatewayConfig;
  listener: RequestListener;
  log: Logger;
}
