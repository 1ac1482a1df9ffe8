/**
 * The real gateway executable (master and workers) for process-manager tests: started on a free
 * 127.0.0.1 port with the pool test app, its JSON log lines kept, its workers read from the process
 * table, and a bounded autocannon load.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Protocol } from '../../src/config.js';
import { freePort } from './nginx.js';

const bin = fileURLToPath(new URL('../../src/bin/gateway.js', import.meta.url));
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
  /** Resolves with the first log line that matches. */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves once `count` log lines match (checked as lines arrive). */
  waitForCount(
    match: (line: Record<string, unknown>) => boolean,
    count: number,
    timeoutMs?: number,
  ): Promise<void>;
  workers(): number[];
  kill(): void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPool(protocol: Protocol, env: Record<string, string> = {}): Promise<RunningPool> {
  const port = await freePort();
  const child = spawn(process.execPath, [bin], {
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
  const waiters = new Set<() => void>();
  let rest = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        lines.push({ msg: part });
      }
    }
    for (const w of waiters) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (match: (line: Record<string, unknown>) => boolean, timeoutMs = 5000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (!found) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `no such log line within ${timeoutMs} ms; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const waitForCount = (
    match: (line: Record<string, unknown>) => boolean,
    count: number,
    timeoutMs = 10_000,
  ) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (lines.filter(match).length < count) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`fewer than ${count} such log lines within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const pool: RunningPool = {
    child,
    pid: child.pid as number,
    port,
    upstream: `127.0.0.1:${port}`,
    lines,
    exited,
    waitFor,
    waitForCount,
    workers: () => childrenOf(child.pid as number),
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  try {
    // Only a failure bound: on a busy machine an app's workers (the identity app's imports and
    // build) take well over 10 s to be ready.
    await waitFor((l) => l.msg === 'gateway ready', 60_000);
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

/** Waits until `check` holds, polling; returns how long it took, or throws after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
  return Date.now() - started;
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
