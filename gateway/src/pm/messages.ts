/** Messages between the master and its workers (over the cluster IPC channel). */
import type { PoolStatus, WorkerStatus } from './status.js';

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'listen-error'; message: string; code: string | undefined }
  | { type: 'app-error'; message: string }
  | { type: 'recycle' }
  /** A worker asks for the pool's status (to answer the status page). */
  | { type: 'status'; id: number }
  /** A worker's own counters, answering `collect`. */
  | { type: 'stats'; id: number; status: WorkerStatus };

export type MasterMessage =
  | { type: 'shutdown' }
  | { type: 'collect'; id: number }
  | { type: 'status-reply'; id: number; pool: PoolStatus };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}
