/**
 * A Fernet key repository as Keystone keeps one: files named 0, 1, 2, … each holding a key.
 * 0 is staged (decrypts only, becomes primary at the next rotation), the highest is primary
 * (encrypts), the rest are secondary (decrypt). Rotation promotes the staged key, stages a new
 * one, and removes the oldest beyond max_active_keys.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { FernetKey } from './fernet.js';

function indexes(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^\d+$/.test(f))
    .map(Number)
    .sort((a, b) => a - b);
}

function writeKey(dir: string, index: number): void {
  const path = join(dir, String(index));
  writeFileSync(`${path}.tmp`, FernetKey.generate(), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** Creates the repository with a staged key 0 and a primary key 1 when it has no keys. */
export function setupKeys(dir: string): boolean {
  // Keys given read-only (Swarm secrets, a mounted repository) are left as they are.
  if (existsSync(dir) && indexes(dir).length > 0) return false;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (indexes(dir).length > 0) return false;
  writeKey(dir, 0);
  writeKey(dir, 1);
  return true;
}

export function rotateKeys(dir: string, maxActiveKeys: number): number[] {
  const current = indexes(dir);
  if (current.length === 0) throw new Error(`no keys in ${dir}: run fernet-setup first`);
  const next = (current.at(-1) as number) + 1;
  renameSync(join(dir, '0'), join(dir, String(next)));
  writeKey(dir, 0);
  const after = indexes(dir);
  // Keep the staged key and the newest max_active_keys - 1 others.
  const removable = after.filter((i) => i !== 0);
  while (removable.length > Math.max(1, maxActiveKeys - 1)) rmSync(join(dir, String(removable.shift())));
  return indexes(dir);
}

/** Keys for use: primary first, then the others by descending index (0, staged, last). */
export function loadKeys(dir: string): FernetKey[] {
  const found = indexes(dir);
  if (found.length === 0) throw new Error(`no Fernet keys in ${dir}: run fernet-setup`);
  return found.sort((a, b) => b - a).map((i) => new FernetKey(readFileSync(join(dir, String(i)), 'utf8')));
}

/**
 * loadKeys, re-read only when the repository changes: a rotation renames and writes files, which
 * changes the directory's mtime, so one stat per call keeps every worker current without reading
 * the keys on each request.
 */
export function keyLoader(dir: string): () => FernetKey[] {
  let stamp = -1;
  let keys: FernetKey[] = [];
  return () => {
    const mtime = statSync(dir).mtimeMs;
    if (mtime !== stamp) {
      keys = loadKeys(dir);
      stamp = mtime;
    }
    return keys;
  };
}
