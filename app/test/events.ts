/**
 * Waiting on what the code reports instead of polling: `until` checks a condition at once and
 * again on each event an emitter reports (a counter changed, a flag flipped); `untilWritten` on
 * each change the kernel reports in a directory (a log line written); `at` sleeps to an instant.
 * The time bound of each is only a failure timeout.
 */
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { existsSync, readFileSync, watch } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

function waiting(
  what: string,
  ready: () => boolean | Promise<boolean>,
  subscribe: (check: () => void) => () => void,
  timeoutMs: number,
  detail: () => string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    let checking = false;
    let again = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      if (error) reject(error);
      else resolve();
    };
    // One check at a time; an event during a check asks for one more after it.
    const check = () => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      Promise.resolve()
        .then(ready)
        .then(
          (ok) => {
            checking = false;
            if (ok) finish();
            else if (again) {
              again = false;
              check();
            }
          },
          (error: Error) => finish(error),
        );
    };
    const timer = setTimeout(() => {
      let more = '';
      try {
        more = detail();
      } catch {}
      finish(
        new assert.AssertionError({
          message: `timed out after ${timeoutMs} ms waiting for ${what}${more ? `\n${more}` : ''}`,
        }),
      );
    }, timeoutMs);
    const unsubscribe = subscribe(check);
    check();
  });
}

/** Resolves once `ready()` holds: checked now, then on every `event` of `emitter`. */
export function until(
  what: string,
  emitter: EventEmitter,
  event: string,
  ready: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  return waiting(
    what,
    ready,
    (check) => {
      emitter.on(event, check);
      return () => emitter.off(event, check);
    },
    timeoutMs,
    () => '',
  );
}

/**
 * Resolves once `ready()` holds: checked now, then on every change fs.watch reports in `dir`
 * (a file written, created or renamed there). `detail()` goes into the timeout's message.
 */
export function untilWritten(
  what: string,
  dir: string,
  ready: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  detail: () => string = () => '',
): Promise<void> {
  return waiting(
    what,
    ready,
    (check) => {
      const watcher = watch(dir, check);
      return () => watcher.close();
    },
    timeoutMs,
    detail,
  );
}

/** Resolves at `time` (ms since the epoch): a timer set to that instant, not a poll. */
export async function at(time: number): Promise<void> {
  for (let left = time - Date.now(); left >= 0; left = time - Date.now()) await sleep(left + 1);
}

/**
 * Resolves once the gateway's log (`${logs}/gateway.log`, scripts/stack.sh's) has a 'worker
 * stopped' line from each of `pids`: the workers a reload replaced have drained and gone.
 */
export function untilWorkersStopped(
  logs: string,
  pids: readonly number[],
  timeoutMs = 60_000,
): Promise<void> {
  const log = `${logs}/gateway.log`;
  const stopped = () =>
    new Set(
      (existsSync(log) ? readFileSync(log, 'utf8') : '')
        .split('\n')
        .filter((l) => l.startsWith('{') && l.includes('"worker stopped"'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid),
    );
  return untilWritten(
    `a 'worker stopped' line from each of the workers ${pids.join(', ')}`,
    logs,
    () => {
      const gone = stopped();
      return pids.every((pid) => gone.has(pid));
    },
    timeoutMs,
    () => `stopped: ${[...stopped()].join(', ')}`,
  );
}
