/**
 * The master's signals, as PHP-FPM's: SIGHUP and SIGUSR2 reload (a new generation serves before
 * the old one drains), SIGTERM and SIGINT stop gracefully, and a stop signal once stopping stops
 * at once. Reloads are ignored while stopping.
 */
import type { EventEmitter } from 'node:events';
import type { PmMode } from '../config.js';

export const RELOAD_SIGNALS = ['SIGHUP', 'SIGUSR2'] as const;
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface SignalActions {
  stopping(): boolean;
  reload(): void;
  /** The first stop signal: drain and exit. */
  stop(signal: string): void;
  /** A stop signal while stopping (or after a fatal error): exit now. */
  stopNow(signal: string): void;
}

/** Installs the handlers on `target` (the process); returns a function that removes them. */
export function handleSignals(target: Pick<EventEmitter, 'on' | 'off'>, actions: SignalActions): () => void {
  const reload = () => {
    if (!actions.stopping()) actions.reload();
  };
  const stops = STOP_SIGNALS.map((signal) => {
    const handler = () => (actions.stopping() ? actions.stopNow(signal) : actions.stop(signal));
    return [signal, handler] as const;
  });
  for (const signal of RELOAD_SIGNALS) target.on(signal, reload);
  for (const [signal, handler] of stops) target.on(signal, handler);
  return () => {
    for (const signal of RELOAD_SIGNALS) target.off(signal, reload);
    for (const [signal, handler] of stops) target.off(signal, handler);
  };
}

/**
 * How many workers a reload starts: static, max_children; ondemand, as many as the newest
 * generation has serving (none: nothing to start, the old ones just drain); dynamic, as many as
 * the newest generation has, at least one. Counting the newest generation only, a reload during a
 * reload does not double the pool.
 */
export function reloadCount(
  pm: PmMode,
  maxChildren: number,
  newest: ReadonlyArray<{ ready: boolean }>,
): number {
  if (pm === 'static') return maxChildren;
  if (pm === 'ondemand') return newest.filter((s) => s.ready).length;
  return Math.max(1, newest.length);
}
