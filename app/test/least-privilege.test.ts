/**
 * Least privilege in PostgreSQL: the role that migrates owns the schema; the role the app serves
 * with (`manage app-role`) reads and writes rows and nothing more. Each attack is what a flaw in
 * the app (an SQL injection, a stolen connection string) could do with the superuser it used to
 * connect as.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { build } from '../src/app.js';
import { createPool } from '../src/db.js';
import { issue } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

const manage = fileURLToPath(new URL('../src/manage.js', import.meta.url));

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [manage, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** The error PostgreSQL answers `sql` with, as the app's role; null when it succeeds. */
async function refusal(client: pg.Client, sql: string): Promise<string | null> {
  try {
    await client.query(sql);
    return null;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe('the app database role', () => {
  let database: TestDatabase;
  const role = `gh_app_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'app-role-'));
  let appUrl: string;
  let client: pg.Client;

  before(async () => {
    database = await testDatabase();
    writeFileSync(join(dir, 'password'), `${password}\n`, { mode: 0o600 });
    const made = await run(['app-role', role, '--password-file', join(dir, 'password')], {
      DATABASE_URL: database.url,
    });
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, new RegExp(`^created role ${role}: rows only, no DDL, password set`));
    const url = new URL(database.url);
    url.username = role;
    url.password = password;
    appUrl = url.href;
    client = new pg.Client({ connectionString: appUrl });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await database.drop();
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  test('attack: the app drops or alters a table, or creates its own (it owns nothing, may create nothing)', async () => {
    assert.equal(await refusal(client, 'DROP TABLE project'), '42501');
    assert.equal(await refusal(client, 'ALTER TABLE project ADD COLUMN backdoor text'), '42501');
    assert.equal(await refusal(client, 'CREATE TABLE loot (x text)'), '42501');
    assert.equal(
      await refusal(client, 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$'),
      '42501',
    );
    assert.equal(await refusal(client, 'TRUNCATE revocation_event'), '42501');
    assert.equal(await refusal(client, 'DROP TRIGGER project_invalidate ON project'), '42501');
  });

  test('attack: the app acts as a superuser (roles, server files, programs)', async () => {
    const me = await client.query<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
      'SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user',
    );
    assert.deepEqual(me.rows[0], { rolsuper: false, rolcreaterole: false, rolcreatedb: false });
    assert.equal(await refusal(client, 'CREATE ROLE intruder LOGIN SUPERUSER'), '42501');
    assert.equal(await refusal(client, "SELECT pg_read_file('PG_VERSION')"), '42501');
    assert.equal(await refusal(client, "COPY (SELECT 1) TO PROGRAM 'true'"), '42501');
    assert.equal(await refusal(client, 'CREATE DATABASE intruder'), '42501');
  });

  test('attack: the app rewrites the migration record (to replay or skip a migration)', async () => {
    assert.equal(await refusal(client, "DELETE FROM schema_migration WHERE name LIKE '0001%'"), '42501');
    assert.equal(await refusal(client, 'SELECT name FROM schema_migration'), null);
  });

  test('the identity service serves as that role: logins, reads and writes, revocations heard', async () => {
    const db = createPool(appUrl, 2);
    const app = await build({ config: { ...database.config, databaseUrl: appUrl }, db });
    try {
      const { status, token } = await issue(
        app,
        passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }),
      );
      assert.equal(status, 201);
      const created = await app.inject({
        method: 'POST',
        url: '/v3/projects',
        headers: { 'x-auth-token': token },
        payload: { project: { name: 'made-by-the-app-role' } },
      });
      assert.equal(created.statusCode, 201, created.body);
      const revoked = await app.inject({
        method: 'DELETE',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': token, 'x-subject-token': token },
      });
      assert.equal(revoked.statusCode, 204);
    } finally {
      await app.close();
      await db.end();
    }
  });

  test('run again, it updates the role: a superuser bit given meanwhile is taken back, later tables are granted', async () => {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(`ALTER ROLE ${role} SUPERUSER`);
      await admin.query('CREATE TABLE later_table (id text PRIMARY KEY)');
      const again = await run(['app-role', role], { DATABASE_URL: database.url });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`^updated role ${role}: rows only, no DDL\\n$`));
      const me = await client.query<{ rolsuper: boolean }>(
        'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
      );
      assert.equal(me.rows[0]?.rolsuper, false);
      assert.equal(await refusal(client, "INSERT INTO later_table VALUES ('x')"), null);
      assert.equal(await refusal(client, 'DROP TABLE later_table'), '42501');
    } finally {
      await admin.end();
    }
  });

  test('the role that migrates cannot be made the app role (it would demote the owner)', async () => {
    const owner = new URL(database.url).username || 'postgres';
    const run1 = await run(['app-role', owner], { DATABASE_URL: database.url });
    assert.equal(run1.code, 1);
    assert.match(run1.stderr, /runs the migrations/);
  });
});
