/**
 * The master: keeps a static pool of workers on one listening socket, replaces a worker that
 * dies (backing off when they die in a storm), recycles workers after max_requests, reloads
 * with SIGHUP/SIGUSR2 (new generation listening before the old one drains), and stops
 * gracefully on SIGTERM/SIGINT (a second signal stops at once).
 */
import cluster, { type Worker } from 'node:cluster';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { formatListen, type GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { isWorkerMessage } from './messages.js';
import type { PoolStatus, WorkerStatus } from './status.js';

interface Slot {
  worker: Worker;
  generation: number;
  /** Set when the master asked it to go: its exit is expected. */
  leaving: boolean;
  ready: boolean;
}

export async function runMaster(config: GatewayConfig, log: Logger): Promise<void> {
  cluster.schedulingPolicy = config.pmScheduling === 'round-robin' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  cluster.setupPrimary({ silent: false });
  const { listen } = config;
  if (listen.kind === 'unix' && existsSync(listen.path)) rmSync(listen.path, { force: true });

  const slots = new Map<number, Slot>();
  let generation = 0;
  let stopping = false;
  let firstReady = false;
  const deaths: number[] = [];
  const size = config.pmMaxChildren;

  const startTime = Date.now();
  let restarts = 0;
  let maxActive = 0;
  let nextCollect = 0;
  const collecting = new Map<number, (status: WorkerStatus) => void>();

  /** Fresh counters from every serving worker (a slow one is left out after 250 ms). */
  const collect = (): Promise<PoolStatus> =>
    new Promise((resolve) => {
      const id = nextCollect++;
      const serving = [...slots.values()].filter((s) => s.ready && !s.leaving && s.worker.isConnected());
      const got: WorkerStatus[] = [];
      const done = () => {
        collecting.delete(id);
        clearTimeout(timer);
        const active = got.filter((w) => w.inFlight > 0).length;
        maxActive = Math.max(maxActive, active);
        resolve({
          pool: config.poolName,
          processManager: config.pm,
          protocol: config.protocol,
          startTime,
          maxActiveProcesses: maxActive,
          maxChildrenReached: 0,
          restarts,
          workers: got.sort((a, b) => a.pid - b.pid),
        });
      };
      const timer = setTimeout(done, 250);
      collecting.set(id, (status) => {
        got.push(status);
        if (got.length === serving.length) done();
      });
      for (const slot of serving) slot.worker.send({ type: 'collect', id });
      if (serving.length === 0) done();
    });

  const fork = (gen: number): Slot => {
    const worker = cluster.fork({ GATEWAY_WORKER_GENERATION: String(gen) });
    const slot: Slot = { worker, generation: gen, leaving: false, ready: false };
    slots.set(worker.id, slot);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'ready') {
        slot.ready = true;
        if (!firstReady) {
          firstReady = true;
          if (listen.kind === 'unix') chmodSync(listen.path, 0o666);
          log.info('gateway ready', {
            protocol: config.protocol,
            listen: formatListen(listen),
            workers: size,
            pm: config.pm,
          });
        }
      } else if (message.type === 'listen-error') {
        const err = new GatewayError(
          'GW_ERR_LISTEN',
          `GATEWAY_LISTEN=${formatListen(listen)}: ${message.message}`,
        );
        fatal(err.message);
      } else if (message.type === 'app-error') {
        fatal(message.message);
      } else if (message.type === 'recycle') {
        replace(slot, 'max requests reached');
      } else if (message.type === 'status') {
        void collect().then((pool) => {
          if (worker.isConnected()) worker.send({ type: 'status-reply', id: message.id, pool });
        });
      } else if (message.type === 'stats') {
        collecting.get(message.id)?.(message.status);
      }
    });
    worker.on('exit', (code, signal) => onExit(slot, code, signal as NodeJS.Signals | null));
    // A worker's IPC channel can fail as it exits (EPIPE); that must never take the master down.
    worker.on('error', (err) => log.debug('worker channel error', { worker: worker.id, err }));
    return slot;
  };

  const fatal = (line: string) => {
    if (stopping) return;
    process.stderr.write(`${line}\n`);
    stopping = true;
    for (const { worker } of slots.values()) worker.process.kill('SIGKILL');
    process.exit(1);
  };

  /** Starts a replacement, and drains the old worker once the new one is listening. */
  const replace = (old: Slot, reason: string) => {
    if (old.leaving || stopping) return;
    old.leaving = true;
    log.info('replacing worker', { worker: old.worker.id, pid: old.worker.process.pid, reason });
    const next = fork(generation);
    next.worker.once('listening', () => drain(old));
  };

  const drain = (slot: Slot) => {
    slot.leaving = true;
    if (!slot.worker.isConnected()) return;
    slot.worker.send({ type: 'shutdown' });
    const timer = setTimeout(() => slot.worker.process.kill('SIGKILL'), config.gracefulTimeoutMs + 1000);
    timer.unref();
    slot.worker.once('exit', () => clearTimeout(timer));
  };

  const onExit = (slot: Slot, code: number | null, signal: NodeJS.Signals | null) => {
    slots.delete(slot.worker.id);
    if (stopping) {
      if (slots.size === 0) process.exit(0);
      return;
    }
    if (slot.leaving) return;
    log.error('worker exited unexpectedly', {
      code: 'GW_ERR_WORKER_EXIT',
      worker: slot.worker.id,
      exit: code,
      signal,
    });
    restarts++;
    const now = Date.now();
    deaths.push(now);
    while (deaths.length > 0 && (deaths[0] as number) < now - config.emergencyRestartIntervalMs)
      deaths.shift();
    const storm = config.emergencyRestartThreshold > 0 && deaths.length >= config.emergencyRestartThreshold;
    const delay = storm ? Math.min(30_000, 250 * 2 ** (deaths.length - config.emergencyRestartThreshold)) : 0;
    if (storm)
      log.warn('workers are dying in a storm, respawn backs off', { deaths: deaths.length, delayMs: delay });
    setTimeout(() => {
      if (!stopping) fork(generation);
    }, delay);
  };

  const reload = () => {
    if (stopping) return;
    generation++;
    const old = [...slots.values()].filter((s) => !s.leaving);
    log.info('reloading', { generation, replacing: old.length });
    let waiting = size;
    for (let i = 0; i < size; i++) {
      fork(generation).worker.once('listening', () => {
        waiting--;
        if (waiting === 0) for (const slot of old) drain(slot);
      });
    }
  };

  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second stop signal: stopping now', { signal });
      for (const { worker } of slots.values()) worker.process.kill('SIGKILL');
      process.exit(0);
    }
    stopping = true;
    log.info('stopping gracefully', { signal, deadlineMs: config.gracefulTimeoutMs });
    if (slots.size === 0) process.exit(0);
    for (const slot of slots.values()) drain(slot);
    setTimeout(() => {
      for (const { worker } of slots.values()) worker.process.kill('SIGKILL');
      process.exit(0);
    }, config.gracefulTimeoutMs + 2000).unref();
  };

  process.on('SIGHUP', reload);
  process.on('SIGUSR2', reload);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  if (config.pm !== 'static') {
    log.warn(
      `GATEWAY_PM=${config.pm} is not implemented yet: the pool runs static with GATEWAY_PM_MAX_CHILDREN workers`,
    );
  }
  for (let i = 0; i < size; i++) fork(generation);
}
