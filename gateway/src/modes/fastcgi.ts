import { FastcgiSession } from '../session/fastcgi.js';
import type { Responder } from '../session/types.js';
import { createSessionServer, newStats } from './session-server.js';
import type { ProtocolServer, ProtocolServerOptions } from './types.js';

/** A FastCGI responder server for the given Responder (a Node listener, or CGI programs). */
export function createFastcgiServer(
  options: Omit<ProtocolServerOptions, 'listener'>,
  responder: Responder,
  protocol: 'fastcgi' | 'cgi' = 'fastcgi',
): ProtocolServer {
  const { config, log } = options;
  const stats = newStats();
  const limits = {
    maxParamsSize: config.maxParamsSize,
    maxReqs: config.fcgiMpxsConns ? config.fcgiMaxReqs : 1,
    mpxs: config.fcgiMpxsConns,
    maxConns: config.fcgiMaxConns,
    maxBufferedBody: config.maxBufferedBody,
    idleTimeoutMs: config.idleTimeoutMs,
    headerTimeoutMs: config.headerTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    stderr: config.fcgiStderr,
  };
  return createSessionServer(
    { protocol, stats, config, maxConnections: config.fcgiMaxConns, log },
    (socket) => new FastcgiSession(socket, { responder, log, limits, stats }),
  );
}
