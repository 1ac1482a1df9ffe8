/**
 * The body of one password-hashing thread (see passwords.ts). It lowers its own scheduling
 * priority first, so that while logins keep every hashing thread busy the event loops that
 * validate tokens still get the cores first; then it hashes and verifies, one job at a time,
 * with the synchronous bcrypt and pbkdf2 calls (blocking this thread only).
 */
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import bcrypt from 'bcrypt';

export type HashJob =
  | { id: number; op: 'hash'; password: string; algorithm: 'bcrypt' | 'pbkdf2_sha512'; rounds: number }
  | { id: number; op: 'verify'; password: string; hash: string };

export type HashReply = { id: number; value: string | boolean } | { id: number; error: string };

// passlib's "ab64": standard base64 with '.' for '+' and no padding.
const ab64 = (b: Buffer) => b.toString('base64').replaceAll('+', '.').replace(/=+$/, '');
const fromAb64 = (s: string) => Buffer.from(s.replaceAll('.', '+'), 'base64');

/**
 * Makes this thread `by` steps nicer than it started (at most 19). On Linux a thread has an id
 * of its own, and setpriority() on it changes that thread alone; elsewhere (no
 * /proc/thread-self) the thread keeps the process's priority.
 */
function lowerPriority(by: number): void {
  if (by <= 0) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + by));
  } catch {
    // Not Linux, or not allowed: hashing runs at the process's priority.
  }
}

function run(job: HashJob): string | boolean {
  if (job.op === 'hash') {
    if (job.algorithm === 'bcrypt') return bcrypt.hashSync(job.password, job.rounds);
    const salt = randomBytes(16);
    const sum = pbkdf2Sync(job.password, salt, job.rounds, 64, 'sha512');
    return `$pbkdf2-sha512$${job.rounds}$${ab64(salt)}$${ab64(sum)}`;
  }
  const { password, hash } = job;
  if (hash.startsWith('$pbkdf2-sha512$')) {
    const [, , rounds, salt, sum] = hash.split('$');
    const expected = fromAb64(sum ?? '');
    const iterations = Number(rounds);
    if (!Number.isInteger(iterations) || iterations < 1 || !salt || expected.length !== 64) return false;
    return timingSafeEqual(pbkdf2Sync(password, fromAb64(salt), iterations, 64, 'sha512'), expected);
  }
  if (/^\$2[aby]\$/.test(hash)) return bcrypt.compareSync(password, hash);
  return false;
}

if (parentPort) {
  const port = parentPort;
  lowerPriority(Number((workerData as { nice?: number } | undefined)?.nice ?? 0));
  port.on('message', (job: HashJob) => {
    let reply: HashReply;
    try {
      reply = { id: job.id, value: run(job) };
    } catch (error) {
      reply = { id: job.id, error: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply);
  });
}
