/** Status collection: fresh counters from serving workers, a slow one left out, pool-wide totals. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StatusCollector } from '../../src/pm/collector.js';
import { Slots } from '../../src/pm/slots.js';
import type { WorkerStatus } from '../../src/pm/status.js';
import { beat, link, scale } from './parts.js';

const identity = { pool: 'www', processManager: 'static', protocol: 'fastcgi', startTime: 1 };

const worker = (pid: number, fields: Partial<WorkerStatus> = {}): WorkerStatus => ({
  pid,
  startTime: 1,
  requests: 0,
  inFlight: 0,
  acceptedConnections: 0,
  keepAliveReuses: 0,
  aborted: 0,
  slowRequests: 0,
  lastRequest: null,
  memory: 0,
  eventLoopUtilization: 0,
  ...fields,
});

/** The `collect` ids sent to a link. */
const collectIds = (l: ReturnType<typeof link>) =>
  l.sent.flatMap(({ message }) => (message.type === 'collect' ? [message.id] : []));

describe('status collection', () => {
  test('asks every serving worker, and answers as soon as all have', async () => {
    const slots = new Slots(scale);
    const [a, b, starting] = [link(1), link(2), link(3)];
    slots.ready(slots.add(a, 0));
    slots.ready(slots.add(b, 0));
    slots.add(starting, 0);
    let queue = 3;
    // A wait no test could sit through: the answer must come from the workers' replies.
    const collector = new StatusCollector(slots, identity, () => ({ queue, length: 128 }), null, 60_000);
    const status = collector.collect();
    assert.deepEqual(starting.sent, [], 'a starting worker is not asked');
    const [id] = collectIds(a);
    assert.deepEqual(collectIds(b), [id as number]);
    collector.stats(id as number, worker(20, { inFlight: 1, acceptedConnections: 4, slowRequests: 1 }));
    collector.stats(id as number, worker(10, { acceptedConnections: 6 }));
    const got = await status;
    assert.deepEqual(
      got.workers.map((w) => w.pid),
      [10, 20],
    );
    assert.equal(got.acceptedConnections, 10);
    assert.equal(got.slowRequests, 1);
    assert.equal(got.maxActiveProcesses, 1);
    assert.equal(got.listenQueue, 3);
    assert.equal(got.listenQueueLength, 128);
    assert.equal(got.maxListenQueue, 3);
    queue = 1;
    collector.listenQueue();
    assert.equal(collector.maxListenQueue, 3, 'the maximum stays');
    assert.equal(got.pool, 'www');
  });

  test('a worker that does not answer in time is left out; its late answer changes nothing', async () => {
    const slots = new Slots(scale);
    const [a, b] = [link(1), link(2)];
    slots.ready(slots.add(a, 0));
    slots.ready(slots.add(b, 0));
    const collector = new StatusCollector(slots, identity, () => ({ queue: null, length: 0 }), null, 20);
    const status = collector.collect();
    const [id] = collectIds(a);
    collector.stats(id as number, worker(1, { acceptedConnections: 2 }));
    const got = await status;
    assert.deepEqual(
      got.workers.map((w) => w.pid),
      [1],
    );
    collector.stats(id as number, worker(2));
    assert.equal(got.listenQueue, 0, 'no queue reading is 0');
  });

  test('no serving worker answers at once; gone and leaving workers still count', async () => {
    const slots = new Slots(scale);
    const gone = slots.add(link(1), 0);
    slots.beat(gone, beat({ acceptedConnections: 7, slowRequests: 2 }));
    slots.remove(gone);
    const leaving = slots.add(link(2), 0);
    slots.beat(leaving, beat({ acceptedConnections: 3 }));
    leaving.leaving = true;
    const collector = new StatusCollector(slots, identity, () => ({ queue: null, length: 0 }), null, 60_000);
    collector.restarts = 4;
    collector.maxChildrenReached = 1;
    const got = await collector.collect();
    assert.deepEqual(got.workers, []);
    assert.equal(got.acceptedConnections, 10);
    assert.equal(got.slowRequests, 2);
    assert.equal(got.restarts, 4);
    assert.equal(got.maxChildrenReached, 1);
  });

  test('a worker that misses the wait counts with its last beat; no total ever goes backwards', async () => {
    const slots = new Slots(scale);
    const [a, b] = [link(1), link(2)];
    const slotA = slots.add(a, 0);
    const slotB = slots.add(b, 0);
    slots.ready(slotA);
    slots.ready(slotB);
    slots.beat(slotB, beat({ requests: 5, acceptedConnections: 2, aborted: 1, keepAliveReuses: 3 }));
    const collector = new StatusCollector(slots, identity, () => ({ queue: null, length: 0 }), null, 20);
    let status = collector.collect();
    const [id] = collectIds(a);
    collector.stats(id as number, worker(1001, { requests: 10, acceptedConnections: 4, keepAliveReuses: 6 }));
    let got = await status;
    assert.deepEqual(
      [got.requests, got.acceptedConnections, got.abortedRequests, got.keepAliveReuses],
      [15, 6, 1, 9],
      "b's last beat counts while it is silent",
    );
    // a is killed: its last beat is older than its answer; the totals stay where they were.
    slots.beat(slotA, beat({ requests: 8, acceptedConnections: 3 }));
    slots.remove(slotA);
    status = collector.collect();
    const [id2] = collectIds(b).slice(-1);
    collector.stats(
      id2 as number,
      worker(1002, { requests: 6, acceptedConnections: 2, aborted: 1, keepAliveReuses: 3 }),
    );
    got = await status;
    assert.deepEqual([got.requests, got.acceptedConnections, got.keepAliveReuses], [15, 6, 9]);
    assert.equal(slots.retired.requests, 8, "the gone worker's last beat is kept");
  });

  test("ondemand: accepted connections are the master's own count", async () => {
    const slots = new Slots(scale);
    const gone = slots.add(link(1), 0);
    slots.beat(gone, beat({ acceptedConnections: 7 }));
    slots.remove(gone);
    const collector = new StatusCollector(
      slots,
      identity,
      () => ({ queue: null, length: 0 }),
      () => 42,
      60_000,
    );
    assert.equal((await collector.collect()).acceptedConnections, 42);
  });
});
