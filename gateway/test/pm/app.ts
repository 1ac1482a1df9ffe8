/**
 * A test app for the pool: /hello answers at once, /slow?ms=N later, /hang never, /block?ms=N
 * blocks its event loop for N ms (in a function the slow log must name) before answering.
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
