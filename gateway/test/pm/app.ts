/** A test app for the pool: /hello answers at once, /slow?ms=N later, /hang never. */
import type { RequestListener } from 'node:http';

const listener: RequestListener = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/slow') {
    setTimeout(() => res.end('slow'), Number(url.searchParams.get('ms') ?? 100));
  } else if (url.pathname === '/hang') {
    // never answers: the terminate timeout must
  } else {
    res.end('hello');
  }
};

export default async () => listener;
