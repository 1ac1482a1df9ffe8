/**
 * Multi-factor logins against real PostgreSQL through app.inject(): the totp method (RFC 6238's
 * vectors), Keystone's receipts byte for byte (recorded with Keystone 22's own ReceiptFormatter),
 * the rules' validation texts, and the attacks: a password alone never yields a token for a user
 * whose rules ask for more (password, token rescope, application credential), a replayed
 * passcode, a tampered, expired or borrowed receipt.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { hotp, totpKey, totpPasscodes } from '../src/mfa/totp.js';
import { decrypt, encrypt, FernetKey } from '../src/token/fernet.js';
import { loadKeys } from '../src/token/keys.js';
import { decodeReceiptPayload, encodeReceiptPayload, ReceiptProvider } from '../src/token/receipt.js';
import { client } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

// RFC 6238 appendix B: the SHA-1 seed "12345678901234567890" (base32 below), 6 of the 8 digits.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: Array<[number, string]> = [
  [59, '287082'],
  [1111111109, '081804'],
  [1111111111, '050471'],
  [1234567890, '005924'],
  [2000000000, '279037'],
  [20000000000, '353130'],
];

describe('TOTP', () => {
  test("RFC 6238's SHA-1 vectors, 6 digits", () => {
    const key = totpKey(RFC_SECRET) as Buffer;
    assert.equal(key.toString('ascii'), '12345678901234567890');
    for (const [seconds, code] of RFC_VECTORS) {
      assert.equal(hotp(key, Math.floor(seconds / 30)), code, `T=${seconds}`);
      assert.equal(totpPasscodes(key, seconds * 1000, 0)[0]?.passcode, code);
    }
  });

  test('the previous windows Keystone accepts, newest first, each with its step', () => {
    const key = totpKey(RFC_SECRET) as Buffer;
    const codes = totpPasscodes(key, 1111111111 * 1000, 1);
    assert.deepEqual(codes, [
      { step: 37037037, passcode: '050471' },
      { step: 37037036, passcode: hotp(key, 37037036) },
    ]);
  });

  test('secrets as Keystone decodes them: padding added, upper case only, keys of 128 bits or more', () => {
    assert.equal(totpKey(RFC_SECRET.toLowerCase()), null);
    assert.equal(totpKey('GEZDGNBVGY3TQOJQ'), null, 'a 10-byte key is refused, as cryptography refuses it');
    assert.equal(totpKey('GEZDGNBVGY3TQOJQGEZDGNBVG'), null, 'a 25-character secret has no valid padding');
    assert.equal(totpKey('GEZDGNBVGY3TQOJQGEZDGNBVGY')?.length, 16);
    assert.equal(totpKey('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ!'), null);
    assert.equal(totpKey('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQ')?.length, 18);
  });
});

// Recorded with Keystone 22's keystone.receipt.receipt_formatters.ReceiptFormatter ([auth] methods
// upstream's plus totp, [fernet_receipts] key_repository holding the key below), expires_at
// 2026-12-04T15:05:00.000000Z; Keystone reported the issued_at and methods shown.
const RECEIPT_KEY = 'cmVjZWlwdC1maXh0dXJlLWtleS0wMDAwMDAwMDAwMDA=';
const RECORDED = [
  {
    receipt:
      'gAAAAABrEtHnVSHJbK3En_eeUKIQME5o2Gv5PE10ZkHYxBEGXw6RBN6SNKzij75Evj6DxOVhLQAVFfUaywLLt2wudMohiJ1KBEzImfszpKwApAkI9ZZdpJs',
    userId: 'c5a5bb2b4fd24b2a8b2e1e7d1b0f0f6e',
    methods: ['password'],
  },
  {
    receipt:
      'gAAAAABrEtHnR7cbyayJFxQiGNHELPhO3Mbr__UFyvS7HheAxbbJQTUVcDyDLqlcUNZTFMRBYKZ2Qfq1OQC9PvWm7-a9ts_Z-Dk8WD55ioNJhhxBLkyujK0',
    userId: 'c5a5bb2b4fd24b2a8b2e1e7d1b0f0f6e',
    methods: ['password', 'totp'],
  },
  {
    receipt:
      'gAAAAABrEtHn6Q5jFrmjx0HpfPHDWwGTa47KSkOy6oQmF0ZazsE6tTbSVgSLAkDhgQgKQs-3DuFIRZ-heXfl6ZEHnb7amJ0eDCxSRhQk-cFPzMyQfvTnaxg',
    userId: 'ldap-user',
    methods: ['password', 'token'],
  },
] as const;
const RECORDED_EXPIRY = Date.parse('2026-12-04T15:05:00Z');
const RECORDED_ISSUED = Date.parse('2026-12-04T14:44:55Z');

describe("Keystone's receipts", () => {
  const key = new FernetKey(RECEIPT_KEY);

  test('decode to the user, methods and expiry Keystone put in, and re-encode to the same string', () => {
    for (const r of RECORDED) {
      const raw = Buffer.from(r.receipt, 'base64url');
      const opened = decrypt([key], raw);
      assert.ok(opened, r.receipt);
      assert.equal(opened.timestamp * 1000, RECORDED_ISSUED);
      const payload = decodeReceiptPayload(opened.message);
      assert.deepEqual(payload, { userId: r.userId, methods: [...r.methods], expiresAt: RECORDED_EXPIRY });
      // msgpack [[is_uuid, id], methods bitmask, float64 expires_at] as Python packs the tuple.
      const bytes = encodeReceiptPayload(payload as NonNullable<typeof payload>);
      assert.deepEqual(bytes, opened.message);
      const again = encrypt(key, bytes, RECORDED_ISSUED, raw.subarray(9, 25)).toString('base64url');
      assert.equal(again, r.receipt);
    }
    // The first field by field: [true, 16 UUID bytes], password's bit (2), 1796396700.0.
    const first = decrypt([key], Buffer.from(RECORDED[0].receipt, 'base64url'))?.message as Buffer;
    assert.equal(first.subarray(0, 4).toString('hex'), '9392c3c4');
    assert.equal(first.subarray(5, 21).toString('hex'), RECORDED[0].userId);
    assert.equal(first.subarray(21, 22).toString('hex'), '02');
    assert.equal(first.subarray(22, 23).toString('hex'), 'cb');
    assert.equal(first.readDoubleBE(23), RECORDED_EXPIRY / 1000);
  });

  test('the provider accepts them until expires_at, and no longer', () => {
    const provider = new ReceiptProvider(() => [key], 300);
    const held = provider.validate(RECORDED[1].receipt, RECORDED_EXPIRY - 1);
    assert.equal(held.userId, RECORDED[1].userId);
    assert.equal(held.issuedAt, RECORDED_ISSUED);
    assert.throws(() => provider.validate(RECORDED[1].receipt, RECORDED_EXPIRY), {
      status: 401,
      message: `Could not find auth receipt: ${RECORDED[1].receipt}.`,
    });
    const other = new ReceiptProvider(() => [new FernetKey(FernetKey.generate())], 300);
    assert.throws(() => other.validate(RECORDED[1].receipt, RECORDED_EXPIRY - 1), { status: 401 });
  });
});

describe('receipt keys', () => {
  const manage = (dir: string, ...args: string[]) =>
    promisify(execFile)(process.execPath, [new URL('../src/manage.js', import.meta.url).pathname, ...args], {
      env: { ...process.env, IDENTITY_RECEIPT_KEY_REPOSITORY: dir, IDENTITY_RECEIPT_MAX_ACTIVE_KEYS: '3' },
    });

  test('manage receipt-setup and receipt-rotate keep a receipt valid across a rotation', async () => {
    const root = mkdtempSync(join(tmpdir(), 'receipt-keys-'));
    const dir = join(root, 'receipts');
    try {
      await assert.rejects(manage(dir, 'receipt-rotate'), /run receipt-setup first/);
      assert.match((await manage(dir, 'receipt-setup')).stdout, /created keys in /);
      assert.match((await manage(dir, 'receipt-setup')).stdout, /keys already exist in /);
      const before = new ReceiptProvider(() => loadKeys(dir), 300).issue(
        'ldap-user',
        ['password'],
        Date.now(),
      );
      assert.equal((await manage(dir, 'receipt-rotate')).stdout.trim(), 'keys now: 0, 1, 2');
      assert.equal((await manage(dir, 'receipt-rotate')).stdout.trim(), 'keys now: 0, 2, 3');
      assert.deepEqual(readdirSync(dir).sort(), ['0', '2', '3']);
      // Issued under key 1, now gone after two rotations: refused; one rotation keeps it.
      assert.throws(
        () => new ReceiptProvider(() => loadKeys(dir), 300).validate(before.receipt, Date.now()),
        {
          status: 401,
        },
      );
      const fresh = new ReceiptProvider(() => loadKeys(dir), 300).issue(
        'ldap-user',
        ['password'],
        Date.now(),
      );
      await manage(dir, 'receipt-rotate');
      assert.equal(
        new ReceiptProvider(() => loadKeys(dir), 300).validate(fresh.receipt, Date.now()).userId,
        'ldap-user',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('multi-factor logins', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let admin: string;
  let now = Date.now();
  const clock = () => now;
  const api = () => client(app, () => admin);

  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db, clock });
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordAuth({ project: { name: 'admin', domain: { name: 'Default' } } }),
    });
    admin = res.headers['x-subject-token'] as string;
  });
  after(async () => {
    await app.close();
    await t.drop();
  });

  /** A user with a password, a totp credential and the given options. */
  async function mfaUser(name: string, options: Record<string, unknown>, secret = RFC_SECRET) {
    const { ok } = api();
    const user = (await ok('POST', '/v3/users', { user: { name, password: `pw-of-${name}`, options } }, 201))
      .user;
    await ok(
      'POST',
      '/v3/credentials',
      { credential: { user_id: user.id, type: 'totp', blob: secret } },
      201,
    );
    return user as { id: string; name: string };
  }

  const password = (user: { id: string; name: string }) => ({
    user: { id: user.id, password: `pw-of-${user.name}` },
  });
  const totp = (user: { id: string }, passcode: unknown) => ({ user: { id: user.id, passcode } });
  /** The passcode of the step `back` windows before the clock's. */
  const code = (back = 0) => hotp(totpKey(RFC_SECRET) as Buffer, Math.floor(now / 30000) - back);
  /** The clock at the start of a new 30 s step, so every test has fresh passcodes. */
  const nextStep = () => {
    now = (Math.floor(now / 30000) + 1) * 30000 + 1000;
  };

  const login = (identity: Record<string, unknown>, headers: Record<string, string> = {}, scope?: unknown) =>
    app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      headers,
      payload: { auth: { identity, ...(scope === undefined ? {} : { scope }) } },
    });

  test('a password alone gets a receipt, Keystone’s 401, and no token', async () => {
    nextStep();
    const user = await mfaUser('mfa-one', {
      multi_factor_auth_enabled: true,
      multi_factor_auth_rules: [['password', 'totp']],
    });
    const res = await login({ methods: ['password'], password: password(user) });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['x-subject-token'], undefined);
    assert.equal(res.headers['www-authenticate'], undefined);
    const receipt = res.headers['openstack-auth-receipt'] as string;
    assert.match(receipt, /^gAAAAA[\w-]+$/);
    const issued = new Date(Math.floor(now / 1000) * 1000);
    const expires = new Date(issued.getTime() + 300_000);
    const iso = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    assert.deepEqual(res.json(), {
      receipt: {
        methods: ['password'],
        user: { id: user.id, name: 'mfa-one', domain: { id: 'default', name: 'Default' } },
        expires_at: iso(expires),
        issued_at: iso(issued),
      },
      required_auth_methods: [['password', 'totp']],
    });

    // The receipt and the missing method complete the login; the token names both methods.
    const done = await login(
      { methods: ['totp'], totp: totp(user, code()) },
      { 'openstack-auth-receipt': receipt },
    );
    assert.equal(done.statusCode, 201, done.body);
    assert.deepEqual(done.json().token.methods, ['password', 'totp']);
    assert.equal(done.json().token.user.id, user.id);
  });

  test('password and totp in one request give a token at once', async () => {
    nextStep();
    const user = await mfaUser('mfa-two', { multi_factor_auth_rules: [['password', 'totp']] });
    const res = await login({
      methods: ['password', 'totp'],
      password: password(user),
      totp: totp(user, code(1)),
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().token.methods, ['password', 'totp']);
  });

  test('a replayed passcode is refused, and so is an older one after a newer was used', async () => {
    nextStep();
    const user = await mfaUser('mfa-replay', { multi_factor_auth_rules: [['totp']] });
    const first = await login({ methods: ['totp'], totp: totp(user, code()) });
    assert.equal(first.statusCode, 201, first.body);
    const again = await login({ methods: ['totp'], totp: totp(user, code()) });
    assert.equal(again.statusCode, 401);
    assert.equal(again.headers['openstack-auth-receipt'], undefined);
    const older = await login({ methods: ['totp'], totp: totp(user, code(1)) });
    assert.equal(older.statusCode, 401);
    // Two at once with one passcode: one token at most.
    nextStep();
    const both = await Promise.all([1, 2].map(() => login({ methods: ['totp'], totp: totp(user, code()) })));
    assert.deepEqual(both.map((r) => r.statusCode).sort(), [201, 401]);
  });

  test('a wrong or malformed passcode is 401 without a receipt; a totp-only user of a password rule gets one', async () => {
    nextStep();
    const user = await mfaUser('mfa-wrong', { multi_factor_auth_rules: [['password', 'totp']] });
    const wrong = String((Number(code()) + 1) % 1_000_000).padStart(6, '0');
    for (const passcode of [wrong, Number(code()), null]) {
      const res = await login({ methods: ['totp'], totp: totp(user, passcode) });
      assert.equal(res.statusCode, 401, String(passcode));
      assert.equal(res.headers['openstack-auth-receipt'], undefined);
    }
    const res = await login({ methods: ['totp'], totp: totp(user, code()) });
    assert.equal(res.statusCode, 401);
    assert.ok(res.headers['openstack-auth-receipt']);
    assert.deepEqual(res.json().receipt.methods, ['totp']);
    assert.deepEqual(res.json().required_auth_methods, [['password', 'totp']]);
  });

  test('a token made with the password alone cannot be rescoped past the rules', async () => {
    nextStep();
    const user = await mfaUser('mfa-rescope', {});
    const plain = await login({ methods: ['password'], password: password(user) });
    assert.equal(plain.statusCode, 201);
    const { ok } = api();
    await ok('PATCH', `/v3/users/${user.id}`, {
      user: { options: { multi_factor_auth_rules: [['password', 'totp']] } },
    });
    const old = plain.headers['x-subject-token'] as string;
    const rescope = await login({ methods: ['token'], token: { id: old } });
    assert.equal(rescope.statusCode, 401);
    assert.equal(rescope.headers['x-subject-token'], undefined);
    assert.deepEqual(rescope.json().receipt.methods, ['password', 'token']);
    // The password again, now through its own request: a receipt, never a token.
    const again = await login({ methods: ['password'], password: password(user) });
    assert.equal(again.statusCode, 401);
    // A token made with both factors rescopes (token, password and totp satisfy the rule).
    const full = await login({
      methods: ['password', 'totp'],
      password: password(user),
      totp: totp(user, code()),
    });
    assert.equal(full.statusCode, 201, full.body);
    const rescoped = await login({ methods: ['token'], token: { id: full.headers['x-subject-token'] } });
    assert.equal(rescoped.statusCode, 201, rescoped.body);
    assert.deepEqual(rescoped.json().token.methods, ['password', 'token', 'totp']);
  });

  test('an application credential alone is held to the rules too, as in Keystone', async () => {
    nextStep();
    const user = await mfaUser('mfa-appcred', {});
    const { ok } = api();
    await ok(
      'PUT',
      `/v3/projects/${await adminProject()}/users/${user.id}/roles/${await memberRole()}`,
      undefined,
      204,
    );
    const token = (
      await login(
        { methods: ['password'], password: password(user) },
        {},
        {
          project: { id: await adminProject() },
        },
      )
    ).headers['x-subject-token'] as string;
    const created = await client(app, () => token).ok(
      'POST',
      `/v3/users/${user.id}/application_credentials`,
      { application_credential: { name: 'cred', secret: 'the-secret' } },
      201,
    );
    await ok('PATCH', `/v3/users/${user.id}`, {
      user: { options: { multi_factor_auth_rules: [['password', 'totp']] } },
    });
    const res = await login({
      methods: ['application_credential'],
      application_credential: { id: created.application_credential.id, secret: 'the-secret' },
    });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['x-subject-token'], undefined);
    assert.deepEqual(res.json().receipt.methods, ['application_credential']);
  });

  test('tampered, expired, unknown-key and borrowed receipts are 401 ReceiptNotFound', async () => {
    nextStep();
    const user = await mfaUser('mfa-receipts', { multi_factor_auth_rules: [['password', 'totp']] });
    const other = await mfaUser('mfa-other', { multi_factor_auth_rules: [['password', 'totp']] });
    const receiptOf = async (u: { id: string; name: string }) =>
      (await login({ methods: ['password'], password: password(u) })).headers[
        'openstack-auth-receipt'
      ] as string;
    const receipt = await receiptOf(user);
    const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    const foreign = new ReceiptProvider(() => [new FernetKey(FernetKey.generate())], 300).issue(
      user.id,
      ['password'],
      now,
    ).receipt;
    for (const bad of [
      flip(receipt, 40),
      flip(receipt, receipt.length - 5),
      foreign,
      'not-a-receipt',
      await receiptOf(other),
    ]) {
      const res = await login(
        { methods: ['totp'], totp: totp(user, code()) },
        { 'openstack-auth-receipt': bad },
      );
      assert.equal(res.statusCode, 401, bad);
      assert.equal(res.headers['x-subject-token'], undefined);
      assert.deepEqual(res.json(), {
        error: { code: 401, title: 'Unauthorized', message: `Could not find auth receipt: ${bad}.` },
      });
      nextStep();
    }
    const fresh = await receiptOf(user);
    now += 300_000;
    const expired = await login(
      { methods: ['totp'], totp: totp(user, code()) },
      { 'openstack-auth-receipt': fresh },
    );
    assert.equal(expired.statusCode, 401);
    assert.equal(expired.json().error.message, `Could not find auth receipt: ${fresh}.`);
  });

  test('rules switched off, or naming no loaded method, let the password through, as Keystone does', async () => {
    nextStep();
    const off = await mfaUser('mfa-off', {
      multi_factor_auth_enabled: false,
      multi_factor_auth_rules: [['password', 'totp']],
    });
    assert.equal((await login({ methods: ['password'], password: password(off) })).statusCode, 201);
    const unknown = await mfaUser('mfa-u2f', { multi_factor_auth_rules: [['password', 'u2f']] });
    assert.equal((await login({ methods: ['password'], password: password(unknown) })).statusCode, 201);
    // Rules without multi_factor_auth_enabled are on (Keystone's default for the option).
    const implicit = await mfaUser('mfa-implicit', {
      multi_factor_auth_rules: [
        ['password', 'totp'],
        ['totp', 'token'],
      ],
    });
    const res = await login({ methods: ['password'], password: password(implicit) });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json().required_auth_methods, [['password', 'totp']]);
  });

  test("rules are validated on write with Keystone's texts", async () => {
    const { call } = api();
    // The first lines and blocks as Keystone 22 answered them (jsonschema 4.10).
    const cases: Array<[unknown, string]> = [
      [
        [[]],
        "Invalid input for field 'options/multi_factor_auth_rules/0': [] is too short\n\nFailed validating 'minItems' in schema['properties']['options']['properties']['multi_factor_auth_rules']['items']:\n    {'items': {'type': 'string'},\n     'minItems': 1,\n     'type': 'array',\n     'uniqueItems': True}\n\nOn instance['options']['multi_factor_auth_rules'][0]:\n    []",
      ],
      [
        [['password'], ['password']],
        "Invalid input for field 'options/multi_factor_auth_rules': [['password'], ['password']] has non-unique elements\n\nFailed validating 'uniqueItems' in schema['properties']['options']['properties']['multi_factor_auth_rules']:\n    {'items': {'items': {'type': 'string'},\n               'minItems': 1,\n               'type': 'array',\n               'uniqueItems': True},\n     'type': ['array', 'null'],\n     'uniqueItems': True}\n\nOn instance['options']['multi_factor_auth_rules']:\n    [['password'], ['password']]",
      ],
      [
        [['password', 'password']],
        "Invalid input for field 'options/multi_factor_auth_rules/0': ['password', 'password'] has non-unique elements\n\nFailed validating 'uniqueItems' in schema['properties']['options']['properties']['multi_factor_auth_rules']['items']:\n    {'items': {'type': 'string'},\n     'minItems': 1,\n     'type': 'array',\n     'uniqueItems': True}\n\nOn instance['options']['multi_factor_auth_rules'][0]:\n    ['password', 'password']",
      ],
      [
        'x',
        "Invalid input for field 'options/multi_factor_auth_rules': 'x' is not of type 'array', 'null'\n\nFailed validating 'type' in schema['properties']['options']['properties']['multi_factor_auth_rules']:\n    {'items': {'items': {'type': 'string'},\n               'minItems': 1,\n               'type': 'array',\n               'uniqueItems': True},\n     'type': ['array', 'null'],\n     'uniqueItems': True}\n\nOn instance['options']['multi_factor_auth_rules']:\n    'x'",
      ],
      [
        [['password', 3]],
        "Invalid input for field 'options/multi_factor_auth_rules/0/1': 3 is not of type 'string'\n\nFailed validating 'type' in schema['properties']['options']['properties']['multi_factor_auth_rules']['items']['items']:\n    {'type': 'string'}\n\nOn instance['options']['multi_factor_auth_rules'][0][1]:\n    3",
      ],
      [
        ['password'],
        "Invalid input for field 'options/multi_factor_auth_rules/0': 'password' is not of type 'array'\n\nFailed validating 'type' in schema['properties']['options']['properties']['multi_factor_auth_rules']['items']:\n    {'items': {'type': 'string'},\n     'minItems': 1,\n     'type': 'array',\n     'uniqueItems': True}\n\nOn instance['options']['multi_factor_auth_rules'][0]:\n    'password'",
      ],
    ];
    const existing = (await call('POST', '/v3/users', { user: { name: 'mfa-valid' } })).body.user;
    for (const [rules, message] of cases) {
      const options = { multi_factor_auth_rules: rules };
      const created = await call('POST', '/v3/users', { user: { name: 'mfa-invalid', options } });
      assert.equal(created.status, 400, JSON.stringify(rules));
      assert.deepEqual(created.body, { error: { code: 400, title: 'Bad Request', message } });
      const updated = await call('PATCH', `/v3/users/${existing.id}`, { user: { options } });
      assert.equal(updated.status, 400);
      assert.equal(updated.body.error.message, message);
    }
    const good = await call('PATCH', `/v3/users/${existing.id}`, {
      user: {
        options: {
          multi_factor_auth_rules: [
            ['password', 'totp'],
            ['password', 'token'],
          ],
        },
      },
    });
    assert.equal(good.status, 200);
    assert.deepEqual(good.body.user.options.multi_factor_auth_rules, [
      ['password', 'totp'],
      ['password', 'token'],
    ]);
    const removed = await call('PATCH', `/v3/users/${existing.id}`, {
      user: { options: { multi_factor_auth_rules: null } },
    });
    assert.equal(removed.status, 200);
    assert.equal(removed.body.user.options.multi_factor_auth_rules, undefined);
  });

  async function adminProject(): Promise<string> {
    return (await api().ok('GET', '/v3/projects?name=admin')).projects[0].id;
  }
  async function memberRole(): Promise<string> {
    return (await api().ok('GET', '/v3/roles?name=member')).roles[0].id;
  }
});
