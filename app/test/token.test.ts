import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decrypt, encrypt, FernetKey } from '../src/token/fernet.js';
import { loadKeys, rotateKeys, setupKeys } from '../src/token/keys.js';
import { pack, unpack } from '../src/token/msgpack.js';
import { decodePayload, encodePayload, type TokenPayload } from '../src/token/payload.js';

describe('Fernet (spec test vectors)', () => {
  // fernet/spec generate.json and verify.json
  const secret = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
  const token =
    'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==';
  const now = Date.parse('1985-10-26T01:20:00-07:00');
  const iv = Buffer.from([...Array(16).keys()]);

  test('generate: the same token byte for byte with a fixed clock and IV', () => {
    assert.equal(
      encrypt(new FernetKey(secret), Buffer.from('hello'), now, iv).toString('base64url'),
      token.replace(/=+$/, ''),
    );
  });

  test('verify: decrypts the spec token and reads its timestamp', () => {
    const out = decrypt([new FernetKey(secret)], Buffer.from(token, 'base64url'));
    assert.equal(out?.message.toString(), 'hello');
    assert.equal(out?.timestamp, now / 1000);
  });

  test('invalid: a wrong key, a flipped byte, a bad version, a short token', () => {
    const bytes = Buffer.from(token, 'base64url');
    assert.equal(decrypt([new FernetKey(FernetKey.generate())], bytes), null);
    for (const at of [0, 5, 20, 40, bytes.length - 1]) {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] as number) ^ 1;
      assert.equal(decrypt([new FernetKey(secret)], copy), null, `byte ${at}`);
    }
    assert.equal(decrypt([new FernetKey(secret)], bytes.subarray(0, 40)), null);
  });
});

describe('msgpack as Python packs it', () => {
  const cases: Array<[unknown, number[]]> = [
    [null, [0xc0]],
    [true, [0xc3]],
    [5, [0x05]],
    [200, [0xcc, 200]],
    [70000, [0xce, 0, 1, 0x11, 0x70]],
    [-3, [0xfd]],
    [1.5, [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]],
    ['all', [0xa3, 0x61, 0x6c, 0x6c]],
    [Buffer.from([1, 2]), [0xc4, 2, 1, 2]],
    [
      [1, [true, 'x']],
      [0x92, 1, 0x92, 0xc3, 0xa1, 0x78],
    ],
  ];
  for (const [value, bytes] of cases) {
    test(`${JSON.stringify(value)} ↔ ${Buffer.from(bytes).toString('hex')}`, () => {
      assert.deepEqual([...pack(value as never)], bytes);
      assert.deepEqual(
        JSON.parse(JSON.stringify(unpack(Buffer.from(bytes)))),
        JSON.parse(JSON.stringify(value)),
      );
    });
  }
});

describe("Keystone's token payloads", () => {
  const base = {
    userId: '1efc5c3f84a5443dbdbbe0691a6e185a',
    methods: ['password'] as TokenPayload['methods'],
    expiresAt: 1_700_000_000_500,
    auditIds: ['3T2dc1CGQxyJsHdDu1xkcw'],
  };

  test('project scope: [2, [true, uuid bytes], 2, [true, uuid bytes], expires float, [audit bytes]]', () => {
    const payload: TokenPayload = {
      ...base,
      scope: { kind: 'project', projectId: 'af1567367a6c40dda6df5fa4b93df3d1' },
    };
    const bytes = encodePayload(payload);
    assert.deepEqual(
      [...bytes.subarray(0, 5)],
      [0x96, 0x02, 0x92, 0xc3, 0xc4], // array of 6, version 2, [true, bin …
    );
    assert.equal(bytes[6], 0x1e); // first byte of the user id 1efc…
    assert.deepEqual(decodePayload(bytes), payload);
  });

  test('the default domain id travels as a string, methods as a bitmask', () => {
    const payload: TokenPayload = {
      ...base,
      methods: ['password', 'token'],
      scope: { kind: 'domain', domainId: 'default' },
    };
    const decoded = unpack(encodePayload(payload)) as unknown[];
    assert.equal(decoded[0], 1);
    assert.equal(decoded[2], 2 | 4);
    assert.equal(decoded[3], 'default');
    assert.deepEqual(decodePayload(encodePayload(payload)), payload);
  });

  test("OAuth scope: Keystone's OauthScopedPayload bytes, as its own formatter packs them", () => {
    const payload: TokenPayload = {
      ...base,
      methods: ['oauth1'],
      scope: {
        kind: 'oauth1',
        projectId: 'af1567367a6c40dda6df5fa4b93df3d1',
        accessTokenId: '5b1e2c6a0f3d4e8a9b7c6d5e4f3a2b1c',
      },
    };
    // msgpack.packb((7,) + OauthScopedPayload.assemble(user, ['oauth1'], None, project, None,
    // '2023-11-14T22:13:20.500000Z', audits, None, None, None, None, access_token_id, None)).
    const keystone = Buffer.from(
      [
        '97', // array of 7
        '07', // version 7
        '92c3c410',
        '1efc5c3f84a5443dbdbbe0691a6e185a', // [true, user bytes]
        '08', // methods: oauth1
        '92c3c410',
        'af1567367a6c40dda6df5fa4b93df3d1', // [true, project bytes]
        '92c3c410',
        '5b1e2c6a0f3d4e8a9b7c6d5e4f3a2b1c', // [true, access token bytes]
        'cb41d954fc40200000', // float64 1700000000.5
        '91c410',
        'dd3d9d735086431c89b07743bb5c6473', // [audit bytes]
      ].join(''),
      'hex',
    );
    assert.deepEqual(encodePayload(payload), keystone);
    assert.deepEqual(decodePayload(keystone), payload);
  });

  test('unscoped and system round trips', () => {
    for (const scope of [{ kind: 'unscoped' }, { kind: 'system' }] as const) {
      assert.deepEqual(decodePayload(encodePayload({ ...base, scope })), { ...base, scope });
    }
  });
});

describe('key repository', () => {
  test('setup, rotate (staged becomes primary), keep max_active_keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    try {
      assert.equal(setupKeys(dir), true);
      assert.equal(setupKeys(dir), false, 'idempotent');
      const staged = loadKeys(dir).at(-1)!;
      const token = encrypt(loadKeys(dir)[0]!, Buffer.from('x'));
      rotateKeys(dir, 3);
      assert.deepEqual(loadKeys(dir)[0]!.signing, staged.signing, 'the staged key is now primary');
      assert.ok(decrypt(loadKeys(dir), token), 'a token from the previous primary still validates');
      rotateKeys(dir, 3);
      rotateKeys(dir, 3);
      assert.deepEqual(readdirSync(dir).sort(), ['0', '3', '4']);
      assert.equal(decrypt(loadKeys(dir), token), null, 'past max_active_keys it no longer does');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a token recorded from Keystone 22 (shared/tools/keystone-reference)', () => {
  // Issued by real Keystone for admin on project admin; the primary key of its repository then.
  const key = new FernetKey('qWl1kIjQI_PZEOimHVxuf40Xg-UeyIJN3Dw0sG-nx3A=');
  const token =
    'gAAAAABrBna6cV1GhNYE0DPl58hCXBGUcejoiQDQSPRL4QLO_17uN6HWM0Wl6IvcBehpascxOK172CGSEGtcTRAFtI-bBsrixDe8Po2GwQlxYPHETUfQOUY1b1dkOmjBOX7iBXjCmVcwNrWTthCEe-699-rW2akdW0678y4xhN2hVV3hq8MATww';

  test('decrypts to the ids, audit id and expiry Keystone reported, and re-encrypts to the same string', () => {
    const raw = Buffer.from(token, 'base64url');
    const decrypted = decrypt([key], raw);
    assert.ok(decrypted);
    assert.equal(new Date(decrypted.timestamp * 1000).toISOString(), '2026-11-25T05:48:42.000Z');
    const payload = decodePayload(decrypted.message);
    assert.deepEqual(payload, {
      userId: '048a2e620f4a41d89790ab7646116811',
      methods: ['password'],
      scope: { kind: 'project', projectId: '268a24fd0ce642bd9ff5538c3411a585' },
      expiresAt: Date.parse('2026-11-25T06:48:42.000Z'),
      auditIds: ['5NhaX-zYS_Su0xiMtt33HA'],
    });
    // [2, [true, user bytes], 2, [true, project bytes], float64 expiry, [audit bytes]]
    assert.equal(
      decrypted.message.toString('hex'),
      `9602 92c3c410048a2e620f4a41d89790ab7646116811 02 92c3c410268a24fd0ce642bd9ff5538c3411a585 cb41dac1a132800000 91c410${Buffer.from('5NhaX-zYS_Su0xiMtt33HA', 'base64url').toString('hex')}`.replaceAll(
        ' ',
        '',
      ),
    );
    assert.equal(encodePayload(payload).toString('hex'), decrypted.message.toString('hex'));
    const again = encrypt(key, encodePayload(payload), decrypted.timestamp * 1000, raw.subarray(9, 25));
    assert.equal(again.toString('base64url'), token);
  });
});
