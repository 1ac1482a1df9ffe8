/**
 * The master: keeps the pool of workers (static, dynamic or ondemand, see scaler.ts), replaces a
 * worker that dies (backing off when they die in a storm) or whose event loop is stuck past the
 * terminate timeout, recycles workers after max_requests, reloads with SIGHUP/SIGUSR2 (new
 * generation serving before the old one drains), and stops gracefully on SIGTERM/SIGINT (a second
 * signal stops at once).
 *
 * static and dynamic workers accept on one listening socket shared through Node's cluster. An
 * ondemand pool may have no worker at all, so there the master owns the listening socket, accepts,
 * and hands each connection to a worker over IPC (handover.ts).
 *
 * Its parts: slots.ts (the workers' bookkeeping and the death-storm back-off), collector.ts (the
 * status page's counters), handover.ts (ondemand's connections), signals.ts (reload and stop),
 * scaler.ts (pool sizing). This class starts, replaces and stops processes and wires the parts.
 */
import cluster, { type Worker } from 'node:cluster';
import { existsSync, rmSync } from 'node:fs';
import { formatListen, type GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { StatusCollector } from './collector.js';
import { Handover } from './handover.js';
import { readListenQueue } from './listen-queue.js';
import { applyListenPermissions } from './listen-socket.js';
import { HEARTBEAT_MS, isWorkerMessage, type MasterMessage, type WorkerMessage } from './messages.js';
import { decide, MAX_SPAWN_RATE, type ScaleSettings } from './scaler.js';
import { handleSignals, reloadCount } from './signals.js';
import { DeathStorm, type Slot, Slots } from './slots.js';

/** How often the master samples the accept queue for `max listen queue`. */
const LISTEN_QUEUE_SAMPLE_MS = 250;
/** dynamic pools are resized once a second, as PHP-FPM's maintenance does. */
const DYNAMIC_TICK_MS = 1000;

export function runMaster(config: GatewayConfig, log: Logger): Promise<void> {
  return new Master(config, log).start();
}

export class Master {
  readonly #config: GatewayConfig;
  readonly #log: Logger;
  readonly #ondemand: boolean;
  readonly #scale: ScaleSettings;
  readonly #slots: Slots;
  readonly #storm: DeathStorm;
  readonly #status: StatusCollector;
  readonly #handover: Handover | null;
  #generation = 0;
  #stopping = false;
  /** The line a fatal stop ends with. */
  #failure: string | null = null;
  #firstReady = false;
  #spawnRate = 1;

  constructor(config: GatewayConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#ondemand = config.pm === 'ondemand';
    this.#scale = {
      mode: this.#ondemand ? 'ondemand' : 'dynamic',
      maxChildren: config.pmMaxChildren,
      minSpare: config.pmMinSpareServers,
      maxSpare: config.pmMaxSpareServers,
      idleTimeoutMs: config.pmProcessIdleTimeoutMs,
      busyUtilization: config.pmBusyUtilization,
    };
    this.#slots = new Slots(this.#scale);
    this.#storm = new DeathStorm(config.emergencyRestartThreshold, config.emergencyRestartIntervalMs);
    const handover = this.#ondemand
      ? new Handover({
          slots: this.#slots,
          maxChildren: config.pmMaxChildren,
          fork: () => this.#fork(),
          mayFork: () => Date.now() >= this.#storm.notBefore,
          full: () => this.#status.maxChildrenReached++,
          stopping: () => this.#stopping,
        })
      : null;
    this.#handover = handover;
    this.#status = new StatusCollector(
      this.#slots,
      { pool: config.poolName, processManager: config.pm, protocol: config.protocol, startTime: Date.now() },
      () => readListenQueue(config.listen, config.backlog),
      handover ? () => handover.accepted : null,
    );
  }

  async start(): Promise<void> {
    const config = this.#config;
    cluster.schedulingPolicy = config.pmScheduling === 'round-robin' ? cluster.SCHED_RR : cluster.SCHED_NONE;
    // fd 4 of each worker is a pipe to the master: its slow-log watchdog thread reports there, since
    // the IPC channel belongs to the worker's main thread, which may be the one that is blocked.
    cluster.setupPrimary({ silent: false, stdio: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'] });
    const { listen } = config;
    if (listen.kind === 'unix' && existsSync(listen.path)) rmSync(listen.path, { force: true });

    handleSignals(process, {
      stopping: () => this.#stopping,
      reload: () => this.#reload(),
      stop: (signal) => this.#stop(signal),
      stopNow: (signal) => {
        this.#log.warn('second stop signal: stopping now', { signal });
        this.#killAll();
        process.exit(0);
      },
    });
    setInterval(() => {
      this.#watchHeartbeats();
      if (this.#ondemand) this.#resize();
    }, HEARTBEAT_MS).unref();
    if (config.pm === 'dynamic') setInterval(() => this.#resize(), DYNAMIC_TICK_MS).unref();
    setInterval(() => this.#status.listenQueue(), LISTEN_QUEUE_SAMPLE_MS).unref();

    if (this.#handover) {
      await this.#handover.listen(
        listen,
        config.backlog,
        (err) =>
          this.#fatal(
            err instanceof GatewayError
              ? err.message
              : new GatewayError('GW_ERR_LISTEN', `GATEWAY_LISTEN=${formatListen(listen)}: ${err.message}`)
                  .message,
          ),
        () => applyListenPermissions(config),
      );
      this.#firstReady = true;
      this.#logReady(0);
    }
    const initial =
      config.pm === 'static' ? config.pmMaxChildren : config.pm === 'dynamic' ? config.pmStartServers : 0;
    for (let i = 0; i < initial; i++) this.#fork();
  }

  #logReady(workers: number): void {
    const config = this.#config;
    this.#log.info('gateway ready', {
      protocol: config.protocol,
      listen: formatListen(config.listen),
      workers,
      pm: config.pm,
    });
  }

  #fork(): Slot {
    const worker = cluster.fork({
      GATEWAY_WORKER_GENERATION: String(this.#generation),
      GATEWAY_WORKER_REPORT_FD: '4',
    });
    const slot = this.#slots.add(worker, this.#generation);
    // As PHP-FPM's "child N started" / "child N exited": the pool's membership, line by line.
    this.#log.info('worker started', {
      worker: worker.id,
      workerPid: worker.process.pid,
      generation: this.#generation,
    });
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
      if (isWorkerMessage(message)) this.#message(slot, worker, message);
    });
    worker.on('exit', (code, signal) => this.#exited(slot, code, signal as NodeJS.Signals | null));
    // A worker's IPC channel can fail as it exits (EPIPE); that must never take the master down.
    worker.on('error', (err) => this.#log.debug('worker channel error', { worker: worker.id, err }));
    return slot;
  }

  #message(slot: Slot, worker: Worker, message: WorkerMessage): void {
    const config = this.#config;
    switch (message.type) {
      case 'beat':
        this.#slots.beat(slot, message);
        break;
      case 'ready':
        if (!this.#firstReady) {
          this.#firstReady = true;
          if (!this.#ondemand) {
            const denied = applyListenPermissions(config);
            if (denied) {
              this.#fatal(denied.message);
              return;
            }
          }
          this.#logReady(this.#slots.staying().length);
        }
        // Its app loaded and it listens: from here it may be handed connections.
        this.#log.info('worker ready', {
          worker: worker.id,
          workerPid: worker.process.pid,
          generation: slot.generation,
        });
        this.#slots.ready(slot);
        this.#handover?.flush();
        break;
      case 'listen-error':
        this.#fatal(
          new GatewayError(
            'GW_ERR_LISTEN',
            `GATEWAY_LISTEN=${formatListen(config.listen)}: ${message.message}`,
          ).message,
        );
        break;
      case 'app-error':
        this.#fatal(message.message);
        break;
      case 'recycle':
        this.#replace(slot, message.reason);
        break;
      case 'status':
        void this.#status.collect().then((pool) => {
          if (worker.isConnected())
            worker.send({ type: 'status-reply', id: message.id, pool } satisfies MasterMessage);
        });
        break;
      case 'stats':
        this.#status.stats(message.id, message.status);
        break;
    }
  }

  #killAll(): void {
    for (const { worker } of this.#slots.all()) worker.process.kill('SIGKILL');
  }

  /**
   * Stops on a failure nothing can mend (the app does not load, the address cannot be had): every
   * worker is killed and its exit awaited, then one line naming the cause ends the log (no worker's
   * line can follow it), and the master exits 1.
   */
  #fatal(line: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#failure = line;
    this.#killAll();
    if (this.#slots.size === 0) this.#exit();
    // Killed workers always exit; should an exit never be reported, the master goes anyway.
    setTimeout(() => this.#exit(), 2000);
  }

  /** The master's end once it is stopping and its workers have gone: 1 after a failure. */
  #exit(): never {
    if (this.#failure === null) process.exit(0);
    process.stderr.write(`${this.#failure}\n`);
    process.exit(1);
  }

  /** Starts a replacement, and drains the old worker once the new one is serving. */
  #replace(old: Slot, reason: string): void {
    if (old.leaving || this.#stopping) return;
    old.leaving = true;
    this.#log.info('replacing worker', { worker: old.worker.id, pid: old.worker.process.pid, reason });
    this.#fork().onReady.push(() => this.#drain(old));
  }

  #drain(slot: Slot): void {
    slot.leaving = true;
    if (!slot.worker.isConnected()) return;
    slot.worker.send({ type: 'shutdown' } satisfies MasterMessage);
    const timer = setTimeout(
      () => slot.worker.process.kill('SIGKILL'),
      this.#config.gracefulTimeoutMs + 1000,
    );
    timer.unref();
    slot.worker.once('exit', () => clearTimeout(timer));
  }

  #exited(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    this.#slots.remove(slot);
    this.#log.info('worker exited', {
      worker: slot.worker.id,
      workerPid: slot.worker.process.pid,
      exit: code,
      signal,
    });
    if (this.#stopping) {
      if (this.#slots.size === 0) this.#exit();
      return;
    }
    if (slot.leaving) return;
    this.#log.error('worker exited unexpectedly', {
      code: 'GW_ERR_WORKER_EXIT',
      worker: slot.worker.id,
      exit: code,
      signal,
    });
    this.#status.restarts++;
    const { delayMs, storm, deaths } = this.#storm.death(Date.now());
    if (storm) this.#log.warn('workers are dying in a storm, respawn backs off', { deaths, delayMs });
    // ondemand starts workers when connections need one.
    const handover = this.#handover;
    if (handover) {
      setTimeout(() => handover.flush(), delayMs);
      return;
    }
    setTimeout(() => {
      if (!this.#stopping) this.#fork();
    }, delayMs);
  }

  /** The master's watch over heartbeats: a worker whose event loop is stuck is killed and replaced. */
  #watchHeartbeats(): void {
    const config = this.#config;
    if (config.requestTerminateTimeoutMs <= 0) return;
    const limit = Math.max(config.requestTerminateTimeoutMs, 5 * HEARTBEAT_MS);
    const now = Date.now();
    for (const slot of this.#slots.stuck(limit)) {
      this.#log.error('worker event loop stuck, killing it', {
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
      if (wasLeaving || this.#stopping || this.#ondemand) {
        kill();
        continue;
      }
      this.#status.restarts++;
      // The replacement listens first: were the stuck worker the last one on the shared socket,
      // killing it first would close the socket and refuse connections until the respawn.
      this.#fork().onReady.push(kill);
      setTimeout(kill, 5000).unref();
    }
  }

  #resize(): void {
    const config = this.#config;
    if (this.#stopping || config.pm === 'static') return;
    const slots = this.#slots;
    const workers = slots.staying();
    const decision = decide(
      workers.map((s) => slots.sample(s)),
      this.#scale,
      this.#spawnRate,
    );
    if (decision.maxChildrenReached) this.#status.maxChildrenReached++;
    for (const id of decision.stop) {
      const slot = slots.get(id);
      if (!slot || slot.handed > 0) continue;
      this.#log.info(this.#ondemand ? 'stopping an idle worker' : 'stopping a surplus worker', {
        worker: id,
        pm: config.pm,
      });
      this.#drain(slot);
    }
    if (Date.now() < this.#storm.notBefore) return;
    if (decision.fork > 0)
      this.#log.info('starting workers', { count: decision.fork, pm: config.pm, total: workers.length });
    for (let i = 0; i < decision.fork; i++) this.#fork();
    if (config.pm === 'dynamic')
      this.#spawnRate = decision.fork > 0 ? Math.min(MAX_SPAWN_RATE, this.#spawnRate * 2) : 1;
  }

  #reload(): void {
    const config = this.#config;
    const newest = this.#slots.staying().filter((s) => s.generation === this.#generation);
    this.#generation++;
    const old = this.#slots.staying();
    const count = reloadCount(config.pm, config.pmMaxChildren, newest);
    this.#log.info('reloading', { generation: this.#generation, replacing: old.length, starting: count });
    if (count === 0) {
      for (const slot of old) this.#drain(slot);
      return;
    }
    let waiting = count;
    for (let i = 0; i < count; i++) {
      this.#fork().onReady.push(() => {
        waiting--;
        if (waiting === 0) for (const slot of old) this.#drain(slot);
      });
    }
  }

  #stop(signal: string): void {
    const config = this.#config;
    this.#stopping = true;
    this.#log.info('stopping gracefully', { signal, deadlineMs: config.gracefulTimeoutMs });
    this.#handover?.close();
    if (this.#slots.size === 0) process.exit(0);
    for (const slot of this.#slots.all()) this.#drain(slot);
    setTimeout(() => {
      this.#killAll();
      process.exit(0);
    }, config.gracefulTimeoutMs + 2000).unref();
  }
}
