/**
 * The status page's counters never go backwards: the real gateway under load, scraped again and
 * again (the text page and OpenMetrics, read with a Prometheus text-format parser) while a worker
 * is killed, the pool reloads and workers are recycled at max_requests.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import parse from 'parse-prometheus-text-format';
import { escapeLabel } from '../../src/pm/status.js';
import { load, type RunningPool, startPool } from '../helpers/pool.js';

// A pool name with every character OpenMetrics escapes in a label value.
const POOL = 'w"w\\w';
let pool: RunningPool;

before(async () => {
  pool = await startPool('http', {
    GATEWAY_PM: 'static',
    GATEWAY_PM_MAX_CHILDREN: '2',
    GATEWAY_PM_MAX_REQUESTS: '300',
    GATEWAY_POOL_NAME: POOL,
  });
});
after(() => pool?.kill());

const base = () => `http://127.0.0.1:${pool.port}`;

/**
 * A page, asked again when the connection fails: a kept-alive connection to a worker that is
 * killed or recycled at that moment resets, and a scrape that fails is not a counter going back.
 */
async function get(path: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`${base()}${path}`)).text();
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

/** Every counter on both pages, by a name that says where it came from. */
async function scrape(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await get('/gateway/status');
  for (const name of ['accepted conn', 'slow requests', 'max active processes', 'max children reached']) {
    const m = new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(text);
    assert.ok(m, `the text page has ${name}:\n${text}`);
    out.set(`text ${name}`, Number(m[1]));
  }
  const om = await get('/gateway/status?openmetrics');
  assert.match(om, /\n# EOF\n$/);
  const families = parse(om);
  for (const family of families) {
    for (const sample of family.metrics) {
      // OpenMetrics counters are the families' `_total` samples (the parser lists them on their own).
      if (!family.name.endsWith('_total')) continue;
      assert.equal(sample.labels?.pool, POOL, 'the label value reads back as it was');
      out.set(`openmetrics ${family.name}`, Number(sample.value));
    }
  }
  return out;
}

test('escapeLabel escapes backslash, double quote and line feed as OpenMetrics says', () => {
  assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

test('every counter only grows across a kill, a reload and max_requests recycling, under load', async () => {
  const first = await scrape();
  for (const name of [
    'openmetrics gatehouse_requests_total',
    'openmetrics gatehouse_keepalive_reuses_total',
    'openmetrics gatehouse_aborted_requests_total',
    'openmetrics phpfpm_accepted_connections_total',
  ])
    assert.ok(first.has(name), `${name} is on the page`);

  let previous = first;
  const scrapes: Array<Map<string, number>> = [first];
  const check = async () => {
    const now = await scrape();
    for (const [name, value] of previous) {
      const v = now.get(name);
      assert.ok(v !== undefined, `${name} is still on the page`);
      assert.ok(v >= value, `${name} went backwards: ${value} then ${v}`);
    }
    scrapes.push(now);
    previous = now;
  };
  const events: string[] = [];
  const result = await load(base(), { seconds: 8, connections: 8, path: '/slow?ms=2' }, async () => {
    // Wait on the pool's own lines: first a recycle at max_requests.
    await pool.waitFor((l) => l.msg === 'replacing worker');
    events.push('recycle');
    await check();
    // A worker killed outright: its requests since its last beat are gone with it.
    // One that serves (the status page lists those), not one already leaving after its recycle.
    // Both workers may be between a recycle and their successor's first answer: ask again until
    // the page lists one.
    let victim: number | undefined;
    for (let asked = 1; victim === undefined; asked++) {
      assert.ok(asked <= 500, 'the status page lists a serving worker');
      const serving = JSON.parse(await get('/gateway/status?json&full')) as {
        processes: Array<{ pid: number }>;
      };
      victim = serving.processes[0]?.pid;
    }
    try {
      process.kill(victim, 'SIGKILL');
    } catch (err) {
      // Recycled between the page and the signal: gone all the same.
      assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    }
    // Gone (as an unexpected exit, or a recycle it was already in: the counters must hold either way).
    await pool.waitForWorkers((pids) => !pids.includes(victim), 'the killed worker gone');
    events.push('kill');
    await check();
    // A reload: a new generation replaces every worker.
    const old = pool.workers();
    process.kill(pool.pid, 'SIGHUP');
    await pool.waitFor((l) => l.msg === 'reloading');
    await pool.waitForWorkers((pids) => !pids.some((pid) => old.includes(pid)), 'the old generation gone');
    events.push('reload');
    await check();
  });
  // A last look once the load is over.
  await check();
  assert.deepEqual(events, ['recycle', 'kill', 'reload']);
  // A worker was recycled, so at least max_requests (300) were served.
  assert.ok(result.total >= 300, `the load ran (${result.total} requests)`);
  const last = scrapes.at(-1) as Map<string, number>;
  // Requests served by workers that have gone still count: the recycled worker's 300 at least.
  assert.ok(
    (last.get('openmetrics gatehouse_requests_total') ?? 0) >= 300,
    `requests total ${last.get('openmetrics gatehouse_requests_total')}`,
  );
});
