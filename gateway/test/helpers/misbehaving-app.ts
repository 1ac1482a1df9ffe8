/**
 * An app that does, one path each, what apps and frameworks get wrong: every way a listener can
 * fail a request. Each must end that request only. /slow?ms=N answers after N ms, /hang never.
 */
import { EventEmitter } from 'node:events';
import type { RequestListener } from 'node:http';

/**
 * An error for the module's own timer to throw: scheduled at load, outside every request, it
 * stands for a failure nobody's request owns (a pool's reconnect timer, a cache sweep).
 */
let escaping: Error | null = null;
setInterval(() => {
  if (!escaping) return;
  const err = escaping;
  escaping = null;
  throw err;
}, 5).unref();

export const misbehaviours: Record<string, RequestListener> = {
  '/throw': () => {
    throw new Error('thrown synchronously');
  },
  '/reject': async () => {
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error('thrown after an await');
  },
  '/throw-after-head': (_req, res) => {
    res.write('partial');
    throw new Error('thrown with the head sent');
  },
  '/reject-after-head': async (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error('thrown after an await with the head sent');
  },
  '/wrong-type': (_req, res) => {
    res.write(123 as unknown as string);
  },
  '/wrong-view': (_req, res) => {
    res.end(new Uint16Array([0x4241]) as unknown as Uint8Array);
  },
  '/bad-header': (_req, res) => {
    res.setHeader('x-bad', 'a\nb');
    res.end('never');
  },
  '/bad-hints': (_req, res) => {
    res.writeEarlyHints({ link: 'bad\nvalue' });
    res.end('never');
  },
  '/end-twice': (_req, res) => {
    res.end('once');
    res.end('twice');
  },
  '/write-after-end': (_req, res) => {
    res.end('ended');
    res.write('more');
  },
  '/write-after-end-later': (_req, res) => {
    res.end('ended');
    setImmediate(() => res.write('more'));
  },
  '/destroy': (_req, res) => {
    res.write('partial');
    setImmediate(() => res.destroy());
  },
  '/destroy-before-head': (_req, res) => {
    res.destroy();
  },
  '/destroy-with-error': (_req, res) => {
    res.write('partial');
    setImmediate(() => res.destroy(new Error('destroyed with an error')));
  },
  '/socket-error': (req) => {
    req.socket.destroy(new Error('socket destroyed with an error'));
  },
  '/emit-error': (_req, res) => {
    res.emit('error', new Error('an error event nobody listens to'));
    res.end('after the error');
  },
  '/typed-arrays': (_req, res) => {
    const bytes = new TextEncoder().encode('xxhello, ');
    res.write(bytes.subarray(2));
    res.write(new Uint8Array(0));
    res.end(new Uint8Array([119, 111, 114, 108, 100]));
  },
  '/early-hints': (_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    res.writeProcessing();
    res.end('after hints');
  },
  // Exceptions from callbacks the listener scheduled: under node:http each ends the process.
  '/throw-in-timer': () => {
    setTimeout(() => {
      throw new Error('thrown from a timer');
    }, 1);
  },
  '/throw-in-timer-after-head': (_req, res) => {
    res.write('partial');
    setTimeout(() => {
      throw new Error('thrown from a timer with the head sent');
    }, 1);
  },
  '/reject-in-timer': () => {
    setTimeout(() => {
      void Promise.reject(new Error('rejected in a timer, unhandled'));
    }, 1);
  },
  '/emitter-error-later': () => {
    const emitter = new EventEmitter();
    setImmediate(() => emitter.emit('error', new Error('an emitter error nobody listens to')));
  },
  '/throw-after-end': (_req, res) => {
    res.end('ended');
    setImmediate(() => {
      throw new Error('thrown after the response ended');
    });
  },
  '/escape': (_req, res) => {
    escaping = new Error('thrown outside any request');
    res.end('scheduled');
  },
  '/hang': () => {},
};

const listener: RequestListener = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const misbehave = misbehaviours[url.pathname];
  if (misbehave) return misbehave(req, res);
  if (url.pathname === '/slow') {
    setTimeout(() => res.end('slow'), Number(url.searchParams.get('ms') ?? 100));
    return;
  }
  res.end(`hello from ${process.pid}`);
};

export default async () => listener;
