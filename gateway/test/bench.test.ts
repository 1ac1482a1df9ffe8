/** scripts/bench.sh, very short, on two modes and two scenarios: the files it writes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('bench.sh --native writes results.json, report.md and a well-formed chart', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const run = spawnSync(
      `${root}/scripts/bench.sh`,
      [
        '--native',
        '--modes',
        'fastcgi,http',
        '--scenarios',
        'overhead,validate',
        '--duration',
        '1',
        '--warmup',
        '0',
        '--connections',
        '8',
        '--out',
        out,
      ],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.equal(results.runs.length, 4);
    for (const r of results.runs) {
      assert.ok(['fastcgi', 'http'].includes(r.mode));
      assert.ok(['overhead', 'validate'].includes(r.scenario));
      assert.ok(r.requestsPerSecond > 0, JSON.stringify(r));
      for (const k of ['p50', 'p97_5', 'p99', 'errors', 'non2xx']) assert.equal(typeof r[k], 'number', k);
    }
    assert.ok(results.machine.cores >= 1);
    assert.match(results.machine.nginx, /nginx\/\d/);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    assert.match(report, /\| fastcgi \| validate/);
    assert.match(report, /\| vs http \| vs static \|/);
    const svg = readFileSync(join(out, 'chart.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<rect /g) ?? []).length, 1 + 4, 'a background and one bar per run');
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    // Well-formed: every element opened is closed.
    const opened = (svg.match(/<(text|svg|title)\b/g) ?? []).length;
    const closed = (svg.match(/<\/(text|svg|title)>/g) ?? []).length;
    assert.equal(opened, closed);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
