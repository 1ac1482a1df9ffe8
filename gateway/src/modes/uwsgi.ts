import type { Responder } from '../session/types.js';
import { UwsgiSession } from '../session/uwsgi.js';
import { createSessionServer, newStats } from './session-server.js';
import type { ProtocolServer, ProtocolServerOptions } from './types.js';

export function createUwsgiServer(
  options: Omit<ProtocolServerOptions, 'listener'>,
  responder: Responder,
): ProtocolServer {
  const { config, log } = options;
  const stats = newStats();
  const limits = {
    maxVarsSize: Math.min(config.maxParamsSize, 0xffff),
    idleTimeoutMs: config.idleTimeoutMs,
    headerTimeoutMs: config.headerTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
  };
  return createSessionServer(
    { protocol: 'uwsgi', stats, config, maxConnections: config.maxConnections, log },
    (socket) => new UwsgiSession(socket, { responder, log, limits, stats }),
  );
}
