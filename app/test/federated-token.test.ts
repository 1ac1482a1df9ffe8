/**
 * Federated Fernet tokens byte for byte with Keystone 22: tokens made by Keystone's own
 * TokenFormatter (FederatedUnscopedPayload 4, FederatedProjectScopedPayload 5,
 * FederatedDomainScopedPayload 6) with a fixed key (fixtures/keystone-federated-tokens.py)
 * decrypt to what Keystone packed, our encoder writes the same payload bytes field by field, and
 * re-encrypting with the recorded timestamp and IV gives the identical token string.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdentityError } from '../src/errors.js';
import { decrypt, encrypt, FernetKey } from '../src/token/fernet.js';
import { decodePayload, encodePayload, type TokenPayload } from '../src/token/payload.js';

const key = new FernetKey('qWl1kIjQI_PZEOimHVxuf40Xg-UeyIJN3Dw0sG-nx3A=');
const user = 'b1f4a0e8c3d94e7f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f';
const federated = {
  groupIds: ['2f1e0d9c8b7a46a5b4c3d2e1f0a9b8c7', 'federated-admins'],
  idpId: 'acme-idp',
  protocolId: 'mapped',
};
const hex = (s: string) => Buffer.from(s).toString('hex');
const audit = (id: string) => Buffer.from(id, 'base64url').toString('hex');
const expiresAt = Date.parse('2026-12-04T15:00:00Z');
// The fields every version shares after the scope: the groups ([is_uuid, id] each), the provider
// ([false, str]), the protocol as a plain str, the float64 expiry.
const tail = [
  '92',
  '92c3c410 2f1e0d9c8b7a46a5b4c3d2e1f0a9b8c7',
  `92c2b0 ${hex('federated-admins')}`,
  `92c2a8 ${hex('acme-idp')}`,
  `a6 ${hex('mapped')}`,
  'cb41dac4b55c000000',
];
const userBytes = `92c2d940 ${hex(user)}`;
const rescopedAudits = `92c410 ${audit('Yn2b3vMxTknMe_a0d1iWrg')} c410 ${audit('Xm1a2uLwSjmLd_Z9c0hVqg')}`;

const recorded: Array<{ what: string; token: string; payload: TokenPayload; bytes: string[] }> = [
  {
    what: 'unscoped (4): [4, user, mapped, groups, idp, protocol, expiry, audits]',
    token:
      'gAAAAABrEvhPsDOhbgyvZpQiaZ49PXEtPUG_4STJPhppDy7fZMwnEOINQXexff4ftI-6GDLs7eSC1So1e9w7uD36iUoNYI3-1OmNHTytwOb4vBainA4QGzfL-qChPQEImUgMnzYNAIWlr7alLIbsDaYBcJJtumBRsIZujqz_B1D34-756Wa_Dgx0WXtY_58flh_-iIgBETGh_4-MgCwpWD0XN-JMVWVU5gHdyYfJZDDaZzwFzPH5HorSDDVZOmcxFmiMKfOpIHqSjSKhRhe-MWo5FVqk8CrbUQ',
    payload: {
      userId: user,
      methods: ['mapped'],
      scope: { kind: 'unscoped' },
      expiresAt,
      auditIds: ['Xm1a2uLwSjmLd_Z9c0hVqg'],
      federated,
    },
    // 98: array of 8; 04: the version; 10: methods bitmask (mapped is [auth] methods' fifth).
    bytes: ['98', '04', userBytes, '10', ...tail, `91c410 ${audit('Xm1a2uLwSjmLd_Z9c0hVqg')}`],
  },
  {
    what: 'project scoped (5): the project as [true, 16 bytes] before the groups',
    token:
      'gAAAAABrEvhPQHz2ufBXCU3qc78Sbx3OKiI13CNWKqbJCSm9k1nVx04nhd3SSzdH6sPLX4_TZY29eMuhByFEszgdnp68St6xmVrQrqgaeqXnhkcZ327ZeliG5dBwmtpci_GNyS2vIGTMkGwQevtvtbQJqTNimnFQSjgNTXaRD65hOiQNUsycTa4wxMW2x36PsB8mcRjZe-PjwWPsHfSO3CsuImljWMi0ar6M52mWD_JSA3k59PTkNZqCfwFSrWfVsfk04u92uWtR5sjRxib_Sv8JGbGnrm_19V2UijVvFWNmju7YHPSFSfCOoLwOFJLaSlfKzp-WixC5-Pcef2oO9iyhcSyUnQ1QaQ',
    payload: {
      userId: user,
      methods: ['token', 'mapped'],
      scope: { kind: 'project', projectId: '6b6a1e4f0d3a4c2e9f8b7a6c5d4e3f21' },
      expiresAt,
      auditIds: ['Yn2b3vMxTknMe_a0d1iWrg', 'Xm1a2uLwSjmLd_Z9c0hVqg'],
      federated,
    },
    // 99: array of 9; 14: token + mapped.
    bytes: [
      '99',
      '05',
      userBytes,
      '14',
      '92c3c410 6b6a1e4f0d3a4c2e9f8b7a6c5d4e3f21',
      ...tail,
      rescopedAudits,
    ],
  },
  {
    what: 'domain scoped (6): the domain as an [is_uuid, id] pair too (unlike version 1)',
    token:
      'gAAAAABrEvhP08LEpbfJoQQVWsHEOG8dUdhi3fpTd3NW-ml7c8jR1T9Jdf3oHcoV9GqHGNKNTGlCPExWMpei6glICwu0tXQZ4Xh9e-xpWoTMuMGVLJZtA6FDphZH5BN8CHnpYT3omXyjOFilBx6MgOEdKn88GqcmgcAQCzEd9Ti2jA8O8LLpZ9h1b38-3229WdmaN85EGiGpT6-DJk3Ga-h65JXq0j0fH9DyrpEINSUkeciOwdfO1fTgGAZ0Thao4TLI4aT7yF_rv_ouFv1FmmMQae1wbbAdvgqWI3uIqbn4EC6OXqEYCwOLQBfNAguEPtOB1N3Tu1Ds',
    payload: {
      userId: user,
      methods: ['token', 'mapped'],
      scope: { kind: 'domain', domainId: 'default' },
      expiresAt,
      auditIds: ['Yn2b3vMxTknMe_a0d1iWrg', 'Xm1a2uLwSjmLd_Z9c0hVqg'],
      federated,
    },
    bytes: ['99', '06', userBytes, '14', `92c2a7 ${hex('default')}`, ...tail, rescopedAudits],
  },
];

describe("federated tokens made by Keystone 22's formatter", () => {
  for (const r of recorded) {
    test(r.what, () => {
      const raw = Buffer.from(r.token, 'base64url');
      const decrypted = decrypt([key], raw);
      assert.ok(decrypted);
      assert.equal(new Date(decrypted.timestamp * 1000).toISOString(), '2026-12-04T17:28:47.000Z');
      assert.equal(decrypted.message.toString('hex'), r.bytes.join('').replaceAll(' ', ''));
      const payload = decodePayload(decrypted.message);
      assert.deepEqual(payload, r.payload);
      assert.equal(encodePayload(payload).toString('hex'), decrypted.message.toString('hex'));
      const again = encrypt(key, encodePayload(payload), decrypted.timestamp * 1000, raw.subarray(9, 25));
      assert.equal(again.toString('base64url'), r.token);
    });
  }

  test('a federated token is unscoped, project or domain scoped, nothing else', () => {
    assert.throws(
      () =>
        encodePayload({
          userId: user,
          methods: ['mapped'],
          scope: { kind: 'system' },
          expiresAt,
          auditIds: [],
          federated,
        }),
      (err: unknown) => err instanceof IdentityError && err.code === 'IDN_ERR_TOKEN_PAYLOAD',
    );
  });
});
