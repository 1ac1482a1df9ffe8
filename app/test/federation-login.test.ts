/**
 * Mapped logins (OS-FEDERATION's auth path and the `mapped` method) as Keystone 22 makes them,
 * with the assertion arriving the one way the gateway trusts: FastCGI params the web server set.
 * The app runs behind the gateway's real FastCGI server; a FastCGI client speaks as nginx would,
 * sending the auth module's variables as params and the client's headers as HTTP_* params.
 */
import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { shadowUserId } from '../src/federation/login.js';
import { client, type Json } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

interface Gateway {
  address: { host: string; port: number };
  close(): Promise<void>;
}
interface FcgiClient {
  request(o: { params: Record<string, string>; stdin?: Buffer }): Promise<{ stdout: Buffer }>;
  close(): void;
}
const helpers = new URL('../../../gateway/dist/test/helpers/', import.meta.url);
const { startGateway } = (await import(new URL('gateway.js', helpers).href)) as {
  startGateway: (o: { protocol: 'fastcgi'; listener: RequestListener }) => Promise<Gateway>;
};
const { FastcgiClient, parseCgiResponse } = (await import(new URL('fastcgi-client.js', helpers).href)) as {
  FastcgiClient: { connect(a: { host: string; port: number }): Promise<FcgiClient> };
  parseCgiResponse(b: Buffer): { status: number; headers: Record<string, string[]>; body: Buffer };
};
const { nginxParams } = (await import(new URL('exchange.js', helpers).href)) as {
  nginxParams(method: string, uri: string, extra?: Record<string, string>): Record<string, string>;
};

const IDP = 'acme';
const AUTH = `/v3/OS-FEDERATION/identity_providers/${IDP}/protocols/mapped/auth`;
const DASHBOARD = 'https://dashboard.acme.test/auth/websso/';

interface Answer {
  status: number;
  token: string | undefined;
  body: Json;
}

describe('mapped logins behind the gateway', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let gateway: Gateway;
  let admin: string;
  let api: ReturnType<typeof client>;
  let now = Date.now();
  let groupId: string;
  let domainId: string;

  /** One request as nginx sends it: `vars` are what its auth module set, `headers` the client's. */
  async function send(
    method: string,
    path: string,
    vars: Record<string, string> = {},
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const fcgi = await FastcgiClient.connect(gateway.address);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const extra: Record<string, string> = { ...vars };
    for (const [name, value] of Object.entries(headers))
      extra[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`] = value;
    if (payload) {
      extra.CONTENT_TYPE = 'application/json';
      extra.CONTENT_LENGTH = String(payload.length);
    }
    const { stdout } = await fcgi.request({
      params: nginxParams(method, path, extra),
      ...(payload ? { stdin: payload } : {}),
    });
    fcgi.close();
    const res = parseCgiResponse(stdout);
    const text = res.body.toString();
    const html = res.headers['content-type']?.[0]?.startsWith('text/html');
    return {
      status: res.status,
      token: res.headers['x-subject-token']?.[0],
      body: html ? text : text ? JSON.parse(text) : null,
    };
  }
  const mappedBody = (scope?: unknown) => ({
    auth: {
      identity: { methods: ['mapped'], mapped: { identity_provider: IDP, protocol: 'mapped' } },
      ...(scope ? { scope } : {}),
    },
  });
  const assertion = {
    REMOTE_USER: 'alice',
    ACME_GROUPS: 'engineers;staff',
    ACME_IDP: 'https://idp.acme.test',
  };

  before(async () => {
    t = await testDatabase();
    app = await build({
      config: { ...t.config, federationTrustedDashboards: [DASHBOARD] },
      db: t.db,
      clock: () => now,
    });
    await app.ready();
    gateway = await startGateway({ protocol: 'fastcgi', listener: app.routing as RequestListener });
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }),
    });
    admin = res.headers['x-subject-token'] as string;
    api = client(app, () => admin);
    domainId = (await api.ok('POST', '/v3/domains', { domain: { name: 'acme-users' } }, 201)).domain.id;
    groupId = (await api.ok('POST', '/v3/groups', { group: { name: 'engineers', domain_id: domainId } }, 201))
      .group.id;
    const project = (
      await api.ok('POST', '/v3/projects', { project: { name: 'rockets', domain_id: domainId } }, 201)
    ).project.id;
    const member = (await api.ok('GET', '/v3/roles?name=member')).roles[0].id;
    await api.ok('PUT', `/v3/projects/${project}/groups/${groupId}/roles/${member}`, undefined, 204);
    await api.ok(
      'PUT',
      '/v3/OS-FEDERATION/mappings/acme-map',
      {
        mapping: {
          rules: [
            {
              local: [{ user: { name: '{0}' } }, { groups: '{1}', domain: { id: domainId } }],
              remote: [{ type: 'REMOTE_USER' }, { type: 'ACME_GROUPS', whitelist: ['engineers'] }],
            },
          ],
        },
      },
      201,
    );
    await api.ok(
      'PUT',
      `/v3/OS-FEDERATION/identity_providers/${IDP}`,
      {
        identity_provider: { enabled: true, domain_id: domainId, remote_ids: ['https://idp.acme.test'] },
      },
      201,
    );
    await api.ok(
      'PUT',
      `/v3/OS-FEDERATION/identity_providers/${IDP}/protocols/mapped`,
      {
        protocol: { mapping_id: 'acme-map', remote_id_attribute: 'ACME_IDP' },
      },
      201,
    );
  });
  after(async () => {
    await gateway?.close();
    await app?.close();
    await t?.drop();
  });

  test("the web server's variables log alice in: an unscoped federated token for her shadow user", async () => {
    const res = await send('POST', AUTH, assertion);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.ok(res.token);
    const user = res.body.token.user;
    assert.equal(user.id, shadowUserId(domainId, 'alice'));
    assert.equal(user.name, 'alice');
    assert.deepEqual(user.domain, { id: domainId, name: 'acme-users' });
    assert.deepEqual(user['OS-FEDERATION'], {
      groups: [{ id: groupId }],
      identity_provider: { id: IDP },
      protocol: { id: 'mapped' },
    });
    assert.equal('password_expires_at' in user, false);
    assert.deepEqual(res.body.token.methods, ['mapped']);
    assert.equal(res.body.token.project, undefined);
    // Validated as Keystone renders it, and GET works as POST does (Keystone's GET/POST resource).
    const again = await send('GET', AUTH, assertion);
    assert.equal(again.status, 201);
    assert.equal(again.body.token.user.id, user.id);
    const shown = await api.ok('GET', `/v3/users/${user.id}`);
    assert.deepEqual(shown.user.federated, [
      { idp_id: IDP, protocols: [{ protocol_id: 'mapped', unique_id: 'alice' }] },
    ]);
  });

  test('the same assertion as client headers is no assertion: 401', async () => {
    const forged = await send('POST', AUTH, {}, undefined, {
      'remote-user': 'alice',
      'acme-groups': 'engineers',
      'acme-idp': 'https://idp.acme.test',
      REMOTE_USER: 'alice',
    });
    assert.equal(forged.status, 401, JSON.stringify(forged.body));
    assert.equal(forged.token, undefined);
    assert.equal(forged.body.error.message, 'The request you have made requires authentication.');
    // Even a mapping that names a header's variable (Keystone reads HTTP_* from its environ, as
    // mod_auth_openidc's HTTP_OIDC_* are read) gets nothing from a client's header here.
    await api.ok(
      'PUT',
      '/v3/OS-FEDERATION/mappings/by-header',
      {
        mapping: { rules: [{ local: [{ user: { name: '{0}' } }], remote: [{ type: 'HTTP_ACME_USER' }] }] },
      },
      201,
    );
    await api.ok(
      'PUT',
      '/v3/OS-FEDERATION/identity_providers/by-header',
      { identity_provider: { enabled: true } },
      201,
    );
    await api.ok(
      'PUT',
      '/v3/OS-FEDERATION/identity_providers/by-header/protocols/mapped',
      {
        protocol: { mapping_id: 'by-header' },
      },
      201,
    );
    const header = await send(
      'POST',
      '/v3/OS-FEDERATION/identity_providers/by-header/protocols/mapped/auth',
      {},
      undefined,
      {
        'acme-user': 'mallory',
      },
    );
    assert.equal(header.status, 401, JSON.stringify(header.body));
    assert.equal(header.token, undefined);
  });

  test("the remote id must be one of the provider's (403), and present (401)", async () => {
    const other = await send('POST', AUTH, { ...assertion, ACME_IDP: 'https://evil.test' });
    assert.equal(other.status, 403, JSON.stringify(other.body));
    assert.equal(other.body.error.message, 'You are not authorized to perform the requested action.');
    const { ACME_IDP: _, ...without } = assertion;
    assert.equal((await send('POST', AUTH, without)).status, 401);
  });

  test('a mapping that matches nothing fails authentication; a whitelist that keeps nothing maps no group', async () => {
    const { REMOTE_USER: _, ...anonymous } = assertion;
    const res = await send('POST', AUTH, anonymous);
    assert.equal(res.status, 401);
    assert.equal(res.body.error.message, 'The request you have made requires authentication.');
    const sales = await send('POST', AUTH, { ...assertion, ACME_GROUPS: 'sales' });
    assert.equal(sales.status, 201);
    assert.deepEqual(sales.body.token.user['OS-FEDERATION'].groups, []);
  });

  test("the mapped method in /v3/auth/tokens, scoped straight to the group's project", async () => {
    const res = await send(
      'POST',
      '/v3/auth/tokens',
      assertion,
      mappedBody({ project: { name: 'rockets', domain: { id: domainId } } }),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.token.project.name, 'rockets');
    assert.deepEqual(
      res.body.token.roles.map((r: Json) => r.name),
      ['member', 'reader'],
    );
    assert.ok(res.body.token.catalog);
    assert.deepEqual(res.body.token.user['OS-FEDERATION'].groups, [{ id: groupId }]);
    const missing = await send('POST', '/v3/auth/tokens', assertion, {
      auth: { identity: { methods: ['mapped'], mapped: { protocol: 'mapped' } } },
    });
    assert.equal(missing.status, 400);
  });

  test("an unscoped federated token lists and scopes to its groups' projects through the token method", async () => {
    const login = await send('POST', AUTH, assertion);
    const token = login.token as string;
    for (const path of ['/v3/auth/projects', '/v3/OS-FEDERATION/projects']) {
      const res = await send('GET', path, {}, undefined, { 'x-auth-token': token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.projects.map((p: Json) => p.name),
        ['rockets'],
      );
    }
    const domains = await send('GET', '/v3/OS-FEDERATION/domains', {}, undefined, { 'x-auth-token': token });
    assert.deepEqual(domains.body.domains, []);
    const scoped = await send(
      'POST',
      '/v3/auth/tokens',
      {},
      {
        auth: {
          identity: { methods: ['token'], token: { id: token } },
          scope: { project: { name: 'rockets', domain: { id: domainId } } },
        },
      },
    );
    assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
    assert.deepEqual(scoped.body.token.methods, ['token', 'mapped']);
    assert.equal(scoped.body.token.expires_at, login.body.token.expires_at);
    assert.deepEqual(
      scoped.body.token.roles.map((r: Json) => r.name),
      ['member', 'reader'],
    );
    assert.deepEqual(scoped.body.token.user['OS-FEDERATION'].identity_provider, { id: IDP });
    // The scoped token works as a caller and validates.
    const check = await api.call('GET', '/v3/auth/tokens', undefined, admin);
    assert.equal(check.status, 400);
    const v = await app.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': admin, 'x-subject-token': scoped.token as string },
    });
    assert.equal(v.statusCode, 200);
    assert.equal(v.json().token.project.name, 'rockets');
  });

  test('a disabled provider refuses logins (403) and its tokens, which stay refused once it is enabled again', async () => {
    const login = await send('POST', AUTH, assertion);
    const token = login.token as string;
    const validate = () =>
      app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': admin, 'x-subject-token': token },
      });
    assert.equal((await validate()).statusCode, 200);
    now += 1000;
    await api.ok('PATCH', `/v3/OS-FEDERATION/identity_providers/${IDP}`, {
      identity_provider: { enabled: false },
    });
    assert.equal((await validate()).statusCode, 404);
    const refused = await send('POST', AUTH, assertion);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.message, 'You are not authorized to perform the requested action.');
    await api.ok('PATCH', `/v3/OS-FEDERATION/identity_providers/${IDP}`, {
      identity_provider: { enabled: true },
    });
    assert.equal((await validate()).statusCode, 404);
    assert.equal((await send('POST', AUTH, assertion)).status, 201);
  });

  test('new mapping rules, or another mapping for the protocol, end the tokens issued through it', async () => {
    const rules = (await api.ok('GET', '/v3/OS-FEDERATION/mappings/acme-map')).mapping.rules;
    for (const change of [
      () => api.ok('PATCH', '/v3/OS-FEDERATION/mappings/acme-map', { mapping: { rules } }),
      async () => {
        await api.ok('PUT', '/v3/OS-FEDERATION/mappings/acme-map-2', { mapping: { rules } }, 201);
        await api.ok('PATCH', `/v3/OS-FEDERATION/identity_providers/${IDP}/protocols/mapped`, {
          protocol: { mapping_id: 'acme-map-2' },
        });
      },
    ]) {
      const login = await send('POST', AUTH, assertion);
      assert.equal(login.status, 201);
      const validate = () =>
        app.inject({
          method: 'GET',
          url: '/v3/auth/tokens',
          headers: { 'x-auth-token': admin, 'x-subject-token': login.token as string },
        });
      assert.equal((await validate()).statusCode, 200);
      now += 1000;
      await change();
      assert.equal((await validate()).statusCode, 404);
      assert.equal((await send('POST', AUTH, assertion)).status, 201);
    }
  });

  test('a deleted provider takes its tokens with it', async () => {
    await api.ok(
      'PUT',
      '/v3/OS-FEDERATION/identity_providers/gone',
      { identity_provider: { enabled: true } },
      201,
    );
    await api.ok(
      'PUT',
      '/v3/OS-FEDERATION/identity_providers/gone/protocols/mapped',
      {
        protocol: { mapping_id: 'acme-map' },
      },
      201,
    );
    const login = await send(
      'POST',
      '/v3/OS-FEDERATION/identity_providers/gone/protocols/mapped/auth',
      assertion,
    );
    assert.equal(login.status, 201, JSON.stringify(login.body));
    const validate = () =>
      app.inject({
        method: 'GET',
        url: '/v3/auth/tokens',
        headers: { 'x-auth-token': admin, 'x-subject-token': login.token as string },
      });
    assert.equal((await validate()).statusCode, 200);
    await api.ok('DELETE', '/v3/OS-FEDERATION/identity_providers/gone', undefined, 204);
    assert.equal((await validate()).statusCode, 404);
  });

  test("WebSSO posts the token back to a trusted dashboard, in Keystone's self-submitting form", async () => {
    const origin = `?origin=${encodeURIComponent(DASHBOARD)}`;
    for (const path of [
      `/v3/auth/OS-FEDERATION/identity_providers/${IDP}/protocols/mapped/websso`,
      // Without the provider in the path, the remote id the web server set names it.
      '/v3/auth/OS-FEDERATION/websso/mapped',
    ])
      for (const method of ['GET', 'POST']) {
        const res = await send(method, `${path}${origin}`, assertion);
        assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(res.body)}`);
        const page = res.body as string;
        assert.match(
          page,
          /<form id="sso" name="sso" action="https:\/\/dashboard\.acme\.test\/auth\/websso\/" method="post">/,
        );
        const token = /name="token" id="token" value="([A-Za-z0-9_-]+)"/.exec(page)?.[1] as string;
        assert.ok(token, page);
        const v = await app.inject({
          method: 'GET',
          url: '/v3/auth/tokens',
          headers: { 'x-auth-token': admin, 'x-subject-token': token },
        });
        assert.equal(v.statusCode, 200);
        assert.equal(v.json().token.user.name, 'alice');
        assert.deepEqual(v.json().token.user['OS-FEDERATION'].identity_provider, { id: IDP });
      }
    const idpPath = `/v3/auth/OS-FEDERATION/identity_providers/${IDP}/protocols/mapped/websso`;
    const missing = await send('GET', idpPath, assertion);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.message, 'Request must have an origin query parameter');
    const untrusted = await send(
      'GET',
      `${idpPath}?origin=${encodeURIComponent('https://evil.test/')}`,
      assertion,
    );
    assert.equal(untrusted.status, 401);
    assert.equal(untrusted.body.error.message, 'The request you have made requires authentication.');
    // No remote id from the web server (a client's header is none): Keystone's 401.
    const { ACME_IDP: _, ...noIdp } = assertion;
    const anonymous = await send('GET', `/v3/auth/OS-FEDERATION/websso/mapped${origin}`, noIdp, undefined, {
      'acme-idp': 'https://idp.acme.test',
    });
    assert.equal(anonymous.status, 401);
  });

  test('unknown provider 404, other protocols are not auth methods (401)', async () => {
    const unknown = await send(
      'POST',
      '/v3/OS-FEDERATION/identity_providers/nope/protocols/mapped/auth',
      assertion,
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.message, 'Could not find Identity Provider: nope.');
    const saml = await send(
      'POST',
      `/v3/OS-FEDERATION/identity_providers/${IDP}/protocols/saml2/auth`,
      assertion,
    );
    assert.equal(saml.status, 401);
    assert.equal(saml.body.error.message, 'Attempted to authenticate with an unsupported method.');
  });
});
