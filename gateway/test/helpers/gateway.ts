/**
 * Runs one protocol server in the test process on 127.0.0.1 (or a unix socket in a temp dir),
 * the same server a pool worker runs.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GatewayConfig, loadConfig, type Protocol } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createProtocolServer } from '../../src/modes/index.js';
import type { ProtocolServer } from '../../src/modes/types.js';

export interface TestGateway {
  /** `127.0.0.1:PORT` or `unix:/path`, as nginx's upstream wants it. */
  upstream: string;
  address: { host: string; port: number } | { path: string };
  server: ProtocolServer;
  logLines: string[];
  /** Resolves with the first log line from index `from` on that `match` accepts, as lines are written. */
  logged(match: (line: Record<string, unknown>) => boolean, from?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startGateway(options: {
  protocol: Protocol;
  listener?: RequestListener;
  unix?: boolean;
  env?: Record<string, string>;
}): Promise<TestGateway> {
  const config: GatewayConfig = loadConfig({ GATEWAY_PROTOCOL: options.protocol, ...options.env });
  const logLines: string[] = [];
  const written = new EventEmitter();
  const log: Logger = createLogger({
    level: 'debug',
    write: (line) => {
      logLines.push(line);
      written.emit('line');
    },
  });
  const logged = (match: (line: Record<string, unknown>) => boolean, from = 0) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const check = () => {
        const found = logLines
          .slice(from)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find(match);
        if (!found) return;
        written.off('line', check);
        resolve(found);
      };
      written.on('line', check);
      check();
    });
  const server = createProtocolServer({ config, listener: options.listener ?? (() => {}), log });
  const dir = options.unix ? mkdtempSync(join(tmpdir(), 'gw-')) : null;
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    if (dir) server.server.listen(join(dir, 'gateway.sock'), resolve);
    else server.server.listen(0, '127.0.0.1', resolve);
  });
  const bound = server.server.address();
  const address =
    dir !== null
      ? { path: join(dir, 'gateway.sock') }
      : { host: '127.0.0.1', port: (bound as AddressInfo).port };
  return {
    upstream: 'path' in address ? `unix:${address.path}` : `${address.host}:${address.port}`,
    address,
    server,
    logLines,
    logged,
    async close() {
      server.destroy();
      await server.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
