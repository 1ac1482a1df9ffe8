/** The master's bookkeeping of its workers: readiness, heartbeats, picking, retired counters, storms. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HEARTBEAT_MS } from '../../src/pm/messages.js';
import { DeathStorm, Slots } from '../../src/pm/slots.js';
import { beat, clock, link, scale } from './parts.js';

describe('worker slots', () => {
  test('a worker is staying and starting until ready; ready runs what waited for it, once', () => {
    const slots = new Slots(scale);
    const a = slots.add(link(1), 0);
    let ran = 0;
    a.onReady.push(() => ran++);
    assert.deepEqual(
      slots.staying().map((s) => s.worker.id),
      [1],
    );
    assert.deepEqual(slots.serving(), []);
    slots.ready(a);
    slots.ready(a);
    assert.equal(ran, 1);
    assert.deepEqual(
      slots.serving().map((s) => s.worker.id),
      [1],
    );
    a.leaving = true;
    assert.deepEqual(slots.staying(), []);
    assert.deepEqual(
      slots.leaving().map((s) => s.worker.id),
      [1],
    );
    assert.deepEqual(slots.serving(), []);
  });

  test('a disconnected worker does not serve', () => {
    const slots = new Slots(scale);
    const l = link(1);
    slots.ready(slots.add(l, 0));
    l.connected = false;
    assert.deepEqual(slots.serving(), []);
  });

  test('heartbeats smooth utilisation and reset the hand-over count; a late beat samples as busy', () => {
    const c = clock();
    const slots = new Slots(scale, c.read);
    const a = slots.add(link(1), 0);
    slots.ready(a);
    a.handed = 3;
    slots.beat(a, beat({ utilization: 1, inFlight: 2, idleMs: 0 }));
    assert.equal(a.utilization, 0.3);
    assert.equal(a.handed, 0);
    slots.beat(a, beat({ utilization: 1, idleMs: 40 }));
    assert.ok(Math.abs(a.utilization - 0.51) < 1e-9);
    assert.deepEqual(slots.sample(a), {
      id: 1,
      ready: true,
      inFlight: 0,
      utilization: a.utilization,
      idleMs: 40,
    });
    c.now += 3 * HEARTBEAT_MS + 1;
    assert.equal(slots.late(a), true);
    assert.deepEqual(slots.sample(a), { id: 1, ready: true, inFlight: 0, utilization: 1, idleMs: 0 });
  });

  test('stuck: ready, connected and silent past the limit', () => {
    const c = clock();
    const slots = new Slots(scale, c.read);
    const a = slots.add(link(1), 0);
    const b = slots.add(link(2), 0);
    slots.add(link(3), 0); // never ready: starting is not stuck
    slots.ready(a);
    slots.ready(b);
    c.now += 1000;
    slots.beat(b, beat());
    c.now += 1;
    assert.deepEqual(
      slots.stuck(1000).map((s) => s.worker.id),
      [1],
    );
  });

  test('pick: the least loaded serving worker, busy ones last', () => {
    const slots = new Slots({ ...scale, maxChildren: 3 });
    const a = slots.add(link(1), 0);
    const b = slots.add(link(2), 0);
    slots.ready(a);
    slots.ready(b);
    slots.beat(a, beat({ connections: 5 }));
    slots.beat(b, beat({ connections: 2 }));
    assert.equal(slots.pick()?.worker.id, 2);
    b.handed = 4;
    assert.equal(slots.pick()?.worker.id, 1);
    a.utilization = 0.9;
    assert.equal(slots.pick()?.worker.id, 2, 'a busy worker is taken last');
  });

  test('pick: a late worker is passed over while another may start, taken when none may', () => {
    const c = clock();
    const slots = new Slots({ ...scale, maxChildren: 1 });
    const only = new Slots({ ...scale, maxChildren: 1 }, c.read);
    const a = only.add(link(1), 0);
    only.ready(a);
    c.now += 3 * HEARTBEAT_MS + 1;
    assert.equal(only.pick(), a, 'max children reached: the late worker is all there is');
    const c2 = clock();
    const room = new Slots({ ...scale, maxChildren: 2 }, c2.read);
    const b = room.add(link(2), 0);
    room.ready(b);
    c2.now += 3 * HEARTBEAT_MS + 1;
    assert.equal(room.pick(), null, 'room for another worker: the connection waits for it');
    assert.equal(slots.pick(), null, 'no worker at all');
  });

  test('counters of gone and leaving workers stay in the totals', () => {
    const slots = new Slots(scale);
    const a = slots.add(link(1), 0);
    const b = slots.add(link(2), 0);
    const c = slots.add(link(3), 0);
    slots.beat(a, beat({ acceptedConnections: 10, slowRequests: 1 }));
    a.watchdogSlow = 2;
    slots.beat(b, beat({ acceptedConnections: 5, slowRequests: 4 }));
    b.leaving = true;
    c.watchdogSlow = 7;
    slots.remove(a);
    assert.equal(slots.size, 2);
    assert.equal(slots.retiredAccepted, 10);
    assert.equal(slots.retiredSlow, 3);
    // fresh: what the serving workers just answered.
    assert.equal(slots.accepted(100), 10 + 100 + 5);
    assert.equal(slots.slow(20), 3 + 7 + 20 + 4);
  });
});

describe('death storm', () => {
  test('below the threshold respawns at once; past it each death doubles the wait, up to 30 s', () => {
    const storm = new DeathStorm(3, 10_000);
    assert.deepEqual(storm.death(0), { delayMs: 0, storm: false, deaths: 1 });
    assert.deepEqual(storm.death(100), { delayMs: 0, storm: false, deaths: 2 });
    assert.deepEqual(storm.death(200), { delayMs: 250, storm: true, deaths: 3 });
    assert.equal(storm.notBefore, 450);
    assert.deepEqual(storm.death(300), { delayMs: 500, storm: true, deaths: 4 });
    for (let t = 400; t < 2000; t += 100) storm.death(t);
    assert.equal(storm.death(2000).delayMs, 30_000);
  });

  test('deaths older than the interval are forgotten; threshold 0 never backs off', () => {
    const storm = new DeathStorm(2, 1000);
    storm.death(0);
    assert.equal(storm.death(1001).storm, false, 'the first death is out of the interval');
    const never = new DeathStorm(0, 1000);
    for (let t = 0; t < 10; t++) assert.equal(never.death(t).delayMs, 0);
  });
});
