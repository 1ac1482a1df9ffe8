/**
 * scripts/bench.sh, very short: the files it writes on two modes and two scenarios, --compare
 * between two result folders, usage errors, and Ctrl-C or a caller's SIGTERM in the middle of a
 * run leaving nothing running.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bench = join(root, 'scripts/bench.sh');
const stackStatus = () =>
  spawnSync(join(root, 'scripts/stack.sh'), ['status'], { cwd: root, encoding: 'utf8' });

describe('scripts/bench.sh', () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  test('--native writes results.json, report.md and a well-formed chart', () => {
    const run = spawnSync(
      bench,
      ['--native', '--modes', 'fastcgi,http', '--scenarios', 'overhead,validate', '--duration', '1'].concat([
        '--warmup',
        '0',
        '--connections',
        '8',
        '--out',
        join(out, 'a'),
      ]),
      { cwd: root, encoding: 'utf8', timeout: 180_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), join(out, 'a'), 'prints the result folder');
    assert.match(run.stderr, /\[bench\] fastcgi overhead: \d+ req\/s/, 'a progress line per run');
    const results = JSON.parse(readFileSync(join(out, 'a/results.json'), 'utf8'));
    assert.deepEqual(
      results.runs.map((r: { mode: string; scenario: string }) => `${r.mode} ${r.scenario}`),
      ['fastcgi overhead', 'fastcgi validate', 'http overhead', 'http validate'],
    );
    for (const r of results.runs) {
      assert.ok(r.requestsPerSecond > 0, JSON.stringify(r));
      for (const k of ['p50', 'p97_5', 'p99', 'errors', 'timeouts', 'non2xx'])
        assert.equal(typeof r[k], 'number', k);
      assert.equal(r.flagged, r.errors + r.non2xx > 0);
    }
    assert.equal(results.stack.kind, 'native');
    assert.ok(results.machine.cores >= 1);
    assert.match(results.machine.nginx, /nginx\/\d/);
    assert.match(results.machine.postgres, /PostgreSQL\)? \d+/);
    const report = readFileSync(join(out, 'a/report.md'), 'utf8');
    assert.match(report, /\| fastcgi \| validate/);
    assert.match(report, /\| vs http \| vs static \|/);
    // http's own row is 1.00 relative to http.
    assert.match(report, /\| http \| validate(?: \*\*⚠\*\*)? \|(?: [^|]+ \|){6} 1\.00 \|/);
    const svg = readFileSync(join(out, 'a/chart.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<rect /g) ?? []).length, 1 + 4, 'a background and one bar per run');
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    const opened = (svg.match(/<(text|svg|title)\b/g) ?? []).length;
    const closed = (svg.match(/<\/(text|svg|title)>/g) ?? []).length;
    assert.equal(opened, closed, 'every element opened is closed');
    assert.notEqual(stackStatus().status, 0, 'the stack it started is stopped');
  });

  test('--compare prints the ratio of each mode and scenario between two result folders', () => {
    const a = JSON.parse(readFileSync(join(out, 'a/results.json'), 'utf8'));
    const doubled = {
      ...a,
      commit: 'other',
      runs: a.runs.map((r: { requestsPerSecond: number }) => ({
        ...r,
        requestsPerSecond: r.requestsPerSecond * 2,
      })),
    };
    const b = join(out, 'b');
    spawnSync('mkdir', ['-p', b]);
    writeFileSync(join(b, 'results.json'), JSON.stringify(doubled));
    const run = spawnSync(bench, ['--compare', join(out, 'a'), b], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 1 + 4, run.stdout);
    for (const line of lines.slice(1)) assert.match(line, /^(fastcgi|http)\s+(overhead|validate)\s+2\.00x/);
  });

  test('a bad option is a usage error naming it, before anything starts', async () => {
    // Said at once even while another load run holds the benchmark lock: here one of this test's
    // own (or, when a benchmark already holds it, that one's), held until the cases are done.
    const holder = spawn('flock', ['-n', '/tmp/bench.lock', 'sh', '-c', 'echo held; exec cat'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    holder.stdin.on('error', () => {}); // gone already when another run held the lock
    const released = once(holder, 'exit');
    await Promise.race([once(holder.stdout, 'data'), released]);
    const cases: Array<[string[], RegExp]> = [
      [['--modes', 'gopher'], /unknown mode 'gopher'/],
      [['--duration', '0'], /--duration must be a whole number from 1 to 600, not '0'/],
      [['--bogus'], /unknown option '--bogus'/],
      [['--target', 'http://192.0.2.1:5000'], /--target must be an http URL on this machine/],
    ];
    for (const [args, message] of cases) {
      const run = spawnSync(bench, args, { cwd: root, encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /usage: scripts\/bench\.sh/);
    }
    holder.stdin.end();
    await released;
  });

  for (const [how, signal, group] of [
    ['Ctrl-C (SIGINT to the process group)', 'SIGINT', true],
    ["a caller's timeout (SIGTERM to the script alone)", 'SIGTERM', false],
  ] as const)
    test(`${how} during a run stops the load and the stack it started`, async () => {
      const child = spawn(
        bench,
        [
          '--native',
          '--modes',
          'http',
          '--scenarios',
          'validate',
          '--duration',
          '60',
          '--out',
          join(out, signal),
        ],
        { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Into the measured load: the driver says when it begins, once its stack is up.
      while (!/\[bench\] measuring/.test(stderr)) {
        assert.ok(child.exitCode === null, `the measured load never began: ${stderr}`);
        await Promise.race([once(child.stderr, 'data'), exited]);
      }
      assert.match(stackStatus().stdout, /nginx: running/, `the stack is up: ${stderr}`);
      process.kill(group ? -(child.pid as number) : (child.pid as number), signal);
      const code = await exited;
      assert.equal(code, 130, stderr);
      assert.match(stderr, new RegExp(`${signal}: stopping the load and the stack`));
      const status = stackStatus();
      assert.notEqual(status.status, 0, status.stdout);
      assert.doesNotMatch(status.stdout, /running/);
    });
});
