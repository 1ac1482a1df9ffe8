/**
 * Runs a standard Node request listener for a protocol session: builds a real
 * http.IncomingMessage and http.ServerResponse (public APIs, and the one method node:http's own
 * parser gives a request its headers with), feeds the request body in with backpressure, and
 * turns the rendered response into protocol bytes via ExchangeSocket.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { IncomingMessage, type RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { buildRequestHead, type CgiParams, headersOf } from '../cgi/params.js';
import type { HeadFormat } from '../cgi/response.js';
import type { GatewayErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestContext, RequestHandle, Responder, ResponseChannel } from '../session/types.js';
import { ExchangeSocket } from './socket.js';

/**
 * An IncomingMessage whose reads tell the session when the app wants more body. `_read` is the
 * instance's own property, not the class's: frameworks that give a request a prototype of their
 * own (express's is derived from IncomingMessage.prototype, not from this class) keep it, and
 * a body larger than the stream's buffer still flows once the app reads.
 */
class GatewayIncomingMessage extends IncomingMessage {
  onDemand: (() => void) | null = null;

  constructor(socket: Socket) {
    super(socket);
    this._read = readOnDemand;
  }
}

function readOnDemand(this: GatewayIncomingMessage, size: number): void {
  IncomingMessage.prototype._read.call(this, size);
  this.onDemand?.();
}

/** The method node:http's parser hands a request its raw headers with. */
type AddHeaderLines = (rawHeaders: string[], count: number) => void;
const addHeaderLines = (IncomingMessage.prototype as unknown as { _addHeaderLines?: AddHeaderLines })
  ._addHeaderLines;

/**
 * Gives a request its headers the way node:http's parser does: `rawHeaders` now, `headers` and
 * `headersDistinct` built from them by IncomingMessage itself on first use (a listener that never
 * reads them never pays for them, and duplicates combine by node:http's own rules). On a Node
 * without that method, `headers` is built here, by the same rules.
 */
function setHeaders(req: IncomingMessage, rawHeaders: string[]): void {
  if (addHeaderLines) addHeaderLines.call(req, rawHeaders, rawHeaders.length);
  else {
    req.rawHeaders = rawHeaders;
    req.headers = headersOf(rawHeaders) as IncomingMessage['headers'];
  }
}

export interface NodeResponderOptions {
  listener: RequestListener;
  log: Logger;
  /** Run each listener in the request scope (default), see `runListener`. */
  requestScope?: boolean;
}

const noop = () => {};
const destroySocket = (socket: ExchangeSocket) => socket.destroy();

/** What node:http does once a response has finished on a connection that stays open. */
function emitResponseClose(res: ServerResponse): void {
  res.destroyed = true;
  res.emit('close');
}

function answerBadRequest(channel: ResponseChannel, format: HeadFormat): RequestHandle {
  const body = '{"error":"bad request"}';
  const status = format === 'cgi' ? 'Status: 400 Bad Request\r\n' : 'HTTP/1.1 400 Bad Request\r\n';
  channel.write(
    Buffer.from(
      `${status}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      'latin1',
    ),
  );
  channel.end();
  return { body: () => true, endBody: noop, abort: noop };
}

/**
 * One request on its way through the listener: the handle the session drives (body, end of body,
 * abort), and what the response's 'finish' does. One object per request rather than a closure
 * apiece.
 */
class NodeExchange implements RequestHandle {
  finished = false;
  readonly #req: GatewayIncomingMessage;
  readonly #res: ServerResponse;
  readonly #socket: ExchangeSocket;
  readonly #channel: ResponseChannel;
  readonly #connection: object | undefined;
  readonly #idle: WeakMap<object, ExchangeSocket>;

  constructor(
    req: GatewayIncomingMessage,
    res: ServerResponse,
    socket: ExchangeSocket,
    channel: ResponseChannel,
    connection: object | undefined,
    idle: WeakMap<object, ExchangeSocket>,
  ) {
    this.#req = req;
    this.#res = res;
    this.#socket = socket;
    this.#channel = channel;
    this.#connection = connection;
    this.#idle = idle;
  }

  onFinish(): void {
    this.finished = true;
    this.#channel.end();
    const req = this.#req;
    const socket = this.#socket;
    const connection = this.#connection;
    // Body the app never read is discarded, as node:http does.
    if (!req.readableEnded) req.resume();
    socket.response = null;
    if (connection && !socket.destroyed && !this.#idle.has(connection)) {
      // The connection stays open: the socket serves its next request, as under node:http.
      this.#res.detachSocket(socket as unknown as Socket);
      this.#idle.set(connection, socket);
      process.nextTick(emitResponseClose, this.#res);
      return;
    }
    // 'finish' runs inside the socket's write callback; destroying the socket there would make
    // the stream fail its own bookkeeping (an error object per request). Close it after.
    process.nextTick(destroySocket, socket);
  }

  body(chunk: Buffer): boolean {
    const req = this.#req;
    // Bytes past a body already ended (CONTENT_LENGTH 0, yet STDIN came) are dropped, as
    // PHP-FPM reads no more than CONTENT_LENGTH: the app has seen its body end.
    if (req.destroyed || req.complete) return true;
    if (req.push(chunk)) return true;
    const channel = this.#channel;
    req.onDemand = () => {
      req.onDemand = null;
      channel.resumeInput();
    };
    return false;
  }

  endBody(): void {
    const req = this.#req;
    if (req.destroyed || req.complete) return;
    req.complete = true;
    req.push(null);
  }

  abort(): void {
    if (this.finished) return;
    const req = this.#req;
    if (!req.complete) req.emit('aborted');
    req.destroy();
    this.#socket.destroy();
  }
}

const kExchange = Symbol('exchange');
type TrackedResponse = ServerResponse & { [kExchange]: NodeExchange };

function onResponseFinish(this: TrackedResponse): void {
  this[kExchange].onFinish();
}

/**
 * What becomes of a request whose listener threw (synchronously, or by rejecting the promise it
 * returned): logged with its cause; a 500 when no head has gone yet, else the response is cut
 * short (its socket destroyed: the protocol then ends it as a failure). Nothing else is touched.
 */
export function failRequest(log: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  // The app's own error is the cause worth reading: its name, message, code and where it came from.
  log.error('request listener failed', {
    code: 'GW_ERR_HANDLER' satisfies GatewayErrorCode,
    err,
    at: err instanceof Error ? err.stack?.split('\n', 3)[1]?.trim() : undefined,
    method: req.method,
    url: req.url,
  });
  if (res.writableEnded || res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  try {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = 500;
    res.setHeader('content-type', 'text/plain');
    res.end('Internal Server Error');
  } catch (endErr) {
    // A response the app left in a state that cannot take a 500 (corked, half-rendered) goes.
    log.debug('500 could not be written', { err: endErr });
    res.destroy();
  }
}

interface RequestScope {
  readonly log: Logger;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/**
 * The request whose listener a callback descends from (a timer, an emitter, a promise chain the
 * app started), so that an exception escaping it later still ends that request only.
 */
const requestScope = new AsyncLocalStorage<RequestScope>();

function callListener(
  listener: RequestListener,
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  try {
    const result = listener(req, res) as unknown;
    if (result instanceof Promise) result.catch((err: unknown) => failRequest(log, req, res, err));
  } catch (err) {
    failRequest(log, req, res, err);
  }
}

const kLog = Symbol('log');
type LoggedResponse = ServerResponse & { [kLog]: Logger };

/** One function for every response (no closure per request): the request is `res.req`. */
function onResponseError(this: LoggedResponse, err: Error): void {
  this[kLog].warn('response error', { err, method: this.req.method, url: this.req.url });
}

/**
 * Runs a listener so that nothing it does synchronously or through its promise escapes the
 * request; 'error' events of the response (a write after its end, a destroy with an error) are
 * logged instead of crashing the process, as they would under a bare node:http server. What it
 * throws later, from callbacks it scheduled, is caught by `containStrayErrors`, which fails this
 * request when `scoped` (the listener runs in the request scope), or else the worker.
 */
export function runListener(
  listener: RequestListener,
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  scoped = true,
): void {
  (res as LoggedResponse)[kLog] = log;
  res.on('error', onResponseError);
  if (scoped) requestScope.run({ log, req, res }, callListener, listener, log, req, res);
  else callListener(listener, log, req, res);
}

/**
 * The process-level catch for exceptions and unhandled rejections that escape the app's
 * callbacks (under a bare node:http server they end the process and every request in it): one
 * that descends from a request's listener fails that request as a synchronous throw would (a 500,
 * or the response cut short, or only the log when it had ended); one that belongs to no request
 * (the gateway's own code, the app's start-up) is logged and handed to `outsideRequests`.
 */
export function containStrayErrors(log: Logger, outsideRequests: (err: unknown) => void): void {
  process.on('uncaughtException', (err, origin) => {
    const scope = requestScope.getStore();
    if (scope) {
      failRequest(scope.log, scope.req, scope.res, err);
      return;
    }
    log.error('uncaught exception outside any request', {
      code: 'GW_ERR_UNCAUGHT' satisfies GatewayErrorCode,
      err,
      origin,
    });
    outsideRequests(err);
  });
}

/** An ExchangeSocket's own errors (a response head that is not HTTP) end its request, never the process. */
function socketErrorLogger(log: Logger): (err: Error) => void {
  return (err) => log.warn('response stream failed', { err });
}

export function createNodeResponder(options: NodeResponderOptions): Responder {
  const { listener, log } = options;
  const scoped = options.requestScope ?? true;
  /** Per connection, its ExchangeSocket while no request uses it. */
  const idle = new WeakMap<object, ExchangeSocket>();
  const onSocketError = socketErrorLogger(log);

  return (params: CgiParams, channel: ResponseChannel, context: RequestContext): RequestHandle => {
    const format: HeadFormat = context.protocol === 'fastcgi' ? 'cgi' : 'http';
    let head: ReturnType<typeof buildRequestHead>;
    try {
      head = buildRequestHead(params);
    } catch (err) {
      log.warn('bad request parameters', { err });
      return answerBadRequest(channel, format);
    }

    const { connection } = context;
    let socket = connection ? idle.get(connection) : undefined;
    if (socket && connection) {
      idle.delete(connection);
      socket.begin(head, channel);
    } else {
      socket = new ExchangeSocket(head, channel, format);
      socket.on('error', onSocketError);
    }
    // ExchangeSocket is a Duplex with net.Socket's surface where a request listener can see it.
    const netSocket = socket as unknown as Socket;
    const req = new GatewayIncomingMessage(netSocket);
    req.method = head.method;
    req.url = head.url;
    req.httpVersionMajor = head.httpVersionMajor;
    req.httpVersionMinor = head.httpVersionMinor;
    req.httpVersion = `${head.httpVersionMajor}.${head.httpVersionMinor}`;
    setHeaders(req, head.rawHeaders);
    if (!head.hasBody) {
      req.push(null);
      req.complete = true;
    }

    const res = new ServerResponse(req) as unknown as TrackedResponse;
    // The web server frames the client's response: never chunk, never promise keep-alive, and
    // leave Date to it (nginx replaces an upstream Date anyway).
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.sendDate = false;
    // Nor a Connection header of its own, which the protocol head would only have to drop.
    res.removeHeader('connection');
    res.assignSocket(netSocket);
    socket.response = res;

    const exchange = new NodeExchange(req, res, socket, channel, connection, idle);
    res[kExchange] = exchange;
    res.on('finish', onResponseFinish);

    runListener(listener, log, req, res, scoped);
    return exchange;
  };
}
