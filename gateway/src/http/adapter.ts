/**
 * Runs a standard Node request listener for a protocol session: builds a real
 * http.IncomingMessage and http.ServerResponse (public APIs only), feeds the request body in with
 * backpressure, and turns the rendered response into protocol bytes via ExchangeSocket.
 */
import { IncomingMessage, type RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { buildRequestHead, type CgiParams } from '../cgi/params.js';
import type { HeadFormat } from '../cgi/response.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestContext, RequestHandle, Responder, ResponseChannel } from '../session/types.js';
import { ExchangeSocket } from './socket.js';

/** An IncomingMessage whose reads tell the session when the app wants more body. */
class GatewayIncomingMessage extends IncomingMessage {
  onDemand: (() => void) | null = null;

  override _read(size: number): void {
    super._read(size);
    this.onDemand?.();
  }
}

export interface NodeResponderOptions {
  listener: RequestListener;
  log: Logger;
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

export function createNodeResponder(options: NodeResponderOptions): Responder {
  const { listener, log } = options;
  /** Per connection, its ExchangeSocket while no request uses it. */
  const idle = new WeakMap<object, ExchangeSocket>();
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
    }
    const exchange = socket;
    // ExchangeSocket is a Duplex with net.Socket's surface where a request listener can see it.
    const netSocket = socket as unknown as Socket;
    const req = new GatewayIncomingMessage(netSocket);
    req.method = head.method;
    req.url = head.url;
    req.httpVersionMajor = head.httpVersionMajor;
    req.httpVersionMinor = head.httpVersionMinor;
    req.httpVersion = `${head.httpVersionMajor}.${head.httpVersionMinor}`;
    req.rawHeaders = head.rawHeaders;
    req.headers = head.headers as IncomingMessage['headers'];
    if (!head.hasBody) {
      req.push(null);
      req.complete = true;
    }

    const res = new ServerResponse(req);
    // The web server frames the client's response: never chunk, never promise keep-alive, and
    // leave Date to it (nginx replaces an upstream Date anyway).
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.sendDate = false;
    res.assignSocket(netSocket);
    socket.response = res;

    let finished = false;
    res.on('finish', () => {
      finished = true;
      channel.end();
      // Body the app never read is discarded, as node:http does.
      if (!req.readableEnded) req.resume();
      exchange.response = null;
      if (connection && !exchange.destroyed && !idle.has(connection)) {
        // The connection stays open: the socket serves its next request, as under node:http.
        res.detachSocket(netSocket);
        idle.set(connection, exchange);
        process.nextTick(emitResponseClose, res);
        return;
      }
      // 'finish' runs inside the socket's write callback; destroying the socket there would make
      // the stream fail its own bookkeeping (an error object per request). Close it after.
      process.nextTick(destroySocket, exchange);
    });

    const run = () => {
      try {
        const result = listener(req, res) as unknown;
        if (result instanceof Promise) result.catch(onHandlerError);
      } catch (err) {
        onHandlerError(err);
      }
    };
    const onHandlerError = (err: unknown) => {
      log.error('request listener failed', {
        err: new GatewayError('GW_ERR_HANDLER', undefined, {}, err),
        url: head.url,
      });
      if (finished) return;
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('content-type', 'text/plain');
        res.end('Internal Server Error');
      } else {
        res.destroy();
      }
    };
    run();

    return {
      body(chunk: Buffer): boolean {
        if (req.destroyed || req.readableEnded) return true;
        if (req.push(chunk)) return true;
        req.onDemand = () => {
          req.onDemand = null;
          channel.resumeInput();
        };
        return false;
      },
      endBody(): void {
        if (req.destroyed || req.complete) return;
        req.complete = true;
        req.push(null);
      },
      abort(): void {
        if (finished) return;
        if (!req.complete) {
          req.emit('aborted');
        }
        req.destroy();
        exchange.destroy();
      },
    };
  };
}
