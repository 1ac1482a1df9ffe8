/**
 * ondemand's hand-over: an ondemand pool may have no worker at all, so the master owns the
 * listening socket, accepts (paused: nothing is read), and hands each connection to the least
 * loaded serving worker over IPC. A connection no worker can take waits, unread, until one is
 * ready; a worker is forked for it when none is starting and the pool has room (else it counts as
 * "max children reached").
 */
import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { ListenAddress } from '../config.js';
import type { MasterMessage } from './messages.js';
import type { Slot, Slots } from './slots.js';

export interface HandoverOptions {
  slots: Slots;
  maxChildren: number;
  /** Starts a worker (its readiness calls flush()). */
  fork: () => void;
  /** False while a death storm holds respawns back. */
  mayFork: () => boolean;
  /** The pool is at max_children and a connection wanted one more. */
  full: () => void;
  /** True once the pool stops: connections are closed, not handed over. */
  stopping: () => boolean;
}

export class Handover {
  readonly #o: HandoverOptions;
  readonly #pending: Socket[] = [];
  #server: Server | null = null;
  /** Connections the master accepted. */
  accepted = 0;

  constructor(options: HandoverOptions) {
    this.#o = options;
  }

  /** Connections waiting for a worker. */
  get pending(): number {
    return this.#pending.length;
  }

  /** An accepted connection (paused): handed over now, or kept until a worker can take it. */
  connection(socket: Socket): void {
    this.accepted++;
    socket.on('error', () => {});
    if (this.#o.stopping()) {
      socket.destroy();
      return;
    }
    const target = this.#o.slots.pick();
    if (target) this.#handOver(target, socket);
    else {
      this.#pending.push(socket);
      this.flush();
    }
  }

  /** Hands waiting connections to serving workers; forks one when they still wait and may. */
  flush(): void {
    if (this.#o.stopping()) return;
    const { slots } = this.#o;
    while (this.#pending.length > 0) {
      const target = slots.pick();
      if (!target) break;
      const socket = this.#pending.shift() as Socket;
      if (!socket.destroyed) this.#handOver(target, socket);
    }
    if (this.#pending.length > 0 && !slots.staying().some((s) => !s.ready) && this.#o.mayFork()) {
      if (slots.staying().length < this.#o.maxChildren) this.#o.fork();
      else this.#o.full();
    }
  }

  /**
   * Listens (the unix socket made 0666 for nginx); `onError` gets a listen failure. Resolves once
   * listening.
   */
  listen(listen: ListenAddress, backlog: number, onError: (err: Error) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const server = createServer({ pauseOnConnect: true }, (socket) => this.connection(socket));
      this.#server = server;
      server.once('error', onError);
      const ready = () => {
        if (listen.kind === 'unix') chmodSync(listen.path, 0o666);
        resolve();
      };
      if (listen.kind === 'unix') server.listen({ path: listen.path, backlog }, ready);
      else server.listen({ port: listen.port, host: listen.host, backlog }, ready);
    });
  }

  /** Stops accepting and closes the connections still waiting. */
  close(): void {
    this.#server?.close();
    for (const socket of this.#pending.splice(0)) socket.destroy();
  }

  #handOver(slot: Slot, socket: Socket): void {
    slot.handed++;
    slot.worker.send({ type: 'connection' } satisfies MasterMessage, socket, (err: Error | null) => {
      if (err) socket.destroy();
    });
  }
}
