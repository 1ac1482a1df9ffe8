import { createCgiResponder } from '../cgi/runner.js';
import { createNodeResponder } from '../http/adapter.js';
import { createFastcgiServer } from './fastcgi.js';
import { createHttpModeServer } from './http.js';
import type { ProtocolServer, ProtocolServerOptions } from './types.js';
import { createUwsgiServer } from './uwsgi.js';

export type { ProtocolServer, ProtocolServerOptions, ServerStats } from './types.js';

/** Builds the (not yet listening) server for the configured protocol. */
export function createProtocolServer(options: ProtocolServerOptions): ProtocolServer {
  const { config, listener, log } = options;
  switch (config.protocol) {
    case 'fastcgi':
      return createFastcgiServer(options, createNodeResponder({ listener, log }));
    case 'uwsgi':
      return createUwsgiServer(options, createNodeResponder({ listener, log }));
    case 'http':
      return createHttpModeServer(options);
    case 'cgi':
      return createFastcgiServer(options, createCgiResponder({ config, log }), 'cgi');
  }
}
