/**
 * Password hashes in the formats Keystone stores (passlib's): bcrypt `$2b$…` and pbkdf2_sha512
 * `$pbkdf2-sha512$rounds$salt$checksum` (adapted base64). They are computed on a few threads of
 * their own (hash-thread.ts), never on the event loop, and those threads run at a lower priority
 * (IDENTITY_PASSWORD_HASH_NICE): a flood of logins takes only the CPU that token validation leaves.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { IdentityError } from '../errors.js';
import { hashWait, reportHashQueue } from '../metrics.js';
import type { HashJob, HashReply } from './hash-thread.js';

export interface HashPolicy {
  algorithm: 'bcrypt' | 'pbkdf2_sha512';
  rounds: number;
}

export interface HashingOptions {
  /** Threads, so hashes computed at once in this process; further jobs queue. */
  concurrency: number;
  /** How much nicer than the process the hashing threads run (0 = the same priority; 19 at most). */
  nice: number;
  /** Jobs that may wait for a thread; one more is refused (503 with Retry-After). Default 32. */
  queue?: number;
}

type Pending = {
  job: HashJob;
  resolve: (value: string | boolean) => void;
  reject: (e: Error) => void;
  /** The request's signal, while the job waits in the queue. */
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  startedAt: number;
  /** performance.now() when it was queued. */
  queued: number;
};

/** Keystone's body for a 503, and when to come back. */
export const hashingBusy = (retryAfter: number) =>
  new IdentityError(
    'IDN_ERR_UNAVAILABLE',
    'The service is temporarily unable to check passwords: too many are waiting. Please retry later.',
    { headers: { 'retry-after': String(retryAfter) } },
  );
/** The request went away while its check waited: nobody reads the answer. */
const abandoned = () =>
  new IdentityError('IDN_ERR_UNAVAILABLE', 'The request was abandoned before its password check ran.');
type JobInput = HashJob extends infer J ? (J extends HashJob ? Omit<J, 'id'> : never) : never;

/**
 * Threads are started on first use (a CGI process that never hashes starts none) and unreferenced
 * while idle, so they never keep a process alive. A thread that dies fails its one job; the next
 * job starts a new one.
 */
class HashPool {
  #options: Required<HashingOptions> = { concurrency: 1, nice: 10, queue: 32 };
  /** Mean milliseconds per job (moving average), for Retry-After. */
  #meanMs = 100;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Pending>();
  readonly #queue: Pending[] = [];
  /** Threads started under earlier settings: they finish their job, then go. */
  readonly #retired = new WeakSet<Worker>();
  #nextId = 1;
  #completed = 0;
  #dropped = 0;
  #refused = 0;
  /** 'change' whenever stats() may read differently. */
  readonly changes = new EventEmitter();

  stats(): HashingStats {
    return {
      running: this.#busy.size,
      queued: this.#queue.length,
      completed: this.#completed,
      dropped: this.#dropped,
      refused: this.#refused,
    };
  }

  constructor() {
    reportHashQueue(() => this.#queue.length);
  }

  configure(options: HashingOptions): void {
    this.#options = {
      concurrency: Math.max(1, options.concurrency),
      nice: options.nice,
      queue: Math.max(0, options.queue ?? 32),
    };
    for (const worker of this.#idle.splice(0)) void worker.terminate();
    for (const worker of this.#busy.keys()) this.#retired.add(worker);
  }

  /**
   * Runs the job on a thread, or queues it while every thread is busy. A full queue refuses the
   * job at once (a flood of logins must not delay every real one by minutes), and a queued job
   * whose `signal` aborts (its client went away) leaves the queue without being computed.
   */
  run(input: JobInput, signal?: AbortSignal): Promise<string | boolean> {
    if (signal?.aborted) return Promise.reject(abandoned());
    const free = this.#options.concurrency - this.#busy.size;
    if (free <= this.#queue.length && this.#queue.length >= this.#options.queue) {
      this.#refused++;
      this.changes.emit('change');
      const waiting = this.#queue.length + this.#busy.size;
      const seconds = Math.ceil((waiting * this.#meanMs) / this.#options.concurrency / 1000);
      return Promise.reject(hashingBusy(Math.max(1, seconds)));
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        job: { ...input, id: this.#nextId++ } as HashJob,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        startedAt: 0,
        queued: performance.now(),
      };
      if (signal) {
        pending.onAbort = () => {
          const at = this.#queue.indexOf(pending);
          if (at < 0) return; // already on a thread: its result is simply not used
          this.#queue.splice(at, 1);
          this.#dropped++;
          reject(abandoned());
          this.changes.emit('change');
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#queue.push(pending);
      this.#dispatch();
      this.changes.emit('change');
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const worker =
        this.#idle.pop() ??
        (this.#idle.length + this.#busy.size < this.#options.concurrency ? this.#spawn() : null);
      if (!worker) return;
      const pending = this.#queue.shift() as Pending;
      if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
      pending.startedAt = performance.now();
      hashWait.observe((performance.now() - pending.queued) / 1000);
      this.#busy.set(worker, pending);
      worker.ref();
      worker.postMessage(pending.job);
    }
  }

  #spawn(): Worker {
    const worker = new Worker(new URL('./hash-thread.js', import.meta.url), {
      workerData: { nice: this.#options.nice },
    });
    worker.on('message', (reply: HashReply) => {
      const pending = this.#busy.get(worker);
      this.#busy.delete(worker);
      worker.unref();
      if (this.#retired.has(worker)) void worker.terminate();
      else this.#idle.push(worker);
      if (pending) {
        this.#completed++;
        this.#meanMs = 0.8 * this.#meanMs + 0.2 * (performance.now() - pending.startedAt);
        if ('error' in reply) pending.reject(new Error(`password hashing failed: ${reply.error}`));
        else pending.resolve(reply.value);
      }
      this.#dispatch();
      this.changes.emit('change');
    });
    worker.on('error', (error) => this.#lose(worker, error));
    worker.on('exit', (code) => this.#lose(worker, new Error(`hashing thread exited (${code})`)));
    return worker;
  }

  #lose(worker: Worker, error: Error): void {
    const idle = this.#idle.indexOf(worker);
    if (idle >= 0) this.#idle.splice(idle, 1);
    const pending = this.#busy.get(worker);
    this.#busy.delete(worker);
    pending?.reject(error);
    this.#dispatch();
    this.changes.emit('change');
  }
}

/** What the pool is doing, and what it did since the process started. */
export interface HashingStats {
  /** Jobs on a thread now. */
  running: number;
  /** Jobs waiting for a thread. */
  queued: number;
  /** Jobs computed. */
  completed: number;
  /** Queued jobs dropped because their request was abandoned. */
  dropped: number;
  /** Jobs refused because the queue was full. */
  refused: number;
}

const pool = new HashPool();

export function hashingStats(): HashingStats {
  return pool.stats();
}

/** Emits 'change' whenever hashingStats() may read differently: wait on it rather than poll. */
export const hashingChanges: EventEmitter = pool.changes;

export function configureHashing(options: HashingOptions): void {
  pool.configure(options);
}

export async function hashPassword(password: string, policy: HashPolicy): Promise<string> {
  return String(await pool.run({ op: 'hash', password, ...policy }));
}

/** `signal`: the request's; when it aborts while the check still waits, the check is dropped. */
export async function verifyPassword(password: string, hash: string, signal?: AbortSignal): Promise<boolean> {
  return (await pool.run({ op: 'verify', password, hash }, signal)) === true;
}

let dummy: { policy: string; hash: Promise<string> } | null = null;
/**
 * A hash of the configured cost that matches no password: compared against when the user does
 * not exist, so an unknown name costs what a wrong password does and timing tells nothing.
 */
export function dummyHash(policy: HashPolicy): Promise<string> {
  const key = `${policy.algorithm}/${policy.rounds}`;
  if (dummy?.policy !== key)
    dummy = { policy: key, hash: hashPassword(randomBytes(16).toString('hex'), policy) };
  return dummy.hash;
}
