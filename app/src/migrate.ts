/**
 * Forward-only migrations: db/migrations/NNNN_name.sql applied in order, each in its own
 * transaction, recorded in schema_migration with its SHA-256, under an advisory lock so that
 * several processes starting at once apply each file exactly once. A file changed (or gone)
 * after it was applied stops the run before anything is applied: the database would no longer
 * be what the files say.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Db, Tx } from './db.js';

const LOCK_KEY = 4_711_2025; // any constant shared by every process of this service
export const migrationsDir = fileURLToPath(new URL('../../../db/migrations/', import.meta.url));

/**
 * The migrations of this build that the database has not recorded (all of them when it has no
 * schema yet). Read only: the app's role may ask, for a replica to wait until the schema is current.
 */
export async function pendingMigrations(db: Db, dir = migrationsDir): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort();
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('schema_migration') AS t");
  if (!exists.rows[0]?.t) return files;
  const done = new Set(
    (await db.query<{ name: string }>('SELECT name FROM schema_migration')).rows.map((r) => r.name),
  );
  return files.filter((f) => !done.has(f));
}

export async function migrate(db: Db, dir = migrationsDir): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort();
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    let checksums = await hasChecksums(client);
    const done = new Map(
      (
        await client.query<{ name: string; checksum: string | null }>(
          `SELECT name, ${checksums ? 'checksum' : 'NULL AS checksum'} FROM schema_migration`,
        )
      ).rows.map((r) => [r.name, r.checksum]),
    );
    for (const [file, recorded] of done) {
      if (recorded === null) continue;
      const path = `${dir}/${file}`;
      if (!existsSync(path)) throw new Error(`migration ${file} was applied but its file is gone`);
      if (checksum(readFileSync(path, 'utf8')) !== recorded)
        throw new Error(
          `migration ${file} was changed after it was applied: restore it, and put the change in a new migration`,
        );
    }
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        checksums ||= await hasChecksums(client);
        if (checksums)
          await client.query('INSERT INTO schema_migration (name, checksum) VALUES ($1, $2)', [
            file,
            checksum(sql),
          ]);
        else await client.query('INSERT INTO schema_migration (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
    // Files applied before checksums were recorded: their checksum as the files are now.
    if (checksums) {
      const unrecorded = await client.query<{ name: string }>(
        'SELECT name FROM schema_migration WHERE checksum IS NULL',
      );
      for (const { name } of unrecorded.rows) {
        const path = `${dir}/${name}`;
        if (!existsSync(path)) continue;
        await client.query('UPDATE schema_migration SET checksum = $2 WHERE name = $1', [
          name,
          checksum(readFileSync(path, 'utf8')),
        ]);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    client.release();
  }
  return applied;
}

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

async function hasChecksums(client: Tx): Promise<boolean> {
  const found = await client.query(
    `SELECT 1 FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'schema_migration' AND column_name = 'checksum'`,
  );
  return found.rowCount === 1;
}
