/** The gateway's entry: one identity app per worker, from the environment. */
import type { RequestListener } from 'node:http';
import { build } from './app.js';
import { loadConfig } from './config.js';

export default async function createIdentityApp(): Promise<{
  handler: RequestListener;
  close(): Promise<void>;
}> {
  const app = await build({ config: loadConfig() });
  return { handler: app.routing as RequestListener, close: () => app.close() };
}
