/**
 * The master: keeps the pool of workers (static, dynamic or ondemand, see scaler.ts), replaces a
 * worker that dies (backing off when they die in a storm) or whose event loop is stuck past the
 * terminate timeout, recycles workers after max_requests, reloads with SIGHUP/SIGUSR2 (new
 * generation serving before the old one drains), and stops gracefully on SIGTERM/SIGINT (a second
 * signal stops at once).
 *
 * static and dynamic workers accept on one listening socket shared through Node's cluster. An
 * ondemand pool may have no worker at all, so there the master owns the listening socket, accepts,
 * and hands each connection to a worker over IPC (forking one first when none runs; the connection
 * waits, unread, in the master until it is ready).
 */
import cluster, { type Worker } from 'node:cluster';
import { existsSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { formatListen, type GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { readListenQueue } from './listen-queue.js';
import { applyListenPermissions } from './listen-socket.js';
import { type Beat, HEARTBEAT_MS, isWorkerMessage, type MasterMessage } from './messages.js';
import { decide, isBusy, MAX_SPAWN_RATE, type ScaleSettings, type WorkerSample } from './scaler.js';
import type { PoolStatus, WorkerStatus } from './status.js';

interface Slot {
  worker: Worker;
  generation: number;
  /** Set when the master asked it to go: its exit is expected. */
  leaving: boolean;
  ready: boolean;
  /** Date.now() of the last heartbeat (or of readiness). */
  lastBeat: number;
  beat: Beat | null;
  /** Smoothed event-loop utilisation. */
  utilization: number;
  /** ondemand: connections handed over since the last heartbeat. */
  handed: number;
  /** Slow requests its watchdog logged (reported on the side channel). */
  watchdogSlow: number;
  onReady: Array<() => void>;
}

/** How often the master samples the accept queue for `max listen queue`. */
const LISTEN_QUEUE_SAMPLE_MS = 250;
/** dynamic pools are resized once a second, as PHP-FPM's maintenance does. */
const DYNAMIC_TICK_MS = 1000;

export async function runMaster(config: GatewayConfig, log: Logger): Promise<void> {
  cluster.schedulingPolicy = config.pmScheduling === 'round-robin' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  // fd 4 of each worker is a pipe to the master: its slow-log watchdog thread reports there, since
  // the IPC channel belongs to the worker's main thread, which may be the one that is blocked.
  cluster.setupPrimary({ silent: false, stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'] });
  const { listen } = config;
  if (listen.kind === 'unix' && existsSync(listen.path)) rmSync(listen.path, { force: true });
  const ondemand = config.pm === 'ondemand';

  const slots = new Map<number, Slot>();
  let generation = 0;
  let stopping = false;
  let firstReady = false;
  const deaths: number[] = [];
  /** Respawns wait until then during a death storm. */
  let notBefore = 0;
  const initial =
    config.pm === 'static' ? config.pmMaxChildren : config.pm === 'dynamic' ? config.pmStartServers : 0;
  const scale: ScaleSettings = {
    mode: config.pm === 'ondemand' ? 'ondemand' : 'dynamic',
    maxChildren: config.pmMaxChildren,
    minSpare: config.pmMinSpareServers,
    maxSpare: config.pmMaxSpareServers,
    idleTimeoutMs: config.pmProcessIdleTimeoutMs,
    busyUtilization: config.pmBusyUtilization,
  };

  const startTime = Date.now();
  let restarts = 0;
  let maxActive = 0;
  let maxChildrenReached = 0;
  let maxListenQueue = 0;
  /** Counters of workers that have gone, so the pool's totals never go backwards. */
  let retiredAccepted = 0;
  let retiredSlow = 0;
  /** ondemand: connections the master accepted. */
  let masterAccepted = 0;
  let nextCollect = 0;
  const collecting = new Map<number, (status: WorkerStatus) => void>();

  const staying = () => [...slots.values()].filter((s) => !s.leaving);

  const listenQueue = () => {
    const q = readListenQueue(listen, config.backlog);
    if (q.queue !== null) maxListenQueue = Math.max(maxListenQueue, q.queue);
    return q;
  };

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
        const queue = listenQueue();
        const leaving = [...slots.values()].filter((s) => s.leaving);
        resolve({
          pool: config.poolName,
          processManager: config.pm,
          protocol: config.protocol,
          startTime,
          acceptedConnections: ondemand
            ? masterAccepted
            : retiredAccepted +
              got.reduce((n, w) => n + w.acceptedConnections, 0) +
              leaving.reduce((n, s) => n + (s.beat?.acceptedConnections ?? 0), 0),
          slowRequests:
            retiredSlow +
            [...slots.values()].reduce((n, s) => n + s.watchdogSlow, 0) +
            got.reduce((n, w) => n + w.slowRequests, 0) +
            leaving.reduce((n, s) => n + (s.beat?.slowRequests ?? 0), 0),
          listenQueue: queue.queue ?? 0,
          maxListenQueue,
          listenQueueLength: queue.length,
          maxActiveProcesses: maxActive,
          maxChildrenReached,
          restarts,
          workers: got.sort((a, b) => a.pid - b.pid),
        });
      };
      const timer = setTimeout(done, 250);
      collecting.set(id, (status) => {
        got.push(status);
        if (got.length === serving.length) done();
      });
      for (const slot of serving) slot.worker.send({ type: 'collect', id } satisfies MasterMessage);
      if (serving.length === 0) done();
    });

  const fork = (gen: number): Slot => {
    const worker = cluster.fork({ GATEWAY_WORKER_GENERATION: String(gen), GATEWAY_WORKER_REPORT_FD: '4' });
    const slot: Slot = {
      worker,
      generation: gen,
      leaving: false,
      ready: false,
      lastBeat: Date.now(),
      beat: null,
      utilization: 0,
      handed: 0,
      watchdogSlow: 0,
      onReady: [],
    };
    slots.set(worker.id, slot);
    const report = worker.process.stdio[4] as NodeJS.ReadableStream | null | undefined;
    let rest = '';
    report?.on('data', (chunk: Buffer) => {
      rest += chunk.toString();
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const n = (JSON.parse(line) as { slow?: unknown }).slow;
          if (typeof n === 'number') slot.watchdogSlow += n;
        } catch {}
      }
    });
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'beat') {
        slot.lastBeat = Date.now();
        slot.beat = message;
        slot.utilization = slot.utilization * 0.7 + message.utilization * 0.3;
        slot.handed = 0;
      } else if (message.type === 'ready') {
        slot.ready = true;
        slot.lastBeat = Date.now();
        if (!firstReady) {
          firstReady = true;
          log.info('gateway ready', {
            protocol: config.protocol,
            listen: formatListen(listen),
            workers: staying().length,
            pm: config.pm,
          });
        }
        for (const f of slot.onReady.splice(0)) f();
        if (ondemand) flushPending();
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
          if (worker.isConnected())
            worker.send({ type: 'status-reply', id: message.id, pool } satisfies MasterMessage);
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

  /** Starts a replacement, and drains the old worker once the new one is serving. */
  const replace = (old: Slot, reason: string) => {
    if (old.leaving || stopping) return;
    old.leaving = true;
    log.info('replacing worker', { worker: old.worker.id, pid: old.worker.process.pid, reason });
    fork(generation).onReady.push(() => drain(old));
  };

  const drain = (slot: Slot) => {
    slot.leaving = true;
    if (!slot.worker.isConnected()) return;
    slot.worker.send({ type: 'shutdown' } satisfies MasterMessage);
    const timer = setTimeout(() => slot.worker.process.kill('SIGKILL'), config.gracefulTimeoutMs + 1000);
    timer.unref();
    slot.worker.once('exit', () => clearTimeout(timer));
  };

  const onExit = (slot: Slot, code: number | null, signal: NodeJS.Signals | null) => {
    slots.delete(slot.worker.id);
    retiredAccepted += slot.beat?.acceptedConnections ?? 0;
    retiredSlow += (slot.beat?.slowRequests ?? 0) + slot.watchdogSlow;
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
    notBefore = now + delay;
    // ondemand starts workers when connections need one.
    if (ondemand) {
      setTimeout(flushPending, delay);
      return;
    }
    setTimeout(() => {
      if (!stopping) fork(generation);
    }, delay);
  };

  /** The master's watch over heartbeats: a worker whose event loop is stuck is killed and replaced. */
  const watchHeartbeats = () => {
    if (config.requestTerminateTimeoutMs <= 0) return;
    const limit = Math.max(config.requestTerminateTimeoutMs, 5 * HEARTBEAT_MS);
    const now = Date.now();
    for (const slot of [...slots.values()]) {
      if (!slot.ready || now - slot.lastBeat <= limit || !slot.worker.isConnected()) continue;
      log.error('worker event loop stuck, killing it', {
        code: 'GW_ERR_WORKER_STUCK',
        worker: slot.worker.id,
        workerPid: slot.worker.process.pid,
        silentMs: now - slot.lastBeat,
        inFlight: slot.beat?.inFlight,
      });
      const wasLeaving = slot.leaving;
      slot.leaving = true;
      slot.ready = false;
      const kill = () => slot.worker.process.kill('SIGKILL');
      if (wasLeaving || stopping || ondemand) {
        kill();
        continue;
      }
      restarts++;
      // The replacement listens first: were the stuck worker the last one on the shared socket,
      // killing it first would close the socket and refuse connections until the respawn.
      const next = fork(generation);
      next.onReady.push(kill);
      setTimeout(kill, 5000).unref();
    }
  };

  /** A worker whose beat is late is probably blocked: it counts as fully busy. */
  const late = (slot: Slot) => slot.ready && Date.now() - slot.lastBeat > 3 * HEARTBEAT_MS;
  const sample = (slot: Slot): WorkerSample => ({
    id: slot.worker.id,
    ready: slot.ready,
    inFlight: slot.beat?.inFlight ?? 0,
    utilization: late(slot) ? 1 : slot.utilization,
    idleMs: slot.handed > 0 || late(slot) ? 0 : (slot.beat?.idleMs ?? 0),
  });

  let spawnRate = 1;
  const resize = () => {
    if (stopping || config.pm === 'static') return;
    const workers = staying();
    const decision = decide(workers.map(sample), scale, spawnRate);
    if (decision.maxChildrenReached) maxChildrenReached++;
    for (const id of decision.stop) {
      const slot = slots.get(id);
      if (!slot || slot.handed > 0) continue;
      log.info(ondemand ? 'stopping an idle worker' : 'stopping a surplus worker', {
        worker: id,
        pm: config.pm,
      });
      drain(slot);
    }
    if (Date.now() < notBefore) return;
    if (decision.fork > 0)
      log.info('starting workers', { count: decision.fork, pm: config.pm, total: workers.length });
    for (let i = 0; i < decision.fork; i++) fork(generation);
    if (config.pm === 'dynamic') spawnRate = decision.fork > 0 ? Math.min(MAX_SPAWN_RATE, spawnRate * 2) : 1;
  };

  // --- ondemand: the master's own listening socket ---------------------------------------------
  const pending: Socket[] = [];
  let server: Server | null = null;

  /**
   * The least loaded serving worker. One whose beat is late (probably blocked) is taken only when
   * no other worker is starting and none may be started: else the connection waits for a new one.
   */
  const pick = (): Slot | null => {
    let best: Slot | null = null;
    let bestLoad = Number.POSITIVE_INFINITY;
    const mayWait = staying().some((s) => !s.ready) || staying().length < config.pmMaxChildren;
    for (const slot of slots.values()) {
      if (!slot.ready || slot.leaving || !slot.worker.isConnected()) continue;
      if (late(slot) && mayWait) continue;
      const load = (isBusy(sample(slot), scale) ? 1e6 : 0) + (slot.beat?.connections ?? 0) + slot.handed;
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    return best;
  };

  const handOver = (slot: Slot, socket: Socket) => {
    slot.handed++;
    slot.worker.send({ type: 'connection' } satisfies MasterMessage, socket, (err: Error | null) => {
      if (err) socket.destroy();
    });
  };

  function flushPending(): void {
    if (stopping) return;
    while (pending.length > 0) {
      const target = pick();
      if (!target) break;
      const socket = pending.shift() as Socket;
      if (!socket.destroyed) handOver(target, socket);
    }
    if (pending.length > 0 && !staying().some((s) => !s.ready) && Date.now() >= notBefore) {
      if (staying().length < config.pmMaxChildren) fork(generation);
      else maxChildrenReached++;
    }
  }

  const startListening = () =>
    new Promise<void>((resolve) => {
      server = createServer({ pauseOnConnect: true }, (socket) => {
        masterAccepted++;
        socket.on('error', () => {});
        if (stopping) {
          socket.destroy();
          return;
        }
        const target = pick();
        if (target) handOver(target, socket);
        else {
          pending.push(socket);
          flushPending();
        }
      });
      server.once('error', (err) => {
        fatal(
          new GatewayError('GW_ERR_LISTEN', `GATEWAY_LISTEN=${formatListen(listen)}: ${err.message}`).message,
        );
      });
      const ready = () => {
        const denied = applyListenPermissions(config);
        if (denied) fatal(denied.message);
        log.info('gateway ready', {
          protocol: config.protocol,
          listen: formatListen(listen),
          workers: 0,
          pm: config.pm,
        });
        firstReady = true;
        resolve();
      };
      if (listen.kind === 'unix') server.listen({ path: listen.path, backlog: config.backlog }, ready);
      else server.listen({ port: listen.port, host: listen.host, backlog: config.backlog }, ready);
    });

  // --- signals ---------------------------------------------------------------------------------
  const reload = () => {
    if (stopping) return;
    // As many as the newest generation has (a reload during a reload does not double the pool).
    const newest = staying().filter((s) => s.generation === generation);
    generation++;
    const old = staying();
    const count =
      config.pm === 'static'
        ? config.pmMaxChildren
        : ondemand
          ? newest.filter((s) => s.ready).length
          : Math.max(1, newest.length);
    log.info('reloading', { generation, replacing: old.length, starting: count });
    if (count === 0) {
      for (const slot of old) drain(slot);
      return;
    }
    let waiting = count;
    for (let i = 0; i < count; i++) {
      fork(generation).onReady.push(() => {
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
    server?.close();
    for (const socket of pending.splice(0)) socket.destroy();
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

  setInterval(() => {
    watchHeartbeats();
    if (ondemand) resize();
  }, HEARTBEAT_MS).unref();
  if (config.pm === 'dynamic') setInterval(resize, DYNAMIC_TICK_MS).unref();
  setInterval(listenQueue, LISTEN_QUEUE_SAMPLE_MS).unref();

  if (ondemand) await startListening();
  for (let i = 0; i < initial; i++) fork(generation);
}
