/**
 * Gateway configuration, declared once: every variable with its type, default and help text.
 * The README's table and .env.example are checked against this declaration by a test.
 * A bad value stops start-up with one GW_ERR_CONFIG line naming the variable.
 */
import { availableParallelism } from 'node:os';
import { groupId, userId } from './accounts.js';
import { type AllowedClients, parseAllowList } from './allow-list.js';
import { GatewayError } from './errors.js';

export const protocols = ['fastcgi', 'uwsgi', 'http', 'cgi'] as const;
export type Protocol = (typeof protocols)[number];
export const pmModes = ['static', 'dynamic', 'ondemand'] as const;
export type PmMode = (typeof pmModes)[number];

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

type Kind = 'string' | 'int' | 'duration' | 'bool' | 'listen' | 'choice';

interface Declaration {
  readonly name: string;
  readonly kind: Kind;
  /** As written in the environment; `null` means "unset" (computed or optional). */
  readonly default: string | null;
  readonly help: string;
  readonly choices?: readonly string[];
  readonly section: string;
  /**
   * The value the container image and docker-compose.yml use instead of the default, where a
   * container's needs differ (its network is private; loopback would reach nobody).
   */
  readonly container?: string;
}

/** Every variable the gateway reads, in the order the docs list them. */
export const declarations = [
  {
    section: 'Protocol',
    name: 'GATEWAY_PROTOCOL',
    kind: 'choice',
    choices: protocols,
    default: 'fastcgi',
    help: 'protocol nginx speaks to the gateway: fastcgi, uwsgi, http or cgi',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_LISTEN',
    kind: 'listen',
    default: '127.0.0.1:9000',
    container: '0.0.0.0:9000',
    help: 'host:port, or unix:/path for a socket shared with nginx; the port trusts what it is sent, so loopback unless a private network (the containers set 0.0.0.0:9000 on theirs)',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_LISTEN_OWNER',
    kind: 'string',
    default: null,
    help: "unix socket: its owner, a user name or id (PHP-FPM listen.owner); default the gateway's user",
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_LISTEN_GROUP',
    kind: 'string',
    default: null,
    help: "unix socket: its group, a group name or id (PHP-FPM listen.group); default the gateway's group",
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_LISTEN_MODE',
    kind: 'string',
    default: '0660',
    help: 'unix socket: its permission bits, octal (PHP-FPM listen.mode); owner and group connect, nobody else',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_LISTEN_ALLOWED_CLIENTS',
    kind: 'string',
    default: null,
    help: 'TCP: the only client addresses accepted, comma-separated addresses or CIDR ranges (PHP-FPM listen.allowed_clients); others are closed at once and logged; default any',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_BACKLOG',
    kind: 'int',
    default: '511',
    help: 'listen queue length (PHP-FPM listen.backlog)',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_APP',
    kind: 'string',
    default: null,
    help: 'module whose default export is async () => (req, res) listener; default: the identity app',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_IDLE_TIMEOUT',
    kind: 'duration',
    default: '75s',
    help: 'close a kept-alive connection idle this long; must outlast nginx keepalive_timeout (60s)',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_MAX_PARAMS_SIZE',
    kind: 'int',
    default: '131072',
    help: 'largest FastCGI PARAMS stream or uwsgi vars block accepted, in bytes',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_HEADER_TIMEOUT',
    kind: 'duration',
    default: '10s',
    help: "time a client has to send a request's params (FastCGI BEGIN_REQUEST to the end of PARAMS, a uwsgi vars block from the connection on, HTTP headers); past it the connection is closed",
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_BODY_TIMEOUT',
    kind: 'duration',
    default: '60s',
    help: "time a client has to send a request's body once its params are in (while the app holds the input back, it does not count); past it the connection is closed",
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_MAX_CONNECTIONS',
    kind: 'int',
    default: '1024',
    help: 'connections a worker holds open at once, in every mode; past it new ones are closed at once and counted',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_FCGI_MAX_CONNS',
    kind: 'int',
    default: null,
    help: 'FastCGI connections a worker accepts at once (FCGI_MAX_CONNS); default GATEWAY_MAX_CONNECTIONS',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_FCGI_MAX_REQS',
    kind: 'int',
    default: '64',
    help: 'requests in flight on one multiplexed FastCGI connection (FCGI_MAX_REQS)',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_FCGI_MPXS_CONNS',
    kind: 'bool',
    default: 'true',
    help: 'accept several FastCGI requests at once on one connection (FCGI_MPXS_CONNS)',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_MAX_BUFFERED_BODY',
    kind: 'int',
    default: '1048576',
    help: 'request body bytes buffered per request before the connection is paused (or FCGI_OVERLOADED when multiplexed, also past this many for all the requests of one connection)',
  },
  {
    section: 'Protocol',
    name: 'GATEWAY_FCGI_STDERR',
    kind: 'bool',
    default: 'false',
    help: "send what the app writes to its error stream as FCGI_STDERR (nginx's error log)",
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM',
    kind: 'choice',
    choices: pmModes,
    default: 'static',
    help: 'static, dynamic or ondemand (as PHP-FPM pm)',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_MAX_CHILDREN',
    kind: 'int',
    default: null,
    help: 'worker cap; default: number of cores',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_START_SERVERS',
    kind: 'int',
    default: null,
    help: 'dynamic: workers at start; default (min_spare + max_spare) / 2',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_MIN_SPARE_SERVERS',
    kind: 'int',
    default: '1',
    help: 'dynamic: fewest spare workers (not busy, see below)',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_MAX_SPARE_SERVERS',
    kind: 'int',
    default: null,
    help: 'dynamic: most spare workers; default max_children',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_PROCESS_IDLE_TIMEOUT',
    kind: 'duration',
    default: '10s',
    help: 'ondemand: stop a worker with no request in flight for this long',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_BUSY_UTILIZATION',
    kind: 'int',
    default: '75',
    help: 'dynamic/ondemand: event-loop utilisation (percent) from which a worker counts as busy',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_MAX_REQUESTS',
    kind: 'int',
    default: '0',
    help: 'recycle a worker after N requests; 0 = never',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_PM_SCHEDULING',
    kind: 'choice',
    choices: ['shared', 'round-robin'],
    default: 'shared',
    help: 'shared: every worker accepts on the socket; round-robin: the master accepts and hands out connections',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_REQUEST_TERMINATE_TIMEOUT',
    kind: 'duration',
    default: '0',
    help: 'end a request that runs longer (504); 0 = off',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_REQUEST_SCOPE',
    kind: 'bool',
    default: 'true',
    help: "an exception thrown later from a request's callbacks fails that request only (an async scope per request); false: it replaces the worker instead (see Isolation)",
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_SLOWLOG_TIMEOUT',
    kind: 'duration',
    default: '0',
    help: 'log requests slower than this with the worker stack; 0 = off',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_SLOWLOG',
    kind: 'string',
    default: null,
    help: 'slow log file; default: the gateway log (stderr)',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_GRACEFUL_TIMEOUT',
    kind: 'duration',
    default: '30s',
    help: 'drain deadline on SIGTERM and reload',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_EMERGENCY_RESTART_THRESHOLD',
    kind: 'int',
    default: '10',
    help: 'worker deaths within the interval that trigger respawn back-off; 0 = off',
  },
  {
    section: 'Process manager',
    name: 'GATEWAY_EMERGENCY_RESTART_INTERVAL',
    kind: 'duration',
    default: '60s',
    help: 'window for the emergency restart threshold',
  },
  {
    section: 'Status',
    name: 'GATEWAY_STATUS_PATH',
    kind: 'string',
    default: '/gateway/status',
    help: 'pool status page (text, ?json, ?openmetrics, ?full); empty = off',
  },
  {
    section: 'Status',
    name: 'GATEWAY_PING_PATH',
    kind: 'string',
    default: '/gateway/ping',
    help: 'answers pong; empty = off',
  },
  {
    section: 'Status',
    name: 'GATEWAY_POOL_NAME',
    kind: 'string',
    default: 'www',
    help: 'pool name shown on the status page',
  },
  {
    section: 'Logging',
    name: 'GATEWAY_ACCESS_LOG',
    kind: 'bool',
    default: 'true',
    help: 'one JSON access-log line per request',
  },
  {
    section: 'Logging',
    name: 'GATEWAY_LOG_LEVEL',
    kind: 'choice',
    choices: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    help: 'gateway log level',
  },
  {
    section: 'CGI',
    name: 'GATEWAY_CGI_COMMAND',
    kind: 'string',
    default: null,
    help: 'program started per request in cgi mode; default: gateway bin/cgi.js, serving GATEWAY_APP',
  },
  {
    section: 'CGI',
    name: 'GATEWAY_CGI_ENV',
    kind: 'string',
    default: 'PATH,TZ,LANG,NODE_ENV,DATABASE_URL,DATABASE_URL_FILE,PG*,IDENTITY_*',
    help: "the gateway's own variables a CGI process gets (as PHP-FPM's clear_env and env[]), comma-separated, NAME or PREFIX*; request params give only CGI meta-variables and HTTP_*",
  },
  {
    section: 'CGI',
    name: 'GATEWAY_CGI_PARAMS',
    kind: 'string',
    default: null,
    help: "request params a CGI process also gets, as an auth module's (FED_*), NAME or PREFIX*; never HTTP_* nor a GATEWAY_CGI_ENV variable",
  },
  {
    section: 'CGI',
    name: 'GATEWAY_CGI_MAX_CHILDREN',
    kind: 'int',
    default: null,
    help: 'CGI processes running at once per worker; default: 2 x cores',
  },
  {
    section: 'CGI',
    name: 'GATEWAY_CGI_QUEUE',
    kind: 'int',
    default: '64',
    help: 'requests waiting for a CGI slot before 503 with Retry-After',
  },
  {
    section: 'CGI',
    name: 'GATEWAY_CGI_TIMEOUT',
    kind: 'duration',
    default: '30s',
    help: 'kill a CGI child running longer (504)',
  },
] as const satisfies readonly Declaration[];

export type VariableName = (typeof declarations)[number]['name'];

export interface GatewayConfig {
  protocol: Protocol;
  listen: ListenAddress;
  /** uid and gid of a unix socket; null: the gateway's own. */
  listenOwner: number | null;
  listenGroup: number | null;
  /** Permission bits of a unix socket. */
  listenMode: number;
  /** Parsed GATEWAY_LISTEN_ALLOWED_CLIENTS; null: every client. */
  listenAllowedClients: AllowedClients | null;
  backlog: number;
  app: string | null;
  idleTimeoutMs: number;
  maxParamsSize: number;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConnections: number;
  fcgiMaxConns: number;
  fcgiMaxReqs: number;
  fcgiMpxsConns: boolean;
  maxBufferedBody: number;
  fcgiStderr: boolean;
  pm: PmMode;
  pmMaxChildren: number;
  pmStartServers: number;
  pmMinSpareServers: number;
  pmMaxSpareServers: number;
  pmProcessIdleTimeoutMs: number;
  /** 0 to 1. */
  pmBusyUtilization: number;
  pmMaxRequests: number;
  pmScheduling: 'shared' | 'round-robin';
  requestTerminateTimeoutMs: number;
  /** Each request's listener runs in an AsyncLocalStorage scope (see http/adapter.ts). */
  requestScope: boolean;
  slowlogTimeoutMs: number;
  slowlog: string | null;
  gracefulTimeoutMs: number;
  emergencyRestartThreshold: number;
  emergencyRestartIntervalMs: number;
  statusPath: string;
  pingPath: string;
  poolName: string;
  accessLog: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  cgiCommand: string | null;
  /** Names and `PREFIX*` patterns of the gateway's variables passed to CGI processes. */
  cgiEnv: string[];
  /** Params (NAME or PREFIX*) a CGI child gets besides the meta-variables: what the web server adds. */
  cgiParams: string[];
  cgiMaxChildren: number;
  cgiQueue: number;
  cgiTimeoutMs: number;
}

function fail(name: string, value: string, expected: string): never {
  throw new GatewayError('GW_ERR_CONFIG', `${name}=${JSON.stringify(value)}: expected ${expected}`, {
    variable: name,
  });
}

export function parseListen(value: string, name = 'GATEWAY_LISTEN'): ListenAddress {
  if (value.startsWith('unix:')) {
    const path = value.slice(5);
    if (!path.startsWith('/')) fail(name, value, 'unix:/absolute/path');
    return { kind: 'unix', path };
  }
  const match =
    /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535)
    fail(name, value, 'host:port (port 1-65535) or unix:/path');
  // A bare port is loopback: the port trusts its clients, so other hosts must be asked for.
  return { kind: 'tcp', host: match[1] || match[2] || '127.0.0.1', port };
}

export function formatListen(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Seconds by default; accepts `ms`, `s`, `m` suffixes (`75s`, `250ms`, `2m`). */
export function parseDuration(value: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) fail(name, value, 'a duration such as 30, 30s, 500ms or 2m');
  const n = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(unit === 'ms' ? n : unit === 'm' ? n * 60_000 : n * 1000);
}

function parseInt10(value: string, name: string): number {
  if (!/^\d+$/.test(value.trim())) fail(name, value, 'a non-negative integer');
  return Number(value);
}

function parseBool(value: string, name: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return fail(name, value, 'true or false');
}

/** Octal permission bits such as 0660 or 660. */
function parseMode(value: string, name: string): number {
  if (!/^0?[0-7]{3}$/.test(value.trim())) fail(name, value, 'octal permission bits such as 0660');
  return Number.parseInt(value.trim(), 8);
}

function parseAllowedClients(value: string | null): AllowedClients | null {
  if (value === null) return null;
  try {
    return parseAllowList(value);
  } catch (err) {
    return fail('GATEWAY_LISTEN_ALLOWED_CLIENTS', value, (err as Error).message);
  }
}

/** `NAME,PREFIX*,…`: variable names, each optionally ending in one `*`. */
function parseNameList(value: string, name: string): string[] {
  const names = value
    .split(/[\s,]+/)
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const n of names)
    if (!/^(?:[A-Za-z_][A-Za-z0-9_]*)?\*?$/.test(n))
      fail(name, value, 'NAME or PREFIX* items, comma-separated');
  return names;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates every variable; throws GW_ERR_CONFIG naming the first bad one. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const raw = (name: VariableName): string | null => {
    const declared = declarations.find((d) => d.name === name);
    const value = env[name];
    return value !== undefined && value !== '' ? value : (declared?.default ?? null);
  };
  const choice = <T extends string>(name: VariableName): T => {
    const declared = declarations.find((d) => d.name === name) as Declaration;
    const value = raw(name) as string;
    if (!declared.choices?.includes(value)) fail(name, value, `one of ${declared.choices?.join(', ')}`);
    return value as T;
  };
  const int = (name: VariableName, fallback?: number): number => {
    const value = raw(name);
    return value === null ? (fallback as number) : parseInt10(value, name);
  };
  const duration = (name: VariableName): number => parseDuration(raw(name) as string, name);
  const bool = (name: VariableName): boolean => parseBool(raw(name) as string, name);

  const positiveDuration = (name: VariableName): number => {
    const ms = duration(name);
    if (ms <= 0) fail(name, raw(name) as string, 'a duration above 0');
    return ms;
  };
  const account = (name: VariableName, resolve: (value: string) => number | null, expected: string) => {
    const value = raw(name);
    if (value === null) return null;
    return resolve(value.trim()) ?? fail(name, value, expected);
  };
  const maxConnections = int('GATEWAY_MAX_CONNECTIONS');
  if (maxConnections < 1) fail('GATEWAY_MAX_CONNECTIONS', String(maxConnections), 'at least 1');

  const cores = availableParallelism();
  const pmMaxChildren = int('GATEWAY_PM_MAX_CHILDREN', cores);
  if (pmMaxChildren < 1) fail('GATEWAY_PM_MAX_CHILDREN', String(pmMaxChildren), 'at least 1');
  const pmMinSpareServers = int('GATEWAY_PM_MIN_SPARE_SERVERS');
  const pmMaxSpareServers = int('GATEWAY_PM_MAX_SPARE_SERVERS', pmMaxChildren);
  const pmStartServers = int(
    'GATEWAY_PM_START_SERVERS',
    Math.max(1, Math.floor((pmMinSpareServers + pmMaxSpareServers) / 2)),
  );
  const pm = choice<PmMode>('GATEWAY_PM');
  if (pm === 'dynamic') {
    // PHP-FPM's own checks: min_spare <= start_servers <= max_spare <= max_children.
    if (pmMaxSpareServers < 1 || pmMaxSpareServers > pmMaxChildren)
      fail('GATEWAY_PM_MAX_SPARE_SERVERS', String(pmMaxSpareServers), `1 to max_children (${pmMaxChildren})`);
    if (pmMinSpareServers > pmMaxSpareServers)
      fail(
        'GATEWAY_PM_MIN_SPARE_SERVERS',
        String(pmMinSpareServers),
        `at most max_spare (${pmMaxSpareServers})`,
      );
    if (pmStartServers < pmMinSpareServers || pmStartServers > pmMaxSpareServers)
      fail(
        'GATEWAY_PM_START_SERVERS',
        String(pmStartServers),
        `min_spare (${pmMinSpareServers}) to max_spare (${pmMaxSpareServers})`,
      );
  }
  const busy = int('GATEWAY_PM_BUSY_UTILIZATION');
  if (busy < 1 || busy > 100) fail('GATEWAY_PM_BUSY_UTILIZATION', String(busy), 'a percentage, 1 to 100');
  const statusPath = env.GATEWAY_STATUS_PATH ?? '/gateway/status';
  const pingPath = env.GATEWAY_PING_PATH ?? '/gateway/ping';
  for (const [name, path] of [
    ['GATEWAY_STATUS_PATH', statusPath],
    ['GATEWAY_PING_PATH', pingPath],
  ] as const) {
    if (path !== '' && !path.startsWith('/')) fail(name, path, 'an absolute path or empty');
  }

  return {
    protocol: choice<Protocol>('GATEWAY_PROTOCOL'),
    listen: parseListen(raw('GATEWAY_LISTEN') as string),
    listenOwner: account('GATEWAY_LISTEN_OWNER', userId, 'a user name or id'),
    listenGroup: account('GATEWAY_LISTEN_GROUP', groupId, 'a group name or id'),
    listenMode: parseMode(raw('GATEWAY_LISTEN_MODE') as string, 'GATEWAY_LISTEN_MODE'),
    listenAllowedClients: parseAllowedClients(raw('GATEWAY_LISTEN_ALLOWED_CLIENTS')),
    backlog: int('GATEWAY_BACKLOG'),
    app: raw('GATEWAY_APP'),
    idleTimeoutMs: duration('GATEWAY_IDLE_TIMEOUT'),
    maxParamsSize: int('GATEWAY_MAX_PARAMS_SIZE'),
    headerTimeoutMs: positiveDuration('GATEWAY_HEADER_TIMEOUT'),
    bodyTimeoutMs: positiveDuration('GATEWAY_BODY_TIMEOUT'),
    maxConnections,
    fcgiMaxConns: int('GATEWAY_FCGI_MAX_CONNS', maxConnections),
    fcgiMaxReqs: Math.max(1, int('GATEWAY_FCGI_MAX_REQS')),
    fcgiMpxsConns: bool('GATEWAY_FCGI_MPXS_CONNS'),
    maxBufferedBody: int('GATEWAY_MAX_BUFFERED_BODY'),
    fcgiStderr: bool('GATEWAY_FCGI_STDERR'),
    pm,
    pmMaxChildren,
    pmStartServers: Math.min(pmStartServers, pmMaxChildren),
    pmMinSpareServers,
    pmMaxSpareServers,
    pmProcessIdleTimeoutMs: duration('GATEWAY_PM_PROCESS_IDLE_TIMEOUT'),
    pmBusyUtilization: busy / 100,
    pmMaxRequests: int('GATEWAY_PM_MAX_REQUESTS'),
    pmScheduling: choice<'shared' | 'round-robin'>('GATEWAY_PM_SCHEDULING'),
    requestTerminateTimeoutMs: duration('GATEWAY_REQUEST_TERMINATE_TIMEOUT'),
    requestScope: bool('GATEWAY_REQUEST_SCOPE'),
    slowlogTimeoutMs: duration('GATEWAY_SLOWLOG_TIMEOUT'),
    slowlog: raw('GATEWAY_SLOWLOG'),
    gracefulTimeoutMs: duration('GATEWAY_GRACEFUL_TIMEOUT'),
    emergencyRestartThreshold: int('GATEWAY_EMERGENCY_RESTART_THRESHOLD'),
    emergencyRestartIntervalMs: duration('GATEWAY_EMERGENCY_RESTART_INTERVAL'),
    statusPath,
    pingPath,
    poolName: raw('GATEWAY_POOL_NAME') as string,
    accessLog: bool('GATEWAY_ACCESS_LOG'),
    logLevel: choice<GatewayConfig['logLevel']>('GATEWAY_LOG_LEVEL'),
    cgiCommand: raw('GATEWAY_CGI_COMMAND'),
    cgiEnv: parseNameList(raw('GATEWAY_CGI_ENV') ?? '', 'GATEWAY_CGI_ENV'),
    cgiParams: parseNameList(raw('GATEWAY_CGI_PARAMS') ?? '', 'GATEWAY_CGI_PARAMS'),
    cgiMaxChildren: int('GATEWAY_CGI_MAX_CHILDREN', cores * 2),
    cgiQueue: int('GATEWAY_CGI_QUEUE'),
    cgiTimeoutMs: duration('GATEWAY_CGI_TIMEOUT'),
  };
}
