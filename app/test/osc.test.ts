/**
 * The real `openstack` client against a running Gatehouse at GATEHOUSE_URL (nginx in front of
 * the gateway in any mode, or anything that serves the identity app): token issue, catalog
 * list, endpoint list, token issue with --os-token, token revoke.
 *
 *   GATEHOUSE_URL=http://127.0.0.1:8080 GATEHOUSE_ADMIN_PASSWORD=… node --test app/dist/test/osc.test.js
 *
 * GATEHOUSE_URL is the service root or its /v3; the admin password comes from
 * GATEHOUSE_ADMIN_PASSWORD (or IDENTITY_ADMIN_PASSWORD), the user and project are bootstrap's
 * `admin` in the Default domain.
 */
import { test } from 'node:test';
import { adminEnv, openstackScenario } from './osc.js';

const url = process.env.GATEHOUSE_URL;
const password = process.env.GATEHOUSE_ADMIN_PASSWORD ?? process.env.IDENTITY_ADMIN_PASSWORD ?? '';

test('openstack token issue, catalog list, endpoint list, --os-token, token revoke', {
  skip: url ? false : 'GATEHOUSE_URL is not set: no running Gatehouse to point the openstack client at',
}, async () => {
  const authUrl = `${(url as string).replace(/\/+$/, '').replace(/\/v3$/, '')}/v3`;
  await openstackScenario(adminEnv(authUrl, password));
});
