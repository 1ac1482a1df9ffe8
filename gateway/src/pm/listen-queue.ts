/**
 * The listening socket's accept queue, read from Linux's /proc, for the status page's
 * `listen queue` (connections accepted by the kernel, not yet by a worker) and `listen queue len`
 * (the queue's size: the configured backlog, capped by net.core.somaxconn, as listen(2) caps it).
 *
 * /proc/net/tcp and tcp6 show, for a socket in state LISTEN (0A), the current accept-queue length
 * as rx_queue. Unix sockets have no such column in /proc/net/unix, so their queue reads 0.
 *
 * The kernel lists listening sockets first, then every other one, TIME_WAIT included: under a
 * connection-per-request protocol that is hundreds of thousands of lines, so the table is read
 * only up to the first socket that is not listening.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { ListenAddress } from '../config.js';

const LISTEN = '0A';

/** Sum of rx_queue over LISTEN sockets bound to `port` in a /proc/net/tcp(6) table. */
export function acceptQueueFromProc(table: string, port: number): number | null {
  const wanted = port.toString(16).toUpperCase().padStart(4, '0');
  let found = false;
  let queue = 0;
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue ...
    const local = fields[1];
    if (fields[3] !== LISTEN || !local || local.slice(local.lastIndexOf(':') + 1) !== wanted) continue;
    const rx = fields[4]?.split(':')[1];
    if (rx === undefined) continue;
    found = true;
    queue += Number.parseInt(rx, 16);
  }
  return found ? queue : null;
}

const CHUNK = 16 * 1024;

/** The header and the LISTEN lines at the head of a /proc/net/tcp(6) table. */
export function readListeningHead(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    let text = '';
    let checked = 0; // lines of `text` already known to be the header or LISTEN
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n === 0) return text;
      text += buffer.toString('latin1', 0, n);
      const lines = text.split('\n');
      for (let i = Math.max(1, checked); i < lines.length - 1; i++) {
        if ((lines[i] as string).trim().split(/\s+/)[3] !== LISTEN) return lines.slice(0, i).join('\n');
        checked = i + 1;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The size listen(2) gives the queue: the backlog asked for, capped by somaxconn. */
export function effectiveBacklog(backlog: number): number {
  const max = Number.parseInt(read('/proc/sys/net/core/somaxconn'), 10);
  return Number.isFinite(max) && max > 0 ? Math.min(backlog, max) : backlog;
}

export interface ListenQueue {
  /** Connections waiting to be accepted now; null when the system does not show it. */
  queue: number | null;
  /** The queue's size. */
  length: number;
}

export function readListenQueue(listen: ListenAddress, backlog: number): ListenQueue {
  const length = effectiveBacklog(backlog);
  if (listen.kind === 'unix') return { queue: null, length };
  const v6 = listen.host.includes(':');
  let queue = acceptQueueFromProc(readListeningHead(v6 ? '/proc/net/tcp6' : '/proc/net/tcp'), listen.port);
  // A socket bound to :: also takes IPv4 connections; one bound to 0.0.0.0 only shows in tcp.
  if (queue === null && !v6) queue = acceptQueueFromProc(readListeningHead('/proc/net/tcp6'), listen.port);
  return { queue, length };
}
