/**
 * cgi mode's identity app, run the way the gateway runs it: a fresh process of the gateway's CGI
 * program with this app's CGI entry as GATEWAY_APP, the request in the environment and on stdin.
 * Its answers agree with app.inject() (the oracle) on status, headers and body, so the app
 * behaves in cgi mode as through the adapter in every other mode.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

const program = fileURLToPath(new URL('../../../gateway/dist/src/bin/cgi.js', import.meta.url));
const cgiApp = fileURLToPath(new URL('../src/cgi.js', import.meta.url));

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers that differ between any two answers. */
const varying = new Set(['x-openstack-request-id', 'date', 'x-subject-token']);

function parseCgi(out: Buffer): Answer {
  const text = out.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `a CGI head: ${text}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^Status: (\d{3})/.exec(statusLine as string)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (!varying.has(name)) headers[name] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: text.slice(end + 4) };
}

describe('cgi mode: the gateway CGI program serving the identity app', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db, cache: false });
  });
  after(async () => {
    await app.close();
    await t.drop();
  });

  const cgi = (method: string, uri: string, body?: string, headers: Record<string, string> = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        GATEWAY_APP: cgiApp,
        DATABASE_URL: t.url,
        IDENTITY_FERNET_KEY_REPOSITORY: t.config.fernetKeyRepository,
        IDENTITY_CREDENTIAL_KEY_REPOSITORY: t.config.credentialKeyRepository,
        IDENTITY_RECEIPT_KEY_REPOSITORY: t.config.receiptKeyRepository,
        IDENTITY_PUBLIC_ENDPOINT: 'http://identity.test:5000',
        IDENTITY_PASSWORD_HASH_ROUNDS: '4',
        GATEWAY_INTERFACE: 'CGI/1.1',
        REQUEST_METHOD: method,
        REQUEST_URI: uri,
        SERVER_PROTOCOL: 'HTTP/1.1',
        SERVER_NAME: 'identity.test',
        SERVER_PORT: '5000',
        REMOTE_ADDR: '127.0.0.1',
        HTTP_HOST: 'identity.test:5000',
        // nginx sends both, empty when there is no body.
        CONTENT_LENGTH: body === undefined ? '' : String(Buffer.byteLength(body)),
        CONTENT_TYPE: body === undefined ? '' : 'application/json',
      };
      for (const [name, value] of Object.entries(headers))
        env[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`] = value;
      const child = execFile(
        process.execPath,
        [program],
        { env, encoding: 'buffer', maxBuffer: 1 << 20 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`${error.message}\n${stderr.toString()}`));
          else resolve(parseCgi(stdout));
        },
      );
      child.stdin?.end(body ?? '');
    });

  const oracle = async (method: string, uri: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await app.inject({
      method: method as 'GET',
      url: uri,
      headers: {
        host: 'identity.test:5000',
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: body }),
    });
    const kept: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers))
      if (!varying.has(name) && !['connection', 'keep-alive', 'transfer-encoding'].includes(name))
        kept[name] = String(value);
    return { status: res.statusCode, headers: kept, body: res.body };
  };

  test('GET and HEAD of the version document', async () => {
    for (const method of ['GET', 'HEAD']) {
      const got = await cgi(method, '/v3');
      assert.equal(got.status, 200);
      assert.deepEqual(got, await oracle(method, '/v3'));
    }
  });

  test('a password authentication with a JSON body, then the token it gives', async () => {
    const body = JSON.stringify(passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }));
    const issued = await cgi('POST', '/v3/auth/tokens', body);
    assert.equal(issued.status, 201);
    const expected = await oracle('POST', '/v3/auth/tokens', body);
    assert.deepEqual(Object.keys(issued.headers).sort(), Object.keys(expected.headers).sort());
    const token = JSON.parse(issued.body).token;
    assert.deepEqual(Object.keys(token).sort(), Object.keys(JSON.parse(expected.body).token).sort());
    assert.equal(token.project.name, 'admin');
  });

  test('errors: a malformed body is 400, an unknown route 404, in Keystone form', async () => {
    for (const [method, uri, body] of [
      ['POST', '/v3/auth/tokens', '{"auth":'],
      ['GET', '/v3/nothing-here', undefined],
      ['GET', '/v3/users', undefined],
    ] as const) {
      const got = await cgi(method, uri, body);
      assert.deepEqual(got, await oracle(method, uri, body), `${method} ${uri}`);
      assert.ok(JSON.parse(got.body).error.code >= 400);
    }
  });
});
