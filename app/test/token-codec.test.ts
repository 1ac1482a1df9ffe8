/**
 * The token codecs against themselves: every value the msgpack encoder can write decodes to
 * itself (str, bin and array lengths in each of their forms, 32-bit ones included), every token
 * payload round-trips, and bytes that do not decode are refused with their own error code (and,
 * for msgpack, the offset).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { IdentityError } from '../src/errors.js';
import { type Packable, pack, unpack } from '../src/token/msgpack.js';
import { decodePayload, encodePayload, METHODS, type TokenPayload } from '../src/token/payload.js';

/** Values as the decoder gives them back: bin as Buffer, numbers other than -0. */
const packable: fc.Arbitrary<Packable> = fc.letrec<{ value: Packable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({ min: -40, max: 300 }),
    fc.double().filter((x) => !Object.is(x, -0)),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.array(tie('value'), { maxLength: 6 }),
  ),
})).value;

/** Lengths at and around each form's bounds: fix, 8-bit, 16-bit and 32-bit. */
const lengths = fc.constantFrom(0, 15, 16, 31, 32, 255, 256, 65_535, 65_536, 70_000);

const expectCode = (fn: () => unknown, code: string, message?: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IdentityError, String(err));
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });

describe('msgpack round trips', () => {
  test('any value the encoder writes decodes to itself', () => {
    fc.assert(
      fc.property(packable, (value) => {
        assert.deepStrictEqual(unpack(pack(value)), value);
      }),
      { numRuns: 500 },
    );
  });

  test('str, bin and array of every length form, str32, bin32 and array32 included', () => {
    fc.assert(
      fc.property(lengths, fc.constantFrom('str', 'bin', 'array'), (n, kind) => {
        const value: Packable =
          kind === 'str'
            ? 'é'.repeat(n >> 1) + 'x'.repeat(n & 1)
            : kind === 'bin'
              ? Buffer.alloc(n, 7)
              : Array(n).fill(1);
        const bytes = pack(value);
        assert.deepStrictEqual(unpack(bytes), value);
      }),
      { numRuns: 60 },
    );
    // The 32-bit forms' type bytes, as Python's msgpack writes them.
    assert.equal(pack('x'.repeat(65_536))[0], 0xdb);
    assert.equal(pack(Buffer.alloc(65_536))[0], 0xc6);
    assert.equal(pack(Array(65_536).fill(null))[0], 0xdd);
  });
});

describe('token payload round trips', () => {
  const hex = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));
  const id = fc.oneof(
    hex,
    fc.constantFrom('default', 'a-name'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 64 }),
  );
  const audit = fc
    .uint8Array({ minLength: 16, maxLength: 16 })
    .map((b) => Buffer.from(b).toString('base64url'));
  const scope = fc.oneof(
    fc.constant({ kind: 'unscoped' as const }),
    fc.constant({ kind: 'system' as const }),
    id.map((domainId) => ({ kind: 'domain' as const, domainId })),
    id.map((projectId) => ({ kind: 'project' as const, projectId })),
    fc.tuple(id, hex).map(([projectId, trustId]) => ({ kind: 'trust' as const, projectId, trustId })),
    fc.tuple(id, id).map(([projectId, applicationCredentialId]) => ({
      kind: 'application_credential' as const,
      projectId,
      applicationCredentialId,
    })),
    fc
      .tuple(id, id)
      .map(([projectId, accessTokenId]) => ({ kind: 'oauth1' as const, projectId, accessTokenId })),
  );
  const payload: fc.Arbitrary<TokenPayload> = fc.record({
    userId: id,
    methods: fc.subarray([...METHODS]),
    scope,
    // Whole milliseconds, as issued (seconds as a float64 on the wire).
    expiresAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    auditIds: fc.array(audit, { minLength: 1, maxLength: 2 }),
  });

  test('every payload decodes to itself', () => {
    fc.assert(
      fc.property(payload, (p) => {
        // fc.record builds objects without a prototype; the decoder's have Object's.
        assert.deepStrictEqual(decodePayload(encodePayload(p)), { ...p });
      }),
      { numRuns: 500 },
    );
  });
});

describe('codec errors', () => {
  test('msgpack: truncated, trailing and unknown bytes, with the offset', () => {
    expectCode(
      () => unpack(Buffer.from([0x92, 0x01])),
      'IDN_ERR_MSGPACK',
      /^truncated msgpack value at offset 2$/,
    );
    expectCode(() => unpack(Buffer.from([0xdb, 0, 0, 1])), 'IDN_ERR_MSGPACK', /truncated .* at offset 1$/);
    expectCode(() => unpack(Buffer.from([0xc0, 0xc0])), 'IDN_ERR_MSGPACK', /^trailing bytes .* at offset 1$/);
    expectCode(
      () => unpack(Buffer.from([0x91, 0xc1])),
      'IDN_ERR_MSGPACK',
      /^msgpack type 0xc1 .* at offset 1$/,
    );
  });

  test('payload: not a versioned array, an unknown version, a bad id, bad fields', () => {
    expectCode(() => decodePayload(pack('x')), 'IDN_ERR_TOKEN_PAYLOAD', /not a versioned array/);
    expectCode(
      () => decodePayload(pack([99, [false, 'u'], 2, 1.5, []])),
      'IDN_ERR_TOKEN_PAYLOAD',
      /version 99/,
    );
    expectCode(() => decodePayload(pack([0, 'u', 2, 1.5, []])), 'IDN_ERR_TOKEN_PAYLOAD', /bad id/);
    expectCode(
      () => decodePayload(pack([0, [false, 'u'], 'x', 1.5, []])),
      'IDN_ERR_TOKEN_PAYLOAD',
      /methods/,
    );
    expectCode(() => decodePayload(pack([0, [false, 'u'], 2, 'x', []])), 'IDN_ERR_TOKEN_PAYLOAD', /expiry/);
    expectCode(
      () => decodePayload(pack([0, [false, 'u'], 2, 1.5, 'x'])),
      'IDN_ERR_TOKEN_PAYLOAD',
      /audit ids/,
    );
    expectCode(
      () => decodePayload(pack([0, [false, 'u'], 2, 1.5, [1]])),
      'IDN_ERR_TOKEN_PAYLOAD',
      /audit ids/,
    );
  });
});
