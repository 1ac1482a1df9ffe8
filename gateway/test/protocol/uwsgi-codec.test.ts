/**
 * The uwsgi codec against the golden packets of test/fixtures/uwsgi.ts: parse, generate and
 * mirror; every split offset and byte by byte; every rejection with its exact code and offset;
 * and a bounded property test over random and mutated packets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GatewayError, isGatewayError } from '../../src/errors.js';
import {
  encodeRequest,
  encodeVars,
  UWSGI_HEADER_LEN,
  UwsgiDecoder,
  type UwsgiDecoderOptions,
  type UwsgiEvent,
} from '../../src/protocol/uwsgi/index.js';
import { b, invalidFixtures, type PacketFixture, packetFixtures } from '../fixtures/uwsgi.js';

interface Decoded {
  events: UwsgiEvent[];
  offset: number;
}

/** Decodes the chunks and ends the input; body data is copied, as a consumer keeping it must. */
function decode(chunks: Buffer[], options?: UwsgiDecoderOptions): Decoded {
  const decoder = new UwsgiDecoder(options);
  const events: UwsgiEvent[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (e) =>
      events.push(e.kind === 'body' ? { kind: 'body', data: Buffer.from(e.data) } : e),
    );
  }
  decoder.end();
  return { events, offset: decoder.offset };
}

/** Checks the event order every consumer relies on, and gives back the request. */
function request(events: UwsgiEvent[]): { head: UwsgiEvent & { kind: 'vars' }; body: Buffer } {
  const [head, ...rest] = events;
  assert.equal(head?.kind, 'vars', 'the vars event comes first');
  assert.equal(rest.at(-1)?.kind, 'end', 'the end event comes last');
  const bodies = rest.slice(0, -1);
  for (const e of bodies) {
    assert.equal(e.kind, 'body', 'only body events between vars and end');
    if (e.kind === 'body') assert.ok(e.data.length > 0, 'no empty body events');
  }
  const body = Buffer.concat(bodies.flatMap((e) => (e.kind === 'body' ? [e.data] : [])));
  assert.equal(body.length, head.contentLength, 'exactly CONTENT_LENGTH body bytes');
  return { head, body };
}

function assertFixture(f: PacketFixture, chunks: Buffer[], message: string): void {
  const { events, offset } = decode(chunks, f.options);
  const { head, body } = request(events);
  assert.deepEqual(
    head,
    {
      kind: 'vars',
      modifier1: f.modifier1,
      modifier2: f.modifier2,
      vars: f.vars,
      contentLength: f.contentLength,
    },
    message,
  );
  assert.ok(body.equals(f.body), `${message}: body`);
  assert.equal(offset, f.bytes.length, `${message}: offset`);
}

/** Split offsets: all of them for small packets, the field boundaries and a sample for large ones. */
function splitOffsets(bytes: Buffer): number[] {
  if (bytes.length <= 4096) return Array.from({ length: bytes.length + 1 }, (_, i) => i);
  const varsEnd = UWSGI_HEADER_LEN + bytes.readUInt16LE(1);
  const offsets = new Set([
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    varsEnd - 1,
    varsEnd,
    varsEnd + 1,
    bytes.length - 1,
    bytes.length,
  ]);
  for (let i = 1; i < 64; i++) offsets.add(Math.floor((bytes.length * i) / 64));
  return [...offsets].filter((n) => n >= 0 && n <= bytes.length);
}

const bytewise = (bytes: Buffer): Buffer[] => Array.from(bytes, (x) => Buffer.from([x]));

describe('uwsgi golden packets', () => {
  for (const f of packetFixtures) {
    describe(f.name, () => {
      test('parse: one chunk', () => {
        assertFixture(f, [f.bytes], 'one chunk');
      });

      test('generate: encodeRequest and encodeVars give the golden bytes', () => {
        const body = f.body.length > 0 ? f.body : undefined;
        assert.ok(encodeRequest(f.vars, body, f.modifier1, f.modifier2).equals(f.bytes));
        const varsEnd = UWSGI_HEADER_LEN + f.bytes.readUInt16LE(1);
        assert.ok(encodeVars(f.vars).equals(f.bytes.subarray(UWSGI_HEADER_LEN, varsEnd)));
      });

      test('mirror: what was decoded encodes to the same bytes', () => {
        const { head, body } = request(decode([f.bytes], f.options).events);
        assert.ok(encodeRequest(head.vars, body, head.modifier1, head.modifier2).equals(f.bytes));
      });

      test('split at every offset, and byte by byte', () => {
        for (const at of splitOffsets(f.bytes)) {
          assertFixture(f, [f.bytes.subarray(0, at), f.bytes.subarray(at)], `split at ${at}`);
        }
        assertFixture(f, bytewise(f.bytes), 'byte by byte');
      });
    });
  }
});

describe('uwsgi decoder behaviour', () => {
  const post = packetFixtures.find((f) => f.name === 'POST with a 5-byte body')!.bytes;

  test('body events are zero-copy views of the pushed chunks', () => {
    const decoder = new UwsgiDecoder();
    const seen: Buffer[] = [];
    // Chunks with memory of their own (Buffer.from may share a pool between small buffers).
    const own = (bytes: Buffer) => {
      const copy = Buffer.alloc(bytes.length);
      bytes.copy(copy);
      return copy;
    };
    const first = own(post.subarray(0, 46)); // the header, the vars and "hel"
    const second = own(post.subarray(46));
    for (const chunk of [first, second]) {
      decoder.push(chunk, (e) => {
        if (e.kind === 'body') {
          assert.equal(e.data.buffer, chunk.buffer, 'the same memory as the input');
          seen.push(e.data);
        }
      });
    }
    assert.deepEqual(
      seen.map((s) => s.toString()),
      ['hel', 'lo'],
    );
  });

  test('offset counts the bytes consumed, events arrive as soon as their bytes do', () => {
    const decoder = new UwsgiDecoder();
    const log: string[] = [];
    const on = (e: UwsgiEvent) => log.push(`${e.kind}@${decoder.offset}`);
    decoder.push(post.subarray(0, 3), on);
    assert.equal(decoder.offset, 3);
    decoder.push(post.subarray(3, 43), on); // the rest of the header and the whole vars block
    decoder.push(post.subarray(43, 46), on);
    decoder.push(post.subarray(46), on);
    decoder.end();
    assert.deepEqual(log, ['vars@43', 'body@46', 'body@48', 'end@48']);
  });

  test('an empty chunk is a no-op', () => {
    const decoder = new UwsgiDecoder();
    let events = 0;
    decoder.push(Buffer.alloc(0), () => events++);
    assert.equal(decoder.offset, 0);
    decoder.push(post, () => events++);
    decoder.push(Buffer.alloc(0), () => events++);
    decoder.end();
    assert.equal(events, 3);
  });

  test('end() may be called again after a whole request', () => {
    const decoder = new UwsgiDecoder();
    const log: string[] = [];
    decoder.push(b(0, 0, 0, 0), (e) => log.push(e.kind));
    assert.deepEqual(log, ['vars', 'end'], 'a whole request');
    assert.doesNotThrow(() => decoder.end());
    assert.doesNotThrow(() => decoder.end());
    assert.deepEqual(log, ['vars', 'end'], 'end() adds no event');
    assert.equal(decoder.offset, 4);
    // Unlike a decoder stopped inside a packet, which end() refuses.
    const cut = new UwsgiDecoder();
    cut.push(b(0, 0), () => {});
    assert.throws(
      () => cut.end(),
      (err) => isGatewayError(err, 'GW_ERR_UWSGI_TRUNCATED'),
    );
  });

  test('a decoder that failed stays failed, with the same error', () => {
    const decoder = new UwsgiDecoder();
    let first: unknown;
    assert.throws(
      () => decoder.push(b(9), () => {}),
      (err) => {
        first = err;
        return isGatewayError(err, 'GW_ERR_UWSGI_MODIFIER');
      },
    );
    assert.throws(
      () => decoder.push(b(0, 0, 0, 0), () => assert.fail('no events after an error')),
      (err) => err === first,
    );
    assert.throws(
      () => decoder.end(),
      (err) => err === first,
    );
  });

  test('an exception from the event callback reaches the caller and stops the decoder', () => {
    const decoder = new UwsgiDecoder();
    const boom = new Error('consumer failed');
    assert.throws(
      () =>
        decoder.push(post, () => {
          throw boom;
        }),
      (err) => err === boom,
    );
    assert.throws(
      () => decoder.push(b('x'), () => {}),
      (err) => err === boom,
    );
  });

  test('maxVarsSize above 65535 still accepts the largest block', () => {
    const largest = packetFixtures.find((f) => f.name.startsWith('the largest vars block'))!;
    assertFixture({ ...largest, options: { maxVarsSize: 1 << 20 } }, [largest.bytes], 'clamped limit');
  });

  test('a GatewayError carries its code, the offset and a message naming the problem', () => {
    try {
      decode([b(0, 0x01, 0x10, 0)], { maxVarsSize: 4096 });
      assert.fail('expected a GatewayError');
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'GW_ERR_UWSGI_VARS_TOO_LARGE');
      assert.equal(err.offset, 1);
      assert.match(err.message, /4097 bytes, limit 4096/);
    }
  });
});

describe('uwsgi encoder rejects what cannot be sent', () => {
  test('a var over 65535 bytes', () => {
    assert.throws(() => encodeVars([['X', 'v'.repeat(0x10000)]]), RangeError);
  });
  test('a string outside latin1', () => {
    assert.throws(() => encodeVars([['X', '\u20ac']]), RangeError);
  });
  test('a vars block over 65535 bytes', () => {
    assert.throws(() => encodeRequest([['X', 'v'.repeat(0xfffb)]]), RangeError);
    assert.equal(encodeRequest([['X', 'v'.repeat(0xfffa)]]).length, 4 + 0xffff);
  });
  test('a modifier that is not a u8', () => {
    assert.throws(() => encodeRequest([], undefined, 256), RangeError);
    assert.throws(() => encodeRequest([], undefined, 0, -1), RangeError);
  });
});

describe('uwsgi invalid packets: exact code and offset', () => {
  /** Errors found before the vars event must not leak a half-read request to the consumer. */
  const beforeVars = new Set([
    'GW_ERR_UWSGI_MODIFIER',
    'GW_ERR_UWSGI_VARS_TOO_LARGE',
    'GW_ERR_UWSGI_VAR_LENGTH',
    'GW_ERR_UWSGI_CONTENT_LENGTH',
  ]);
  for (const c of invalidFixtures) {
    test(`${c.name}: ${c.code} at ${c.offset}`, () => {
      const splits = splitOffsets(c.bytes).map((at) => [c.bytes.subarray(0, at), c.bytes.subarray(at)]);
      for (const chunks of [[c.bytes], bytewise(c.bytes), ...splits]) {
        const decoder = new UwsgiDecoder(c.options);
        const kinds: string[] = [];
        assert.throws(
          () => {
            for (const chunk of chunks) decoder.push(chunk, (e) => kinds.push(e.kind));
            decoder.end();
          },
          (err) => {
            assert.ok(isGatewayError(err), `a GatewayError, got ${String(err)}`);
            assert.equal(err.code, c.code, `code for ${chunks.length} chunks`);
            assert.equal(err.context.offset, c.offset, `offset for ${chunks.length} chunks`);
            return true;
          },
        );
        if (beforeVars.has(c.code)) assert.deepEqual(kinds, []);
      }
    });
  }
});

describe('uwsgi properties (bounded)', () => {
  const latin1 = fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((n) => String.fromCharCode(n)),
    maxLength: 40,
  });

  test('any encoded request decodes to itself in any split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(latin1, latin1), { maxLength: 8 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 0, max: 255 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (pairs, bodyBytes, modifier2, cuts) => {
          const body = Buffer.from(bodyBytes);
          const vars: Array<[string, string]> = [
            ...pairs.filter(([k]) => k !== 'CONTENT_LENGTH'),
            ['CONTENT_LENGTH', body.length > 0 ? String(body.length) : ''],
          ];
          const bytes = encodeRequest(vars, body, 0, modifier2);
          const { head, body: decoded } = request(decode(cut(bytes, cuts)).events);
          assert.deepEqual(head.vars, vars);
          assert.equal(head.modifier2, modifier2);
          assert.ok(decoded.equals(body));
        },
      ),
      { numRuns: 500 },
    );
  });

  test('random and mutated packets in random splits give events or a GatewayError, nothing else', () => {
    const seeds = packetFixtures.filter((f) => f.bytes.length < 2048).map((f) => f.bytes);
    const mutated = fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.uint8Array({ maxLength: 8 }),
      )
      .map(([seed, edits, truncate, extra]) => {
        const bytes = Buffer.from(seed);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        const kept = truncate === undefined ? bytes : bytes.subarray(0, truncate % (bytes.length + 1));
        return Buffer.concat([kept, Buffer.from(extra)]);
      });
    const random = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(fc.oneof(random, mutated), fc.array(fc.nat(), { maxLength: 5 }), (bytes, cuts) => {
        let decoded: Decoded;
        try {
          decoded = decode(cut(bytes, cuts), { allowedModifiers: [0, 100] });
        } catch (err) {
          if (!isGatewayError(err)) throw err;
          const offset = err.context.offset;
          assert.ok(typeof offset === 'number' && offset >= 0 && offset <= bytes.length, `offset ${offset}`);
          return;
        }
        // Accepted input is exactly one well-formed request: it re-encodes to the same bytes.
        const { head, body } = request(decoded.events);
        assert.ok(encodeRequest(head.vars, body, head.modifier1, head.modifier2).equals(bytes));
      }),
      { numRuns: 3000 },
    );
  });
});

/** The bytes cut at the given (wrapped) positions, in order. */
function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = cuts.map((n) => n % (bytes.length + 1)).sort((x, y) => x - y);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}
