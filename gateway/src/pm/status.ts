/**
 * The pool status page, with PHP-FPM's field names and formats (text, ?json, ?openmetrics,
 * ?full), so existing dashboards and exporters read it unchanged, plus the gateway's own metrics.
 * "Active" in Node terms: a worker with at least one request in flight (a worker serves many
 * requests at once; PHP-FPM's one-request-per-process notion does not apply). The listen-queue
 * fields come from the kernel (listen-queue.ts).
 */

export interface WorkerStatus {
  pid: number;
  startTime: number;
  requests: number;
  inFlight: number;
  acceptedConnections: number;
  keepAliveReuses: number;
  aborted: number;
  slowRequests: number;
  lastRequest: { method: string; uri: string; durationMs: number; status: number } | null;
  memory: number;
  eventLoopUtilization: number;
  /** The hosted app's own metrics (prom-client's JSON form), when it reports any. */
  appMetrics?: unknown[];
}

export interface PoolStatus {
  pool: string;
  processManager: string;
  protocol: string;
  startTime: number;
  /** Pool-wide, including workers that have gone. */
  acceptedConnections: number;
  /** Pool-wide, including workers that have gone. */
  slowRequests: number;
  /** Pool-wide, including workers that have gone. */
  requests: number;
  /** Pool-wide, including workers that have gone. */
  abortedRequests: number;
  /** Pool-wide, including workers that have gone. */
  keepAliveReuses: number;
  /** Connections waiting in the accept queue now (0 where the system does not show it). */
  listenQueue: number;
  maxListenQueue: number;
  /** The accept queue's size. */
  listenQueueLength: number;
  maxActiveProcesses: number;
  maxChildrenReached: number;
  restarts: number;
  workers: WorkerStatus[];
  /** The hosted app's metrics added up across workers, in OpenMetrics text (no # EOF). */
  appMetrics?: string;
}

function phpDate(ms: number): string {
  const d = new Date(ms);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function poolFields(s: PoolStatus, now: number) {
  const active = s.workers.filter((w) => w.inFlight > 0).length;
  return {
    pool: s.pool,
    'process manager': s.processManager,
    'start time': Math.floor(s.startTime / 1000),
    'start since': Math.floor((now - s.startTime) / 1000),
    'accepted conn': s.acceptedConnections,
    'listen queue': s.listenQueue,
    'max listen queue': s.maxListenQueue,
    'listen queue len': s.listenQueueLength,
    'idle processes': s.workers.length - active,
    'active processes': active,
    'total processes': s.workers.length,
    'max active processes': Math.max(s.maxActiveProcesses, active),
    'max children reached': s.maxChildrenReached,
    'slow requests': s.slowRequests,
  };
}

function processFields(w: WorkerStatus, now: number) {
  return {
    pid: w.pid,
    state: w.inFlight > 0 ? 'Running' : 'Idle',
    'start time': Math.floor(w.startTime / 1000),
    'start since': Math.floor((now - w.startTime) / 1000),
    requests: w.requests,
    'request duration': Math.round((w.lastRequest?.durationMs ?? 0) * 1000),
    'request method': w.lastRequest?.method ?? '-',
    'request URI': w.lastRequest?.uri ?? '-',
    'content length': 0,
    user: '-',
    script: '-',
    'last request cpu': 0,
    'last request memory': w.memory,
    'event loop utilization': Number(w.eventLoopUtilization.toFixed(3)),
  };
}

export function renderStatus(s: PoolStatus, query: string, now = Date.now()): { type: string; body: string } {
  const params = new URLSearchParams(query);
  const full = params.has('full');
  const pool = poolFields(s, now);
  if (params.has('json')) {
    const body = full ? { ...pool, processes: s.workers.map((w) => processFields(w, now)) } : pool;
    return { type: 'application/json', body: JSON.stringify(body) };
  }
  if (params.has('openmetrics'))
    return { type: 'application/openmetrics-text; version=1.0.0; charset=utf-8', body: openmetrics(s, pool) };
  let text = '';
  const line = (fields: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(fields))
      text += `${`${k}:`.padEnd(21)} ${k === 'start time' ? phpDate(Number(v) * 1000) : v}\n`;
  };
  line(pool);
  if (full) {
    for (const w of s.workers) {
      text += '\n************************\n';
      line(processFields(w, now));
    }
  }
  return { type: 'text/plain', body: text };
}

/** A label value as OpenMetrics writes it: backslash, double quote and line feed escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function openmetrics(s: PoolStatus, pool: ReturnType<typeof poolFields>): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples)
      out.push(`${name}${type === 'counter' ? '_total' : ''}${labels} ${value}`);
  };
  const l = `{pool="${escapeLabel(s.pool)}"}`;
  metric('phpfpm_up', 'gauge', 'Could the pool be reached.', [[l, 1]]);
  metric('phpfpm_start_since', 'counter', 'Seconds since the pool started.', [[l, pool['start since']]]);
  metric('phpfpm_accepted_connections', 'counter', 'Connections accepted by the pool.', [
    [l, pool['accepted conn']],
  ]);
  metric('phpfpm_listen_queue', 'gauge', 'Connections waiting in the listen queue.', [
    [l, pool['listen queue']],
  ]);
  metric('phpfpm_max_listen_queue', 'counter', 'Most connections ever waiting in the listen queue.', [
    [l, pool['max listen queue']],
  ]);
  metric('phpfpm_listen_queue_length', 'gauge', 'Size of the listen queue.', [[l, pool['listen queue len']]]);
  metric('phpfpm_idle_processes', 'gauge', 'Workers with no request in flight.', [
    [l, pool['idle processes']],
  ]);
  metric('phpfpm_active_processes', 'gauge', 'Workers with requests in flight.', [
    [l, pool['active processes']],
  ]);
  metric('phpfpm_total_processes', 'gauge', 'Workers in the pool.', [[l, pool['total processes']]]);
  metric('phpfpm_max_active_processes', 'counter', 'Most workers ever active at once.', [
    [l, pool['max active processes']],
  ]);
  metric('phpfpm_max_children_reached', 'counter', 'Times the pool hit its worker cap.', [
    [l, pool['max children reached']],
  ]);
  metric('phpfpm_slow_requests', 'counter', 'Requests slower than the slow log timeout.', [
    [l, pool['slow requests']],
  ]);
  const sum = (f: (w: WorkerStatus) => number) => s.workers.reduce((n, w) => n + f(w), 0);
  const p = `{pool="${escapeLabel(s.pool)}",protocol="${escapeLabel(s.protocol)}"}`;
  // Pool-wide totals, with the workers that have gone: they never go backwards.
  metric('gatehouse_requests', 'counter', 'Requests completed.', [[p, s.requests]]);
  metric('gatehouse_requests_in_flight', 'gauge', 'Requests being handled.', [[p, sum((w) => w.inFlight)]]);
  metric('gatehouse_aborted_requests', 'counter', 'Requests whose client went away first.', [
    [p, s.abortedRequests],
  ]);
  metric('gatehouse_keepalive_reuses', 'counter', 'Requests on an already used connection.', [
    [p, s.keepAliveReuses],
  ]);
  metric('gatehouse_worker_restarts', 'counter', 'Workers replaced after dying.', [[l, s.restarts]]);
  if (s.appMetrics) out.push(s.appMetrics.trimEnd());
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
