/**
 * A connection's outgoing bytes. Pieces queue during a turn of the event loop and leave in one
 * write (small output is copied once; large output goes out as one writev without copying), so
 * a response head, its body and the records that end it cost one syscall. Writers learn about
 * congestion from the return value and wait with onWritable().
 */
import type { Socket } from 'node:net';

const FLUSH_THRESHOLD = 64 * 1024;

export class OutputQueue {
  readonly #socket: Socket;
  #pieces: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;
  #waiting: Array<() => void> = [];
  #closed = false;
  readonly #flushLater = () => this.flush();

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('drain', () => this.#release());
    socket.on('close', () => {
      this.#closed = true;
      this.#release();
    });
  }

  /** Queues bytes; false when the connection is congested. */
  push(...pieces: Buffer[]): boolean {
    for (const piece of pieces) {
      this.#pieces.push(piece);
      this.#bytes += piece.length;
    }
    if (this.#bytes >= FLUSH_THRESHOLD) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushLater);
    }
    return !this.#socket.writableNeedDrain;
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pieces.length === 0 || this.#closed) return;
    const pieces = this.#pieces;
    const bytes = this.#bytes;
    this.#pieces = [];
    this.#bytes = 0;
    if (pieces.length === 1) {
      this.#socket.write(pieces[0] as Buffer);
    } else if (bytes < FLUSH_THRESHOLD) {
      this.#socket.write(Buffer.concat(pieces, bytes));
    } else {
      this.#socket.cork();
      for (const piece of pieces) this.#socket.write(piece);
      this.#socket.uncork();
    }
  }

  /** Calls back now, or once the connection drains (or closes). */
  onWritable(callback: () => void): void {
    if (this.#closed || !this.#socket.writableNeedDrain) callback();
    else this.#waiting.push(callback);
  }

  #release(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const callback of waiting) callback();
  }
}
