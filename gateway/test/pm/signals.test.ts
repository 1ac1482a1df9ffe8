/** The master's signals: reload, graceful stop, a second stop now; reload sizes. */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { handleSignals, reloadCount } from '../../src/pm/signals.js';

describe('master signals', () => {
  const install = () => {
    const target = new EventEmitter();
    const calls: string[] = [];
    let stopping = false;
    const remove = handleSignals(target, {
      stopping: () => stopping,
      reload: () => calls.push('reload'),
      stop: (signal) => {
        stopping = true;
        calls.push(`stop ${signal}`);
      },
      stopNow: (signal) => calls.push(`now ${signal}`),
    });
    return { target, calls, remove, stop: () => (stopping = true) };
  };

  test('SIGHUP and SIGUSR2 reload; SIGTERM stops gracefully, then any stop signal stops now', () => {
    const { target, calls } = install();
    target.emit('SIGHUP');
    target.emit('SIGUSR2');
    target.emit('SIGTERM');
    target.emit('SIGHUP');
    target.emit('SIGINT');
    assert.deepEqual(calls, ['reload', 'reload', 'stop SIGTERM', 'now SIGINT']);
  });

  test('SIGINT first stops gracefully too; once stopping for another reason, a signal stops now', () => {
    const first = install();
    first.target.emit('SIGINT');
    assert.deepEqual(first.calls, ['stop SIGINT']);
    const fatal = install();
    fatal.stop();
    fatal.target.emit('SIGTERM');
    assert.deepEqual(fatal.calls, ['now SIGTERM']);
  });

  test('removing the handlers leaves the target as it was', () => {
    const { target, calls, remove } = install();
    remove();
    for (const signal of ['SIGHUP', 'SIGUSR2', 'SIGTERM', 'SIGINT'])
      assert.equal(target.listenerCount(signal), 0);
    assert.deepEqual(calls, []);
  });

  test('reload sizes: static max children; dynamic the newest generation, at least one; ondemand its ready ones', () => {
    const newest = [{ ready: true }, { ready: false }, { ready: true }];
    assert.equal(reloadCount('static', 4, newest), 4);
    assert.equal(reloadCount('dynamic', 4, newest), 3);
    assert.equal(reloadCount('dynamic', 4, []), 1);
    assert.equal(reloadCount('ondemand', 4, newest), 2);
    assert.equal(reloadCount('ondemand', 4, []), 0);
  });
});
