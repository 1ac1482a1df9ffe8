/**
 * The protocol fuzz campaign, bounded (a few seconds per protocol): random and mutated FastCGI,
 * uwsgi and HTTP input at the gateway port and mutated HTTP through nginx, valid requests
 * interleaved. The gateway never crashes (same workers, master alive), logs nothing but coded
 * rejections, keeps its memory flat, and every valid request succeeds. FUZZ_SEED replays a run;
 * scripts/fuzz.sh runs a longer one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fuzzProtocol } from './fuzz/campaign.js';

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);
const seconds = Number(process.env.FUZZ_SECONDS ?? 4);
/** Growth of the workers' resident memory over the campaign that still counts as flat. */
const FLAT_BYTES = 48 * 1024 * 1024;

describe(`protocol fuzz campaign (FUZZ_SEED=${seed}, ${seconds}s per protocol)`, () => {
  for (const protocol of ['fastcgi', 'uwsgi', 'http'] as const) {
    test(`attack: garbage and mutated ${protocol} at the gateway port and through nginx`, async () => {
      const report = await fuzzProtocol(protocol, { seed, seconds });
      const summary = `${report.garbage} garbage (${report.heldOpen} held open), ${report.throughNginx} through nginx, ${report.valid} valid; rss ${(report.rssAfterWarmup / 1048576).toFixed(1)} -> ${(report.rssAtEnd / 1048576).toFixed(1)} MiB`;
      process.stderr.write(`${protocol}: ${summary}\n`);
      assert.ok(report.garbage > 50 && report.throughNginx > 20, `too little was sent: ${summary}`);
      assert.ok(report.masterAlive, 'the master exited');
      assert.deepEqual(report.workersAfter, report.workersBefore, 'a worker was replaced (it crashed)');
      assert.deepEqual(report.validFailed, [], 'valid requests failed among the garbage');
      assert.equal(report.heldOpen, 0, 'connections the gateway held open past its timeouts');
      assert.deepEqual(report.unexpected, [], 'the gateway logged more than coded rejections');
      assert.ok(report.rssAtEnd - report.rssAfterWarmup < FLAT_BYTES, `memory grew: ${summary}`);
    });
  }
});
