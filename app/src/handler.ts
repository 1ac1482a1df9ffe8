/** The gateway's entry: one identity app per worker, from the environment. */
import type { RequestListener } from 'node:http';
import { build } from './app.js';
import { loadConfig } from './config.js';
import { createAppLogger } from './log.js';
import { registry } from './metrics.js';

export default async function createIdentityApp(): Promise<{
  handler: RequestListener;
  close(): Promise<void>;
  metrics(): Promise<unknown[]>;
  health(): { healthy: boolean; detail: string };
}> {
  const config = loadConfig();
  const logger = createAppLogger({ level: config.logLevel });
  const app = await build({ config, logger });
  return {
    handler: app.routing as RequestListener,
    close: () => app.close(),
    // This worker's metrics (prom-client's JSON form): the gateway's master adds them up.
    metrics: () => registry.getMetricsAsJSON(),
    // The gateway's ping (and so the container's healthcheck) fails while this worker cannot hear
    // invalidations: PostgreSQL is down, restarting or unreachable, and LISTEN not yet back (it is
    // retried every second, and its heartbeat finds a silently dead connection).
    health: () =>
      app.services.invalidation.enabled
        ? { healthy: true, detail: 'database reachable, LISTEN up' }
        : { healthy: false, detail: 'database unreachable (no LISTEN connection)' },
  };
}
