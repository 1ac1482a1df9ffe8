/**
 * Policies and domain configuration through the real front door: Debian's nginx and the
 * gateway's FastCGI server (through-nginx.ts) in front of the app. The real `openstack` client
 * creates, lists, shows, updates and deletes policies; domain configuration, which the client
 * has no commands for, is driven over HTTP through the same nginx.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { bootstrap } from '../src/bootstrap.js';
import { createServices } from '../src/services.js';
import { ADMIN_PASSWORD, passwordAuth, type TestDatabase, testDatabase } from './helpers.js';
import { adminEnv, openstack } from './osc.js';
import { type Stack, throughNginx } from './through-nginx.js';

let t: TestDatabase;
let app: FastifyInstance;
let stack: Stack;
let env: Record<string, string>;
const files = mkdtempSync(join(tmpdir(), 'osc-policies-'));

before(async () => {
  t = await testDatabase();
  // Links from the Host header: the client sees nginx's address.
  app = await build({ config: { ...t.config, publicEndpoint: null }, db: t.db });
  stack = await throughNginx(app);
  // The catalog's identity endpoints at nginx, where the client sends its requests after login.
  await bootstrap(createServices(t.db, t.config), {
    adminUsername: 'admin',
    adminPassword: ADMIN_PASSWORD,
    adminProject: 'admin',
    region: 'RegionOne',
    publicUrl: stack.url,
  });
  env = adminEnv(`${stack.url}/v3`, ADMIN_PASSWORD);
});
after(async () => {
  await stack.stop();
  await app.close();
  await t.drop();
  rmSync(files, { recursive: true, force: true });
});

const os = async (...args: string[]) => {
  const r = await openstack(env, ...args);
  assert.equal(r.status, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const json = async (...args: string[]) => JSON.parse(await os(...args, '-f', 'json'));

describe('openstack policy through nginx', () => {
  test('create, list, show, set and delete', async () => {
    const rules = join(files, 'rules.json');
    writeFileSync(rules, '{"compute:create": "role:member"}');
    const made = await json('policy', 'create', '--type', 'application/json', rules);
    assert.equal(made.rules, '{"compute:create": "role:member"}');
    assert.equal(made.type, 'application/json');
    assert.match(made.id, /^[0-9a-f]{32}$/);

    const listed = await json('policy', 'list', '--long');
    assert.deepEqual(
      listed.filter((p: { ID: string }) => p.ID === made.id),
      [{ ID: made.id, Type: 'application/json', Rules: '{"compute:create": "role:member"}' }],
    );

    const newer = join(files, 'newer.yaml');
    writeFileSync(newer, 'compute:create: role:admin\n');
    assert.equal(await os('policy', 'set', '--type', 'application/yaml', '--rules', newer, made.id), '');
    const shown = await json('policy', 'show', made.id);
    assert.deepEqual(
      { id: shown.id, type: shown.type, rules: shown.rules },
      // The client sends the file's content without its trailing newline.
      { id: made.id, type: 'application/yaml', rules: 'compute:create: role:admin' },
    );

    await os('policy', 'delete', made.id);
    const gone = await openstack(env, 'policy', 'show', made.id);
    assert.notEqual(gone.status, 0);
    // The client looks the id up (404), then by name in the list: none.
    assert.match(gone.stderr, new RegExp(`No policy with a name or ID of '${made.id}' exists`));
  });
});

describe('domain configuration over HTTP through nginx', () => {
  test('put, read by group and option, patch, delete; sensitive options never come back', async () => {
    const auth = await stack.request(
      'POST',
      '/v3/auth/tokens',
      passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }),
    );
    assert.equal(auth.status, 201);
    const headers = { 'x-auth-token': auth.headers['x-subject-token'] as string };
    const call = (method: string, path: string, body?: unknown) => stack.request(method, path, body, headers);

    const domain = await call('POST', '/v3/domains', { domain: { name: 'ldap-backed' } });
    assert.equal(domain.status, 201);
    const url = `/v3/domains/${domain.body.domain.id}/config`;
    const config = {
      identity: { driver: 'ldap' },
      ldap: { url: 'ldap://ldap.test', user_tree_dn: 'ou=Users,dc=test', password: 'bind secret' },
    };
    const shown = {
      identity: { driver: 'ldap' },
      ldap: { url: 'ldap://ldap.test', user_tree_dn: 'ou=Users,dc=test' },
    };
    const put = await call('PUT', url, { config });
    assert.deepEqual([put.status, put.body], [201, { config: shown }]);
    assert.deepEqual((await call('GET', url)).body, { config: shown });
    assert.deepEqual((await call('GET', `${url}/ldap/url`)).body, { config: { url: 'ldap://ldap.test' } });
    const head = await call('HEAD', `${url}/ldap`);
    assert.equal(head.status, 200);
    assert.equal(head.body, null);

    const patched = await call('PATCH', `${url}/ldap/url`, { config: { url: 'ldaps://ldap.test' } });
    assert.deepEqual([patched.status, patched.body.config.ldap.url], [200, 'ldaps://ldap.test']);
    const secret = await call('GET', `${url}/ldap/password`);
    assert.deepEqual(
      [secret.status, secret.body],
      [
        404,
        {
          error: {
            code: 404,
            title: 'Not Found',
            message: `Could not find option password in group ldap in domain configuration for domain ${domain.body.domain.id}.`,
          },
        },
      ],
    );
    const refused = await call('PATCH', url, { config: { token: { provider: 'uuid' } } });
    assert.deepEqual(
      [refused.status, refused.body],
      [
        403,
        {
          error: {
            code: 403,
            title: 'Forbidden',
            message:
              'Invalid domain specific configuration: Group token is not supported for domain specific configurations.',
          },
        },
      ],
    );

    const deleted = await call('DELETE', url);
    assert.deepEqual([deleted.status, deleted.body], [204, null]);
    assert.equal((await call('GET', url)).status, 404);

    const defaults = await call('GET', '/v3/domains/config/identity/default');
    assert.deepEqual(
      [defaults.status, defaults.body],
      [200, { config: { identity: { driver: 'sql', list_limit: null } } }],
    );
    const anonymous = await stack.request('GET', '/v3/domains/config/default');
    assert.equal(anonymous.status, 401);
  });
});
