#!/usr/bin/env node
/**
 * gatehouse-manage, like keystone-manage:
 *   migrate            apply db/migrations (safe when several processes run it at once)
 *   bootstrap          Default domain, admin project/user/roles, region, identity endpoints
 *   fernet-setup       create the token key repository if it has no keys
 *   fernet-rotate      promote the staged key, stage a new one, keep IDENTITY_FERNET_MAX_ACTIVE_KEYS
 *   credential-setup   create the credential key repository if it has no keys
 * Configuration from the environment (see app/src/config.ts). Errors: one line, exit code 1.
 */
import { bootstrap } from './bootstrap.js';
import { loadConfig } from './config.js';
import { createPool } from './db.js';
import { migrate } from './migrate.js';
import { rotateKeys, setupKeys } from './token/keys.js';

async function main(command: string | undefined): Promise<string> {
  const config = loadConfig();
  switch (command) {
    case 'migrate': {
      const db = createPool(config.databaseUrl, 1);
      try {
        const applied = await migrate(db);
        return applied.length ? `applied ${applied.join(', ')}` : 'the database is up to date';
      } finally {
        await db.end();
      }
    }
    case 'bootstrap': {
      if (!config.adminPassword)
        throw new Error('IDENTITY_ADMIN_PASSWORD (or IDENTITY_ADMIN_PASSWORD_FILE) is required');
      const db = createPool(config.databaseUrl, 1);
      try {
        await bootstrap(db, {
          adminUsername: config.adminUsername,
          adminPassword: config.adminPassword,
          adminProject: config.adminProject,
          region: config.region,
          publicUrl: config.publicEndpoint ?? 'http://localhost:8080',
          hashRounds: config.passwordHashRounds,
        });
        return `bootstrapped: user ${config.adminUsername}, project ${config.adminProject}, region ${config.region}`;
      } finally {
        await db.end();
      }
    }
    case 'fernet-setup':
      return setupKeys(config.fernetKeyRepository)
        ? `created keys in ${config.fernetKeyRepository}`
        : 'keys already exist';
    case 'fernet-rotate':
      return `keys now: ${rotateKeys(config.fernetKeyRepository, config.fernetMaxActiveKeys).join(', ')}`;
    case 'credential-setup':
      return setupKeys(config.credentialKeyRepository)
        ? `created keys in ${config.credentialKeyRepository}`
        : 'keys already exist';
    default:
      throw new Error(
        'usage: gatehouse-manage migrate|bootstrap|fernet-setup|fernet-rotate|credential-setup',
      );
  }
}

main(process.argv[2]).then(
  (message) => process.stdout.write(`${message}\n`),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
