/**
 * A real nginx (Debian's) for tests, configured from the same template and snippets the
 * containers and scripts/stack.sh use. Listens on 127.0.0.1 at a free port, in a temp prefix.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nginxDir = fileURLToPath(new URL('../../../../nginx/', import.meta.url));

export interface NginxOptions {
  protocol: 'fastcgi' | 'uwsgi' | 'http' | 'cgi';
  /** `host:port` or `unix:/path`. */
  upstream: string;
  keepConn?: boolean;
  requestBuffering?: boolean;
  htmlRoot?: string;
  statusAllow?: string;
  authRate?: string;
  /** client_max_body_size; default 16m (the identity app's deployments use its own limit). */
  clientMaxBodySize?: string;
  workers?: number;
  accessLog?: boolean;
  /** More directives for the server block (locations of a test's own), placed at its end. */
  serverConfig?: string;
}

export interface RunningNginx {
  url: string;
  port: number;
  prefix: string;
  process: ChildProcess;
  errorLog(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Substitutes exactly the named variables, as the nginx image's envsubst step does. */
export function renderTemplate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)\}/g, (whole, name: string) => vars[name] ?? whole);
}

export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), 'gw-nginx-'));
  chmodSync(prefix, 0o755);
  mkdirSync(join(prefix, 'tmp'));
  const vars = {
    GATEWAY_PROTOCOL: options.protocol,
    GATEWAY_UPSTREAM: options.upstream,
    NGINX_LISTEN_PORT: `127.0.0.1:${port}`,
    // Plain HTTP: scripts/stack.sh --tls is the HTTPS edge's test bed.
    NGINX_LISTEN_PARAMS: '',
    NGINX_TLS: 'off',
    NGINX_RESOLVER: '127.0.0.1',
    NGINX_HTML_ROOT: options.htmlRoot ?? join(nginxDir, 'html'),
    NGINX_SNIPPETS_DIR: join(nginxDir, 'snippets'),
    GATEWAY_STATUS_ALLOW: options.statusAllow ?? '127.0.0.1',
    GATEWAY_KEEPALIVE: options.keepConn === false ? 'off' : 'on',
    NGINX_REQUEST_BUFFERING: options.requestBuffering === false ? 'off' : 'on',
    NGINX_AUTH_RATE: options.authRate ?? '1000r/s',
    // The gateway's tests send bodies of megabytes to apps with no limit of their own.
    NGINX_CLIENT_MAX_BODY_SIZE: options.clientMaxBodySize ?? '16m',
  };
  const server = renderTemplate(
    readFileSync(join(nginxDir, 'templates/gatehouse.conf.template'), 'utf8'),
    vars,
  );
  const end = server.lastIndexOf('}');
  writeFileSync(
    join(prefix, 'gatehouse.conf'),
    options.serverConfig ? `${server.slice(0, end)}${options.serverConfig}\n${server.slice(end)}` : server,
  );
  const isRoot = process.getuid?.() === 0;
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `${isRoot ? 'user root root;\n' : ''}worker_processes ${options.workers ?? 2};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path ${prefix}/tmp/body;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    proxy_temp_path ${prefix}/tmp/proxy;
    scgi_temp_path ${prefix}/tmp/scgi;
    include ${prefix}/gatehouse.conf;
    access_log ${options.accessLog ? `${prefix}/access.log gatehouse_json` : 'off'};
}
`,
  );
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const errorLog = () => {
    try {
      return readFileSync(join(prefix, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  // Ready once its pid file is there: nginx writes it after it has bound and listens on its
  // sockets, so connections queue from then on. An exit before that is the failure.
  const pidFile = join(prefix, 'nginx.pid');
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(prefix, () => {
      if (existsSync(pidFile)) settle();
    });
    const exited = () => settle(new Error(`nginx exited: ${stderr}${errorLog()}`));
    const settle = (err?: Error) => {
      watcher.close();
      child.off('exit', exited);
      if (err) reject(err);
      else resolve();
    };
    child.once('exit', exited);
    if (existsSync(pidFile)) settle();
  });
  if (!(await accepts(port)))
    throw new Error(`nginx wrote its pid file but refuses connections: ${errorLog()}`);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    prefix,
    process: child,
    errorLog,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      // GATEWAY_TEST_LOG_DIR (scripts/soak.sh sets it): the error log outlives the prefix.
      const keep = process.env.GATEWAY_TEST_LOG_DIR;
      if (keep) writeFileSync(join(keep, `nginx-${port}-error.log`), errorLog());
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

import { connect as createConnection } from 'node:net';
