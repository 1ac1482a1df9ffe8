/**
 * Federated logins end to end through the real nginx: the location of
 * nginx/examples/federation-auth-request.conf authenticates with auth_request against a small
 * identity front end run here (HTTP Basic users, answering X-User, X-Groups and X-Idp), and
 * passes its answers to the gateway as FastCGI or uwsgi params; the app's mapping turns them into
 * a federated token whose groups and roles follow the mapping. The same assertion forged as
 * client headers, or sent straight to the gateway's port, gets no token; over plain HTTP
 * (GATEWAY_PROTOCOL=http) there are no params and no mapped login. The real `openstack` client
 * (keystoneauth's v3token) then scopes the federated token to the group's project.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import type { Json } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';
import { openstack } from './osc.js';

type Protocol = 'fastcgi' | 'uwsgi' | 'http' | 'cgi';
interface Gateway {
  upstream: string;
  address: { host: string; port: number };
  close(): Promise<void>;
}
interface Nginx {
  url: string;
  stop(): Promise<void>;
}
const helpers = new URL('../../../gateway/dist/test/helpers/', import.meta.url);
const { startGateway } = (await import(new URL('gateway.js', helpers).href)) as {
  startGateway(o: {
    protocol: Protocol;
    listener: RequestListener;
    env?: Record<string, string>;
  }): Promise<Gateway>;
};
const { startNginx, renderTemplate } = (await import(new URL('nginx.js', helpers).href)) as {
  startNginx(o: { protocol: Protocol; upstream: string; serverConfig: string }): Promise<Nginx>;
  renderTemplate(text: string, vars: Record<string, string>): string;
};
const snippet = readFileSync(
  new URL('../../../nginx/examples/federation-auth-request.conf', import.meta.url),
  'utf8',
);
const snippetsDir = new URL('../../../nginx/snippets', import.meta.url).pathname;

const IDP = 'acme';
const DASHBOARD = 'https://dashboard.acme.test/auth/websso/';
const AUTH = `/v3/OS-FEDERATION/identity_providers/${IDP}/protocols/mapped/auth`;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Json;
}

function send(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      url,
      {
        method,
        agent: false,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // nginx's own HTML error page
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The identity front end: HTTP Basic against a fixed user list; what it asserts, as headers. */
function frontEnd(): Promise<{ url: string; checks: () => number; close(): Promise<void> }> {
  const users: Record<string, { password: string; groups: string }> = {
    alice: { password: 'wonderland', groups: 'engineers;staff' },
    bob: { password: 'builder', groups: 'staff' },
  };
  let checks = 0;
  const server = createServer((req, res) => {
    checks++;
    const [scheme, encoded = ''] = (req.headers.authorization ?? '').split(' ');
    const [name = '', password] = Buffer.from(encoded, 'base64').toString().split(':');
    const user = users[name];
    if (scheme !== 'Basic' || !user || user.password !== password) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'x-user': name, 'x-groups': user.groups, 'x-idp': 'https://idp.acme.test' }).end();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/check`,
        checks: () => checks,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

describe('federated logins through nginx auth_request', () => {
  let t: TestDatabase;
  let idp: Awaited<ReturnType<typeof frontEnd>>;
  let domainId: string;
  let groupId: string;
  let projectId: string;

  before(async () => {
    t = await testDatabase();
    idp = await frontEnd();
    const app = await build({ config: t.config, db: t.db });
    const admin = (
      await app.inject({
        method: 'POST',
        url: '/v3/auth/tokens',
        payload: passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }),
      })
    ).headers['x-subject-token'] as string;
    const ok = async (method: string, url: string, payload?: unknown) => {
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers: { 'x-auth-token': admin },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.body}`);
      return res.body ? res.json() : null;
    };
    domainId = (await ok('POST', '/v3/domains', { domain: { name: 'acme-users' } })).domain.id;
    groupId = (await ok('POST', '/v3/groups', { group: { name: 'engineers', domain_id: domainId } })).group
      .id;
    projectId = (await ok('POST', '/v3/projects', { project: { name: 'rockets', domain_id: domainId } }))
      .project.id;
    const member = (await ok('GET', '/v3/roles?name=member')).roles[0].id;
    await ok('PUT', `/v3/projects/${projectId}/groups/${groupId}/roles/${member}`);
    await ok('PUT', '/v3/OS-FEDERATION/mappings/acme-map', {
      mapping: {
        rules: [
          {
            local: [{ user: { name: '{0}' } }, { groups: '{1}', domain: { id: domainId } }],
            remote: [{ type: 'REMOTE_USER' }, { type: 'FED_GROUPS' }],
          },
        ],
      },
    });
    await ok('PUT', `/v3/OS-FEDERATION/identity_providers/${IDP}`, {
      identity_provider: { enabled: true, domain_id: domainId, remote_ids: ['https://idp.acme.test'] },
    });
    await ok('PUT', `/v3/OS-FEDERATION/identity_providers/${IDP}/protocols/mapped`, {
      protocol: { mapping_id: 'acme-map', remote_id_attribute: 'FED_IDP' },
    });
    await app.close();
  });
  after(async () => {
    await idp?.close();
    await t?.drop();
  });

  /** The app behind the gateway in `protocol` mode, behind nginx with the federation locations. */
  async function stack(protocol: Protocol) {
    let app: FastifyInstance | null = null;
    // cgi mode runs the app's CGI entry per request; the auth module's FED_* params reach it
    // through GATEWAY_CGI_PARAMS (REMOTE_USER is a meta-variable already).
    const cgiCommand = [
      '/usr/bin/env',
      `GATEWAY_APP=${fileURLToPath(new URL('../src/cgi.js', import.meta.url))}`,
      `DATABASE_URL=${t.url}`,
      `IDENTITY_FERNET_KEY_REPOSITORY=${t.config.fernetKeyRepository}`,
      `IDENTITY_CREDENTIAL_KEY_REPOSITORY=${t.config.credentialKeyRepository}`,
      `IDENTITY_RECEIPT_KEY_REPOSITORY=${t.config.receiptKeyRepository}`,
      `IDENTITY_FEDERATION_TRUSTED_DASHBOARD=${DASHBOARD}`,
      process.execPath,
      fileURLToPath(new URL('../../../gateway/dist/src/bin/cgi.js', import.meta.url)),
    ].join(' ');
    const gateway = await startGateway({
      protocol,
      listener: (req, res) => (app as FastifyInstance).routing(req, res),
      ...(protocol === 'cgi'
        ? { env: { GATEWAY_CGI_COMMAND: cgiCommand, GATEWAY_CGI_PARAMS: 'FED_*' } }
        : {}),
    });
    const nginx = await startNginx({
      protocol,
      upstream: gateway.upstream,
      serverConfig: renderTemplate(snippet, {
        NGINX_SNIPPETS_DIR: snippetsDir,
        GATEWAY_PROTOCOL: protocol,
        FEDERATION_CHECK_URL: idp.url,
      }),
    });
    app = await build({
      config: { ...t.config, publicEndpoint: nginx.url, federationTrustedDashboards: [DASHBOARD] },
      db: t.db,
    });
    await app.ready();
    return {
      url: nginx.url,
      gateway,
      async stop() {
        await nginx.stop();
        await gateway.close();
        await app?.close();
      },
    };
  }

  for (const protocol of ['fastcgi', 'uwsgi', 'cgi'] as const) {
    test(`${protocol}: the front end's answer becomes a federated token; forged headers get none`, async () => {
      const s = await stack(protocol);
      try {
        const checksBefore = idp.checks();
        const login = await send(`${s.url}${AUTH}`, 'POST', undefined, {
          authorization: basic('alice', 'wonderland'),
        });
        assert.equal(login.status, 201, JSON.stringify(login.body));
        assert.equal(idp.checks(), checksBefore + 1);
        const token = login.headers['x-subject-token'] as string;
        assert.ok(token);
        const user = login.body.token.user;
        assert.equal(user.name, 'alice');
        assert.deepEqual(user['OS-FEDERATION'], {
          groups: [{ id: groupId }],
          identity_provider: { id: IDP },
          protocol: { id: 'mapped' },
        });
        // bob's groups name no group here: a token with none, and no project to scope to.
        const bob = await send(`${s.url}${AUTH}`, 'GET', undefined, {
          authorization: basic('bob', 'builder'),
        });
        assert.equal(bob.status, 201, JSON.stringify(bob.body));
        assert.deepEqual(bob.body.token.user['OS-FEDERATION'].groups, []);

        // A wrong password: nginx's 401, the app never asked.
        const wrong = await send(`${s.url}${AUTH}`, 'POST', undefined, {
          authorization: basic('alice', 'rabbit'),
        });
        assert.equal(wrong.status, 401);
        assert.equal(wrong.headers['x-subject-token'], undefined);

        // The assertion as client headers: on the guarded path nginx asks the front end (401); on
        // /v3/auth/tokens, which nothing guards, the app reads no header as an assertion (401).
        const forged = {
          'x-user': 'alice',
          'x-groups': 'engineers',
          'x-idp': 'https://idp.acme.test',
          'remote-user': 'alice',
          'fed-groups': 'engineers',
          'fed-idp': 'https://idp.acme.test',
        };
        assert.equal((await send(`${s.url}${AUTH}`, 'POST', undefined, forged)).status, 401);
        const mapped = await send(
          `${s.url}/v3/auth/tokens`,
          'POST',
          {
            auth: {
              identity: { methods: ['mapped'], mapped: { identity_provider: IDP, protocol: 'mapped' } },
            },
          },
          forged,
        );
        assert.equal(mapped.status, 401, JSON.stringify(mapped.body));
        assert.equal(mapped.body.error.message, 'The request you have made requires authentication.');
        assert.equal(mapped.headers['x-subject-token'], undefined);

        // The federated token lists its group's project, and keystoneauth scopes it there.
        const projects = await send(`${s.url}/v3/OS-FEDERATION/projects`, 'GET', undefined, {
          'x-auth-token': token,
        });
        assert.deepEqual(
          projects.body.projects.map((p: Json) => p.id),
          [projectId],
        );
        const osc = await openstack(
          {
            OS_AUTH_URL: `${s.url}/v3`,
            OS_IDENTITY_API_VERSION: '3',
            OS_AUTH_TYPE: 'v3token',
            OS_TOKEN: token,
            OS_PROJECT_NAME: 'rockets',
            OS_PROJECT_DOMAIN_ID: domainId,
          },
          'token',
          'issue',
          '-f',
          'json',
        );
        assert.equal(osc.status, 0, osc.stderr);
        const scoped = JSON.parse(osc.stdout) as { id: string; project_id: string; user_id: string };
        assert.equal(scoped.project_id, projectId);
        assert.equal(scoped.user_id, user.id);
        const shown = await send(`${s.url}/v3/auth/tokens`, 'GET', undefined, {
          'x-auth-token': scoped.id,
          'x-subject-token': scoped.id,
        });
        assert.equal(shown.status, 200, JSON.stringify(shown.body));
        assert.deepEqual(
          shown.body.token.roles.map((r: Json) => r.name),
          ['member', 'reader'],
        );
        assert.deepEqual(shown.body.token.methods, ['token', 'mapped']);

        // WebSSO through the same check: the page posting the token to the trusted dashboard,
        // with a policy that lets exactly its script run and its form go to an https origin.
        const origin = encodeURIComponent(DASHBOARD);
        const sso = await send(
          `${s.url}/v3/auth/OS-FEDERATION/websso/mapped?origin=${origin}`,
          'GET',
          undefined,
          {
            authorization: basic('alice', 'wonderland'),
          },
        );
        assert.equal(sso.status, 200, String(sso.body));
        const page = sso.body as string;
        const ssoToken = /name="token" id="token" value="([A-Za-z0-9_-]+)"/.exec(page)?.[1] as string;
        const script = /<script type="text\/javascript">([\s\S]*)<\/script>/.exec(page)?.[1] as string;
        const hash = createHash('sha256').update(script).digest('base64');
        assert.match(
          String(sso.headers['content-security-policy']),
          new RegExp(`script-src 'sha256-${hash.replace(/[+/]/g, '\\$&')}'`),
        );
        const ssoShown = await send(`${s.url}/v3/auth/tokens`, 'GET', undefined, {
          'x-auth-token': ssoToken,
          'x-subject-token': ssoToken,
        });
        assert.equal(ssoShown.body.token.user.id, user.id);
        const refused = await send(
          `${s.url}/v3/auth/OS-FEDERATION/websso/mapped?origin=${origin}`,
          'GET',
          undefined,
          {
            authorization: basic('alice', 'rabbit'),
          },
        );
        assert.equal(refused.status, 401);
      } finally {
        await s.stop();
      }
    });
  }

  test('http: nginx cannot hand the app an assertion, so a good front-end login gets no token', async () => {
    const s = await stack('http');
    try {
      const login = await send(`${s.url}${AUTH}`, 'POST', undefined, {
        authorization: basic('alice', 'wonderland'),
      });
      assert.equal(login.status, 401, JSON.stringify(login.body));
      assert.equal(login.body.error.message, 'The request you have made requires authentication.');
      assert.equal(login.headers['x-subject-token'], undefined);
      // Straight to the gateway's own port, with the assertion as headers: no token either.
      const direct = await send(`http://${s.gateway.upstream}${AUTH}`, 'POST', undefined, {
        'remote-user': 'alice',
        'fed-groups': 'engineers',
        'fed-idp': 'https://idp.acme.test',
      });
      assert.equal(direct.status, 401, JSON.stringify(direct.body));
      assert.equal(direct.headers['x-subject-token'], undefined);
    } finally {
      await s.stop();
    }
  });
});
