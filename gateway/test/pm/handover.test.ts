/**
 * ondemand's hand-over, on real sockets: the master's listening socket accepts, a connection goes
 * to the least loaded serving worker, waits (unread) while none can take it, starts a worker when
 * none is starting, counts "max children reached" when the pool is full, and is closed when the
 * pool stops.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { Handover, type HandoverOptions } from '../../src/pm/handover.js';
import { Slots } from '../../src/pm/slots.js';
import { freePort } from '../helpers/nginx.js';
import { link, scale } from './parts.js';

describe('ondemand hand-over', () => {
  const open: Array<Socket | Handover> = [];
  after(() => {
    for (const o of open) o instanceof Handover ? o.close() : o.destroy();
  });

  const start = async (options: Partial<HandoverOptions> = {}) => {
    const slots = new Slots(scale);
    const events = { forks: 0, full: 0, stopping: false };
    const handover = new Handover({
      slots,
      maxChildren: scale.maxChildren,
      fork: () => {
        events.forks++;
      },
      mayFork: () => true,
      full: () => {
        events.full++;
      },
      stopping: () => events.stopping,
      ...options,
    });
    open.push(handover);
    const port = await freePort();
    await handover.listen({ kind: 'tcp', host: '127.0.0.1', port }, 16, (err) => assert.fail(err));
    const client = async () => {
      const socket = connect(port, '127.0.0.1');
      open.push(socket);
      await once(socket, 'connect');
      return socket;
    };
    return { slots, handover, events, client };
  };

  /** Resolves once `link` has been handed `count` connections. */
  const handed = async (l: ReturnType<typeof link>, count: number) => {
    while (l.sent.filter((s) => s.message.type === 'connection').length < count)
      await new Promise((r) => setImmediate(r));
    return l.sent.filter((s) => s.message.type === 'connection').map((s) => s.handle as Socket);
  };

  test('a connection goes to a serving worker with its socket, unread', async () => {
    const { slots, handover, client } = await start();
    const w = link(1);
    slots.ready(slots.add(w, 0));
    const socket = await client();
    socket.write('early bytes');
    const [handle] = await handed(w, 1);
    assert.ok(handle, 'the accepted socket goes with the message');
    assert.equal(handle.isPaused(), true, 'the master reads nothing');
    assert.equal(handover.accepted, 1);
    assert.equal(slots.get(1)?.handed, 1);
  });

  test('with no worker the connection waits and one is forked; it is handed over once that one is ready', async () => {
    const { slots, handover, events, client } = await start();
    await client();
    while (handover.pending === 0) await new Promise((r) => setImmediate(r));
    assert.equal(events.forks, 1);
    const w = link(1);
    const slot = slots.add(w, 0);
    await client();
    while (handover.pending < 2) await new Promise((r) => setImmediate(r));
    assert.equal(events.forks, 1, 'no second fork while one is starting');
    slots.ready(slot);
    handover.flush();
    assert.equal(handover.pending, 0);
    assert.equal((await handed(w, 2)).length, 2);
  });

  test('the pool full: the connection waits and max children reached is counted; a death storm forks nothing', async () => {
    const full = await start({ maxChildren: 0 });
    await full.client();
    while (full.handover.pending === 0) await new Promise((r) => setImmediate(r));
    assert.deepEqual([full.events.forks, full.events.full], [0, 1]);
    const storm = await start({ mayFork: () => false });
    await storm.client();
    while (storm.handover.pending === 0) await new Promise((r) => setImmediate(r));
    assert.deepEqual([storm.events.forks, storm.events.full], [0, 0]);
  });

  test('a failed hand-over closes that connection; stopping closes new and waiting ones', async () => {
    const { slots, handover, events, client } = await start();
    const w = link(1);
    w.failSends = new Error('channel closed');
    slots.ready(slots.add(w, 0));
    const failed = await client();
    await once(failed, 'close');
    w.connected = false;
    const waiting = await client();
    while (handover.pending === 0) await new Promise((r) => setImmediate(r));
    events.stopping = true;
    const refused = await client();
    await once(refused, 'close');
    handover.close();
    await once(waiting, 'close');
    assert.equal(handover.pending, 0);
  });
});
