/**
 * A test app for the pool: /hello answers at once, /slow?ms=N later, /hang never, /block?ms=N
 * blocks its event loop for N ms (in a function the slow log must name) before answering; any
 * of them with ?announce logs "app request started" first.
 *
 * POOL_APP_LOAD_GATE=DIR holds the app's loading while DIR/armed exists: it logs "app loading held"
 * and loads once DIR/release-PID appears, so a test decides when a worker's app has loaded.
 */
import { existsSync, watch } from 'node:fs';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';

function blockTheEventLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: nothing else runs in this worker meanwhile
  }
}

const listener: RequestListener = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  // ?announce: a log line when the request reaches the app, for tests to wait on (the worker's
  // stderr is the gateway's; a pipe is written synchronously, so it precedes a /block).
  if (url.searchParams.has('announce'))
    process.stderr.write(
      `${JSON.stringify({ msg: 'app request started', uri: req.url, pid: process.pid })}\n`,
    );
  if (url.pathname === '/slow') {
    setTimeout(() => res.end('slow'), Number(url.searchParams.get('ms') ?? 100));
  } else if (url.pathname === '/hang') {
    // never answers: the terminate timeout must
  } else if (url.pathname === '/block') {
    blockTheEventLoop(Number(url.searchParams.get('ms') ?? 1000));
    res.end('unblocked');
  } else {
    res.end('hello');
  }
};

function loadGate(dir: string): Promise<void> {
  if (!existsSync(join(dir, 'armed'))) return Promise.resolve();
  const release = join(dir, `release-${process.pid}`);
  return new Promise((resolve) => {
    const watcher = watch(dir, () => {
      if (!existsSync(release)) return;
      watcher.close();
      resolve();
    });
    process.stderr.write(`${JSON.stringify({ msg: 'app loading held', pid: process.pid })}\n`);
  });
}

export default async () => {
  const gate = process.env.POOL_APP_LOAD_GATE;
  if (gate) await loadGate(gate);
  return listener;
};
