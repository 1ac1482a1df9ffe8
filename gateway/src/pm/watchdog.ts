/**
 * The slow-log watchdog: a thread inside each worker that notices when the worker's event loop
 * stops turning and takes the main thread's JavaScript stack while it is still blocked.
 *
 * The main thread bumps a shared counter every `checkMs`. When the counter has not moved for
 * `slowlogTimeoutMs`, this thread pauses the main thread through the inspector (a pause is an
 * interrupt, so it lands inside a busy loop), reads the call frames, asks the main thread's slow-log
 * registry (evaluated on the paused frame) which requests are past the timeout, resumes it, and
 * writes one slow-log line per request. It writes with writeSync: stderr of a worker thread goes
 * through the (blocked) main thread.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface WatchdogData {
  beat: SharedArrayBuffer;
  slowlogTimeoutMs: number;
  checkMs: number;
  /** Append to this file; null: the gateway log (stderr). */
  slowlog: string | null;
  fields: Record<string, unknown>;
  /** Where to report how many requests this thread logged (`{"slow":N}` lines); null: nowhere. */
  reportFd: number | null;
}

/** The global the main thread installs: marks and returns the requests now past the timeout. */
export const registryKey = 'gatehouse.slowlog';

export interface SlowEntry {
  method: string;
  uri: string;
  durationMs: number;
}

interface Frame {
  functionName: string;
  callFrameId: string;
  url?: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

function run(data: WatchdogData): void {
  const beat = new Int32Array(data.beat);
  const fd = data.slowlog ? openSync(data.slowlog, 'a') : 2;
  const write = (msg: string, fields: Record<string, unknown>) => {
    const entry = { time: new Date().toISOString(), level: 'warn', msg, ...data.fields, ...fields };
    writeSync(fd, `${JSON.stringify(entry)}\n`);
  };
  // Connected only while a stack is taken: an open session would hold the process at exit.
  let session: Session | null = null;
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => {
      if (!session) return reject(new Error('no inspector session'));
      session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)));
    });
  const urls = new Map<string, string>();
  const connect = () => {
    session = new Session();
    session.connectToMainThread();
    session.on('Debugger.scriptParsed', (m) => urls.set(m.params.scriptId, m.params.url));
  };
  const disconnect = () => {
    session?.disconnect();
    session = null;
  };

  let last = Atomics.load(beat, 0);
  let lastChange = Date.now();
  let captured = false;
  let capturing = false;

  const capture = async (blockedMs: number) => {
    capturing = true;
    try {
      connect();
      await post('Debugger.enable');
      const paused = new Promise<Frame[] | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 1000);
        session?.once('Debugger.paused', (m) => {
          clearTimeout(timer);
          resolve(m.params.callFrames as Frame[]);
        });
      });
      await post('Debugger.pause');
      const frames = await paused;
      if (frames === null) {
        // Blocked outside JavaScript (a synchronous native call): no frames to show.
        write('slow request', { blocked: true, blockedMs, stack: [], where: 'native code' });
        captured = true;
        return;
      }
      let entries: SlowEntry[] = [];
      const top = frames[0];
      if (top) {
        try {
          const result = await post<{ result: { value?: unknown } }>('Debugger.evaluateOnCallFrame', {
            callFrameId: top.callFrameId,
            expression: `globalThis[Symbol.for(${JSON.stringify(registryKey)})]?.()`,
            returnByValue: true,
            silent: true,
          });
          if (Array.isArray(result.result.value)) entries = result.result.value as SlowEntry[];
        } catch {}
      }
      await post('Debugger.resume');
      if (entries.length === 0) return; // not yet past the timeout: look again next time
      const stack = frames.map(
        (f) =>
          `${f.functionName || '(anonymous)'} (${urls.get(f.location.scriptId) || f.url || '?'}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1})`,
      );
      for (const e of entries)
        write('slow request', {
          method: e.method,
          uri: e.uri,
          durationMs: e.durationMs,
          blocked: true,
          stack,
        });
      if (data.reportFd !== null) {
        try {
          writeSync(data.reportFd, `${JSON.stringify({ slow: entries.length })}\n`);
        } catch {}
      }
      captured = true;
    } catch (err) {
      write('slow log stack capture failed', { err: String(err) });
      captured = true;
    } finally {
      disconnect();
      capturing = false;
    }
  };

  setInterval(() => {
    const now = Date.now();
    const value = Atomics.load(beat, 0);
    if (value !== last) {
      last = value;
      lastChange = now;
      captured = false;
      return;
    }
    const blockedMs = now - lastChange;
    if (!captured && !capturing && blockedMs >= data.slowlogTimeoutMs) void capture(blockedMs);
  }, data.checkMs);

  parentPort?.once('close', () => {
    if (fd !== 2) closeSync(fd);
  });
}

if (!isMainThread && (workerData as { watchdog?: WatchdogData } | null)?.watchdog) {
  run((workerData as { watchdog: WatchdogData }).watchdog);
}
