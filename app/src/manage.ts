#!/usr/bin/env node
/**
 * gatehouse-manage, like keystone-manage:
 *   migrate            apply db/migrations (safe when several processes run it at once)
 *   bootstrap          Default domain, admin project/user/roles, region, identity endpoints
 *                      [--bootstrap-password P] [--bootstrap-username U] [--bootstrap-project-name N]
 *                      [--bootstrap-region-id R] [--bootstrap-public-url URL]
 *                      [--bootstrap-internal-url URL] [--bootstrap-admin-url URL]
 *                      (defaults from IDENTITY_ADMIN_PASSWORD(_FILE), IDENTITY_ADMIN_USERNAME,
 *                      IDENTITY_ADMIN_PROJECT, IDENTITY_REGION, IDENTITY_PUBLIC_ENDPOINT)
 *   fernet-setup       create the token key repository if it has no keys
 *   fernet-rotate      promote the staged key, stage a new one, keep IDENTITY_FERNET_MAX_ACTIVE_KEYS
 *   app-role ROLE      create or update the app's database role: log in, read and write rows,
 *                      nothing more (run as the role that migrates) [--password-file FILE]
 *   credential-setup   create the credential key repository if it has no keys
 *   receipt-setup      create the auth receipt key repository if it has no keys
 *   receipt-rotate     as fernet-rotate for receipts, keeping IDENTITY_RECEIPT_MAX_ACTIVE_KEYS
 *   schema-ready       exit 0 once this role can connect and every migration of this build is
 *                      applied [--wait SECONDS] (retried every second meanwhile): a replica
 *                      started before the one-shot setup finished waits for it
 *   revocation-purge   drop revocation events older than the longest token life
 *   policy-generate    the policy rules in force as a commented policy.yaml [--output-file F]
 *                      (as oslopolicy-sample-generator; reads IDENTITY_POLICY_* and the file)
 *   mapping-engine     --rules F --input F [--prefix P] [--engine-debug]: a federation mapping
 *                      run over an assertion, as keystone-manage mapping_engine prints it
 * Every command is idempotent. Errors: one line on stderr, exit code 1.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bootstrap } from './bootstrap.js';
import { loadConfig } from './config.js';
import { createPool } from './db.js';
import { applyAppRole } from './db-role.js';
import { mappingEngine } from './federation/tester.js';
import { migrate, pendingMigrations } from './migrate.js';
import { createPolicy } from './policy/file.js';
import { generateSample } from './policy/generate.js';
import { createServices } from './services.js';
import { rotateKeys, setupKeys } from './token/keys.js';

const USAGE =
  'usage: manage.js migrate | bootstrap [--bootstrap-password P …] | app-role ROLE [--password-file F] | fernet-setup | fernet-rotate | credential-setup | receipt-setup | receipt-rotate | schema-ready [--wait S] | revocation-purge | policy-generate [--output-file F] | mapping-engine --rules F --input F [--prefix P] [--engine-debug]';

async function main(argv: string[]): Promise<string> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'bootstrap-password': { type: 'string' },
      'bootstrap-username': { type: 'string' },
      'bootstrap-project-name': { type: 'string' },
      'bootstrap-region-id': { type: 'string' },
      'bootstrap-public-url': { type: 'string' },
      'bootstrap-internal-url': { type: 'string' },
      'bootstrap-admin-url': { type: 'string' },
      'password-file': { type: 'string' },
      'output-file': { type: 'string' },
      rules: { type: 'string' },
      input: { type: 'string' },
      prefix: { type: 'string' },
      'engine-debug': { type: 'boolean' },
      wait: { type: 'string' },
    },
  });
  const [command, ...extra] = positionals;
  const roleName = command === 'app-role' ? extra.shift() : undefined;
  if (extra.length > 0) throw new Error(`unexpected argument ${extra[0]}; ${USAGE}`);
  if (command === 'mapping-engine') {
    // No database, no configuration: the files only, as keystone-manage's tester.
    const { rules, input } = values;
    if (!rules || !input) throw new Error('mapping-engine needs --rules F and --input F');
    return mappingEngine({
      rulesPath: rules,
      rulesText: readFileSync(rules, 'utf8'),
      inputPath: input,
      inputText: readFileSync(input, 'utf8'),
      prefix: values.prefix,
      debug: values['engine-debug'] ?? false,
    });
  }
  const config = loadConfig();
  // The policy file is the service's concern (and policy-generate's): migrate and bootstrap run
  // before it is validated at start-up, so a bad file is reported there, once.
  const commandConfig = { ...config, policyFile: null };
  const withDb = async <T>(work: (db: ReturnType<typeof createPool>) => Promise<T>): Promise<T> => {
    // Bounded connecting, not running: a migration or a purge may rightly take long.
    const db = createPool(config.databaseUrl, 2, null, { connectMs: config.databaseConnectTimeout * 1000 });
    try {
      return await work(db);
    } finally {
      await db.end();
    }
  };
  switch (command) {
    case 'migrate':
      return withDb(async (db) => {
        const applied = await migrate(db);
        return applied.length ? `applied ${applied.join(', ')}` : 'the database is up to date';
      });
    case 'bootstrap': {
      const password = values['bootstrap-password'] ?? config.adminPassword;
      if (!password)
        throw new Error(
          'bootstrap needs --bootstrap-password or IDENTITY_ADMIN_PASSWORD (or IDENTITY_ADMIN_PASSWORD_FILE)',
        );
      const publicUrl = values['bootstrap-public-url'] ?? config.publicEndpoint;
      if (!publicUrl) throw new Error('bootstrap needs --bootstrap-public-url or IDENTITY_PUBLIC_ENDPOINT');
      if (!/^https?:\/\/[^\s/]+/.test(publicUrl))
        throw new Error(`--bootstrap-public-url ${publicUrl}: expected an http(s) URL`);
      const username = values['bootstrap-username'] ?? config.adminUsername;
      const project = values['bootstrap-project-name'] ?? config.adminProject;
      const region = values['bootstrap-region-id'] ?? config.region;
      return withDb(async (db) => {
        await bootstrap(createServices(db, commandConfig), {
          adminUsername: username,
          adminPassword: password,
          adminProject: project,
          region,
          publicUrl,
          ...(values['bootstrap-internal-url'] ? { internalUrl: values['bootstrap-internal-url'] } : {}),
          ...(values['bootstrap-admin-url'] ? { adminUrl: values['bootstrap-admin-url'] } : {}),
        });
        return `bootstrapped: user ${username}, project ${project}, region ${region}, endpoints at ${publicUrl.replace(/\/+$/, '')}/v3/`;
      });
    }
    case 'app-role': {
      if (!roleName || !/^[a-z_][a-z0-9_]{0,62}$/.test(roleName))
        throw new Error(`app-role needs a role name (lower case letters, digits, _); ${USAGE}`);
      const file = values['password-file'];
      const password = file === undefined ? null : readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      if (password === '') throw new Error(`--password-file ${file}: the file is empty`);
      return withDb(async (db) => {
        const done = await applyAppRole(db, { role: roleName, password });
        return `${done} role ${roleName}: rows only, no DDL${password === null ? '' : ', password set'}`;
      });
    }
    case 'fernet-setup':
      return setupKeys(config.fernetKeyRepository)
        ? `created keys in ${config.fernetKeyRepository}`
        : `keys already exist in ${config.fernetKeyRepository}`;
    case 'fernet-rotate':
      return `keys now: ${rotateKeys(config.fernetKeyRepository, config.fernetMaxActiveKeys).join(', ')}`;
    case 'credential-setup':
      return setupKeys(config.credentialKeyRepository)
        ? `created keys in ${config.credentialKeyRepository}`
        : `keys already exist in ${config.credentialKeyRepository}`;
    case 'receipt-setup':
      return setupKeys(config.receiptKeyRepository)
        ? `created keys in ${config.receiptKeyRepository}`
        : `keys already exist in ${config.receiptKeyRepository}`;
    case 'receipt-rotate':
      if (!existsSync(config.receiptKeyRepository))
        throw new Error(`no keys in ${config.receiptKeyRepository}: run receipt-setup first`);
      return `keys now: ${rotateKeys(config.receiptKeyRepository, config.receiptMaxActiveKeys).join(', ')}`;
    case 'schema-ready': {
      const wait = Number(values.wait ?? '0');
      if (!Number.isInteger(wait) || wait < 0) throw new Error(`--wait ${values.wait}: expected seconds`);
      const deadline = Date.now() + wait * 1000;
      for (;;) {
        let why: string;
        try {
          const pending = await withDb((db) => pendingMigrations(db));
          if (pending.length === 0) return 'the schema is current';
          why = `not applied yet: ${pending.join(', ')}`;
        } catch (err) {
          why = (err as Error).message;
        }
        if (Date.now() >= deadline) throw new Error(`the schema is not ready: ${why}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    case 'revocation-purge':
      return withDb(async (db) => {
        // Keystone keeps events for the token lifetime plus [revoke] expiration_buffer (1800 s).
        const purged = await createServices(db, commandConfig).revocation.purge(
          config.tokenExpiration + config.allowExpiredWindow + 1800,
        );
        return `purged ${purged} revocation events`;
      });
    case 'policy-generate': {
      const policy = createPolicy(config);
      const sample = generateSample(policy);
      const file = values['output-file'];
      if (!file) return sample.trimEnd();
      writeFileSync(file, sample);
      return `wrote ${policy.effective.length} rules to ${file}`;
    }
    default:
      throw new Error(command ? `unknown command ${command}; ${USAGE}` : USAGE);
  }
}

main(process.argv.slice(2)).then(
  (message) => process.stdout.write(`${message}\n`),
  (err: unknown) => {
    // One line: the message only, never a stack (and never a password: none is in a message).
    process.stderr.write(`${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
    process.exit(1);
  },
);
