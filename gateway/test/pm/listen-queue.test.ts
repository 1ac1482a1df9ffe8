/** The accept queue from /proc/net/tcp: parsed from the kernel's own format, then read live. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  acceptQueueFromProc,
  effectiveBacklog,
  readListeningHead,
  readListenQueue,
} from '../../src/pm/listen-queue.js';

// Lines as Linux prints them (net/ipv4/tcp_ipv4.c, get_tcp4_sock): a LISTEN socket on
// 127.0.0.1:9000 with 3 connections waiting, one on 0.0.0.0:9000 with 2, an established connection
// from port 9000 (not counted), and a listener on another port.
const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2328 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 679433 1 0000000022d8f076 100 0 0 10 0
   1: 00000000:2328 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 679434 1 0000000022d8f077 100 0 0 10 0
   2: 0100007F:2328 0100007F:D4A2 01 00000000:00000010 00:00000000 00000000     0        0 679435 1 0000000022d8f078 20 4 30 10 -1
   3: 0100007F:1F90 00000000:0000 0A 00000000:00000009 00:00000000 00000000     0        0 679436 1 0000000022d8f079 100 0 0 10 0
`;

describe('listen queue', () => {
  test('rx_queue of LISTEN sockets on the port, summed; other states and ports ignored', () => {
    assert.equal(acceptQueueFromProc(table, 9000), 5);
    assert.equal(acceptQueueFromProc(table, 8080), 9);
    assert.equal(acceptQueueFromProc(table, 9001), null);
    assert.equal(acceptQueueFromProc('', 9000), null);
  });

  test('only the head of the table is read: the kernel lists listening sockets first', () => {
    // Two listeners, then 20,000 TIME_WAIT (06) lines, as a connection-per-request load leaves.
    const lines = table.split('\n');
    const timeWait = (i: number) =>
      `${String(i + 2).padStart(4)}: 0100007F:2328 0100007F:${(0x8000 + i).toString(16).toUpperCase()} 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000`;
    const big = [
      lines[0],
      lines[1],
      lines[2],
      ...Array.from({ length: 20_000 }, (_, i) => timeWait(i)),
      '',
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'listen-queue-'));
    try {
      writeFileSync(join(dir, 'tcp'), big);
      const head = readListeningHead(join(dir, 'tcp'));
      assert.deepEqual(head.split('\n'), [lines[0], lines[1], lines[2]]);
      assert.equal(acceptQueueFromProc(head, 9000), 5);
      writeFileSync(join(dir, 'listeners-only'), [lines[0], lines[1], ''].join('\n'));
      assert.equal(acceptQueueFromProc(readListeningHead(join(dir, 'listeners-only')), 9000), 3);
      assert.equal(readListeningHead(join(dir, 'missing')), '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the queue size is the backlog capped by somaxconn', () => {
    const max = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    assert.equal(effectiveBacklog(16), Math.min(16, max));
    assert.equal(effectiveBacklog(1_000_000), max);
  });

  test('a live listener is found with an empty queue; a unix socket has no figure', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 32 }, r));
    const { port } = server.address() as { port: number };
    assert.deepEqual(readListenQueue({ kind: 'tcp', host: '127.0.0.1', port }, 32), {
      queue: 0,
      length: effectiveBacklog(32),
    });
    server.close();
    assert.equal(readListenQueue({ kind: 'unix', path: '/tmp/x.sock' }, 32).queue, null);
  });
});
