/**
 * The slow log, main-thread side. Every request in flight is registered; one that is still running
 * after GATEWAY_SLOWLOG_TIMEOUT gets one slow-log line with method, URI, duration and worker:
 * - while the event loop turns (the request waits on I/O or a timer), this thread's scan of the
 *   requests in flight (every `checkMs`, no timer per request) writes it, `blocked: false`, with no
 *   stack: no JavaScript is running for it;
 * - while the event loop is blocked, the watchdog thread (watchdog.ts) takes the JavaScript stack of
 *   the blocked main thread and writes it, `blocked: true`, with the stack.
 * Each request is logged once, whoever notices first. `count` counts this thread's lines; the
 * watchdog reports its own to the master on a side channel that needs no turning event loop.
 */
import { openSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { registryKey, type SlowEntry, type WatchdogData } from './watchdog.js';

interface Tracked {
  method: string;
  uri: string;
  started: number;
  logged: boolean;
}

export interface SlowlogEntry {
  readonly method: string;
  readonly uri: string;
  readonly started: number;
}

export interface Slowlog {
  /** Registers a request in flight. */
  track(method: string, uri: string): SlowlogEntry;
  /** The request has ended. */
  end(entry: SlowlogEntry): void;
  readonly count: number;
}

export function startSlowlog(options: {
  timeoutMs: number;
  path: string | null;
  fields: Record<string, unknown>;
  /** A file descriptor to the master, for the watchdog's counts; null: none. */
  reportFd: number | null;
}): Slowlog {
  const { timeoutMs } = options;
  const checkMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 5)));
  const inFlight = new Set<Tracked>();
  let count = 0;
  const fd = options.path ? openSync(options.path, 'a') : 2;
  const write = (fields: Record<string, unknown>) => {
    const entry = { time: new Date().toISOString(), level: 'warn', msg: 'slow request', ...options.fields };
    writeSync(fd, `${JSON.stringify({ ...entry, ...fields })}\n`);
  };

  // Called by the watchdog while this thread is paused: the requests now past the timeout.
  (globalThis as Record<symbol, unknown>)[Symbol.for(registryKey)] = (): SlowEntry[] => {
    const now = performance.now();
    const out: SlowEntry[] = [];
    for (const t of inFlight) {
      if (t.logged || now - t.started < timeoutMs) continue;
      t.logged = true;
      out.push({ method: t.method, uri: t.uri, durationMs: Math.round(now - t.started) });
    }
    return out;
  };

  const beat = new SharedArrayBuffer(4);
  const counter = new Int32Array(beat);
  setInterval(() => {
    Atomics.add(counter, 0, 1);
    const now = performance.now();
    for (const t of inFlight) {
      if (t.logged || now - t.started < timeoutMs) continue;
      t.logged = true;
      count++;
      write({
        method: t.method,
        uri: t.uri,
        durationMs: Math.round(now - t.started),
        blocked: false,
        stack: [],
      });
    }
  }, checkMs).unref();
  const watchdog: WatchdogData = {
    beat,
    slowlogTimeoutMs: timeoutMs,
    checkMs,
    slowlog: options.path,
    fields: options.fields,
    reportFd: options.reportFd,
  };
  const thread = new Worker(new URL('./watchdog.js', import.meta.url), { workerData: { watchdog } });
  thread.unref();
  thread.on('error', (err) => write({ msg: 'slow log watchdog failed', err: String(err) }));

  return {
    track(method, uri) {
      const t: Tracked = { method, uri, started: performance.now(), logged: false };
      inFlight.add(t);
      return t;
    },
    end(entry) {
      inFlight.delete(entry as Tracked);
    },
    get count() {
      return count;
    },
  };
}
