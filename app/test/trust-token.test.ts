/**
 * Trust-scoped Fernet tokens byte for byte with Keystone 22: tokens made by Keystone's own
 * TokenFormatter (TrustScopedPayload, version 3) with a fixed key (fixtures/keystone-trust-tokens.py)
 * decrypt to the ids Keystone packed, our encoder writes the same payload bytes field by field,
 * and re-encrypting with the recorded timestamp and IV gives the identical token string.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdentityError } from '../src/errors.js';
import { decrypt, encrypt, FernetKey } from '../src/token/fernet.js';
import { pack } from '../src/token/msgpack.js';
import { decodePayload, encodePayload } from '../src/token/payload.js';

const key = new FernetKey('qWl1kIjQI_PZEOimHVxuf40Xg-UeyIJN3Dw0sG-nx3A=');
const trustId = '3e5f1a2b4c6d4e8f9a0b1c2d3e4f5a6b';
const audit = (id: string) => Buffer.from(id, 'base64url').toString('hex');

const recorded = [
  {
    what: 'UUID user and project: [3, [true, user], 1, [true, project], float64 expiry, [audit], trust bytes]',
    token:
      'gAAAAABrEs93B9vyDfGf9o9BO6OTssmT2lgaz0tabDJZ1IXID4o3BEUbXnWTwn4_Bitu6zTIIqgt42evsezX3MUEt0M6nq3uTmPL-c800tAiDvx4Ek0YYMA2Ni-G4xECQ0YtriklwLmIKnjODUFC9t5_HkR6kraqtgUeRJyjEB758sq5KfSnJpUvF7oXqt-f9ouyd920lEc4',
    issuedAt: '2026-12-04T14:34:31.000Z',
    payload: {
      userId: '0c8cc2ee5d3c4bd0a0f8e9a3d6b1f4e2',
      methods: ['password'],
      scope: { kind: 'trust', projectId: '6b6a1e4f0d3a4c2e9f8b7a6c5d4e3f21', trustId },
      expiresAt: Date.parse('2026-12-04T15:00:00Z'),
      auditIds: ['Xm1a2uLwSjmLd_Z9c0hVqg'],
    },
    // 97: array of 7; 03: TrustScopedPayload; 92 c3 c4 10 …: [true, 16 bytes];
    // 01: methods bitmask (password); cb …: float64 seconds; 91 c4 10 …: one audit id;
    // c4 10 …: the trust id as 16 raw bytes, never an [is_uuid, id] pair.
    bytes: [
      '97',
      '03',
      '92c3c410 0c8cc2ee5d3c4bd0a0f8e9a3d6b1f4e2',
      '02',
      '92c3c410 6b6a1e4f0d3a4c2e9f8b7a6c5d4e3f21',
      'cb41dac4b55c000000',
      `91c410 ${audit('Xm1a2uLwSjmLd_Z9c0hVqg')}`,
      `c410 ${trustId}`,
    ],
  },
  {
    what: 'ids that are not UUIDs travel as [false, str]; a rescoped token carries two audit ids',
    token:
      'gAAAAABrEs99CuvfJI9yvmSwMvb-UcQRf_xo-6NFhqS8N85pOUyzztMNVUtxpULuIQQ0bNYJJ7_DHX56PYnKP82cD9Eb5eOQEFIL0vefbuJHk5hLNu12pacDGYb-hZHu3wAoBiak29VwoHsOfd4foTkwDAFxg26g-mlx_2n7NIF0pTDCpRVDYHTfw4LIVF_XlfzTvj8gWi1u',
    issuedAt: '2026-12-04T14:34:37.000Z',
    payload: {
      userId: 'ldap-trustee',
      methods: ['password', 'token'],
      scope: { kind: 'trust', projectId: 'a-project', trustId },
      expiresAt: Date.parse('2026-12-04T15:00:00Z'),
      auditIds: ['Xm1a2uLwSjmLd_Z9c0hVqg', 'Yn2b3vMxTknMe_a0d1iWrg'],
    },
    bytes: [
      '97',
      '03',
      `92c2ac ${Buffer.from('ldap-trustee').toString('hex')}`,
      '06',
      `92c2a9 ${Buffer.from('a-project').toString('hex')}`,
      'cb41dac4b55c000000',
      `92c410 ${audit('Xm1a2uLwSjmLd_Z9c0hVqg')} c410 ${audit('Yn2b3vMxTknMe_a0d1iWrg')}`,
      `c410 ${trustId}`,
    ],
  },
] as const;

describe("trust-scoped tokens made by Keystone 22's formatter", () => {
  for (const r of recorded) {
    test(r.what, () => {
      const raw = Buffer.from(r.token, 'base64url');
      const decrypted = decrypt([key], raw);
      assert.ok(decrypted);
      assert.equal(new Date(decrypted.timestamp * 1000).toISOString(), r.issuedAt);
      assert.equal(decrypted.message.toString('hex'), r.bytes.join('').replaceAll(' ', ''));
      const payload = decodePayload(decrypted.message);
      assert.deepEqual(payload, r.payload);
      assert.equal(encodePayload(payload).toString('hex'), decrypted.message.toString('hex'));
      const again = encrypt(key, encodePayload(payload), decrypted.timestamp * 1000, raw.subarray(9, 25));
      assert.equal(again.toString('base64url'), r.token);
    });
  }

  test('a trust id that is not 16 bytes, or not a UUID, is refused', () => {
    const bad = pack([
      3,
      [true, Buffer.alloc(16)],
      1,
      [false, 'p'],
      1.5,
      [Buffer.alloc(16)],
      Buffer.alloc(15),
    ]);
    assert.throws(
      () => decodePayload(bad),
      (err: unknown) => err instanceof IdentityError && err.code === 'IDN_ERR_TOKEN_PAYLOAD',
    );
    assert.throws(
      () =>
        encodePayload({
          userId: 'u',
          methods: ['password'],
          scope: { kind: 'trust', projectId: 'p', trustId: 'not-a-uuid' },
          expiresAt: 0,
          auditIds: [],
        }),
      (err: unknown) => err instanceof IdentityError && err.code === 'IDN_ERR_TOKEN_PAYLOAD',
    );
  });
});
