/**
 * Byte compatibility with a real Keystone sharing our key-repository format
 * (shared/tools/keystone-reference): a token Keystone issued decrypts with our Fernet code and
 * our payload encoder re-creates its exact bytes (same key, IV and timestamp give the same token
 * string); and a token we make from Keystone's keys and ids validates in Keystone.
 *
 *   KEYSTONE_URL=http://127.0.0.1:35357 KEYSTONE_FERNET_KEYS=/var/lib/keystone-anchor/fernet-keys \
 *   KEYSTONE_ADMIN_PASSWORD=anchor-admin-pw node --test app/dist/test/keystone-compat.test.js
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decrypt, encrypt } from '../src/token/fernet.js';
import { loadKeys } from '../src/token/keys.js';
import { decodePayload, encodePayload } from '../src/token/payload.js';

const url = process.env.KEYSTONE_URL;
const keysDir = process.env.KEYSTONE_FERNET_KEYS;
const password = process.env.KEYSTONE_ADMIN_PASSWORD;
const skip =
  url && keysDir && password
    ? false
    : 'KEYSTONE_URL, KEYSTONE_FERNET_KEYS and KEYSTONE_ADMIN_PASSWORD are not all set';

interface KeystoneToken {
  user: { id: string };
  project: { id: string };
  audit_ids: string[];
  expires_at: string;
  methods: string[];
}

async function keystoneToken(scope: unknown): Promise<{ token: string; body: KeystoneToken }> {
  const res = await fetch(`${url}/v3/auth/tokens?nocatalog`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password } },
        },
        ...(scope === undefined ? {} : { scope }),
      },
    }),
  });
  assert.equal(res.status, 201);
  return {
    token: res.headers.get('x-subject-token') as string,
    body: ((await res.json()) as { token: KeystoneToken }).token,
  };
}

describe('Fernet tokens against a real Keystone', { skip }, () => {
  const scopes: Array<[string, unknown]> = [
    ['unscoped', undefined],
    ['project', { project: { name: 'admin', domain: { name: 'Default' } } }],
    ['system', { system: { all: true } }],
  ];
  for (const [name, scope] of scopes) {
    test(`${name}: a Keystone token is re-created byte for byte`, async () => {
      const { token, body } = await keystoneToken(scope);
      const raw = Buffer.from(token, 'base64url');
      const decrypted = decrypt(loadKeys(keysDir as string), raw);
      assert.ok(decrypted, 'our Fernet code decrypts it with the repository keys');
      const payload = decodePayload(decrypted.message);
      assert.equal(payload.userId, body.user.id);
      assert.deepEqual(payload.auditIds, body.audit_ids);
      assert.equal(new Date(payload.expiresAt).toISOString().slice(0, 19), body.expires_at.slice(0, 19));
      assert.deepEqual(payload.methods, body.methods);
      assert.equal(
        encodePayload(payload).toString('hex'),
        decrypted.message.toString('hex'),
        'payload bytes',
      );
      // The same key, timestamp and IV make the same token string, padding stripped as Keystone's.
      const [primary] = loadKeys(keysDir as string);
      const again = encrypt(
        primary!,
        encodePayload(payload),
        decrypted.timestamp * 1000,
        raw.subarray(9, 25),
      );
      assert.equal(again.toString('base64url'), token);
    });
  }

  test('a token made here from the same key repository validates in Keystone', async () => {
    const { token: caller, body } = await keystoneToken({
      project: { name: 'admin', domain: { name: 'Default' } },
    });
    const [primary] = loadKeys(keysDir as string);
    const ours = encrypt(
      primary!,
      encodePayload({
        userId: body.user.id,
        methods: ['password'],
        scope: { kind: 'project', projectId: body.project.id },
        expiresAt: Math.floor(Date.now() / 1000) * 1000 + 600_000,
        auditIds: ['AAECAwQFBgcICQoLDA0ODw'],
      }),
    ).toString('base64url');
    const res = await fetch(`${url}/v3/auth/tokens?nocatalog`, {
      headers: { 'x-auth-token': caller, 'x-subject-token': ours },
    });
    assert.equal(res.status, 200);
    const validated = ((await res.json()) as { token: KeystoneToken }).token;
    assert.equal(validated.project.id, body.project.id);
    assert.deepEqual(validated.audit_ids, ['AAECAwQFBgcICQoLDA0ODw']);
  });
});
