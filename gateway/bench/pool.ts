/**
 * What the process manager's options cost on the request path: the pool test app's /hello through
 * a real nginx, 2 workers, static vs ondemand (the master accepts and hands each connection over)
 * and the slow log off vs on (its watchdog and in-flight registry), in FastCGI and uwsgi mode.
 * Variants alternate, twice each, as this machine is shared; every run is bounded.
 *
 *   flock /tmp/bench.lock node gateway/dist/bench/pool.js [SECONDS] [CONNECTIONS]
 */
import { startNginx } from '../test/helpers/nginx.js';
import { load, startPool } from '../test/helpers/pool.js';

const seconds = Number(process.argv[2] ?? 3);
const connections = Number(process.argv[3] ?? 32);

const variants: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'static', env: {} },
  { name: 'static + slow log', env: { GATEWAY_SLOWLOG_TIMEOUT: '5s' } },
  { name: 'ondemand', env: { GATEWAY_PM: 'ondemand' } },
];

const rows: string[] = [];
for (const protocol of ['fastcgi', 'uwsgi'] as const) {
  for (let round = 1; round <= 2; round++) {
    for (const variant of variants) {
      const pool = await startPool(protocol, variant.env);
      const nginx = await startNginx({ protocol, upstream: pool.upstream });
      try {
        await load(nginx.url, { seconds: 1, connections, path: '/hello' });
        const r = await load(nginx.url, { seconds, connections, path: '/hello' });
        const line = `| ${protocol} | ${variant.name} | ${round} | ${Math.round(r.ok / seconds)} | ${r.errors + r.non2xx} | ${pool.workers().length} |`;
        rows.push(line);
        process.stderr.write(`${line}\n`);
      } finally {
        pool.kill();
        await nginx.stop();
      }
    }
  }
}
process.stdout.write(
  `| protocol | variant | round | req/s | failed | workers |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
