/**
 * Pool sizing for `dynamic` and `ondemand`, as a pure decision on the workers' last heartbeats.
 *
 * A Node worker serves many requests at once, so PHP-FPM's "a process is busy while it serves a
 * request" becomes:
 * - active: at least one request in flight (the status page's `active processes`);
 * - idle: no request in flight; `idleMs` is how long since its last request ended;
 * - busy: event-loop utilisation over the last interval at or above GATEWAY_PM_BUSY_UTILIZATION
 *   (another request would wait behind the ones it runs); the master also samples a worker whose
 *   heartbeat is late (its loop is blocked) as fully utilised;
 * - spare: not busy (it can take more work at once). A worker still starting counts as spare.
 * dynamic keeps min_spare..max_spare spare workers within max_children (forking 1, 2, 4 ... up to 32
 * per tick while short, stopping one surplus worker per tick, as PHP-FPM); ondemand forks on a
 * connection when none is running, one more per tick while every worker is busy, and stops a
 * worker idle for process_idle_timeout.
 */

export interface WorkerSample {
  id: number;
  /** Has sent its first heartbeat (serving). */
  ready: boolean;
  inFlight: number;
  /** Smoothed event-loop utilisation, 0 to 1. */
  utilization: number;
  idleMs: number;
}

export interface ScaleSettings {
  mode: 'dynamic' | 'ondemand';
  maxChildren: number;
  minSpare: number;
  maxSpare: number;
  idleTimeoutMs: number;
  /** 0 to 1. */
  busyUtilization: number;
}

export interface ScaleDecision {
  fork: number;
  /** Workers to drain and stop. */
  stop: number[];
  /** More workers were wanted than max_children allows. */
  maxChildrenReached: boolean;
}

export const MAX_SPAWN_RATE = 32;

export function isBusy(w: WorkerSample, s: ScaleSettings): boolean {
  return w.ready && w.utilization >= s.busyUtilization;
}

/**
 * `workers` are those not leaving (starting ones included); `spawnRate` is how many dynamic may
 * fork this tick (the caller doubles it while the pool stays short).
 */
export function decide(workers: readonly WorkerSample[], s: ScaleSettings, spawnRate = 1): ScaleDecision {
  const total = workers.length;
  const busy = workers.filter((w) => isBusy(w, s)).length;
  if (s.mode === 'dynamic') {
    const spare = total - busy;
    // Nothing stops while a worker starts: on the shared socket, the one stopped could be the last
    // one listening, and the socket would close until the new one listens.
    if (spare > s.maxSpare && workers.every((w) => w.ready)) {
      // The least loaded spare worker: fewest in flight, then idle the longest.
      const victim = workers
        .filter((w) => w.ready && !isBusy(w, s))
        .sort((a, b) => a.inFlight - b.inFlight || b.idleMs - a.idleMs)[0];
      return { fork: 0, stop: victim ? [victim.id] : [], maxChildrenReached: false };
    }
    if (spare < s.minSpare) {
      const wanted = s.minSpare - spare;
      const room = s.maxChildren - total;
      return {
        fork: Math.max(0, Math.min(wanted, room, spawnRate)),
        stop: [],
        maxChildrenReached: wanted > room,
      };
    }
    return { fork: 0, stop: [], maxChildrenReached: false };
  }
  const stop = workers
    .filter((w) => w.ready && w.inFlight === 0 && w.idleMs >= s.idleTimeoutMs)
    .map((w) => w.id);
  const allBusy = total > 0 && busy === total;
  if (allBusy && total < s.maxChildren) return { fork: 1, stop, maxChildrenReached: false };
  return { fork: 0, stop, maxChildrenReached: allBusy };
}
