/**
 * The gateway against node:http: the same listener, the same requests, the same answers at the
 * client (test/helpers/differential.ts says what is compared and which differences are
 * deliberate). Generated response programs and requests, a bounded run (GATEWAY_DIFF_RUNS,
 * GATEWAY_DIFF_SEED to replay one; gateway/bench/differential.ts runs longer), the cases such runs
 * found kept as regressions, and five frameworks' apps through the same harness. The fastcgi and
 * uwsgi gateways are asked through nginx and directly by a client of their protocol.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  differences,
  type Harness,
  type Program,
  programArb,
  type RequestSpec,
  requestArb,
  startHarness,
} from '../helpers/differential.js';
import { frameworks } from '../helpers/framework-apps.js';
import { poll } from '../helpers/pool.js';

const GET: RequestSpec = { method: 'GET', bodySize: 0, chunked: false, expectContinue: false };
const HEAD: RequestSpec = { ...GET, method: 'HEAD' };

/** Cases kept from generated runs (and the two crashes they were written for). */
const regressions: Array<[string, Program, RequestSpec]> = [
  [
    'Uint8Array views and an empty one, as Web stream bridges write them',
    {
      readBody: false,
      ops: [
        { op: 'write', chunk: { type: 'uint8', bytes: [104, 105], offset: 3 }, callback: true },
        { op: 'write', chunk: { type: 'uint8', bytes: [], offset: 1 }, callback: false },
        { op: 'end', chunk: { type: 'uint8', bytes: [33], offset: 0 } },
      ],
    },
    GET,
  ],
  [
    'a large Uint8Array, sent as several records',
    {
      readBody: false,
      ops: [
        {
          op: 'end',
          chunk: { type: 'uint8', bytes: Array.from({ length: 150_000 }, (_, i) => i % 251), offset: 5 },
        },
      ],
    },
    GET,
  ],
  [
    'early hints, 102 and 100 before the response',
    {
      readBody: false,
      ops: [
        { op: 'writeEarlyHints', link: '</a.css>; rel=preload; as=style' },
        { op: 'writeProcessing' },
        { op: 'writeContinue' },
        { op: 'end', chunk: { type: 'string', text: 'after', encoding: 'utf8' } },
      ],
    },
    GET,
  ],
  [
    'seed 1: a HEAD whose listener throws after writing (nothing left the worker)',
    {
      readBody: true,
      ops: [
        { op: 'writeHead', status: 500, reason: 'n   D' },
        { op: 'write', chunk: { type: 'uint8', bytes: [253, 232, 14], offset: 6 }, callback: false },
        { op: 'tick' },
        { op: 'throw' },
      ],
    },
    HEAD,
  ],
  [
    'seed 1: a reason phrase with trailing blanks, several Content-Types',
    {
      readBody: false,
      ops: [
        { op: 'appendHeader', name: 'content-type', value: ['-N-_'] },
        {
          op: 'writeHead',
          status: 404,
          reason: 'A u  ',
          headers: { 'set-cookie': 1, 'content-type': ['2', '=_.', 'X3/4'] },
        },
        { op: 'write', chunk: { type: 'string', text: 'caller', encoding: 'utf16le' }, callback: false },
        { op: 'end' },
      ],
    },
    { method: 'OPTIONS', bodySize: 0, chunked: false, expectContinue: false },
  ],
  [
    'seed 2: ended twice, the body unread, Expect: 100-continue',
    {
      readBody: false,
      ops: [
        { op: 'writeContinue' },
        { op: 'setHeader', name: 'set-cookie', value: 71227 },
        { op: 'flushHeaders' },
        { op: 'end', chunk: { type: 'buffer', bytes: Array.from({ length: 3003 }, (_, i) => i & 0xff) } },
        { op: 'tick' },
        { op: 'end', chunk: { type: 'uint8', bytes: [], offset: 6 } },
      ],
    },
    { method: 'POST', bodySize: 1, chunked: true, expectContinue: true },
  ],
  [
    // node:http (the reference) closed the connection as its response finished, before the
    // client's body came after the 100 Continue: a reset that cut its own response's last bytes.
    'seed -221251630: 125 KiB written at once to a POST whose body follows a 100 Continue',
    {
      readBody: false,
      ops: [
        {
          op: 'write',
          chunk: { type: 'buffer', bytes: Array.from({ length: 127836 }, (_, i) => i & 0xff) },
          callback: false,
        },
        { op: 'addTrailers', name: 'x-trailer', value: '=' },
        { op: 'write', chunk: { type: 'buffer', bytes: [0, 0, 0, 0, 0, 0] }, callback: false },
        {
          op: 'write',
          chunk: { type: 'string', text: '\u{10000}'.repeat(6), encoding: 'latin1' },
          callback: false,
        },
        { op: 'end', chunk: { type: 'string', text: ' ', encoding: 'utf8' } },
        { op: 'tick' },
        { op: 'end', chunk: { type: 'string', text: '', encoding: 'hex' } },
      ],
    },
    { method: 'POST', bodySize: 0, chunked: false, expectContinue: true },
  ],
  [
    'seed 4: an empty Content-Type on a HEAD',
    {
      readBody: true,
      ops: [
        { op: 'appendHeader', name: 'content-type', value: [''] },
        { op: 'writeHead', status: 418, headers: [] },
        { op: 'addTrailers', name: 'x-trailer', value: '' },
        { op: 'end' },
      ],
    },
    HEAD,
  ],
  [
    'types node:http refuses: a 500 everywhere',
    {
      readBody: false,
      ops: [{ op: 'write', chunk: { type: 'uint16', values: [1, 2] }, callback: false }, { op: 'end' }],
    },
    GET,
  ],
  [
    'a synchronous throw after writing: the request ends (and leaves no count in flight)',
    {
      readBody: false,
      ops: [
        { op: 'write', chunk: { type: 'string', text: 'partial', encoding: 'utf8' }, callback: false },
        { op: 'throw' },
      ],
    },
    GET,
  ],
  [
    'a destroy after the head: cut short everywhere',
    {
      readBody: false,
      ops: [
        { op: 'write', chunk: { type: 'string', text: 'partial', encoding: 'utf8' }, callback: false },
        { op: 'tick' },
        { op: 'destroy' },
      ],
    },
    GET,
  ],
  [
    'a 3 MiB chunked upload read whole, 304 with a body attempted',
    {
      readBody: true,
      ops: [
        { op: 'statusCode', status: 304 },
        { op: 'end', chunk: { type: 'string', text: 'ignored', encoding: 'utf8' } },
      ],
    },
    { method: 'PUT', bodySize: 3 << 20, chunked: true, expectContinue: false },
  ],
  [
    // Found by the direct clients: the gateway cut such a response short (no END_REQUEST, a reset).
    'a 304 whose head is out, then a throw: whole, as it can carry no body',
    {
      readBody: false,
      ops: [{ op: 'writeHead', status: 304 }, { op: 'flushHeaders' }, { op: 'throw' }],
    },
    GET,
  ],
  [
    'an answer to HEAD whose head is out, then a destroy: whole',
    { readBody: false, ops: [{ op: 'flushHeaders' }, { op: 'destroy' }] },
    HEAD,
  ],
  [
    // Seed 20261205 of gateway/bench/differential.js, 400 runs: a corked head never left.
    'a 304 whose head a cork still holds, then a throw: nothing was sent, a failure',
    {
      readBody: false,
      ops: [
        { op: 'writeHead', status: 304 },
        { op: 'cork' },
        { op: 'flushHeaders' },
        { op: 'tick' },
        { op: 'throw' },
      ],
    },
    GET,
  ],
  [
    // The same seed, after the case above was fixed: a cork after the head was out holds nothing.
    'an answer to HEAD whose head is out, then a cork and a destroy: whole',
    { readBody: false, ops: [{ op: 'flushHeaders' }, { op: 'cork' }, { op: 'destroy' }] },
    HEAD,
  ],
];

describe('the gateway answers as node:http does', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness?.close();
  });

  for (const [name, program, spec] of regressions) {
    test(name, async () => {
      const results = await harness.exchange(program, spec);
      assert.deepEqual(differences(results, spec, !program.readBody), []);
    });
  }

  test('generated response programs and requests', async () => {
    const seed = process.env.GATEWAY_DIFF_SEED ? Number(process.env.GATEWAY_DIFF_SEED) : undefined;
    await fc.assert(
      fc.asyncProperty(programArb, requestArb, async (program, spec) => {
        const results = await harness.exchange(program, spec);
        assert.deepEqual(differences(results, spec, !program.readBody), []);
      }),
      { numRuns: Number(process.env.GATEWAY_DIFF_RUNS ?? 40), ...(seed === undefined ? {} : { seed }) },
    );
  });

  test('afterwards, no request is left in flight in any gateway', async (t) => {
    // The listener ran in this process: a throw that escaped would have ended the run. Requests
    // whose client saw a failure end as their connections close, just after the client's answer.
    const inFlight = () => harness.gateways.map((g) => g.server.stats().requestsInFlight);
    // The in-process gateways' counters announce no change: polled, until the test's own end.
    await poll(
      () => inFlight().every((n) => n === 0),
      () => `requests in flight ${inFlight()}`,
      t.signal,
    );
  });
});

const requests: Array<[string, RequestSpec]> = [
  ['/hello', GET],
  ['/hello', HEAD],
  ['/json', GET],
  ['/stream', GET],
  ['/nothing', GET],
  ['/redirect', GET],
  ['/missing', GET],
  ['/error', GET],
  ['/echo', { method: 'POST', bodySize: 70_000, chunked: false, expectContinue: false }],
  ['/echo', { method: 'POST', bodySize: 2 << 20, chunked: true, expectContinue: true }],
];

for (const [name, make] of frameworks) {
  describe(`${name} behind the gateway answers as behind node:http`, () => {
    let harness: Harness;
    before(async () => {
      harness = await startHarness(undefined, await make());
    });
    after(async () => {
      await harness?.close();
    });

    test('every route, in every mode', async () => {
      for (const [path, spec] of requests) {
        const results = await harness.exchangeRaw(path, spec);
        const reference = results.get('node');
        assert.ok(reference?.outcome === 'whole', `${path}: node:http answered`);
        assert.deepEqual(differences(results, spec), [], `${spec.method} ${path}`);
      }
    });
  });
}
