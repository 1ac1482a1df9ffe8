// The pool page: the gateway's status (JSON, full) read every few seconds and shown as tables.

const INTERVAL_MS = 2000;
const POOL_FIELDS = [
  'process manager',
  'start since',
  'accepted conn',
  'listen queue',
  'max listen queue',
  'idle processes',
  'active processes',
  'total processes',
  'max active processes',
  'max children reached',
  'slow requests',
];
let refreshes = 0;

function cell(row, value, className) {
  const td = document.createElement('td');
  td.textContent = String(value);
  if (className) td.className = className;
  row.append(td);
}

function render(status) {
  document.getElementById('pool-name').textContent = status.pool;
  const pool = document.getElementById('pool');
  pool.replaceChildren(
    ...POOL_FIELDS.map((name) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = name;
      tr.append(th);
      cell(tr, status[name] ?? '-');
      tr.dataset.field = name;
      return tr;
    }),
  );
  const workers = document.getElementById('workers');
  workers.replaceChildren(
    ...(status.processes ?? []).map((p) => {
      const tr = document.createElement('tr');
      tr.dataset.pid = p.pid;
      cell(tr, p.pid);
      cell(tr, p.state, p.state === 'Running' ? 'running' : 'idle');
      cell(tr, p['start since']);
      cell(tr, p.requests, 'requests');
      cell(tr, `${p['request method']} ${p['request URI']}`);
      cell(tr, p['request duration']);
      cell(tr, `${Math.round(p['last request memory'] / 1048576)} MiB`);
      cell(tr, p['event loop utilization']);
      return tr;
    }),
  );
}

async function refresh() {
  const error = document.getElementById('error');
  try {
    const response = await fetch('/gateway/status?json&full', { cache: 'no-store' });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    render(await response.json());
    error.hidden = true;
  } catch (err) {
    error.textContent = `The status page did not answer: ${err.message}`;
    error.hidden = false;
  }
  refreshes++;
  document.getElementById('refreshes').textContent = String(refreshes);
  document.getElementById('updated').textContent = new Date().toLocaleTimeString();
  setTimeout(refresh, INTERVAL_MS);
}

document.getElementById('interval').textContent = String(INTERVAL_MS / 1000);
refresh();
