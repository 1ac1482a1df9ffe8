/**
 * uwsgi packets from the uWSGI protocol description: header (modifier1 u8, datasize u16
 * little-endian, modifier2 u8), vars (u16le sizes), then CONTENT_LENGTH body bytes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isGatewayError } from '../../src/errors.js';
import { encodeRequest, encodeVars, UwsgiDecoder, type UwsgiEvent } from '../../src/protocol/uwsgi/index.js';

const b = (...parts: Array<number | string>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from([p]) : Buffer.from(p, 'latin1'))));

const fixtures: Array<{ name: string; bytes: Buffer; vars: Array<[string, string]>; body: string }> = [
  {
    name: 'GET with two vars and no body',
    // modifier1 0, datasize 0x001b (27) little-endian, modifier2 0
    // vars: u16le 4 "PATH", u16le 1 "/" = 2+4+2+1 = 9; u16le 14 "CONTENT_LENGTH", u16le 0 = 18 → 27
    bytes: b(0, 27, 0, 0, 4, 0, 'PATH', 1, 0, '/', 14, 0, 'CONTENT_LENGTH', 0, 0),
    vars: [
      ['PATH', '/'],
      ['CONTENT_LENGTH', ''],
    ],
    body: '',
  },
  {
    name: 'POST with a 5-byte body',
    // vars: 14 "CONTENT_LENGTH" 1 "5" = 2+14+2+1 = 19 → datasize 0x0013
    bytes: b(0, 19, 0, 0, 14, 0, 'CONTENT_LENGTH', 1, 0, '5', 'hello'),
    vars: [['CONTENT_LENGTH', '5']],
    body: 'hello',
  },
  {
    name: 'a var of 300 bytes (u16le 0x012c)',
    // 2+1+2+300 = 305 = 0x0131 → datasize bytes 0x31 0x01
    bytes: b(0, 0x31, 0x01, 0, 1, 0, 'X', 0x2c, 0x01, 'v'.repeat(300)),
    vars: [['X', 'v'.repeat(300)]],
    body: '',
  },
  { name: 'an empty vars block', bytes: b(0, 0, 0, 0), vars: [], body: '' },
];

function decode(chunks: Buffer[], options = {}): UwsgiEvent[] {
  const decoder = new UwsgiDecoder(options);
  const events: UwsgiEvent[] = [];
  for (const c of chunks)
    decoder.push(c, (e) => events.push(e.kind === 'body' ? { kind: 'body', data: Buffer.from(e.data) } : e));
  decoder.end();
  return events;
}

function summary(events: UwsgiEvent[]): { vars: Array<[string, string]>; body: string; ends: number } {
  const vars = events.find((e) => e.kind === 'vars');
  return {
    vars: vars?.kind === 'vars' ? vars.vars : [],
    body: Buffer.concat(events.flatMap((e) => (e.kind === 'body' ? [e.data] : []))).toString('latin1'),
    ends: events.filter((e) => e.kind === 'end').length,
  };
}

describe('uwsgi packets: golden bytes', () => {
  for (const f of fixtures) {
    test(`${f.name}: parse, generate, every split offset`, () => {
      const expected = { vars: f.vars, body: f.body, ends: 1 };
      assert.deepEqual(summary(decode([f.bytes])), expected);
      assert.ok(encodeRequest(f.vars, f.body ? Buffer.from(f.body) : undefined).equals(f.bytes));
      for (let at = 0; at <= f.bytes.length; at++) {
        assert.deepEqual(
          summary(decode([f.bytes.subarray(0, at), f.bytes.subarray(at)])),
          expected,
          `split at ${at}`,
        );
      }
      assert.deepEqual(summary(decode([...f.bytes].map((x) => Buffer.from([x])))), expected);
    });
  }

  test('the vars event reports modifiers and the body length', () => {
    const [vars] = decode([encodeRequest([['CONTENT_LENGTH', '3']], Buffer.from('abc'))]);
    assert.deepEqual(vars, {
      kind: 'vars',
      modifier1: 0,
      modifier2: 0,
      vars: [['CONTENT_LENGTH', '3']],
      contentLength: 3,
    });
  });

  test('encodeVars is the block alone', () => {
    assert.ok(encodeVars([['A', 'b']]).equals(b(1, 0, 'A', 1, 0, 'b')));
  });
});

describe('uwsgi packets: invalid input', () => {
  const cases: Array<{ name: string; bytes: Buffer; code: string; offset: number; options?: object }> = [
    {
      name: 'modifier1 22 (code evaluation)',
      bytes: b(22, 0, 0, 0),
      code: 'GW_ERR_UWSGI_MODIFIER',
      offset: 0,
    },
    {
      name: 'HTTP spoken to the socket',
      bytes: b('GET / HTTP/1.1\r\n\r\n'),
      code: 'GW_ERR_UWSGI_MODIFIER',
      offset: 0,
    },
    {
      name: 'vars block over the limit',
      bytes: b(0, 0x01, 0x10, 0),
      code: 'GW_ERR_UWSGI_VARS_TOO_LARGE',
      offset: 1,
      options: { maxVarsSize: 4096 },
    },
    {
      name: 'a key length past the block',
      bytes: b(0, 4, 0, 0, 9, 0, 'AB'),
      code: 'GW_ERR_UWSGI_VAR_LENGTH',
      offset: 4,
    },
    {
      name: 'a value size field cut by the block end',
      bytes: b(0, 4, 0, 0, 1, 0, 'A', 5),
      code: 'GW_ERR_UWSGI_VAR_LENGTH',
      offset: 7,
    },
    {
      name: 'CONTENT_LENGTH that is not a number',
      bytes: b(0, 19, 0, 0, 14, 0, 'CONTENT_LENGTH', 1, 0, 'x'),
      code: 'GW_ERR_UWSGI_CONTENT_LENGTH',
      offset: 4,
    },
    {
      name: 'bytes after the body',
      bytes: b(0, 0, 0, 0, 'junk'),
      code: 'GW_ERR_UWSGI_TRAILING_DATA',
      offset: 4,
    },
    { name: 'a truncated header', bytes: b(0, 5), code: 'GW_ERR_UWSGI_TRUNCATED', offset: 2 },
    {
      name: 'a truncated body',
      bytes: b(0, 19, 0, 0, 14, 0, 'CONTENT_LENGTH', 1, 0, '5', 'he'),
      code: 'GW_ERR_UWSGI_TRUNCATED',
      offset: 25,
    },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.code} at offset ${c.offset}`, () => {
      for (const chunks of [[c.bytes], [...c.bytes].map((x) => Buffer.from([x]))]) {
        assert.throws(
          () => decode(chunks, c.options),
          (err) => isGatewayError(err) && err.code === c.code && err.context.offset === c.offset,
        );
      }
    });
  }
});

describe('property: malformed packets end in a typed error, never a crash or a hang', () => {
  const valid = fixtures[1]!.bytes;
  test('random and mutated packets in random splits', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
          fc
            .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })
            .map((m) => {
              const bytes = Buffer.from(valid);
              for (const [at, v] of m) bytes[at] = v;
              return bytes;
            }),
        ),
        fc.nat(),
        (bytes, split) => {
          const at = split % (bytes.length + 1);
          try {
            decode([bytes.subarray(0, at), bytes.subarray(at)]);
          } catch (err) {
            if (!isGatewayError(err)) throw err;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
