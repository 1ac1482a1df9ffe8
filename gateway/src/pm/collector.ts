/**
 * Status collection: the master asks every serving worker for fresh counters (`collect`), gathers
 * the `stats` answers (a worker that has not answered within the wait is left out), and adds the
 * pool-wide counters only the master knows (restarts, max active, max children reached, the
 * listen queue, the counters of workers that have gone) into one PoolStatus. A worker that misses
 * the wait counts with its last heartbeat; totals never go backwards.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';
import type { ListenQueue } from './listen-queue.js';
import type { MasterMessage } from './messages.js';
import { COUNTERS, type Slots, type Totals } from './slots.js';
import type { PoolStatus, WorkerStatus } from './status.js';

/** How long a collection waits for a slow worker. */
export const COLLECT_WAIT_MS = 250;

type AppMetrics = MetricObjectWithValues<MetricValue<string>>[];

export interface PoolIdentity {
  pool: string;
  processManager: string;
  protocol: string;
  startTime: number;
}

export class StatusCollector {
  readonly #slots: Slots;
  readonly #identity: PoolIdentity;
  readonly #readQueue: () => ListenQueue;
  readonly #waitMs: number;
  readonly #waiting = new Map<number, (status: WorkerStatus) => void>();
  #nextId = 0;
  restarts = 0;
  maxActive = 0;
  maxChildrenReached = 0;
  maxListenQueue = 0;
  readonly #masterAccepted: (() => number) | null;
  /**
   * The highest total of each counter reported so far: a worker's last beat can be older than an
   * answer it gave before (and a SIGKILLed worker takes what it served since its last beat with
   * it), so a total is never reported lower than one reported before.
   */
  readonly #reported: Totals = {
    requests: 0,
    acceptedConnections: 0,
    aborted: 0,
    keepAliveReuses: 0,
    slowRequests: 0,
  };

  /**
   * `masterAccepted`: ondemand's count of the connections the master accepted (there the workers
   * count handed-over sockets); elsewhere the workers' counts add up.
   */
  constructor(
    slots: Slots,
    identity: PoolIdentity,
    readQueue: () => ListenQueue,
    masterAccepted: (() => number) | null = null,
    waitMs = COLLECT_WAIT_MS,
  ) {
    this.#slots = slots;
    this.#identity = identity;
    this.#readQueue = readQueue;
    this.#masterAccepted = masterAccepted;
    this.#waitMs = waitMs;
  }

  /** Samples the accept queue, keeping its maximum. */
  listenQueue(): ListenQueue {
    const q = this.#readQueue();
    if (q.queue !== null) this.maxListenQueue = Math.max(this.maxListenQueue, q.queue);
    return q;
  }

  /** A worker's answer to `collect`. */
  stats(id: number, status: WorkerStatus): void {
    this.#waiting.get(id)?.(status);
  }

  /** Fresh counters from every serving worker (a slow one is left out after the wait). */
  collect(): Promise<PoolStatus> {
    return new Promise((resolve) => {
      const id = this.#nextId++;
      const serving = this.#slots.serving();
      const got: WorkerStatus[] = [];
      const done = () => {
        this.#waiting.delete(id);
        clearTimeout(timer);
        resolve(this.#status(got));
      };
      const timer = setTimeout(done, this.#waitMs);
      this.#waiting.set(id, (status) => {
        got.push(status);
        if (got.length === serving.length) done();
      });
      for (const slot of serving) slot.worker.send({ type: 'collect', id } satisfies MasterMessage);
      if (serving.length === 0) done();
    });
  }

  /** The app's metrics of each present worker (by pid), as last reported. */
  readonly #appLive = new Map<number, AppMetrics>();
  /** The app's counters and histograms of workers that have gone, added up. */
  #appRetired: AppMetrics = [];

  /**
   * The hosted app's metrics across the pool, in OpenMetrics text: every present worker's latest
   * report plus the counters and histograms of the workers gone (their gauges go with them).
   */
  async #appMetrics(got: WorkerStatus[]): Promise<string | undefined> {
    for (const w of got) if (w.appMetrics) this.#appLive.set(w.pid, w.appMetrics as AppMetrics);
    const present = new Set(this.#slots.all().map((s) => s.worker.process.pid));
    const gone: AppMetrics[] = [];
    for (const [pid, metrics] of this.#appLive) {
      if (present.has(pid)) continue;
      this.#appLive.delete(pid);
      gone.push(metrics.filter((m) => ['counter', 'histogram'].includes(String(m.type))));
    }
    if (gone.length > 0)
      this.#appRetired = (await AggregatorRegistry.aggregate([
        this.#appRetired,
        ...gone,
      ]).getMetricsAsJSON()) as AppMetrics;
    const all = [this.#appRetired, ...this.#appLive.values()].filter((m) => m.length > 0);
    if (all.length === 0) return undefined;
    const registry = AggregatorRegistry.aggregate(all);
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    return (await registry.metrics()).replace(/# EOF\n?$/, '');
  }

  async #status(got: WorkerStatus[]): Promise<PoolStatus> {
    const appMetrics = await this.#appMetrics(got).catch(() => undefined);
    const workers = got.map(({ appMetrics: _, ...w }) => w);
    const active = got.filter((w) => w.inFlight > 0).length;
    this.maxActive = Math.max(this.maxActive, active);
    const queue = this.listenQueue();
    const totals = this.#slots.totals(got);
    const master = this.#masterAccepted?.();
    if (master !== undefined) totals.acceptedConnections = master;
    for (const c of COUNTERS) this.#reported[c] = Math.max(this.#reported[c], totals[c]);
    const r = this.#reported;
    return {
      ...this.#identity,
      acceptedConnections: r.acceptedConnections,
      slowRequests: r.slowRequests,
      requests: r.requests,
      abortedRequests: r.aborted,
      keepAliveReuses: r.keepAliveReuses,
      listenQueue: queue.queue ?? 0,
      maxListenQueue: this.maxListenQueue,
      listenQueueLength: queue.length,
      maxActiveProcesses: this.maxActive,
      maxChildrenReached: this.maxChildrenReached,
      restarts: this.restarts,
      workers: workers.sort((a, b) => a.pid - b.pid),
      ...(appMetrics ? { appMetrics } : {}),
    };
  }
}
