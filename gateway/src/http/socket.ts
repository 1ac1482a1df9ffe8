/**
 * The socket a request listener sees. It is a real stream.Duplex, so ServerResponse writes to it
 * exactly as it writes to a net.Socket, and it carries the client's addresses from the CGI
 * meta-variables. Its writable side receives the rendered HTTP response; the head is rewritten for
 * the protocol and everything goes to the session's ResponseChannel with backpressure.
 *
 * Like a kept-alive net.Socket under node:http, one ExchangeSocket serves the successive requests
 * of a connection: `begin()` points it at the next request's addresses and channel.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import { ChunkedBodyDecoder } from '../cgi/chunked.js';
import { type CgiParams, type RequestHead, trustedParams } from '../cgi/params.js';
import { type HeadFormat, rewriteResponseHead } from '../cgi/response.js';
import type { ResponseChannel } from '../session/types.js';

const HEAD_END = Buffer.from('\r\n\r\n');

type WriteCallback = (error?: Error | null) => void;

/**
 * What a request's IncomingMessage buffers of its body before it tells the session it is full
 * (node:http gives a request its socket's readable high-water mark). 16 KiB whatever the Node
 * version: Node 22 raised the default to 64 KiB, which would let every request of a multiplexed
 * FastCGI connection hold that much outside GATEWAY_MAX_BUFFERED_BODY's count.
 */
const REQUEST_BODY_BUFFER = 16 * 1024;

const flushChannel = (channel: ResponseChannel) => channel.flush();
const asBuffer = (view: Uint8Array) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

function forwardDrain(this: ExchangeSocket): void {
  if (this.response?.writableNeedDrain) this.response.emit('drain');
}

export class ExchangeSocket extends Duplex {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  /** True only for HTTPS requests, as on a TLSSocket. */
  encrypted: true | undefined;
  /** Response status, once the head has been written. */
  status = 0;
  /** The response being written; it gets this socket's 'drain', as node:http forwards it. */
  response: {
    readonly writableNeedDrain: boolean;
    readonly writableEnded: boolean;
    emit(event: 'drain'): boolean;
  } | null = null;

  #channel: ResponseChannel;
  #format: HeadFormat;
  #params: CgiParams = [];
  #trusted: Readonly<Record<string, string>> | null = null;
  #pendingHead: Buffer | null = null;
  #headDone = false;
  #chunked: ChunkedBodyDecoder | null = null;
  /** Bytes went to the channel held while this socket was corked. */
  #held = false;
  /** Whether the channel took every piece of the current write() without congestion. */
  #accepted = true;
  /** A rewritten head waiting, while corked, for the body bytes that follow it. */
  #headOut: string | null = null;
  /** The request is a HEAD: its response has no body. */
  #headOnly = false;
  /** The head went to the channel while corked, and no uncork has let it out yet. */
  #headCorked = false;

  constructor(head: RequestHead, channel: ResponseChannel, format: HeadFormat) {
    // The request body reaches the app through IncomingMessage, never through this socket's readable
    // side; that side stays open while the request lives because libraries (on-finished, used by
    // express's body parsers) read `socket.readable` as "the request is still in flight".
    super({
      allowHalfOpen: true,
      decodeStrings: false,
      emitClose: true,
      readableHighWaterMark: REQUEST_BODY_BUFFER,
    } as DuplexOptions);
    this.#channel = channel;
    this.#format = format;
    this.#assign(head);
    this.on('drain', forwardDrain);
  }

  /** Takes the next request of the connection; the previous response must have finished. */
  begin(head: RequestHead, channel: ResponseChannel): void {
    this.#channel = channel;
    this.#pendingHead = null;
    this.#headDone = false;
    this.#headCorked = false;
    this.#chunked = null;
    this.#held = false;
    this.#headOut = null;
    this.status = 0;
    this.#assign(head);
  }

  #assign(head: RequestHead): void {
    this.remoteAddress = head.remoteAddress;
    this.remotePort = head.remotePort;
    this.remoteFamily = head.remoteAddress?.includes(':') ? 'IPv6' : head.remoteAddress ? 'IPv4' : undefined;
    this.localAddress = head.localAddress;
    this.localPort = head.localPort;
    this.encrypted = head.encrypted ? true : undefined;
    this.#headOnly = head.method === 'HEAD';
    this.#params = head.params;
    this.#trusted = null;
  }

  /**
   * The current request's meta-variables that the web server set (not the HTTP_* ones a client's
   * headers become), frozen, by name: REMOTE_USER and what an auth module passed on with
   * `fastcgi_param` / `uwsgi_param`. Apps read them as `req.socket.gatewayParams`; under a plain
   * node:http server there is no such property, so an app knows it has none. Built on first read.
   */
  get gatewayParams(): Readonly<Record<string, string>> {
    this.#trusted ??= trustedParams(this.#params);
    return this.#trusted;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.localAddress === undefined) return {};
    return {
      address: this.localAddress,
      family: this.localAddress.includes(':') ? 'IPv6' : 'IPv4',
      port: this.localPort ?? 0,
    };
  }

  /**
   * The request's error stream: with GATEWAY_FCGI_STDERR on, FCGI_STDERR records (nginx logs
   * them in its error log against this request); otherwise a line in the gateway's log.
   * Apps reach it as `req.socket.writeStderr?.(text)`.
   */
  writeStderr(text: string | Buffer): void {
    this.#channel.writeStderr(typeof text === 'string' ? Buffer.from(text) : text);
  }

  // net.Socket's tuning calls mean nothing on a request-scoped socket.
  setTimeout(_ms: number, _callback?: () => void): this {
    return this;
  }
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }
  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  override _read(): void {}

  /**
   * Destroyed while its response is unfinished (res.destroy(), a failed write): the response is
   * cut short, and the web server is told so rather than handed a truncated one as complete. A
   * response that can carry no body (to HEAD, a 204, a 304) is whole once its head is out, as
   * node:http's clients have it then: it ends as a response. A head still held by a cork is not
   * out: node:http drops what a destroyed socket holds.
   */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#channel.aborted) {
      const headOut = this.#headDone && !this.#headCorked;
      if (headOut && (this.#headOnly || this.status === 204 || this.status === 304)) this.#channel.end();
      else this.#channel.fail();
    }
    callback(err);
  }

  /**
   * ServerResponse's writes go straight to the protocol, not through the Writable's buffer: the
   * channel queues them for the turn's single flush anyway. As on a net.Socket, the callback runs
   * asynchronously once the bytes are taken (at once, or when a congested connection drains) and
   * the return value is false while the connection is congested, with 'drain' to follow.
   */
  override write(
    chunk: Buffer | Uint8Array | string,
    encoding?: BufferEncoding | WriteCallback | null,
    callback?: WriteCallback,
  ): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = null;
    }
    // A destroyed or ended socket: the Writable reports the error as it would.
    if (this.destroyed || this.writableEnded) return super.write(chunk, encoding ?? 'utf8', callback);
    this.#accepted = true;
    this.#take(chunk, encoding ?? 'utf8');
    if (this.#accepted) {
      if (callback) process.nextTick(callback);
      return true;
    }
    this.#channel.onWritable(() => {
      callback?.();
      this.emit('drain');
    });
    return false;
  }

  /** Hands bytes to the channel, noting whether it takes more at once. */
  #send(data: Buffer, hold: boolean): void {
    if (!this.#channel.write(data, hold)) this.#accepted = false;
  }

  override _write(
    chunk: Buffer | Uint8Array | string,
    encoding: BufferEncoding,
    callback: WriteCallback,
  ): void {
    this.#take(chunk, encoding);
    this.#channel.onWritable(callback as () => void);
  }

  #take(written: Buffer | Uint8Array | string, encoding: BufferEncoding): void {
    // ServerResponse.end() writes '' to learn when everything before it has gone.
    if (written.length === 0 || this.#channel.aborted) return;
    // node:http takes any Uint8Array (Web stream bridges write nothing else): a Buffer view of
    // the same memory, no copy. A Buffer is a Uint8Array too, and goes through untouched.
    const chunk = typeof written === 'string' || written instanceof Buffer ? written : asBuffer(written);
    if (!this.#headDone) {
      // ServerResponse renders its whole head as one string and writes it first: rewrite it as a
      // string, with no round trip through a Buffer.
      if (typeof chunk === 'string' && this.#pendingHead === null && this.#takeHeadString(chunk, encoding))
        return;
      const rest = this.#takeHead(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
      if (!this.#headDone || rest.length === 0) return;
      this.#body(rest);
      return;
    }
    this.#body(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
  }

  #body(data: Buffer): void {
    if (this.#chunked) {
      for (const piece of this.#chunked.push(data)) this.#send(piece, this.#hold());
    } else if (data.length > 0) {
      const head = this.#headOut;
      if (head === null) {
        this.#send(data, this.#hold());
        return;
      }
      // The head waited for the first body bytes: they leave together, as one piece.
      this.#headOut = null;
      const joined = Buffer.allocUnsafe(head.length + data.length);
      joined.write(head, 0, head.length, 'latin1');
      data.copy(joined, head.length);
      this.#send(joined, this.#hold());
    }
  }

  /** Sends a head that waited for body bytes in vain (held: the uncork's flush follows). */
  #releaseHead(): void {
    const head = this.#headOut;
    if (head === null) return;
    this.#headOut = null;
    this.#send(Buffer.from(head, 'latin1'), true);
  }

  /**
   * Whether bytes written now may wait in the channel. ServerResponse corks this socket around
   * its writes (end() among them) and uncorks it once they are all in: what arrives while corked
   * is held, and flushed after the uncork (see uncork()). Once the app has ended its response,
   * the response's 'finish' (which ends the channel, and flushes) follows anyway.
   */
  #hold(): boolean {
    if (this.writableCorked > 0) {
      this.#held = true;
      return true;
    }
    return this.response?.writableEnded === true;
  }

  /**
   * The flush of what was written while corked waits for the ticks already queued: when the
   * uncork ends a response, its 'finish' is one of them and carries the held bytes out with the
   * end of the request, in one write.
   */
  override uncork(): void {
    super.uncork();
    if (this.writableCorked > 0) return;
    this.#headCorked = false;
    if (this.#headOut !== null) {
      this.#held = true;
      this.#releaseHead();
    }
    if (this.#held) {
      this.#held = false;
      process.nextTick(flushChannel, this.#channel);
    }
  }

  /** Returns false when `chunk` does not hold a complete head (the Buffer path takes over). */
  #takeHeadString(chunk: string, encoding: BufferEncoding): boolean {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf('\r\n\r\n', start);
      if (end === -1) {
        if (start === 0) return false;
        // Only interim heads so far: what follows them waits for the rest of the next head.
        if (start < chunk.length) this.#pendingHead = Buffer.from(chunk.slice(start), encoding);
        return true;
      }
      const head = rewriteResponseHead(chunk.slice(start, end + 4), this.#format);
      if (!head) {
        this.destroy(new Error('response head is not HTTP'));
        return true;
      }
      start = end + 4;
      if (head.status >= 100 && head.status < 200) continue; // interim responses cannot cross
      this.#headDone = true;
      this.#headCorked = this.writableCorked > 0;
      this.status = head.status;
      if (head.chunked) {
        this.#chunked = new ChunkedBodyDecoder();
        this.#send(Buffer.from(head.head, 'latin1'), this.#hold());
        if (start < chunk.length) this.#body(Buffer.from(chunk.slice(start), encoding));
        return true;
      }
      if (start === chunk.length && this.writableCorked > 0) {
        // ServerResponse writes a Buffer body after the head: while corked, the head waits for it.
        this.#headOut = head.head;
        this.#held = true;
        return true;
      }
      // ServerResponse.end(string) renders head and body as one string: they leave as one Buffer.
      const body = start < chunk.length ? chunk.slice(start) : '';
      const headLength = head.head.length;
      const data = Buffer.allocUnsafe(headLength + (body ? Buffer.byteLength(body, encoding) : 0));
      data.write(head.head, 0, headLength, 'latin1');
      if (body) data.write(body, headLength, encoding);
      this.#send(data, this.#hold());
      return true;
    }
  }

  /** Consumes the response head from the front of `data`; returns what follows it. */
  #takeHead(data: Buffer): Buffer {
    let buffer = this.#pendingHead ? Buffer.concat([this.#pendingHead, data]) : data;
    for (;;) {
      const end = buffer.indexOf(HEAD_END);
      if (end === -1) {
        this.#pendingHead = buffer;
        return Buffer.alloc(0);
      }
      const rendered = buffer.toString('latin1', 0, end + 4);
      buffer = buffer.subarray(end + 4);
      const head = rewriteResponseHead(rendered, this.#format);
      if (!head) {
        this.destroy(new Error('response head is not HTTP'));
        return Buffer.alloc(0);
      }
      // Interim responses (100 Continue, 103 Early Hints) cannot cross FastCGI or uwsgi: drop them.
      if (head.status >= 100 && head.status < 200) continue;
      this.#pendingHead = null;
      this.#headDone = true;
      this.#headCorked = this.writableCorked > 0;
      this.status = head.status;
      if (head.chunked) this.#chunked = new ChunkedBodyDecoder();
      this.#send(Buffer.from(head.head, 'latin1'), this.#hold());
      return buffer;
    }
  }
}
