/**
 * One uwsgi connection carries one request (nginx never reuses them): a vars packet, exactly
 * CONTENT_LENGTH body bytes, then an HTTP response ended by closing the connection.
 */
import type { Socket } from 'node:net';
import { isGatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { UwsgiDecoder, type UwsgiEvent } from '../protocol/uwsgi/index.js';
import { OutputQueue } from './output.js';
import type { RequestHandle, Responder, ResponseChannel, ServerStats } from './types.js';

export interface UwsgiLimits {
  maxVarsSize: number;
  idleTimeoutMs: number;
  /** From the connection to the end of the vars block (nginx sends it at once). */
  headerTimeoutMs: number;
  /** From the vars block to the last CONTENT_LENGTH byte, while the responder takes the body. */
  bodyTimeoutMs: number;
}

export interface UwsgiSessionOptions {
  responder: Responder;
  log: Logger;
  limits: UwsgiLimits;
  stats: ServerStats;
}

export class UwsgiSession implements ResponseChannel {
  readonly #socket: Socket;
  readonly #options: UwsgiSessionOptions;
  readonly #decoder: UwsgiDecoder;
  #handle: RequestHandle | null = null;
  #ended = false;
  #closed = false;
  #paused = false;
  /** The whole request (vars and CONTENT_LENGTH body bytes) has been read. */
  #inputDone = false;
  /** Date.now() of the connection, then of the vars block: where the input deadline counts from. */
  #since = Date.now();
  readonly #out: OutputQueue;

  constructor(socket: Socket, options: UwsgiSessionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#out = new OutputQueue(socket);
    this.#decoder = new UwsgiDecoder({ maxVarsSize: options.limits.maxVarsSize });
    socket.setTimeout(options.limits.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('timeout', () => {
      if (!this.#handle) socket.destroy();
    });
    socket.on('error', (err) => options.log.debug('connection error', { err }));
    socket.on('close', () => this.#onClose());
  }

  get busy(): boolean {
    return this.#handle !== null && !this.#ended;
  }

  get aborted(): boolean {
    return this.#closed || this.#ended;
  }

  /**
   * Nothing to do: a uwsgi connection carries exactly one request and closes with its response.
   * Closing one that has no request yet would lose the request nginx is about to send on it
   * (a connection accepted just as the worker starts draining); the idle timeout covers a peer
   * that never sends anything.
   */
  drain(): void {}

  destroy(): void {
    this.#socket.destroy();
  }

  /**
   * Input deadlines, checked by the server's periodic sweep: the vars block within the header
   * timeout of the connection, the body within the body timeout of the vars. The idle timeout
   * leaves a connection with a request alone, and every byte trickled re-arms it. Time while the
   * responder holds the input back (a paused socket) does not count.
   */
  sweep(now: number): void {
    if (this.#closed || this.#paused || this.#inputDone || this.#ended) return;
    const { headerTimeoutMs, bodyTimeoutMs } = this.#options.limits;
    const code = this.#handle ? 'GW_ERR_BODY_TIMEOUT' : 'GW_ERR_HEADER_TIMEOUT';
    if (now - this.#since <= (this.#handle ? bodyTimeoutMs : headerTimeoutMs)) return;
    const { log, stats } = this.#options;
    stats.timedOut++;
    log.warn('request input timed out, connection closed', {
      code,
      waitedMs: now - this.#since,
      remote: this.#socket.remoteAddress,
    });
    this.#abort();
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(chunk, (event) => this.#onEvent(event));
    } catch (err) {
      this.#protocolError(err);
    }
  }

  #onEvent(event: UwsgiEvent): void {
    if (event.kind === 'vars') {
      const params: string[] = [];
      for (const [name, value] of event.vars) params.push(name, value);
      // The idle timer stays armed: its handler leaves a connection with a request alone, and
      // re-arming it costs more than the check.
      this.#options.stats.requestsInFlight++;
      this.#since = Date.now();
      this.#handle = this.#options.responder(params, this, { protocol: 'uwsgi', reused: false });
      return;
    }
    const handle = this.#handle;
    if (!handle) return;
    if (event.kind === 'end') {
      this.#inputDone = true;
      handle.endBody();
      return;
    }
    if (!this.#ended && !handle.body(event.data)) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  write(chunk: Buffer, hold = false): boolean {
    if (this.aborted) return true;
    return hold ? this.#out.hold(chunk) : this.#out.push(chunk);
  }

  flush(): void {
    if (!this.#closed) this.#out.flush();
  }

  onWritable(callback: () => void): void {
    this.#out.onWritable(callback);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const { stats } = this.#options;
    stats.requestsInFlight--;
    stats.requestsTotal++;
    if (this.#closed) return;
    if (this.#inputDone) {
      // Nothing more can arrive: close as soon as the response is written, as uWSGI does; the
      // kernel still delivers it, then a FIN. No shutdown, and no waiting for nginx's FIN.
      this.#out.close();
      return;
    }
    this.#out.flush();
    // Keep reading what nginx still sends (an unread body) so closing never turns into a reset.
    this.resumeInput();
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  /**
   * A response cut short: what was written goes, then a reset. nginx reads a reset as an upstream
   * failure; a plain close would end a response without Content-Length as if it were complete.
   */
  fail(): void {
    if (this.aborted) return;
    this.#ended = true;
    const { stats } = this.#options;
    stats.requestsInFlight--;
    stats.aborted++;
    this.#out.flush();
    this.#socket.resetAndDestroy();
  }

  writeStderr(chunk: Buffer): void {
    this.#options.log.warn('app stderr', { text: chunk.toString('utf8') });
  }

  resumeInput(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket.resume();
  }

  #onEnd(): void {
    if (this.#handle && !this.#ended) {
      // nginx closes (never half-closes) the connection when its client aborts.
      this.#abort();
      this.#socket.destroy();
      return;
    }
    try {
      this.#decoder.end();
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  #protocolError(err: unknown): void {
    const { log, stats } = this.#options;
    stats.protocolErrors++;
    if (isGatewayError(err)) {
      log.warn('malformed uwsgi input, connection closed', {
        code: err.code,
        offset: err.context.offset,
        detail: err.message,
        remote: this.#socket.remoteAddress,
      });
    } else {
      log.error('uwsgi session failed, connection closed', { err });
    }
    this.#abort();
    this.#socket.destroy();
  }

  #abort(): void {
    if (this.#handle && !this.#ended) {
      this.#ended = true;
      this.#options.stats.aborted++;
      this.#options.stats.requestsInFlight--;
      this.#handle.abort();
    }
  }

  #onClose(): void {
    this.#abort();
    this.#closed = true;
  }
}
