/**
 * Migrations record each file's checksum and refuse to run when an applied file has changed or
 * gone (a change belongs in a new migration); a database migrated before checksums existed gets
 * them recorded on its next migrate.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { migrate, migrationsDir } from '../src/migrate.js';
import { type TestDatabase, testDatabase } from './helpers.js';

const shipped = readdirSync(migrationsDir)
  .filter((f) => f.endsWith('.sql'))
  .sort();

describe('migration checksums', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const fresh = async () => {
    const t: TestDatabase = await testDatabase({ bootstrap: false });
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    cleanups.push(
      () => t.drop(),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    return { t, dir };
  };
  const rows = async (t: TestDatabase) =>
    (
      await t.db.query<{ name: string; checksum: string | null }>(
        'SELECT name, checksum FROM schema_migration ORDER BY name',
      )
    ).rows;

  test('every applied file is recorded with its SHA-256; a second run applies nothing', async () => {
    const { t, dir } = await fresh();
    cpSync(migrationsDir, dir, { recursive: true });
    assert.deepEqual(await migrate(t.db, dir), shipped);
    const recorded = await rows(t);
    assert.deepEqual(
      recorded.map((r) => r.name),
      shipped,
    );
    for (const r of recorded) assert.match(String(r.checksum), /^[0-9a-f]{64}$/, r.name);
    assert.deepEqual(await migrate(t.db, dir), []);
  });

  test('an applied file that changed stops the run before anything new is applied', async () => {
    const { t, dir } = await fresh();
    cpSync(migrationsDir, dir, { recursive: true });
    await migrate(t.db, dir);
    const first = shipped[0] as string;
    appendFileSync(join(dir, first), '\n-- edited after it was applied\n');
    writeFileSync(join(dir, '9999_new.sql'), 'CREATE TABLE added_after (id int);\n');
    await assert.rejects(migrate(t.db, dir), {
      message: `migration ${first} was changed after it was applied: restore it, and put the change in a new migration`,
    });
    const table = await t.db.query("SELECT to_regclass('added_after') AS t");
    assert.equal(table.rows[0].t, null, 'the new migration was not applied');
    rmSync(join(dir, first));
    await assert.rejects(migrate(t.db, dir), {
      message: `migration ${first} was applied but its file is gone`,
    });
  });

  test('a database migrated before checksums existed gets them on its next migrate', async () => {
    const { t, dir } = await fresh();
    const before = shipped.filter((f) => f < '0004_');
    for (const f of before) cpSync(join(migrationsDir, f), join(dir, f));
    assert.deepEqual(await migrate(t.db, dir), before);
    const columns = await t.db.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'schema_migration' AND column_name = 'checksum'",
    );
    assert.equal(columns.rowCount, 0, 'the old table has no checksum column');
    cpSync(migrationsDir, dir, { recursive: true });
    assert.deepEqual(await migrate(t.db, dir), shipped.slice(before.length));
    for (const r of await rows(t)) assert.match(String(r.checksum), /^[0-9a-f]{64}$/, r.name);
    // Recorded now: a later edit of an old file is refused.
    appendFileSync(join(dir, before[0] as string), '\n-- edited\n');
    await assert.rejects(migrate(t.db, dir), /was changed after it was applied/);
  });
});
