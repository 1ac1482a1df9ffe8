/**
 * The identity service for cgi mode: the gateway's contract (a default export that resolves to a
 * request listener and a close), made for one request per process. The gateway's CGI program
 * (gateway/dist/src/bin/cgi.js, GATEWAY_CGI_COMMAND's default) loads this module as GATEWAY_APP
 * and serves the request through the same adapter as every other mode, so the app behaves
 * identically in all of them; nothing here knows CGI. One process, one request: no validation
 * cache and no LISTEN connection, a pool of one connection.
 */
import type { RequestListener } from 'node:http';
import { build, databaseTimeouts } from './app.js';
import { loadConfig } from './config.js';
import { createPool } from './db.js';
import { createAppLogger } from './log.js';

export default async function createCgiApp(): Promise<{ handler: RequestListener; close(): Promise<void> }> {
  const config = loadConfig();
  // One request per process: lines are written as they come, nothing is left queued at exit.
  const logger = createAppLogger({ level: config.logLevel, async: false });
  const db = createPool(
    config.databaseUrl,
    1,
    { log: logger, slowMs: config.slowQueryMs },
    databaseTimeouts(config),
  );
  const app = await build({ config, db, cache: false, logger });
  await app.ready();
  return {
    handler: app.routing as RequestListener,
    close: async () => {
      await app.close();
      await db.end();
    },
  };
}
