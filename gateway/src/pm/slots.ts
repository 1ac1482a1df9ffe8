/**
 * The master's bookkeeping of its workers: one slot per worker process (generation, leaving,
 * ready, last heartbeat, smoothed utilisation, connections handed over), what the scaler samples,
 * which serving worker takes the next connection, and the counters of workers that have gone (so
 * the pool's totals never go backwards). No processes are started or signalled here.
 */
import type { Socket } from 'node:net';
import type { Beat, MasterMessage } from './messages.js';
import { HEARTBEAT_MS } from './messages.js';
import { isBusy, type ScaleSettings, type WorkerSample } from './scaler.js';
import type { WorkerStatus } from './status.js';

/** The counters a worker keeps from its start, which the pool adds up. */
export const COUNTERS = [
  'requests',
  'acceptedConnections',
  'aborted',
  'keepAliveReuses',
  'slowRequests',
] as const;
export type Counter = (typeof COUNTERS)[number];
export type Totals = Record<Counter, number>;
const zero = (): Totals => ({
  requests: 0,
  acceptedConnections: 0,
  aborted: 0,
  keepAliveReuses: 0,
  slowRequests: 0,
});

/** What the pool's parts use of a worker process (a cluster Worker has it all). */
export interface WorkerLink {
  readonly id: number;
  readonly process: { readonly pid?: number | undefined; kill(signal?: NodeJS.Signals): boolean };
  isConnected(): boolean;
  send(message: MasterMessage, handle?: Socket, callback?: (error: Error | null) => void): boolean;
  once(event: 'exit', listener: () => void): unknown;
}

export interface Slot {
  worker: WorkerLink;
  generation: number;
  /** Set when the master asked it to go: its exit is expected. */
  leaving: boolean;
  ready: boolean;
  /** Date.now() of the last heartbeat (or of readiness). */
  lastBeat: number;
  beat: Beat | null;
  /** Smoothed event-loop utilisation. */
  utilization: number;
  /** ondemand: connections handed over since the last heartbeat. */
  handed: number;
  /** Slow requests its watchdog logged (reported on the side channel). */
  watchdogSlow: number;
  onReady: Array<() => void>;
}

export class Slots {
  readonly #slots = new Map<number, Slot>();
  readonly #scale: ScaleSettings;
  readonly #maxChildren: number;
  readonly #now: () => number;
  /** Counters of workers that have gone. */
  retiredAccepted = 0;
  retiredSlow = 0;
  /** Every counter of workers that have gone, from their last beat. */
  readonly retired: Totals = zero();

  constructor(scale: ScaleSettings, now: () => number = Date.now) {
    this.#scale = scale;
    this.#maxChildren = scale.maxChildren;
    this.#now = now;
  }

  get size(): number {
    return this.#slots.size;
  }

  all(): Slot[] {
    return [...this.#slots.values()];
  }

  get(id: number): Slot | undefined {
    return this.#slots.get(id);
  }

  /** Workers not asked to go (starting ones included). */
  staying(): Slot[] {
    return this.all().filter((s) => !s.leaving);
  }

  /** Workers asked to go that have not exited yet. */
  leaving(): Slot[] {
    return this.all().filter((s) => s.leaving);
  }

  /** Workers that answer: ready, staying and connected. */
  serving(): Slot[] {
    return this.all().filter((s) => s.ready && !s.leaving && s.worker.isConnected());
  }

  add(worker: WorkerLink, generation: number): Slot {
    const slot: Slot = {
      worker,
      generation,
      leaving: false,
      ready: false,
      lastBeat: this.#now(),
      beat: null,
      utilization: 0,
      handed: 0,
      watchdogSlow: 0,
      onReady: [],
    };
    this.#slots.set(worker.id, slot);
    return slot;
  }

  /** The worker has exited: its counters join the retired totals. */
  remove(slot: Slot): void {
    this.#slots.delete(slot.worker.id);
    this.retiredAccepted += slot.beat?.acceptedConnections ?? 0;
    this.retiredSlow += (slot.beat?.slowRequests ?? 0) + slot.watchdogSlow;
    for (const c of COUNTERS) this.retired[c] += slot.beat?.[c] ?? 0;
    this.retired.slowRequests += slot.watchdogSlow;
  }

  /**
   * Pool-wide totals of every counter: the workers gone, then each present worker by its fresh
   * answer when it gave one (`fresh`, by pid), else by its last beat, so a worker that misses a
   * collection still counts (with what it last reported).
   */
  totals(fresh: readonly WorkerStatus[]): Totals {
    const answered = new Set(fresh.map((w) => w.pid));
    const out = { ...this.retired };
    for (const w of fresh) for (const c of COUNTERS) out[c] += w[c];
    for (const slot of this.all()) {
      out.slowRequests += slot.watchdogSlow;
      const pid = slot.worker.process.pid;
      if (pid !== undefined && answered.has(pid)) continue;
      for (const c of COUNTERS) out[c] += slot.beat?.[c] ?? 0;
    }
    return out;
  }

  beat(slot: Slot, beat: Beat): void {
    slot.lastBeat = this.#now();
    slot.beat = beat;
    slot.utilization = slot.utilization * 0.7 + beat.utilization * 0.3;
    slot.handed = 0;
  }

  /** The worker serves: runs what waited for it. */
  ready(slot: Slot): void {
    slot.ready = true;
    slot.lastBeat = this.#now();
    for (const f of slot.onReady.splice(0)) f();
  }

  /** A worker whose beat is late is probably blocked: it counts as fully busy. */
  late(slot: Slot): boolean {
    return slot.ready && this.#now() - slot.lastBeat > 3 * HEARTBEAT_MS;
  }

  /** Ready workers silent for longer than `limitMs`: their event loop is stuck. */
  stuck(limitMs: number): Slot[] {
    const now = this.#now();
    return this.all().filter((s) => s.ready && now - s.lastBeat > limitMs && s.worker.isConnected());
  }

  sample(slot: Slot): WorkerSample {
    const late = this.late(slot);
    return {
      id: slot.worker.id,
      ready: slot.ready,
      inFlight: slot.beat?.inFlight ?? 0,
      utilization: late ? 1 : slot.utilization,
      idleMs: slot.handed > 0 || late ? 0 : (slot.beat?.idleMs ?? 0),
    };
  }

  /**
   * The least loaded serving worker. One whose beat is late (probably blocked) is taken only when
   * no other worker is starting and none may be started: else the connection waits for a new one.
   */
  pick(): Slot | null {
    let best: Slot | null = null;
    let bestLoad = Number.POSITIVE_INFINITY;
    const staying = this.staying();
    const mayWait = staying.some((s) => !s.ready) || staying.length < this.#maxChildren;
    for (const slot of this.serving()) {
      if (this.late(slot) && mayWait) continue;
      const load =
        (isBusy(this.sample(slot), this.#scale) ? 1e6 : 0) + (slot.beat?.connections ?? 0) + slot.handed;
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Pool-wide accepted connections: the gone, the serving (fresh counts), the leaving (last beat). */
  accepted(fresh: number): number {
    return (
      this.retiredAccepted +
      fresh +
      this.leaving().reduce((n, s) => n + (s.beat?.acceptedConnections ?? 0), 0)
    );
  }

  /** Pool-wide slow requests, counted the same way, plus what every watchdog reported. */
  slow(fresh: number): number {
    return (
      this.retiredSlow +
      this.all().reduce((n, s) => n + s.watchdogSlow, 0) +
      fresh +
      this.leaving().reduce((n, s) => n + (s.beat?.slowRequests ?? 0), 0)
    );
  }
}

/**
 * Respawn back-off during a death storm: past `threshold` unexpected exits within `intervalMs`,
 * each further respawn waits 250 ms, doubling, up to 30 s (PHP-FPM's emergency_restart_*).
 */
export class DeathStorm {
  readonly #threshold: number;
  readonly #intervalMs: number;
  readonly #deaths: number[] = [];
  /** Respawns wait until then. */
  notBefore = 0;

  constructor(threshold: number, intervalMs: number) {
    this.#threshold = threshold;
    this.#intervalMs = intervalMs;
  }

  /** Records an unexpected exit at `now`; the delay before its respawn, and whether it is a storm. */
  death(now: number): { delayMs: number; storm: boolean; deaths: number } {
    const deaths = this.#deaths;
    deaths.push(now);
    while (deaths.length > 0 && (deaths[0] as number) < now - this.#intervalMs) deaths.shift();
    const storm = this.#threshold > 0 && deaths.length >= this.#threshold;
    const delayMs = storm ? Math.min(30_000, 250 * 2 ** (deaths.length - this.#threshold)) : 0;
    this.notBefore = now + delayMs;
    return { delayMs, storm, deaths: deaths.length };
  }
}
