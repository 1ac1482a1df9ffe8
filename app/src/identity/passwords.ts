/**
 * Password hashes in the formats Keystone stores (passlib's): bcrypt `$2b$…` and pbkdf2_sha512
 * `$pbkdf2-sha512$rounds$salt$checksum` (adapted base64). Both run on libuv's thread pool
 * (native bcrypt, crypto.pbkdf2), never on the event loop, so a burst of logins cannot stall
 * token validation in the same process.
 */
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcrypt';

const pbkdf2Async = promisify(pbkdf2);

/**
 * At most `limit` hashes run at once in this process. libuv's pool has 4 threads; on a small
 * machine four bcrypt hashes would take every core from the event loop, and token validation
 * (pure CPU on the event loop) would starve while logins pour in. Waiting logins queue here.
 */
let limit = 1;
let running = 0;
const waiting: Array<() => void> = [];
export function setHashConcurrency(n: number): void {
  limit = Math.max(1, n);
}
async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export interface HashPolicy {
  algorithm: 'bcrypt' | 'pbkdf2_sha512';
  rounds: number;
}

// passlib's "ab64": standard base64 with '.' for '+' and no padding.
const ab64 = (b: Buffer) => b.toString('base64').replaceAll('+', '.').replace(/=+$/, '');
const fromAb64 = (s: string) => Buffer.from(s.replaceAll('.', '+'), 'base64');

export function hashPassword(password: string, policy: HashPolicy): Promise<string> {
  return limited(() => hash(password, policy));
}

async function hash(password: string, policy: HashPolicy): Promise<string> {
  if (policy.algorithm === 'bcrypt') return bcrypt.hash(password, policy.rounds);
  const salt = randomBytes(16);
  const sum = await pbkdf2Async(password, salt, policy.rounds, 64, 'sha512');
  return `$pbkdf2-sha512$${policy.rounds}$${ab64(salt)}$${ab64(sum)}`;
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return limited(() => verify(password, hash));
}

async function verify(password: string, hash: string): Promise<boolean> {
  if (hash.startsWith('$pbkdf2-sha512$')) {
    const [, , rounds, salt, sum] = hash.split('$');
    const expected = fromAb64(sum ?? '');
    if (!rounds || !salt || expected.length !== 64) return false;
    const actual = await pbkdf2Async(password, fromAb64(salt), Number(rounds), 64, 'sha512');
    return timingSafeEqual(actual, expected);
  }
  if (/^\$2[aby]\$/.test(hash)) return bcrypt.compare(password, hash);
  return false;
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
