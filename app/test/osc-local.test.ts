/**
 * The real `openstack` client against handler.ts served by a plain http.createServer on
 * 127.0.0.1: the gateway's contract (a request listener built from the environment) with no
 * gateway or nginx in between.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { bootstrap } from '../src/bootstrap.js';
import { createServices } from '../src/services.js';
import { ADMIN_PASSWORD, type TestDatabase, testDatabase } from './helpers.js';
import { adminEnv, openstackScenario } from './osc.js';

let t: TestDatabase;
let close: () => Promise<void>;
let server: ReturnType<typeof createServer>;

before(async () => {
  t = await testDatabase();
  // handler.ts reads its configuration from the environment, as in a gateway worker.
  Object.assign(process.env, {
    DATABASE_URL: t.url,
    IDENTITY_FERNET_KEY_REPOSITORY: t.config.fernetKeyRepository,
    IDENTITY_PASSWORD_HASH_ROUNDS: '4',
  });
  delete process.env.IDENTITY_PUBLIC_ENDPOINT; // links from the Host header
  const { default: createApp } = await import('../src/handler.js');
  const app = await createApp();
  close = app.close;
  server = createServer(app.handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(async () => {
  server.close();
  await close();
  await t.drop();
});

test('openstack client against http.createServer(handler): issue, catalog, endpoints, --os-token, revoke', async () => {
  const { port } = server.address() as AddressInfo;
  // The catalog's identity endpoints at this server (bootstrap updates them in place).
  await bootstrap(createServices(t.db, t.config), {
    adminUsername: 'admin',
    adminPassword: ADMIN_PASSWORD,
    adminProject: 'admin',
    region: 'RegionOne',
    publicUrl: `http://127.0.0.1:${port}`,
  });
  await openstackScenario(adminEnv(`http://127.0.0.1:${port}/v3`, ADMIN_PASSWORD));
});
