/**
 * A stand-in worker link for the master's parts: what the master sent it, whether its channel is
 * up, the signals it got. The parts only send, check and signal; the real processes behind them
 * are exercised in pool.test.ts and nginx-pool.test.ts.
 */
import type { Socket } from 'node:net';
import type { Beat, MasterMessage } from '../../src/pm/messages.js';
import type { ScaleSettings } from '../../src/pm/scaler.js';
import type { WorkerLink } from '../../src/pm/slots.js';

export interface TestLink extends WorkerLink {
  sent: Array<{ message: MasterMessage; handle: Socket | undefined }>;
  killed: string[];
  connected: boolean;
  /** Runs the send callbacks with this error (a channel that failed). */
  failSends: Error | null;
}

export function link(id: number): TestLink {
  const l: TestLink = {
    id,
    process: {
      pid: 1000 + id,
      kill: (signal = 'SIGTERM') => {
        l.killed.push(signal);
        return true;
      },
    },
    sent: [],
    killed: [],
    connected: true,
    failSends: null,
    isConnected: () => l.connected,
    send: (message, handle, callback) => {
      l.sent.push({ message, handle });
      if (callback) queueMicrotask(() => callback(l.failSends));
      return true;
    },
    once: () => l,
  };
  return l;
}

export const scale: ScaleSettings = {
  mode: 'ondemand',
  maxChildren: 2,
  minSpare: 1,
  maxSpare: 2,
  idleTimeoutMs: 1000,
  busyUtilization: 0.75,
};

export function beat(fields: Partial<Beat> = {}): Beat {
  return {
    type: 'beat',
    inFlight: 0,
    connections: 0,
    utilization: 0,
    idleMs: 0,
    requests: 0,
    aborted: 0,
    keepAliveReuses: 0,
    acceptedConnections: 0,
    slowRequests: 0,
    ...fields,
  };
}

/** A clock the test moves. */
export function clock(start = 1_000_000) {
  const c = { now: start, read: () => c.now };
  return c;
}
