/**
 * The seam between a protocol session (bytes on a connection) and what answers a request: the
 * Node adapter (any request listener) or the CGI runner (a process per request).
 */
import type { CgiParams } from '../cgi/params.js';

/** What a session gives the responder to answer one request. */
export interface ResponseChannel {
  /**
   * Response bytes, head first, as the protocol carries them (a CGI head for FastCGI, an HTTP
   * head for uwsgi). Returns false when the connection is congested; `onWritable` is then called
   * once it drains. `hold`: a `flush()` or `end()` follows, so the bytes may wait for it rather
   * than be flushed on their own at the end of this turn of the event loop.
   */
  write(chunk: Buffer, hold?: boolean): boolean;
  /** Sends what `write(…, true)` held. */
  flush(): void;
  onWritable(callback: () => void): void;
  /** The response is complete. */
  end(): void;
  /**
   * The response was cut short (destroyed by the app, or its writing failed): end it so the web
   * server sees a failed response, never a complete one, as far as the protocol can say so.
   */
  fail(): void;
  /** Diagnostic text for the web server's error log (FastCGI STDERR); elsewhere the gateway log. */
  writeStderr(chunk: Buffer): void;
  /** The responder wants more request body (after `body()` returned false). */
  resumeInput(): void;
  /** True once the client is gone or the request was aborted: further writes are dropped. */
  readonly aborted: boolean;
}

/** What the responder gives back: where the session delivers the request body and its fate. */
export interface RequestHandle {
  /** A piece of the body; false asks the session to stop reading until `resumeInput()`. */
  body(chunk: Buffer): boolean;
  /** The body is complete. */
  endBody(): void;
  /** The client went away (connection closed, ABORT_REQUEST): stop work, write nothing more. */
  abort(): void;
}

export interface RequestContext {
  protocol: 'fastcgi' | 'uwsgi';
  /** Whether this connection already carried an earlier request. */
  reused: boolean;
  /**
   * The same object for every request of one connection that can carry several (FastCGI), so a
   * responder may keep per-connection objects across them; absent where a connection carries
   * one request (uwsgi).
   */
  connection?: object;
}

/** Starts answering a request once its meta-variables are complete. Must not throw. */
export type Responder = (
  params: CgiParams,
  channel: ResponseChannel,
  context: RequestContext,
) => RequestHandle;

/**
 * Counters the sessions of one protocol server keep (connections, requests, keep-alive reuses,
 * aborts, protocol errors), for the status page and metrics.
 */
export interface ServerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  acceptedConnections: number;
  /** Requests being handled now. */
  requestsInFlight: number;
  /** Requests completed since start. */
  requestsTotal: number;
  /** Requests that arrived on a connection that had already carried one (keep-alive reuse). */
  keepAliveReuses: number;
  /** Requests whose client went away (connection closed or ABORT_REQUEST) before the response ended. */
  aborted: number;
  /** Connections closed because of malformed protocol input. */
  protocolErrors: number;
  /** Connections closed because a request's params or body did not arrive in time. */
  timedOut: number;
  /** Connections closed at once: past the connection cap, or from a client not allowed. */
  refusedConnections: number;
}
