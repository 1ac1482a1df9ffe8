/** The dynamic and ondemand sizing rules, on heartbeat samples. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, type ScaleSettings, type WorkerSample } from '../../src/pm/scaler.js';

const dynamic: ScaleSettings = {
  mode: 'dynamic',
  maxChildren: 4,
  minSpare: 1,
  maxSpare: 2,
  idleTimeoutMs: 1000,
  busyUtilization: 0.75,
};
const ondemand: ScaleSettings = { ...dynamic, mode: 'ondemand' };

const w = (id: number, utilization: number, inFlight = 0, idleMs = 0, ready = true): WorkerSample => ({
  id,
  ready,
  inFlight,
  utilization,
  idleMs,
});

describe('pool sizing', () => {
  test('dynamic: every worker busy forks up to the spawn rate, within max children', () => {
    assert.deepEqual(decide([w(1, 0.9, 3), w(2, 0.8, 5)], dynamic, 4), {
      fork: 1,
      stop: [],
      maxChildrenReached: false,
    });
    assert.deepEqual(decide([w(1, 0.9), w(2, 0.9), w(3, 0.9), w(4, 0.9)], dynamic), {
      fork: 0,
      stop: [],
      maxChildrenReached: true,
    });
  });

  test('dynamic: a worker still starting counts as spare, so it is not forked twice', () => {
    assert.equal(decide([w(1, 0.9, 3), w(2, 0, 0, 0, false)], dynamic).fork, 0);
  });

  test('dynamic: in flight but not busy is spare; one surplus worker stops per tick, the least loaded', () => {
    const d = decide([w(1, 0.3, 4), w(2, 0.1, 0, 500), w(3, 0.2, 1), w(4, 0.05, 0, 900)], dynamic);
    assert.deepEqual(d, { fork: 0, stop: [4], maxChildrenReached: false });
  });

  test('dynamic: no surplus worker stops while another is still starting', () => {
    assert.deepEqual(decide([w(1, 0.1, 0, 500), w(2, 0, 0, 0, false), w(3, 0.1)], dynamic), {
      fork: 0,
      stop: [],
      maxChildrenReached: false,
    });
  });

  test('dynamic: within min and max spare nothing changes', () => {
    assert.deepEqual(decide([w(1, 0.9, 2), w(2, 0.2, 1)], dynamic), {
      fork: 0,
      stop: [],
      maxChildrenReached: false,
    });
  });

  test('ondemand: idle past the timeout stops, however many; a request in flight keeps it', () => {
    const d = decide([w(1, 0, 0, 1500), w(2, 0, 0, 999), w(3, 0.01, 1, 0), w(4, 0, 0, 5000)], ondemand);
    assert.deepEqual(d.stop, [1, 4]);
    assert.equal(d.fork, 0);
  });

  test('ondemand: no worker forks nothing (connections do); all busy forks one more', () => {
    assert.deepEqual(decide([], ondemand), { fork: 0, stop: [], maxChildrenReached: false });
    assert.equal(decide([w(1, 0.95, 10), w(2, 0.8, 4)], ondemand).fork, 1);
    assert.equal(decide([w(1, 0.95, 10), w(2, 0.5, 4)], ondemand).fork, 0);
    const full = decide([w(1, 0.9), w(2, 0.9), w(3, 0.9), w(4, 0.9)], ondemand);
    assert.deepEqual(full, { fork: 0, stop: [], maxChildrenReached: true });
  });
});
