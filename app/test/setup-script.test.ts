/**
 * docker/gatehouse-setup.sh, the compose file's one-shot migrate service, run natively against the
 * test PostgreSQL: every step on the first run, nothing to do on the second, the generated admin
 * password kept and usable (and out of the log), the app's database role with its libpq password
 * file; a failing step stops the setup with a non-zero exit. And the image's
 * entry point, which turns POSTGRES_PASSWORD_FILE into PGPASSWORD.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createServices } from '../src/services.js';
import { testDatabase } from './helpers.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(repo, 'docker/gatehouse-setup.sh');

function setup(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'sh',
      [script, ...args],
      { env: { PATH: process.env.PATH ?? '', GATEHOUSE_ROOT: repo, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('gatehouse-setup', async () => {
  const database = await testDatabase({ bootstrap: false });
  const dir = mkdtempSync(join(tmpdir(), 'setup-'));
  const dbDir = mkdtempSync(join(tmpdir(), 'setup-db-'));
  const appRole = `gh_setup_${randomBytes(4).toString('hex')}`;
  after(async () => {
    await database.drop();
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${appRole}`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dbDir, { recursive: true, force: true });
  });
  const env = {
    DATABASE_URL: database.url,
    GATEHOUSE_STATE_DIR: dir,
    IDENTITY_FERNET_KEY_REPOSITORY: join(dir, 'fernet'),
    IDENTITY_CREDENTIAL_KEY_REPOSITORY: join(dir, 'credential'),
    IDENTITY_RECEIPT_KEY_REPOSITORY: join(dir, 'receipt'),
    IDENTITY_PASSWORD_HASH_ROUNDS: '4',
    GATEHOUSE_HTTPS_PORT: '8123',
    POSTGRES_APP_USER: appRole,
    GATEHOUSE_DB_DIR: dbDir,
  };

  test('first run: migrations, the app role, bootstrap at https://localhost:GATEHOUSE_HTTPS_PORT, keys, a generated password', async () => {
    const run = await setup(env);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(
      lines[0] ?? '',
      /^\[gatehouse-setup\] generated the admin password, kept in .*--print-admin-password/,
    );
    assert.match(run.stdout, /migrate: applied 0001_/);
    assert.match(
      run.stdout,
      new RegExp(`app-role: created role ${appRole}: rows only, no DDL, password set`),
    );
    assert.match(run.stdout, /bootstrap: bootstrapped: user admin, .* at https:\/\/localhost:8123\/v3\//);
    assert.match(run.stdout, /fernet-setup: created keys in /);
    assert.match(run.stdout, /credential-setup: created keys in /);
    assert.match(run.stdout, /receipt-setup: created keys in /);
    const stored = join(dir, 'admin-password');
    assert.equal(statSync(stored).mode & 0o777, 0o600);
    const password = readFileSync(stored, 'utf8');
    const services = createServices(database.db, database.config);
    const admin = await services.identity.findUser({ name: 'admin', domain: { id: 'default' } });
    assert.ok(admin);
    assert.ok(await services.identity.hasPassword(admin.id, password));
  });

  test('attack: the generated admin password is in the setup log (docker compose logs migrate); it is printed on request only', async () => {
    const password = readFileSync(join(dir, 'admin-password'), 'utf8');
    const first = await setup(env);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(!first.stdout.includes(password) && !first.stderr.includes(password));
    const printed = await setup(env, ['--print-admin-password']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, `${password}\n`);
    const chosen = await setup({ ...env, GATEHOUSE_STATE_DIR: join(dir, 'none') }, [
      '--print-admin-password',
    ]);
    assert.equal(chosen.code, 1);
    assert.match(chosen.stderr, /no generated admin password/);
  });

  test("the gateway's credentials: the app role's password file (0600); the role logs in with it and is no superuser", async () => {
    const file = join(dbDir, 'password');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // As the gateway connects: PGUSER, and PGPASSWORD from PGPASSWORD_FILE (the entry point).
    const url = new URL(database.url);
    const client = new pg.Client({
      host: url.hostname,
      port: Number(url.port),
      database: url.pathname.slice(1),
      user: appRole,
      password: readFileSync(file, 'utf8'),
    });
    await client.connect();
    try {
      const me = await client.query<{ rolsuper: boolean }>(
        'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
      );
      assert.equal(me.rows[0]?.rolsuper, false);
    } finally {
      await client.end();
    }
  });

  test('second run: nothing to do, the same password', async () => {
    const password = readFileSync(join(dir, 'admin-password'), 'utf8');
    const run = await setup(env);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /generated/);
    assert.match(run.stdout, /migrate: the database is up to date/);
    assert.match(run.stdout, /fernet-setup: keys already exist/);
    assert.equal(readFileSync(join(dir, 'admin-password'), 'utf8'), password);
  });

  test('a step that fails stops the setup: exit 1, no later step runs', async () => {
    const run = await setup({ ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /\[gatehouse-setup\] migrate failed/);
    assert.doesNotMatch(run.stdout, /bootstrap/);
  });
});

describe('gatehouse-entrypoint', () => {
  const entrypoint = join(repo, 'docker/gatehouse-entrypoint.sh');
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'sh',
        [entrypoint, 'sh', '-c', 'printf "%s|%s" "$PGPASSWORD" "$(env | grep -c ^POSTGRES_PASSWORD_FILE=)"'],
        { env: { PATH: process.env.PATH ?? '', ...env } },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });

  test('POSTGRES_PASSWORD_FILE becomes PGPASSWORD for the command it runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'entry-'));
    try {
      const file = join(dir, 'pg-password');
      writeFileSync(file, 's3cret pass');
      const result = await run({ PGPASSWORD: 'from-env', POSTGRES_PASSWORD_FILE: file });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 's3cret pass|0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("PGPASSWORD_FILE (the gateway: the app role's password) becomes PGPASSWORD too", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'entry-'));
    try {
      const file = join(dir, 'password');
      writeFileSync(file, 'app role secret');
      const result = await run({ PGPASSWORD_FILE: file });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'app role secret|0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without it, PGPASSWORD passes through unchanged', async () => {
    const result = await run({ PGPASSWORD: 'from-env' });
    assert.equal(result.stdout, 'from-env|0');
  });

  test('an unreadable POSTGRES_PASSWORD_FILE stops the container with one line naming it', async () => {
    const result = await run({ POSTGRES_PASSWORD_FILE: '/nonexistent/pg-password' });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      'gatehouse-entrypoint: POSTGRES_PASSWORD_FILE=/nonexistent/pg-password: expected a readable file\n',
    );
    assert.equal(result.stdout, '');
  });
});
