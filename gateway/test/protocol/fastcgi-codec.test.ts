import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isGatewayError } from '../../src/errors.js';
import {
  decodeNameValuePairs,
  encodeBeginRequest,
  encodeEndRequest,
  encodeGetValues,
  encodeGetValuesResult,
  encodeNameValuePairs,
  encodeParams,
  encodeRecord,
  encodeStream,
  encodeUnknownType,
  FastcgiDecoder,
  type FastcgiRecord,
  RecordType,
} from '../../src/protocol/fastcgi/index.js';
import { invalidFixtures, recordFixtures } from '../fixtures/fastcgi.js';

function decodeAll(chunks: Buffer[]): FastcgiRecord[] {
  const decoder = new FastcgiDecoder();
  const out: FastcgiRecord[] = [];
  for (const chunk of chunks) decoder.push(chunk, (r) => out.push(r));
  decoder.end();
  return out;
}

/** Compares records, turning Buffers into plain byte arrays. */
function plain(records: FastcgiRecord[]): unknown {
  return JSON.parse(JSON.stringify(records));
}

function encode(record: FastcgiRecord): Buffer {
  switch (record.kind) {
    case 'begin-request':
      return encodeBeginRequest(record.requestId, record.role, record.flags);
    case 'abort-request':
      return encodeRecord(RecordType.AbortRequest, record.requestId);
    case 'end-request':
      return encodeEndRequest(record.requestId, record.appStatus, record.protocolStatus);
    case 'stream':
      return Buffer.concat(encodeStream(record.type, record.requestId, record.data));
    case 'get-values':
      return encodeGetValues(record.names);
    case 'get-values-result':
      return encodeGetValuesResult(record.pairs);
    case 'unknown-type':
      return encodeUnknownType(record.unknownType);
    case 'unknown':
      return encodeRecord(record.type, record.requestId, record.content);
  }
}

describe('FastCGI records: golden bytes', () => {
  for (const fixture of recordFixtures) {
    test(`${fixture.name}: parse, generate, mirror`, () => {
      assert.deepEqual(plain(decodeAll([fixture.bytes])), plain([fixture.record]));
      assert.ok(encode(fixture.record).equals(fixture.bytes), 'encoded bytes equal the golden bytes');
      assert.deepEqual(plain(decodeAll([encode(fixture.record)])), plain([fixture.record]));
    });

    test(`${fixture.name}: every split offset and byte by byte`, () => {
      const expected = plain([fixture.record]);
      for (let at = 0; at <= fixture.bytes.length; at++) {
        assert.deepEqual(
          plain(decodeAll([fixture.bytes.subarray(0, at), fixture.bytes.subarray(at)])),
          expected,
          `split at ${at}`,
        );
      }
      const bytes = [...fixture.bytes].map((byte) => Buffer.from([byte]));
      assert.deepEqual(plain(decodeAll(bytes)), expected);
    });
  }

  test('all records in one chunk, and the stream split at every offset', () => {
    const all = Buffer.concat(recordFixtures.map((f) => f.bytes));
    const expected = plain(recordFixtures.map((f) => f.record));
    assert.deepEqual(plain(decodeAll([all])), expected);
    for (let at = 0; at <= all.length; at += 3) {
      assert.deepEqual(plain(decodeAll([all.subarray(0, at), all.subarray(at)])), expected, `split at ${at}`);
    }
  });

  test('stream data inside one chunk is a view of it, not a copy', () => {
    const bytes = recordFixtures.find((f) => f.name.startsWith('STDIN'))!.bytes;
    const [record] = decodeAll([bytes]) as Array<Extract<FastcgiRecord, { kind: 'stream' }>>;
    assert.equal(record!.data.buffer, bytes.buffer);
  });
});

describe('FastCGI records: invalid input', () => {
  for (const fixture of invalidFixtures) {
    test(`${fixture.name}: ${fixture.code} at offset ${fixture.offset}`, () => {
      for (const chunks of [[fixture.bytes], [...fixture.bytes].map((byte) => Buffer.from([byte]))]) {
        assert.throws(
          () => decodeAll(chunks),
          (err) => isGatewayError(err) && err.code === fixture.code && err.context.offset === fixture.offset,
        );
      }
    });
  }

  test('a record cut short is GW_ERR_FCGI_TRUNCATED at the end of input', () => {
    const bytes = recordFixtures[0]!.bytes;
    for (let at = 1; at < bytes.length; at++) {
      assert.throws(
        () => decodeAll([bytes.subarray(0, at)]),
        (err) => isGatewayError(err, 'GW_ERR_FCGI_TRUNCATED') && err.context.offset === at,
      );
    }
  });

  test('a decoder that failed stays failed', () => {
    const decoder = new FastcgiDecoder();
    assert.throws(() => decoder.push(Buffer.from([9, 9, 9, 9, 9, 9, 9, 9]), () => {}));
    assert.throws(
      () => decoder.push(recordFixtures[0]!.bytes, () => {}),
      (err) => isGatewayError(err),
    );
  });
});

describe('name-value pairs', () => {
  test('1- and 4-byte lengths for names and values in all four combinations', () => {
    const short = 'n'.repeat(127);
    const long = 'L'.repeat(128);
    const cases: Array<[string, string]> = [
      [short, short],
      [short, long],
      [long, short],
      [long, long],
      ['EMPTY', ''],
      ['V', 'x'.repeat(70_000)],
    ];
    for (const pair of cases) {
      const bytes = encodeNameValuePairs([pair]);
      assert.deepEqual(decodeNameValuePairs(bytes), [pair]);
      const nameBytes = pair[0].length > 127 ? 4 : 1;
      const valueBytes = pair[1].length > 127 ? 4 : 1;
      assert.equal(bytes.length, nameBytes + valueBytes + pair[0].length + pair[1].length);
    }
  });

  test('golden bytes of a 4-byte length: top bit set, big-endian', () => {
    const bytes = encodeNameValuePairs([['N'.repeat(128), 'v']]);
    assert.deepEqual([...bytes.subarray(0, 5)], [0x80, 0x00, 0x00, 0x80, 0x01]);
  });

  test('trailing NULs are trimmed; latin1 bytes survive', () => {
    const bytes = Buffer.from([1, 3, 0x41, 0x78, 0, 0, 2, 2, 0x42, 0x43, 0xe9, 0xff]);
    assert.deepEqual(decodeNameValuePairs(bytes), [
      ['A', 'x'],
      ['BC', 'éÿ'],
    ]);
  });

  test('PARAMS over 65535 bytes span several records and reassemble', () => {
    const pairs: Array<[string, string]> = [
      ['A', 'a'.repeat(40_000)],
      ['B', 'b'.repeat(40_000)],
    ];
    const records = decodeAll([encodeParams(1, pairs)]) as Array<Extract<FastcgiRecord, { kind: 'stream' }>>;
    assert.ok(records.length >= 3);
    assert.equal(records.at(-1)!.data.length, 0, 'ends with the empty record');
    assert.deepEqual(decodeNameValuePairs(Buffer.concat(records.map((r) => r.data))), pairs);
  });
});

describe('encodeStream', () => {
  for (const size of [0, 1, 7, 8, 65_535, 65_536, 200_000]) {
    test(`${size} bytes: records of at most 65535, padded to 8, reassembled`, () => {
      const data = Buffer.alloc(size, 'z');
      const bytes = Buffer.concat(encodeStream(RecordType.Stdout, 3, data));
      assert.equal(bytes.length % 8, 0);
      const records = decodeAll([bytes]) as Array<Extract<FastcgiRecord, { kind: 'stream' }>>;
      assert.equal(records.length, Math.max(1, Math.ceil(size / 65_535)));
      for (const r of records) assert.ok(r.data.length <= 65_535);
      assert.ok(Buffer.concat(records.map((r) => r.data)).equals(data));
    });
  }
});

describe('property: malformed input ends in a typed error, never a crash or a hang', () => {
  const valid = Buffer.concat(recordFixtures.map((f) => f.bytes));

  function feed(bytes: Buffer, splits: number[]): void {
    const decoder = new FastcgiDecoder();
    let at = 0;
    try {
      for (const s of [...splits.map((x) => x % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
        decoder.push(bytes.subarray(at, Math.max(at, s)), () => {});
        at = Math.max(at, s);
      }
      decoder.end();
    } catch (err) {
      if (!isGatewayError(err)) throw err;
    }
  }

  test('random bytes in random splits', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (bytes, splits) => {
          feed(Buffer.from(bytes), splits);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('valid streams with mutated bytes, in random splits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (mutations, splits) => {
          const bytes = Buffer.from(valid);
          for (const [at, value] of mutations) bytes[at] = value;
          feed(bytes, splits);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
