#!/usr/bin/env node
/**
 * gatehouse-gateway: the master process in the primary, a worker in each child. Configuration
 * comes from GATEWAY_* variables (see the README); a bad value stops start-up with one line.
 */
import cluster from 'node:cluster';
import { loadConfig } from '../config.js';
import { isGatewayError } from '../errors.js';
import { createLogger } from '../log.js';
import { runMaster } from '../pm/master.js';
import { runWorker } from '../pm/worker.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${isGatewayError(err) ? err.message : String(err)}\n`);
  process.exit(1);
}

const role = cluster.isPrimary ? { role: 'master' } : { role: 'worker', worker: cluster.worker?.id };
// The master writes its few lines synchronously: in the order they happen, and all of them before
// the one line a fatal stop ends with. Workers queue theirs (the request path must not block).
const log = createLogger({
  level: config.logLevel,
  fields: { ...role, pid: process.pid },
  sync: cluster.isPrimary,
});

if (cluster.isPrimary) await runMaster(config, log);
else await runWorker(config, log);
