/**
 * A connection's outgoing bytes. Pieces queue during a turn of the event loop and leave in one
 * write (small output is copied once; large output goes out as one writev without copying), so
 * a response head, its body and the records that end it cost one syscall. Writers learn about
 * congestion from the return value and wait with onWritable().
 *
 * Nothing is registered on the socket until a writer has to wait: a connection that carries one
 * small response (every uwsgi connection) pays for no listeners.
 */
import type { Socket } from 'node:net';

const FLUSH_THRESHOLD = 64 * 1024;
const destroySocket = (socket: Socket) => socket.destroy();

export class OutputQueue {
  readonly #socket: Socket;
  #pieces: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;
  #waiting: Array<() => void> = [];
  #listening = false;
  readonly #flushLater = () => this.flush();
  readonly #release = () => {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const callback of waiting) callback();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Queues bytes, flushed at the end of this turn of the event loop; false when congested. */
  push(...pieces: Buffer[]): boolean {
    this.#add(pieces);
    if (this.#bytes >= FLUSH_THRESHOLD) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushLater);
    }
    return !this.#socket.writableNeedDrain;
  }

  /**
   * Queues bytes that a flush() or close() already on its way will carry (the last bytes of a
   * response): no flush is scheduled for them, unless they fill the queue.
   */
  hold(...pieces: Buffer[]): boolean {
    this.#add(pieces);
    if (this.#bytes >= FLUSH_THRESHOLD) this.flush();
    return !this.#socket.writableNeedDrain;
  }

  #add(pieces: Buffer[]): void {
    for (const piece of pieces) {
      this.#pieces.push(piece);
      this.#bytes += piece.length;
    }
  }

  flush(): void {
    this.#scheduled = false;
    this.#write(null);
  }

  /**
   * The last bytes of the connection: flushes what is queued and closes the socket once it has
   * been handed to the kernel (which still delivers it, then a FIN). Only for a connection whose
   * input is complete: closing with unread input would send a reset instead.
   */
  close(): void {
    this.#scheduled = false;
    const socket = this.#socket;
    if (socket.destroyed) return;
    // Destroying a stream inside its own write callback fails the write's bookkeeping (an error
    // object per connection): close right after it instead.
    if (this.#pieces.length > 0) this.#write(() => process.nextTick(destroySocket, socket));
    else if (socket.writableLength === 0) socket.destroy();
    else socket.end();
  }

  #write(callback: (() => void) | null): void {
    if (this.#pieces.length === 0 || this.#socket.destroyed) return;
    const pieces = this.#pieces;
    const bytes = this.#bytes;
    this.#pieces = [];
    this.#bytes = 0;
    const socket = this.#socket;
    if (pieces.length === 1 || bytes < FLUSH_THRESHOLD) {
      const data = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, bytes);
      if (callback) socket.write(data, callback);
      else socket.write(data);
      return;
    }
    socket.cork();
    const last = pieces.length - 1;
    for (let i = 0; i < last; i++) socket.write(pieces[i] as Buffer);
    if (callback) socket.write(pieces[last] as Buffer, callback);
    else socket.write(pieces[last] as Buffer);
    socket.uncork();
  }

  /** Calls back now, or once the connection drains (or closes). */
  onWritable(callback: () => void): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writableNeedDrain) {
      callback();
      return;
    }
    this.#waiting.push(callback);
    if (!this.#listening) {
      this.#listening = true;
      socket.on('drain', this.#release);
      socket.on('close', this.#release);
    }
  }
}
