// Facts about the machine and the software a result was measured with.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

function output(cmd, args) {
  try {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || null;
  } catch {
    return null;
  }
}

function postgresVersion() {
  // The server binary scripts/pg.sh runs: the newest under /usr/lib/postgresql.
  const dir = '/usr/lib/postgresql';
  if (existsSync(dir)) {
    const newest = readdirSync(dir)
      .filter((v) => existsSync(join(dir, v, 'bin/postgres')))
      .sort((a, b) => Number(b) - Number(a))[0];
    if (newest) return output(join(dir, newest, 'bin/postgres'), ['--version']);
  }
  return output('postgres', ['--version']) ?? output('psql', ['--version']);
}

function osName() {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

export function machineFacts(root) {
  let autocannonVersion = null;
  try {
    autocannonVersion = JSON.parse(
      readFileSync(join(root, 'node_modules/autocannon/package.json'), 'utf8'),
    ).version;
  } catch {}
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? null,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: osName(),
    kernel: release(),
    node: process.version,
    nginx: output('nginx', ['-v'])?.replace(/^nginx version:\s*/, '') ?? null,
    postgres: postgresVersion(),
    autocannon: autocannonVersion,
    loadAverageAtStart: loadavg().map((n) => Number(n.toFixed(2))),
  };
}

export function commitId(root) {
  try {
    const id = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${id}-dirty` : id;
  } catch {
    return 'nocommit';
  }
}
