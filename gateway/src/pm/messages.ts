/** Messages between the master and its workers (over the cluster IPC channel). */
import type { PoolStatus, WorkerStatus } from './status.js';

/** How often a worker reports to the master; a stuck event loop stops the beat. */
export const HEARTBEAT_MS = 100;

/** A worker's heartbeat: liveness, load and idleness, as the pool manager reads them. */
export interface Beat {
  type: 'beat';
  /** Requests being handled now. */
  inFlight: number;
  /** Connections open now. */
  connections: number;
  /** Event-loop utilisation over the interval since the previous beat, 0 to 1. */
  utilization: number;
  /** Milliseconds since the last request ended; 0 while one is in flight. */
  idleMs: number;
  /** Since the worker started. */
  requests: number;
  acceptedConnections: number;
  slowRequests: number;
  /** Requests whose client went away first, since the worker started. */
  aborted: number;
  /** Requests on an already used connection, since the worker started. */
  keepAliveReuses: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'listen-error'; message: string; code: string | undefined }
  | { type: 'app-error'; message: string }
  /** Replace me: after max requests, or when an error escaped every request. */
  | { type: 'recycle'; reason: string }
  /** A worker asks for the pool's status (to answer the status page). */
  | { type: 'status'; id: number }
  /** A worker's own counters, answering `collect`. */
  | { type: 'stats'; id: number; status: WorkerStatus }
  | Beat;

export type MasterMessage =
  | { type: 'shutdown' }
  | { type: 'collect'; id: number }
  | { type: 'status-reply'; id: number; pool: PoolStatus }
  /** ondemand: an accepted connection, sent with its socket handle. */
  | { type: 'connection' };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}
