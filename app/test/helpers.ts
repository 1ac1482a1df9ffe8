/** A fresh database per test file (on the DATABASE_URL cluster), migrated and bootstrapped. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.js';
import { type IdentityConfig, loadConfig } from '../src/config.js';
import { createPool, type Db } from '../src/db.js';
import { migrate } from '../src/migrate.js';
import { createServices } from '../src/services.js';
import { setupKeys } from '../src/token/keys.js';

export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestDatabase {
  url: string;
  db: Db;
  config: IdentityConfig;
  drop(): Promise<void>;
}

export async function testDatabase(
  options: { bootstrap?: boolean; env?: Record<string, string>; cluster?: string } = {},
): Promise<TestDatabase> {
  // Another cluster than DATABASE_URL's: one a test may stop and start.
  const admin = options.cluster ?? process.env.DATABASE_URL;
  if (!admin) throw new Error('DATABASE_URL is not set: run the tests with scripts/test.sh');
  const name = `gh_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const keys = mkdtempSync(join(tmpdir(), 'keys-'));
  setupKeys(join(keys, 'fernet'));
  setupKeys(join(keys, 'credential'));
  setupKeys(join(keys, 'receipt'));
  const config = loadConfig({
    DATABASE_URL: url.href,
    IDENTITY_FERNET_KEY_REPOSITORY: join(keys, 'fernet'),
    IDENTITY_CREDENTIAL_KEY_REPOSITORY: join(keys, 'credential'),
    IDENTITY_RECEIPT_KEY_REPOSITORY: join(keys, 'receipt'),
    IDENTITY_PUBLIC_ENDPOINT: 'http://identity.test:5000',
    IDENTITY_PASSWORD_HASH_ROUNDS: '4',
    IDENTITY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ...options.env,
  });
  const db = createPool(url.href, 4);
  if (options.bootstrap !== false) {
    await migrate(db);
    await bootstrap(createServices(db, config), {
      adminUsername: 'admin',
      adminPassword: ADMIN_PASSWORD,
      adminProject: 'admin',
      region: 'RegionOne',
      publicUrl: 'http://identity.test:5000',
    });
  }
  return {
    url: url.href,
    db,
    config,
    async drop() {
      await db.end();
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      rmSync(keys, { recursive: true, force: true });
    },
  };
}

export function passwordAuth(scope?: unknown, password = ADMIN_PASSWORD) {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: 'admin', domain: { name: 'Default' }, password } },
      },
      ...(scope === undefined ? {} : { scope }),
    },
  };
}
