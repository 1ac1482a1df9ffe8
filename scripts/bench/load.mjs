// One bounded autocannon run through its Node API, summarised into the figures the report shows.
import autocannon from 'autocannon';

const running = new Set();

/** Stops every run in flight (Ctrl-C): autocannon then closes its sockets and calls back. */
export function stopAll() {
  for (const instance of running) instance.stop();
}

/**
 * nginx closes a keep-alive client connection after keepalive_requests (1000 by default) with
 * "Connection: close". autocannon ignores that header and writes its next request at once, which
 * the closing socket answers with a reset: one ECONNRESET per thousand requests that no real
 * client would see. Reconnecting every thousand requests, as a client that honours the header
 * does, keeps those out of the figures; autocannon leaves the response it reconnects on out of its
 * count, 0.1 % in every mode alike.
 */
const RECONNECT_EVERY = 1000;

/**
 * Runs autocannon and resolves with its result plus the errors by kind: autocannon only counts
 * them, and a report that says "12 errors" without saying which ones is not worth much.
 */
export function cannon(opts) {
  return new Promise((resolve, reject) => {
    const errorKinds = {};
    const instance = autocannon({ timeout: 30, reconnectRate: RECONNECT_EVERY, ...opts }, (err, result) => {
      running.delete(instance);
      if (err) reject(err);
      else resolve({ result, errorKinds });
    });
    instance.on('reqError', (error) => {
      const kind = error?.code ?? error?.message ?? 'error';
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    });
    running.add(instance);
  });
}

const round = (n, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

/** The figures kept for one run. Latencies are milliseconds; requests/s is total over wall time. */
export function summarize({ result, errorKinds }) {
  const statusCodes = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count;
  const seconds = result.duration > 0 ? result.duration : 1;
  const s = {
    requestsPerSecond: Math.round(result.requests.total / seconds),
    total: result.requests.total,
    seconds: round(result.duration),
    p50: round(result.latency.p50),
    p97_5: round(result.latency.p97_5),
    p99: round(result.latency.p99),
    latencyMax: round(result.latency.max),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    errorKinds,
  };
  s.flagged = s.errors > 0 || s.non2xx > 0;
  return s;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
