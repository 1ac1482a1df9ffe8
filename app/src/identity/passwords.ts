/**
 * Password hashes in the formats Keystone stores (passlib's): bcrypt `$2b$…` and pbkdf2_sha512
 * `$pbkdf2-sha512$rounds$salt$checksum` (adapted base64). They are computed on a few threads of
 * their own (hash-thread.ts), never on the event loop, and those threads run at a lower priority
 * (IDENTITY_PASSWORD_HASH_NICE): a flood of logins takes only the CPU that token validation leaves.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
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
}

type Pending = {
  job: HashJob;
  resolve: (value: string | boolean) => void;
  reject: (e: Error) => void;
  /** performance.now() when it was queued. */
  queued: number;
};
type JobInput = HashJob extends infer J ? (J extends HashJob ? Omit<J, 'id'> : never) : never;

/**
 * Threads are started on first use (a CGI process that never hashes starts none) and unreferenced
 * while idle, so they never keep a process alive. A thread that dies fails its one job; the next
 * job starts a new one.
 */
class HashPool {
  #options: HashingOptions = { concurrency: 1, nice: 10 };
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Pending>();
  readonly #queue: Pending[] = [];
  /** Threads started under earlier settings: they finish their job, then go. */
  readonly #retired = new WeakSet<Worker>();
  #nextId = 1;

  constructor() {
    reportHashQueue(() => this.#queue.length);
  }

  configure(options: HashingOptions): void {
    this.#options = { concurrency: Math.max(1, options.concurrency), nice: options.nice };
    for (const worker of this.#idle.splice(0)) void worker.terminate();
    for (const worker of this.#busy.keys()) this.#retired.add(worker);
  }

  run(input: JobInput): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({
        job: { ...input, id: this.#nextId++ } as HashJob,
        resolve,
        reject,
        queued: performance.now(),
      });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const worker =
        this.#idle.pop() ??
        (this.#idle.length + this.#busy.size < this.#options.concurrency ? this.#spawn() : null);
      if (!worker) return;
      const pending = this.#queue.shift() as Pending;
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
        if ('error' in reply) pending.reject(new Error(`password hashing failed: ${reply.error}`));
        else pending.resolve(reply.value);
      }
      this.#dispatch();
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
  }
}

const pool = new HashPool();

export function configureHashing(options: HashingOptions): void {
  pool.configure(options);
}

export async function hashPassword(password: string, policy: HashPolicy): Promise<string> {
  return String(await pool.run({ op: 'hash', password, ...policy }));
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  return (await pool.run({ op: 'verify', password, hash })) === true;
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
