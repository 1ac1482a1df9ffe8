/** Messages between the master and its workers (over the cluster IPC channel). */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'listen-error'; message: string; code: string | undefined }
  | { type: 'app-error'; message: string }
  | { type: 'recycle' };

export type MasterMessage = { type: 'shutdown' };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}
