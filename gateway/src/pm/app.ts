/** Loads the hosted application (GATEWAY_APP) the way the contract in the README says. */

import { existsSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GatewayError } from '../errors.js';

export interface LoadedApp {
  handler: RequestListener;
  close(): Promise<void>;
  /** The app's own metrics in prom-client's JSON form, if it has any: the pool adds them up. */
  metrics?: () => Promise<unknown[]>;
  /**
   * Whether the app can serve (its database reachable, say), if it can tell: the ping path answers
   * 503 with the detail while it is not, so a healthcheck sees what the app sees.
   */
  health?: () => AppHealth | Promise<AppHealth>;
}

export interface AppHealth {
  healthy: boolean;
  detail?: string;
}

/** The identity app, relative to the gateway's compiled location (gateway/dist/src/pm/). */
export function defaultAppModule(): string {
  return new URL('../../../../app/dist/src/handler.js', import.meta.url).href;
}

/** A path to a file (absolute, or relative to the working directory), else a package name. */
function specifier(module: string): string {
  if (module.startsWith('file:')) return module;
  if (isAbsolute(module) || module.startsWith('.') || existsSync(resolve(module)))
    return pathToFileURL(resolve(module)).href;
  return module;
}

export async function loadApp(module: string | null): Promise<LoadedApp> {
  const target = module ? specifier(module) : defaultAppModule();
  let factory: unknown;
  try {
    factory = ((await import(target)) as { default?: unknown }).default;
  } catch (err) {
    throw new GatewayError(
      'GW_ERR_APP_LOAD',
      `${module ?? 'the identity app'}: ${(err as Error).message}`,
      {},
      err,
    );
  }
  if (typeof factory !== 'function') {
    throw new GatewayError('GW_ERR_APP_LOAD', `${target} has no default export function`);
  }
  let made: unknown;
  try {
    made = await (factory as () => unknown)();
  } catch (err) {
    throw new GatewayError(
      'GW_ERR_APP_LOAD',
      `${module ?? 'the identity app'} failed to start: ${(err as Error).message}`,
      {},
      err,
    );
  }
  if (typeof made === 'function') return { handler: made as RequestListener, close: async () => {} };
  const app = made as { handler?: unknown; close?: () => Promise<void>; metrics?: unknown; health?: unknown };
  if (app && typeof app.handler === 'function') {
    return {
      handler: app.handler as RequestListener,
      close: app.close ?? (async () => {}),
      ...(typeof app.metrics === 'function' ? { metrics: app.metrics as () => Promise<unknown[]> } : {}),
      ...(typeof app.health === 'function' ? { health: app.health as LoadedApp['health'] } : {}),
    };
  }
  throw new GatewayError('GW_ERR_APP_LOAD', `${target} did not produce a request listener`);
}
