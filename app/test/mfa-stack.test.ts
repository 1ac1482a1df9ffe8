/**
 * Multi-factor logins through the real stack (nginx from the deployment's template, the
 * gateway's FastCGI server, this app, PostgreSQL), with real clients: a passcode computed by
 * pyotp, and keystoneauth's MultiFactor plugin and receipt handling (Debian's python3-pyotp and
 * python3-keystoneauth1, run with /usr/bin/python3).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';
import { type Stack, throughNginx } from './through-nginx.js';

/** Runs a Python program with Debian's interpreter; asynchronous, so the stack keeps answering. */
function python(
  program: string,
  env: Record<string, string>,
): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', program], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out: out.trim(), err: err.trim() }));
  });
}

const PASSCODE = 'import os, pyotp; print(pyotp.TOTP(os.environ["SECRET"]).now())';

const MULTI_FACTOR = `
import json, os
from keystoneauth1 import session
from keystoneauth1.identity import v3
auth = v3.MultiFactor(
    auth_url=os.environ['AUTH_URL'], auth_methods=['v3password', 'v3totp'],
    user_id=os.environ['USER_ID'], password=os.environ['PASSWORD'],
    passcode=__import__('pyotp').TOTP(os.environ['SECRET']).now())
s = session.Session(auth=auth)
ref = auth.get_access(s)
print(json.dumps({'token': s.get_token(), 'user_id': ref.user_id}))
`;

const RECEIPT_FLOW = `
import json, os, pyotp
from keystoneauth1 import exceptions, session
from keystoneauth1.identity import v3
url = os.environ['AUTH_URL']
try:
    v3.Password(auth_url=url, user_id=os.environ['USER_ID'], password=os.environ['PASSWORD']).get_access(session.Session())
    raise SystemExit('the password alone was accepted')
except exceptions.MissingAuthMethods as e:
    missing = {'methods': e.methods, 'required': e.required_auth_methods, 'receipt': e.receipt}
auth = v3.Auth(url, [v3.ReceiptMethod(receipt=missing['receipt']),
                     v3.TOTPMethod(user_id=os.environ['USER_ID'], passcode=pyotp.TOTP(os.environ['SECRET']).now())])
ref = auth.get_access(session.Session())
print(json.dumps({'missing': missing, 'token': ref.auth_token}))
`;

describe('multi-factor logins through nginx with real clients', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  let admin: string;

  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db });
    stack = await throughNginx(app);
    const res = await stack.request(
      'POST',
      '/v3/auth/tokens',
      passwordAuth({ project: { name: 'admin', domain: { name: 'Default' } } }),
    );
    admin = res.headers['x-subject-token'] as string;
  });
  after(async () => {
    await stack?.stop();
    await app?.close();
    await t?.drop();
  });

  /** A user with a password, its own pyotp secret as a totp credential, and the rules given. */
  async function mfaUser(name: string, rules: string[][]) {
    const { ok } = client(app, () => admin);
    const secret = (await python('import pyotp; print(pyotp.random_base32())', {})).out;
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const options = rules.length ? { multi_factor_auth_rules: rules } : {};
    const user = (await ok('POST', '/v3/users', { user: { name, password: `pw-${name}`, options } }, 201))
      .user;
    await ok(
      'POST',
      '/v3/credentials',
      { credential: { user_id: user.id, type: 'totp', blob: secret } },
      201,
    );
    return { id: user.id as string, password: `pw-${name}`, secret };
  }

  /** The methods of a token, as the stack validates it. */
  async function methodsOf(token: string): Promise<string[]> {
    const res = await stack.request('GET', '/v3/auth/tokens', undefined, {
      'x-auth-token': admin,
      'x-subject-token': token,
    });
    assert.equal(res.status, 200);
    return res.body.token.methods;
  }

  test('a pyotp passcode logs in with the totp method', async () => {
    const user = await mfaUser('otp-only', []);
    const passcode = (await python(PASSCODE, { SECRET: user.secret })).out;
    assert.match(passcode, /^\d{6}$/);
    const body = { auth: { identity: { methods: ['totp'], totp: { user: { id: user.id, passcode } } } } };
    const res = await stack.request('POST', '/v3/auth/tokens', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.token.methods, ['totp']);
    // The same passcode again, through the same door: refused.
    const replay = await stack.request('POST', '/v3/auth/tokens', body);
    assert.equal(replay.status, 401);
  });

  test('password+totp rules: the password alone gets a receipt, the receipt and a passcode a token', async () => {
    const user = await mfaUser('otp-rules', [['password', 'totp']]);
    const first = await stack.request('POST', '/v3/auth/tokens', {
      auth: {
        identity: { methods: ['password'], password: { user: { id: user.id, password: user.password } } },
      },
    });
    assert.equal(first.status, 401);
    assert.equal(first.headers['x-subject-token'], undefined);
    const receipt = first.headers['openstack-auth-receipt'] as string;
    assert.match(receipt, /^gAAAAA[\w-]+$/);
    assert.deepEqual(first.body.receipt.methods, ['password']);
    assert.deepEqual(first.body.required_auth_methods, [['password', 'totp']]);
    const passcode = (await python(PASSCODE, { SECRET: user.secret })).out;
    const second = await stack.request(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['totp'], totp: { user: { id: user.id, passcode } } } } },
      { 'openstack-auth-receipt': receipt },
    );
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.deepEqual(second.body.token.methods, ['password', 'totp']);
  });

  test("keystoneauth's MultiFactor plugin logs in with password and totp", async () => {
    const user = await mfaUser('ksa-multi', [['password', 'totp']]);
    const run = await python(MULTI_FACTOR, {
      AUTH_URL: `${stack.url}/v3`,
      USER_ID: user.id,
      PASSWORD: user.password,
      SECRET: user.secret,
    });
    assert.equal(run.status, 0, run.err);
    const out = JSON.parse(run.out) as { token: string; user_id: string };
    assert.match(out.token, /^gAAAAA[\w-]+$/);
    assert.deepEqual(await methodsOf(out.token), ['password', 'totp']);
    assert.equal(out.user_id, user.id);
  });

  test('keystoneauth reads the receipt (MissingAuthMethods) and completes the login with it', async () => {
    const user = await mfaUser('ksa-receipt', [['password', 'totp']]);
    const run = await python(RECEIPT_FLOW, {
      AUTH_URL: `${stack.url}/v3`,
      USER_ID: user.id,
      PASSWORD: user.password,
      SECRET: user.secret,
    });
    assert.equal(run.status, 0, run.err);
    const out = JSON.parse(run.out) as {
      missing: { methods: string[]; required: string[][]; receipt: string };
      token: string;
    };
    assert.deepEqual(out.missing.methods, ['password']);
    assert.deepEqual(out.missing.required, [['password', 'totp']]);
    assert.deepEqual(await methodsOf(out.token), ['password', 'totp']);
  });
});
