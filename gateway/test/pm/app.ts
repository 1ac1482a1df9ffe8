/**
 * A test app for the pool: /hello answers at once, /slow?ms=N later, /hang never, /block?ms=N
 * blocks its event loop for N ms (in a function the slow log must name) before answering; any
 * of them with ?announce logs "app request started" first.
 */
import type { RequestListener } from 'node:http';

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

export default async () => listener;
