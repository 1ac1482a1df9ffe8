/**
 * The access-log path: what writing one access line costs the process that serves the request,
 * for the line as it was written before pino (JSON.stringify and process.stderr.write, a blocking
 * write(2) when stderr is a file or a pipe), pino writing synchronously, and pino's asynchronous
 * destination (the gateway's default). Each variant runs in a child process whose stderr is a file
 * or a pipe read by this process; reported: the time on the emitting thread per line (what a
 * request waits) and the time until every line is out (the child's exit, after pino's final flush).
 *
 *   node gateway/dist/bench/log.js [lines]
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/log.js';

const variants = ['stringify-sync', 'pino-sync', 'pino-async'] as const;
type Variant = (typeof variants)[number];

/** The fields the worker's access line carries. */
const fields = {
  requestId: 'req-0b7e6d2c-1f4a-4c3e-9a8b-7c6d5e4f3a2b',
  method: 'GET',
  uri: '/v3/auth/tokens',
  status: 200,
  ms: 1.3,
  remote: '127.0.0.1',
  aborted: false,
};

async function child(variant: Variant, lines: number): Promise<void> {
  const base = { role: 'worker', worker: 1, pid: process.pid };
  let emit: () => void;
  if (variant === 'stringify-sync') {
    // The logger before pino (gateway/src/log.ts at its previous commit).
    emit = () =>
      process.stderr.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'access', ...base, ...fields })}\n`,
      );
  } else {
    const log = createLogger({ fields: base, sync: variant === 'pino-sync' });
    emit = () => log.info('access', fields);
  }
  // Lines in bursts of 100 with a turn of the event loop between them, as requests arrive.
  let busy = 0n;
  for (let i = 0; i < lines; i += 100) {
    const started = process.hrtime.bigint();
    for (let j = 0; j < 100; j++) emit();
    busy += process.hrtime.bigint() - started;
    await new Promise((r) => setImmediate(r));
  }
  process.send?.({ nsPerLine: Number(busy) / lines });
}

async function run(variant: Variant, lines: number, to: 'file' | 'pipe', dir: string) {
  const file = join(dir, `${variant}.log`);
  const fd = to === 'file' ? openSync(file, 'w') : null;
  const started = process.hrtime.bigint();
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', variant, String(lines)], {
    stdio: ['ignore', 'ignore', fd ?? 'pipe', 'ipc'],
  });
  let bytes = 0;
  proc.stderr?.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  let nsPerLine = 0;
  proc.on('message', (m: { nsPerLine: number }) => {
    nsPerLine = m.nsPerLine;
  });
  // 'close': the child has exited and its stderr pipe is drained.
  await new Promise((r) => proc.on('close', r));
  const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (fd !== null) {
    closeSync(fd);
    bytes = statSync(file).size;
  }
  return { variant, to, nsPerLine, totalMs, bytes };
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Variant, Number(process.argv[4]));
} else {
  const lines = Number(process.argv[2] ?? 200_000);
  const dir = mkdtempSync(join(tmpdir(), 'log-bench-'));
  try {
    console.log(`${lines} access lines per run; median of 3 runs`);
    console.log('destination  variant          µs/line on the request path   ms until all written   bytes');
    for (const to of ['file', 'pipe'] as const) {
      for (const variant of variants) {
        const runs = [];
        for (let i = 0; i < 3; i++) runs.push(await run(variant, lines, to, dir));
        runs.sort((a, b) => a.nsPerLine - b.nsPerLine);
        const m = runs[1] as (typeof runs)[number];
        console.log(
          `${to.padEnd(12)} ${variant.padEnd(16)} ${(m.nsPerLine / 1000).toFixed(2).padStart(28)} ${m.totalMs.toFixed(0).padStart(22)}   ${m.bytes}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
