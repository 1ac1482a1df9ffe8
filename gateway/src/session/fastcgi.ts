/**
 * One FastCGI connection: records in, requests out. Drives the request state machine
 * (BEGIN_REQUEST → PARAMS… → STDIN… → STDOUT… → END_REQUEST), multiplexing, management records,
 * keep-conn, abort and input backpressure. The only FastCGI code that touches a socket.
 */
import type { Socket } from 'node:net';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  encodeEndRequest,
  encodeGetValuesResult,
  encodeHeader,
  encodeRecord,
  encodeUnknownType,
  FastcgiDecoder,
  type FastcgiRecord,
  FCGI_KEEP_CONN,
  FCGI_MAX_CONTENT_LENGTH,
  forEachNameValuePair,
  ProtocolStatus,
  paddingFor,
  RecordType,
  Role,
  type StreamRecordType,
} from '../protocol/fastcgi/index.js';
import { OutputQueue } from './output.js';
import type { RequestHandle, Responder, ResponseChannel, ServerStats } from './types.js';

export interface FastcgiLimits {
  /** Largest PARAMS stream accepted, in bytes; also the most one connection buffers for all its requests. */
  maxParamsSize: number;
  /** Requests in flight on one connection; 1 when multiplexing is off. */
  maxReqs: number;
  /** Whether several requests may be in flight on one connection (FCGI_MPXS_CONNS). */
  mpxs: boolean;
  /** Advertised as FCGI_MAX_CONNS. */
  maxConns: number;
  /** Body bytes buffered for a request on a multiplexed connection before FCGI_OVERLOADED. */
  maxBufferedBody: number;
  idleTimeoutMs: number;
  /** From BEGIN_REQUEST (or the first byte of a record) to the end of PARAMS. */
  headerTimeoutMs: number;
  /** From the end of PARAMS to the end of STDIN, while the responder takes the body. */
  bodyTimeoutMs: number;
  /** Send what responders write to their error stream as FCGI_STDERR. */
  stderr: boolean;
}

export interface SessionOptions {
  responder: Responder;
  log: Logger;
  limits: FastcgiLimits;
  stats: ServerStats;
}

/**
 * Sent right behind the END_REQUEST of the last response on a connection the web server asked to
 * keep (FCGI_KEEP_CONN) but the worker closes, because it is draining. FastCGI has no
 * "Connection: close": nginx caches a connection whose END_REQUEST ends exactly what it read, and
 * the FIN that follows one event-loop turn later may come after nginx has handed the connection
 * to its next request, a POST it will not retry elsewhere (a 502). Any byte past END_REQUEST makes
 * nginx drop the connection itself instead; this one is a well-formed record, an empty
 * FCGI_GET_VALUES_RESULT (a management record, which answers nothing a client asked).
 */
const CLOSE_NOTICE = encodeGetValuesResult([]);
/** How long a draining connection stays open for a request already on its way. */
const DRAIN_IDLE_GRACE_MS = 1000;
/** Padding of each length a record can need, shared by every record (never written to). */
const PADDING = Array.from({ length: 8 }, (_, n) => Buffer.alloc(n));
/** Stream data up to this size is copied into its record rather than queued as a view. */
const COPY_LIMIT = 2048;

/** The empty STDOUT record that ends the stream, then END_REQUEST: built once per id and status. */
const endRecords = new Map<number, Buffer>();
function endOfRequest(requestId: number, protocolStatus: number): Buffer {
  const key = requestId * 4 + protocolStatus;
  let records = endRecords.get(key);
  if (!records) {
    records = Buffer.concat([
      encodeRecord(RecordType.Stdout, requestId),
      encodeEndRequest(requestId, 0, protocolStatus),
    ]);
    if (requestId < 256) endRecords.set(key, records);
  }
  return records;
}

class FastcgiRequest implements ResponseChannel {
  readonly id: number;
  readonly keepConn: boolean;
  params: Buffer[] | null = [];
  paramsSize = 0;
  handle: RequestHandle | null = null;
  /** Counted in flight: set before the responder runs, which may end the request before returning. */
  started = false;
  stdinDone = false;
  ended = false;
  /** Date.now() when its input began: BEGIN_REQUEST, then the end of PARAMS (see sweep()). */
  since = Date.now();
  #aborted = false;
  /** Bytes delivered since the responder last said it was full (multiplexed connections). */
  congestedBytes = -1;
  readonly #session: FastcgiSession;

  constructor(session: FastcgiSession, id: number, keepConn: boolean) {
    this.#session = session;
    this.id = id;
    this.keepConn = keepConn;
  }

  get aborted(): boolean {
    return this.#aborted || this.ended;
  }

  markAborted(): void {
    this.#aborted = true;
  }

  write(chunk: Buffer, hold = false): boolean {
    if (this.aborted) return true;
    return this.#session.appendStream(RecordType.Stdout, this.id, chunk, hold);
  }

  flush(): void {
    this.#session.flush();
  }

  onWritable(callback: () => void): void {
    this.#session.onWritable(callback);
  }

  end(): void {
    if (this.ended) return;
    this.#session.endRequest(this, ProtocolStatus.RequestComplete);
  }

  fail(): void {
    // Already ended (shed, or finished): the response's own teardown changes nothing.
    if (this.aborted || this.ended) return;
    this.#session.failRequest(this);
  }

  writeStderr(chunk: Buffer): void {
    this.#session.stderr(this, chunk);
  }

  resumeInput(): void {
    this.#session.uncongest(this);
    this.#session.resumeInput();
  }
}

export class FastcgiSession {
  readonly #socket: Socket;
  readonly #options: SessionOptions;
  readonly #decoder = new FastcgiDecoder();
  readonly #requests = new Map<number, FastcgiRequest>();
  readonly #out: OutputQueue;
  #served = 0;
  #draining = false;
  #peerEnded = false;
  #closed = false;
  #pausedForInput = false;
  #graceTimer: NodeJS.Timeout | null = null;
  /** PARAMS bytes buffered for every request of this connection still reading them. */
  #paramsBuffered = 0;
  /** Date.now() since when a record has been partly read; 0 between records. */
  #partialSince = 0;
  /** Body bytes delivered to responders that said they were full, for every request here. */
  #congested = 0;

  constructor(socket: Socket, options: SessionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#out = new OutputQueue(socket);
    socket.setTimeout(options.limits.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('timeout', () => this.#onTimeout());
    socket.on('error', (err) => this.#options.log.debug('connection error', { err }));
    socket.on('close', () => this.#onClose());
  }

  get busy(): boolean {
    return this.#requests.size > 0;
  }

  /**
   * Serve what is in flight or still arrives, closing the connection after the response that
   * leaves it idle (with CLOSE_NOTICE, so nginx does not reuse it); one idle from the start is
   * closed after a grace for a request already on its way.
   */
  drain(): void {
    this.#draining = true;
    if (this.#requests.size === 0) this.#scheduleGraceClose();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(chunk, (record) => this.#onRecord(record));
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    if (!this.#decoder.midRecord) this.#partialSince = 0;
    else if (this.#partialSince === 0) this.#partialSince = Date.now();
  }

  /**
   * Input deadlines, checked by the server's periodic sweep: a request's PARAMS must be complete
   * within the header timeout of its BEGIN_REQUEST (and a record begun must be finished as fast),
   * its STDIN within the body timeout of its PARAMS. The idle timeout cannot do this: it leaves
   * connections with requests alone, and every byte trickled re-arms it. Time while the gateway
   * itself holds the input back (a paused socket, a congested responder) does not count.
   */
  sweep(now: number): void {
    if (this.#closed || this.#pausedForInput) return;
    const { headerTimeoutMs, bodyTimeoutMs } = this.#options.limits;
    if (this.#partialSince > 0 && now - this.#partialSince > headerTimeoutMs) {
      this.#inputTimeout('GW_ERR_HEADER_TIMEOUT', 0, now - this.#partialSince);
      return;
    }
    for (const request of this.#requests.values()) {
      if (request.params !== null) {
        if (now - request.since > headerTimeoutMs) {
          this.#inputTimeout('GW_ERR_HEADER_TIMEOUT', request.id, now - request.since);
          return;
        }
      } else if (
        !request.stdinDone &&
        request.congestedBytes < 0 &&
        !request.ended &&
        now - request.since > bodyTimeoutMs
      ) {
        this.#inputTimeout('GW_ERR_BODY_TIMEOUT', request.id, now - request.since);
        return;
      }
    }
  }

  #inputTimeout(
    code: 'GW_ERR_HEADER_TIMEOUT' | 'GW_ERR_BODY_TIMEOUT',
    requestId: number,
    waitedMs: number,
  ): void {
    const { log, stats } = this.#options;
    stats.timedOut++;
    log.warn('request input timed out, connection closed', {
      code,
      requestId,
      waitedMs,
      remote: this.#socket.remoteAddress,
    });
    this.#closed = true;
    this.#clearGrace();
    this.#abortAll();
    this.#socket.destroy();
  }

  #onRecord(record: FastcgiRecord): void {
    switch (record.kind) {
      case 'begin-request':
        this.#onBegin(record.requestId, record.role, record.flags);

        return;
      case 'stream': {
        const request = this.#requests.get(record.requestId);
        if (!request) return; // records for inactive requests are ignored (spec §3.3)
        if (record.type === RecordType.Params) {
          this.#onParams(request, record.data);
          return;
        }
        if (record.type === RecordType.Stdin) {
          this.#onStdin(request, record.data);
          return;
        }
        if (record.type === RecordType.Data) return; // FCGI_DATA is for the filter role only
        throw new GatewayError('GW_ERR_FCGI_UNEXPECTED_RECORD', `type ${record.type} from the web server`, {
          requestId: record.requestId,
        });
      }
      case 'abort-request':
        this.#onAbort(record.requestId);

        return;
      case 'get-values':
        this.#onGetValues(record.names);

        return;
      case 'unknown':
        if (record.requestId === 0) this.queue([encodeUnknownType(record.type)]);
        return;
      default:
        // END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE only ever travel from an application.
        throw new GatewayError('GW_ERR_FCGI_UNEXPECTED_RECORD', `${record.kind} from the web server`);
    }
  }

  #onBegin(id: number, role: number, flags: number): void {
    if (this.#requests.has(id)) {
      throw new GatewayError('GW_ERR_FCGI_DUPLICATE_ID', `request id ${id}`, { requestId: id });
    }
    const keepConn = (flags & FCGI_KEEP_CONN) !== 0;
    if (role !== Role.Responder) {
      this.#refuse(id, keepConn, ProtocolStatus.UnknownRole);

      return;
    }
    const { limits } = this.#options;
    if (this.#requests.size >= limits.maxReqs) {
      this.#refuse(id, keepConn, limits.mpxs ? ProtocolStatus.Overloaded : ProtocolStatus.CantMpxConn);

      return;
    }
    // The idle timer stays armed (its handler leaves a connection with requests alone): re-arming
    // it around every request costs more than the check.
    this.#clearGrace();
    this.#requests.set(id, new FastcgiRequest(this, id, keepConn));
  }

  #refuse(id: number, keepConn: boolean, status: number): void {
    this.queue([encodeEndRequest(id, 0, status)]);
    if (!keepConn && this.#requests.size === 0) this.#endSocket();
    else this.#flush();
  }

  #onParams(request: FastcgiRequest, data: Buffer): void {
    if (!request.params) {
      throw new GatewayError('GW_ERR_FCGI_UNEXPECTED_RECORD', 'PARAMS after the end of PARAMS', {
        requestId: request.id,
      });
    }
    if (data.length > 0) {
      request.paramsSize += data.length;
      this.#paramsBuffered += data.length;
      // Per request, and for the connection: multiplexed requests must not multiply the bound.
      if (request.paramsSize > this.#options.limits.maxParamsSize) {
        throw new GatewayError('GW_ERR_FCGI_PARAMS_TOO_LARGE', `${request.paramsSize} bytes`, {
          requestId: request.id,
        });
      }
      if (this.#paramsBuffered > this.#options.limits.maxParamsSize) {
        throw new GatewayError(
          'GW_ERR_FCGI_PARAMS_TOO_LARGE',
          `${this.#paramsBuffered} bytes for the requests of one connection`,
          { requestId: request.id },
        );
      }
      request.params.push(data);
      return;
    }
    const block = request.params.length === 1 ? (request.params[0] as Buffer) : Buffer.concat(request.params);
    request.params = null;
    this.#paramsBuffered -= request.paramsSize;
    request.since = Date.now();
    const params: string[] = [];
    forEachNameValuePair(block, (name, value) => {
      params.push(name, value);
    });
    const { stats } = this.#options;
    stats.requestsInFlight++;
    request.started = true;
    const reused = this.#served > 0;
    if (reused) stats.keepAliveReuses++;
    request.handle = this.#options.responder(params, request, {
      protocol: 'fastcgi',
      reused,
      connection: this,
    });
  }

  #onStdin(request: FastcgiRequest, data: Buffer): void {
    const handle = request.handle;
    if (!handle || request.stdinDone) {
      throw new GatewayError('GW_ERR_FCGI_UNEXPECTED_RECORD', 'STDIN outside the body of a request', {
        requestId: request.id,
      });
    }
    if (data.length === 0) {
      request.stdinDone = true;
      handle.endBody();
      return;
    }
    if (request.aborted) return;
    if (request.congestedBytes >= 0) {
      request.congestedBytes += data.length;
      this.#congested += data.length;
      const max = this.#options.limits.maxBufferedBody;
      // Per request and for the connection: multiplexed requests must not multiply the bound.
      if (request.congestedBytes > max || this.#congested > max) {
        // No per-request flow control exists in FastCGI: past the bound this request is shed,
        // its END_REQUEST saying so before the app's side is torn down.
        this.endRequest(request, ProtocolStatus.Overloaded);
        handle.abort();
        return;
      }
    }
    if (handle.body(data)) return;
    if (this.#requests.size === 1 || !this.#options.limits.mpxs) {
      // Alone on the connection: pausing the socket is exact backpressure.
      this.#pausedForInput = true;
      this.#socket.pause();
    } else if (request.congestedBytes < 0) {
      request.congestedBytes = 0;
    }
  }

  #onAbort(id: number): void {
    const request = this.#requests.get(id);
    if (!request) return;
    request.markAborted();
    this.#options.stats.aborted++;
    request.handle?.abort();
    this.endRequest(request, ProtocolStatus.RequestComplete);
  }

  #onGetValues(names: string[]): void {
    const { limits } = this.#options;
    const known: Record<string, string> = {
      FCGI_MAX_CONNS: String(limits.maxConns),
      FCGI_MAX_REQS: String(limits.maxConns * limits.maxReqs),
      FCGI_MPXS_CONNS: limits.mpxs ? '1' : '0',
    };
    const pairs: Array<[string, string]> = [];
    for (const name of names) {
      const value = known[name];
      if (value !== undefined) pairs.push([name, value]);
    }
    this.queue([encodeGetValuesResult(pairs)]);
    this.#flush();
  }

  /** Queues whole records; returns false when the connection is congested. */
  queue(buffers: Buffer[]): boolean {
    return this.#out.push(...buffers);
  }

  /**
   * Queues stream data as records. Small data is copied into one record buffer (one allocation
   * instead of a header and a padding view); larger data is not copied here: a header, the data
   * itself and padding.
   */
  appendStream(type: StreamRecordType, requestId: number, data: Buffer, hold = false): boolean {
    const out = this.#out;
    const add = hold ? out.hold : out.push;
    if (data.length <= COPY_LIMIT) return add.call(out, encodeRecord(type, requestId, data));
    let writable = true;
    for (let at = 0; at < data.length; at += FCGI_MAX_CONTENT_LENGTH) {
      const piece =
        at === 0 && data.length <= FCGI_MAX_CONTENT_LENGTH
          ? data
          : data.subarray(at, at + FCGI_MAX_CONTENT_LENGTH);
      const padding = paddingFor(piece.length);
      writable =
        padding > 0
          ? add.call(
              out,
              encodeHeader(type, requestId, piece.length, padding),
              piece,
              PADDING[padding] as Buffer,
            )
          : add.call(out, encodeHeader(type, requestId, piece.length, padding), piece);
    }
    return writable;
  }

  #flush(): void {
    this.#out.flush();
  }

  /** Writes what is queued now. */
  flush(): void {
    if (!this.#closed) this.#out.flush();
  }

  onWritable(callback: () => void): void {
    this.#out.onWritable(callback);
  }

  stderr(request: FastcgiRequest, chunk: Buffer): void {
    if (request.aborted || chunk.length === 0) return;
    if (this.#options.limits.stderr) this.appendStream(RecordType.Stderr, request.id, chunk);
    else this.#options.log.warn('app stderr', { requestId: request.id, text: chunk.toString('utf8') });
  }

  /** The request's responder takes body again: what it held no longer counts as congestion. */
  uncongest(request: FastcgiRequest): void {
    if (request.congestedBytes > 0) this.#congested -= request.congestedBytes;
    request.congestedBytes = -1;
  }

  endRequest(request: FastcgiRequest, protocolStatus: number): void {
    if (request.ended) return;
    request.ended = true;
    this.#requests.delete(request.id);
    this.uncongest(request);
    if (request.params !== null) {
      this.#paramsBuffered -= request.paramsSize;
      request.params = null;
    }
    const { stats } = this.#options;
    if (request.started) {
      stats.requestsInFlight--;
      stats.requestsTotal++;
    }
    this.#served++;
    const records = endOfRequest(request.id, protocolStatus);
    if (this.#requests.size > 0) {
      // Other requests share the connection: these records leave with this turn's flush.
      this.#out.push(records);
      return;
    }
    // Flushed right below, by #endSocket() or #flush().
    this.#out.hold(records);
    if (this.#pausedForInput) this.resumeInput();
    if (!request.keepConn || this.#peerEnded || this.#draining) {
      // Closing a connection the web server asked to keep: tell it first (see CLOSE_NOTICE).
      if (request.keepConn && !this.#peerEnded) this.#out.hold(CLOSE_NOTICE);
      this.#endSocket();
    } else {
      this.#flush();
    }
  }

  /**
   * A response cut short. Alone on its connection, the connection closes without END_REQUEST:
   * nginx reports "upstream prematurely closed" and never passes the response off as complete.
   * Sharing it with other requests, ending the request's record is all the protocol allows.
   */
  failRequest(request: FastcgiRequest): void {
    if (this.#requests.size > 1) {
      this.endRequest(request, ProtocolStatus.RequestComplete);
      return;
    }
    this.#flush();
    this.#closed = true;
    this.#abortAll();
    this.#socket.destroy();
  }

  resumeInput(): void {
    if (!this.#pausedForInput) return;
    this.#pausedForInput = false;
    this.#socket.resume();
  }

  /** Flushes and half-closes; reading continues until the peer closes, so no RST loses the response. */
  #endSocket(): void {
    this.#flush();
    this.#clearGrace();
    if (!this.#closed && !this.#socket.writableEnded) this.#socket.end();
  }

  #scheduleGraceClose(): void {
    this.#clearGrace();
    this.#graceTimer = setTimeout(() => {
      if (this.#requests.size === 0) this.#endSocket();
    }, DRAIN_IDLE_GRACE_MS);
  }

  #clearGrace(): void {
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = null;
  }

  #onEnd(): void {
    this.#peerEnded = true;
    try {
      this.#decoder.end();
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    if (this.#requests.size === 0) {
      this.#endSocket();
      return;
    }
    // A web server closes, it never half-closes: end of input with requests in flight is the
    // client going away (nginx closes the upstream connection when its client aborts).
    this.#options.log.debug('connection closed by the peer with requests in flight');
    this.#closed = true;
    this.#abortAll();
    this.#socket.destroy();
  }

  #onTimeout(): void {
    if (this.#requests.size > 0) return;
    this.#options.log.debug('idle connection closed', { code: 'GW_ERR_IDLE_TIMEOUT' });
    this.#endSocket();
  }

  #protocolError(err: unknown): void {
    const { log, stats } = this.#options;
    stats.protocolErrors++;
    if (isGatewayError(err)) {
      // Session-level rejections point at the record that broke the rules.
      err.context.offset ??= this.#decoder.recordOffset;
      log.warn('malformed FastCGI input, connection closed', {
        code: err.code,
        offset: err.context.offset,
        requestId: err.context.requestId,
        detail: err.message,
        remote: this.#socket.remoteAddress,
      });
    } else {
      log.error('FastCGI session failed, connection closed', { err });
    }
    this.#closed = true;
    this.#abortAll();
    this.#socket.destroy();
  }

  #abortAll(): void {
    const { stats } = this.#options;
    for (const request of this.#requests.values()) {
      request.markAborted();
      if (request.started) {
        stats.aborted++;
        stats.requestsInFlight--;
        request.handle?.abort();
      }
    }
    this.#requests.clear();
    this.#paramsBuffered = 0;
    this.#congested = 0;
  }

  #onClose(): void {
    this.#closed = true;
    this.#abortAll();
  }
}
