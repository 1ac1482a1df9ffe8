/**
 * The real gateway executable (master and workers) for process-manager tests: started on a free
 * 127.0.0.1 port with the pool test app, its JSON log lines kept, its workers read from the process
 * table, and a bounded autocannon load.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Protocol } from '../../src/config.js';
import { freePort } from './nginx.js';

export const gatewayBin = fileURLToPath(new URL('../../src/bin/gateway.js', import.meta.url));
export const poolApp = fileURLToPath(new URL('../pm/app.js', import.meta.url));

export interface RunningPool {
  child: ChildProcess;
  pid: number;
  port: number;
  /** `127.0.0.1:PORT`, as nginx's upstream wants it. */
  upstream: string;
  /** Parsed JSON log lines, as they arrive. */
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /**
   * Resolves with the first log line that matches. No deadline of its own: the test's timeout
   * bounds it; it fails at once if the gateway's log ends (the gateway and its workers gone).
   */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves once `count` log lines match (checked as lines arrive), as `waitFor`. */
  waitForCount(match: (line: Record<string, unknown>) => boolean, count: number): Promise<void>;
  /**
   * Resolves once `check` holds for the workers the master reports ('worker started' and
   * 'worker exited' lines, the pids of the pool as the master sees it), checked as lines arrive.
   */
  waitForWorkers(check: (pids: number[]) => boolean, what: string): Promise<void>;
  /** Resolves once `check` holds for the log lines so far (checked as lines arrive), as `waitFor`. */
  waitForLog(check: (lines: Array<Record<string, unknown>>) => boolean, what: string): Promise<void>;
  /** The workers in the process table now. */
  workers(): number[];
  kill(): void;
}

export async function startPool(protocol: Protocol, env: Record<string, string> = {}): Promise<RunningPool> {
  const port = await freePort();
  const child = spawn(process.execPath, [gatewayBin], {
    env: {
      ...process.env,
      GATEWAY_PROTOCOL: protocol,
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      GATEWAY_APP: poolApp,
      GATEWAY_PM_MAX_CHILDREN: '2',
      GATEWAY_ACCESS_LOG: 'false',
      GATEWAY_GRACEFUL_TIMEOUT: '5s',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  // The pool's membership as the master logs it: every fork and every exit it sees.
  const live = new Set<number>();
  const waiters = new Set<(ended: boolean) => void>();
  let ended = false;
  let rest = '';
  const take = (part: string) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(part) as Record<string, unknown>;
    } catch {
      line = { msg: part };
    }
    lines.push(line);
    if (line.role === 'master' && typeof line.workerPid === 'number') {
      if (line.msg === 'worker started') live.add(line.workerPid);
      else if (line.msg === 'worker exited') live.delete(line.workerPid);
    }
  };
  // GATEWAY_TEST_LOG_DIR (scripts/soak.sh sets it): every pool's log kept there, for a failure
  // that shows once in many runs.
  const keep = process.env.GATEWAY_TEST_LOG_DIR;
  if (keep) child.stderr?.pipe(createWriteStream(join(keep, `gateway-${child.pid}.log`)));
  child.stderr?.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) take(part);
    for (const w of waiters) w(false);
  });
  // The log's end: every process that wrote to it has gone, so no line can come any more.
  child.once('close', () => {
    if (rest) take(rest);
    ended = true;
    for (const w of waiters) w(true);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const log = () => lines.map((l) => JSON.stringify(l)).join('\n');
  /** Resolves with `found()` once it gives a value, re-checked on each line; fails when the log ends. */
  const whenever = <T>(found: () => T | undefined, what: () => string) =>
    new Promise<T>((resolve, reject) => {
      const check = (end: boolean) => {
        const value = found();
        if (value !== undefined) {
          waiters.delete(check);
          resolve(value);
        } else if (end) {
          waiters.delete(check);
          reject(new Error(`${what()}, and the gateway's log has ended; log:\n${log()}`));
        }
      };
      waiters.add(check);
      check(ended);
    });
  const waitFor = (match: (line: Record<string, unknown>) => boolean) =>
    whenever(
      () => lines.find(match),
      () => 'no such log line',
    );
  const waitForCount = (match: (line: Record<string, unknown>) => boolean, count: number) =>
    whenever(
      () => (lines.filter(match).length >= count ? true : undefined),
      () => `${lines.filter(match).length} of ${count} such log lines`,
    ).then(() => undefined);
  const waitForWorkers = (check: (pids: number[]) => boolean, what: string) =>
    whenever(
      () => (check([...live]) ? true : undefined),
      () => `${what}: not so (workers ${[...live].join(', ')})`,
    ).then(() => undefined);
  const waitForLog = (check: (lines: Array<Record<string, unknown>>) => boolean, what: string) =>
    whenever(
      () => (check(lines) ? true : undefined),
      () => `${what}: not so`,
    ).then(() => undefined);
  const pool: RunningPool = {
    child,
    pid: child.pid as number,
    port,
    upstream: `127.0.0.1:${port}`,
    lines,
    exited,
    waitFor,
    waitForCount,
    waitForWorkers,
    waitForLog,
    workers: () => childrenOf(child.pid as number),
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  try {
    await waitFor((l) => l.msg === 'gateway ready');
  } catch (err) {
    pool.kill();
    throw err;
  }
  return pool;
}

export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Waits until `check` holds, polling every 20 ms: only for state that tells nobody when it
 * changes (a counter inside this process that no event reports). No deadline of its own: it
 * stops when `signal` (the test's) aborts, so the test's timeout bounds it.
 */
export async function poll(check: () => boolean, what: () => string, signal: AbortSignal): Promise<void> {
  while (!check()) {
    if (signal.aborted) throw new Error(`${what()}: the test ended first`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface LoadResult {
  ok: number;
  non2xx: number;
  errors: number;
  total: number;
}

/** What `during` can wait on while the load runs. */
export interface LoadProgress {
  /** Resolves once `count` more 2xx responses have arrived (from now). */
  served(count: number): Promise<void>;
}

/**
 * A bounded autocannon run; `during` runs while it loads. With `untilDone`, the load stops as
 * soon as `during` has finished (`seconds` is then only a cap), so what `during` waits for
 * happens under load however slow the machine is.
 */
export async function load(
  url: string,
  options: {
    seconds: number;
    connections?: number;
    amount?: number;
    path?: string;
    untilDone?: boolean;
    /** A request body: the load then sends POSTs, which nginx never retries on another connection. */
    body?: string;
  },
  during?: (progress: LoadProgress) => Promise<void> | void,
): Promise<LoadResult> {
  let instance: autocannon.Instance | undefined;
  const run = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: `${url}${options.path ?? '/slow?ms=5'}`,
        connections: options.connections ?? 8,
        duration: options.seconds,
        ...(options.amount ? { amount: options.amount } : {}),
        ...(options.body === undefined
          ? {}
          : {
              method: 'POST' as const,
              body: options.body,
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
            }),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  if (!instance) throw new Error('autocannon did not start');
  let ok = 0;
  const waiting = new Set<() => void>();
  instance.on('response', (_client, status) => {
    if (status >= 200 && status < 300) ok++;
    for (const w of waiting) w();
  });
  const progress: LoadProgress = {
    served: (count) =>
      new Promise<void>((resolve, reject) => {
        const target = ok + count;
        const check = () => {
          if (ok < target) return;
          waiting.delete(check);
          resolve();
        };
        waiting.add(check);
        // The load ending first would leave it waiting forever.
        void run.then(() => {
          if (waiting.delete(check)) reject(new Error(`the load ended ${target - ok} responses short`));
        });
        check();
      }),
  };
  try {
    await during?.(progress);
  } finally {
    if (options.untilDone) instance?.stop();
  }
  const result = await run;
  return {
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}

/**
 * The status page's `slow requests` against the slow log: exactly the requests logged, each once.
 * Status requests may turn slow themselves on a loaded machine, counted or not depending on when
 * the count was taken, so call this once they have had time to be logged; they may add up to their
 * number.
 */
export async function checkSlowCountLogged(
  pool: RunningPool,
  counted: number,
  statusPath = '/gateway/status',
): Promise<void> {
  // Every request the status page counted has its slow-log line coming: wait for them.
  await pool.waitForCount((l) => l.msg === 'slow request', counted);
  checkSlowCount(pool, counted, statusPath);
}

export function checkSlowCount(pool: RunningPool, counted: number, statusPath = '/gateway/status'): void {
  const slow = pool.lines.filter((l) => l.msg === 'slow request');
  const own = slow.filter((l) => String(l.uri).startsWith(statusPath)).length;
  const others = slow.length - own;
  if (counted >= others && counted <= others + own) return;
  throw new Error(`slow requests ${counted}, but the slow log has ${others} (+${own} status requests)`);
}
