/**
 * Receipts against a real Keystone sharing its receipt keys (shared/tools/keystone-reference,
 * whose [fernet_receipts] key_repository is its token key repository): a receipt Keystone answers
 * a password-only login of a multi-factor user with opens here to that user, its methods and the
 * times Keystone's body reports; and a receipt made here completes a login in Keystone with a
 * TOTP passcode made here.
 *
 *   KEYSTONE_URL=http://127.0.0.1:35357 KEYSTONE_FERNET_KEYS=/var/lib/keystone-anchor/fernet-keys \
 *   KEYSTONE_ADMIN_PASSWORD=anchor-admin-pw node --test app/dist/test/mfa-keystone-compat.test.js
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { hotp, totpKey } from '../src/mfa/totp.js';
import { loadKeys } from '../src/token/keys.js';
import { ReceiptProvider } from '../src/token/receipt.js';

const url = process.env.KEYSTONE_URL;
const keysDir = process.env.KEYSTONE_RECEIPT_KEYS ?? process.env.KEYSTONE_FERNET_KEYS;
const password = process.env.KEYSTONE_ADMIN_PASSWORD;
const skip =
  url && keysDir && password
    ? false
    : 'KEYSTONE_URL, KEYSTONE_FERNET_KEYS and KEYSTONE_ADMIN_PASSWORD are not all set';

const isotime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** 20 random bytes in base32, as pyotp.random_base32() makes secrets. */
function newSecret(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(20);
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  return (bits.match(/.{5}/g) as string[]).map((chunk) => alphabet[Number.parseInt(chunk, 2)]).join('');
}

async function call(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as ReturnType<typeof JSON.parse>,
  };
}

describe('auth receipts against a real Keystone', { skip }, () => {
  test("Keystone's receipt opens here, and ours completes a login there", async () => {
    const admin = await call('POST', '/v3/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password } },
        },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    });
    assert.equal(admin.status, 201);
    const token = { 'x-auth-token': admin.headers.get('x-subject-token') as string };
    const name = `mfa-compat-${randomBytes(4).toString('hex')}`;
    const secret = newSecret();
    const user = await call(
      'POST',
      '/v3/users',
      { user: { name, password: 'compat-pw', options: { multi_factor_auth_rules: [['password', 'totp']] } } },
      token,
    );
    assert.equal(user.status, 201);
    const id = user.body.user.id as string;
    try {
      const cred = await call(
        'POST',
        '/v3/credentials',
        { credential: { user_id: id, type: 'totp', blob: secret } },
        token,
      );
      assert.equal(cred.status, 201);

      const first = await call('POST', '/v3/auth/tokens', {
        auth: { identity: { methods: ['password'], password: { user: { id, password: 'compat-pw' } } } },
      });
      assert.equal(first.status, 401);
      const theirs = first.headers.get('openstack-auth-receipt') as string;
      const provider = new ReceiptProvider(() => loadKeys(keysDir as string), 300);
      const opened = provider.validate(theirs, Date.now());
      assert.equal(opened.userId, id);
      assert.deepEqual(opened.methods, ['password']);
      assert.equal(isotime(opened.expiresAt), first.body.receipt.expires_at);
      assert.equal(isotime(opened.issuedAt), first.body.receipt.issued_at);

      const ours = provider.issue(id, ['password'], Date.now()).receipt;
      const passcode = hotp(totpKey(secret) as Buffer, Math.floor(Date.now() / 30000));
      const done = await call(
        'POST',
        '/v3/auth/tokens',
        { auth: { identity: { methods: ['totp'], totp: { user: { id, passcode } } } } },
        { 'openstack-auth-receipt': ours },
      );
      assert.equal(done.status, 201, JSON.stringify(done.body));
      assert.deepEqual([...done.body.token.methods].sort(), ['password', 'totp']);
    } finally {
      await fetch(`${url}/v3/users/${id}`, { method: 'DELETE', headers: token });
    }
  });
});
