import type { RequestListener } from 'node:http';
import type { Server } from 'node:net';
import type { GatewayConfig, Protocol } from '../config.js';
import type { Logger } from '../log.js';
import type { ServerStats } from '../session/types.js';

// The counters are the sessions' (session/types.ts); the modes report them.
export type { ServerStats } from '../session/types.js';

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
