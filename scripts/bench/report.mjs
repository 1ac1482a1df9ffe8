// Renders bench results as a Markdown report and an SVG chart a person can read at a glance.

const fmt = (n) => (n === undefined || n === null ? '-' : String(n));

export function renderReport(results) {
  const lines = [
    `# Benchmark ${results.date.slice(0, 10)} (${results.commit})`,
    '',
    `${results.machine.cores} cores, Node ${results.machine.node}, ${results.machine.nginx}, ${results.machine.postgres}; ` +
      `${results.stack?.kind ?? 'native'} stack; ${results.settings.connections} connections, ${results.settings.duration} s per run ` +
      `(CGI: ${results.settings.cgiConnections ?? 4} connections, ${results.settings.cgiDuration ?? 3} s), ` +
      `pipelining ${results.settings.pipelining}, warm-up ${results.settings.warmup} s.`,
    '',
    '| mode | scenario | req/s | p50 ms | p97.5 ms | p99 ms | errors | non-2xx | vs http | vs static |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const flagged = [];
  for (const r of results.runs) {
    if (r.skipped) {
      lines.push(`| ${r.mode} | ${r.scenario} | skipped: ${r.skipped} | | | | | | | |`);
      continue;
    }
    const http = results.runs.find(
      (x) => x.mode === 'http' && x.scenario === r.scenario && x.requestsPerSecond,
    );
    const stat = results.runs.find(
      (x) => x.mode === r.mode && x.scenario === 'static' && x.requestsPerSecond,
    );
    const bad = (r.errors ?? 0) + (r.non2xx ?? 0) > 0;
    if (bad) flagged.push(`${r.mode} ${r.scenario}`);
    const flag = bad ? ' **⚠**' : '';
    lines.push(
      `| ${r.mode} | ${r.scenario}${flag} | ${fmt(r.requestsPerSecond)} | ${fmt(r.p50)} | ${fmt(r.p97_5)} | ${fmt(r.p99)} | ${fmt(r.errors)} | ${fmt(r.non2xx)} | ` +
        `${http && r.requestsPerSecond ? (r.requestsPerSecond / http.requestsPerSecond).toFixed(2) : '-'} | ` +
        `${stat && r.requestsPerSecond ? (r.requestsPerSecond / stat.requestsPerSecond).toFixed(3) : '-'} |`,
    );
  }
  lines.push('');
  if (flagged.length > 0)
    lines.push(`**Runs with errors or non-2xx responses (not averaged away):** ${flagged.join(', ')}.`, '');
  const mixes = results.runs.filter((r) => r.scenario === 'mix' && r.logins);
  for (const m of mixes) {
    const alone = results.runs.find((r) => r.mode === m.mode && r.scenario === 'validate');
    const kept = alone?.requestsPerSecond
      ? ` (${Math.round((100 * m.requestsPerSecond) / alone.requestsPerSecond)} % of the validate run)`
      : '';
    lines.push(
      `- ${m.mode} mix: validations ${m.requestsPerSecond} req/s${kept} while logins ran at ${m.logins.requestsPerSecond} req/s.`,
    );
  }
  for (const r of results.runs.filter((x) => x.scenario === 'reload'))
    lines.push(`- ${r.mode} reload: ${r.failed} failed of ${r.total} requests across ${r.reloads} reloads.`);
  return `${lines.join('\n')}\n`;
}

const escapeXml = (s) =>
  String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
const COLORS = { fastcgi: '#2b6cb0', uwsgi: '#2f855a', http: '#975a16', cgi: '#c53030', target: '#6b46c1' };

/** Horizontal bars of requests/s on a log scale, grouped by scenario, one colour per mode. */
export function renderChart(results) {
  const runs = results.runs.filter((r) => r.requestsPerSecond > 0);
  const scenarios = [...new Set(runs.map((r) => r.scenario))];
  const modes = [...new Set(runs.map((r) => r.mode))];
  const barH = 16;
  const gap = 12;
  const left = 150;
  const width = 760;
  const plot = width - left - 90;
  const max = Math.max(10, ...runs.map((r) => r.requestsPerSecond));
  const x = (v) => (Math.log10(Math.max(1, v)) / Math.log10(max)) * plot;
  let y = 50;
  const parts = [];
  for (const s of scenarios) {
    parts.push(`<text x="10" y="${y + barH}" font-weight="bold">${escapeXml(s)}</text>`);
    for (const m of modes) {
      const r = runs.find((q) => q.scenario === s && q.mode === m);
      if (!r) continue;
      const bad = r.errors + r.non2xx > 0;
      parts.push(
        `<text x="${left - 8}" y="${y + barH - 3}" text-anchor="end" font-size="12">${escapeXml(m)}</text>`,
        `<rect x="${left}" y="${y}" width="${x(r.requestsPerSecond).toFixed(1)}" height="${barH}" fill="${COLORS[m] ?? '#555'}"${bad ? ' stroke="#000" stroke-dasharray="3 2"' : ''}/>`,
        `<text x="${left + x(r.requestsPerSecond) + 6}" y="${y + barH - 3}" font-size="12">${r.requestsPerSecond}${bad ? ' ⚠' : ''}</text>`,
      );
      y += barH + 4;
    }
    y += gap;
  }
  const height = y + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<title>Gatehouse benchmark ${escapeXml(results.date.slice(0, 10))}</title>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="24" font-size="16" font-weight="bold">Requests per second (log scale), ${escapeXml(results.machine.cores)} cores, ${escapeXml(results.commit)}</text>
${parts.join('\n')}
</svg>
`;
}
