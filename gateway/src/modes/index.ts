import { createCgiResponder } from '../cgi/runner.js';
import { createNodeResponder } from '../http/adapter.js';
import type { Responder } from '../session/types.js';
import { createFastcgiServer } from './fastcgi.js';
import { createHttpModeServer } from './http.js';
import type { ProtocolServer, ProtocolServerOptions } from './types.js';
import { createUwsgiServer } from './uwsgi.js';

export type { ProtocolServer, ProtocolServerOptions, ServerStats } from './types.js';

/** The ping path is the gateway's own answer: in cgi mode no process is started for it. */
function withPing(pingPath: string, responder: Responder): Responder {
  if (pingPath === '') return responder;
  return (params, channel, context) => {
    for (let i = 0; i + 1 < params.length; i += 2) {
      if (params[i] === 'REQUEST_URI' && params[i + 1] === pingPath) {
        channel.write(
          Buffer.from(
            'Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\npong',
            'latin1',
          ),
        );
        channel.end();
        return { body: () => true, endBody: () => {}, abort: () => {} };
      }
    }
    return responder(params, channel, context);
  };
}

/** Builds the (not yet listening) server for the configured protocol. */
export function createProtocolServer(options: ProtocolServerOptions): ProtocolServer {
  const { config, listener, log } = options;
  switch (config.protocol) {
    case 'fastcgi':
      return createFastcgiServer(
        options,
        createNodeResponder({ listener, log, requestScope: config.requestScope }),
      );
    case 'uwsgi':
      return createUwsgiServer(
        options,
        createNodeResponder({ listener, log, requestScope: config.requestScope }),
      );
    case 'http':
      return createHttpModeServer(options);
    case 'cgi':
      return createFastcgiServer(
        options,
        withPing(config.pingPath, createCgiResponder({ config, log })),
        'cgi',
      );
  }
}
