/**
 * Classic CGI (RFC 3875) served the way fcgiwrap serves it: for each FastCGI request a fresh
 * process runs GATEWAY_CGI_COMMAND with the meta-variables in its environment and the body on its
 * stdin; its stdout (a CGI response) is relayed, its stderr goes to the error log. A cap bounds
 * the processes running at once; excess requests queue, and a full queue answers 503.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestHandle, Responder, ResponseChannel } from '../session/types.js';
import { type CgiParams, META_VARIABLES, PARAM_NAMES_VARIABLE } from './params.js';

const MAX_HEAD = 64 * 1024;
const HEAD_END = /\r?\n\r?\n/;

export interface CgiRunnerOptions {
  config: Pick<
    GatewayConfig,
    'cgiCommand' | 'cgiEnv' | 'cgiParams' | 'cgiMaxChildren' | 'cgiQueue' | 'cgiTimeoutMs'
  >;
  log: Logger;
  /** The gateway's own environment, from which `cgiEnv` picks; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A header's meta-variable (nginx: upper case, `-` as `_`); HTTP_PROXY is httpoxy's way in. */
const HEADER_VARIABLE = /^HTTP_[A-Z0-9_]+$/;

/**
 * The environment every CGI process starts from, as PHP-FPM's `clear_env = yes` plus `env[NAME] =
 * $NAME`: only the gateway's variables that `patterns` name (`NAME`, or `PREFIX*`; `*` is all).
 */
export function baseEnvironment(patterns: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    for (const pattern of patterns) {
      if (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern) {
        base[name] = value;
        break;
      }
    }
  }
  return base;
}

const matchesPattern = (name: string, patterns: readonly string[]) =>
  patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));

/**
 * The base environment plus the request's meta-variables and headers, and the params `extra`
 * names (GATEWAY_CGI_PARAMS: what the web server's auth module adds), and nothing else of it. A
 * param never replaces a variable of the base environment, nor an HTTP_* name counts as `extra`.
 */
export function childEnvironment(
  base: Readonly<Record<string, string>>,
  params: CgiParams,
  extra: readonly string[] = [],
): Record<string, string> {
  const env: Record<string, string> = { ...base };
  const names: string[] = [];
  for (let i = 0; i + 1 < params.length; i += 2) {
    const name = params[i] as string;
    if (HEADER_VARIABLE.test(name)) {
      if (name !== 'HTTP_PROXY') env[name] = params[i + 1] as string;
    } else if (
      META_VARIABLES.has(name) ||
      (extra.length > 0 &&
        !name.startsWith('HTTP_') &&
        !Object.hasOwn(base, name) &&
        matchesPattern(name, extra))
    ) {
      env[name] = params[i + 1] as string;
      names.push(name);
    }
  }
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  env[PARAM_NAMES_VARIABLE] = [...new Set(names)].join(',');
  return env;
}

/** The gateway's CGI program (bin/cgi.ts), which runs GATEWAY_APP through the adapter. */
export function defaultCgiCommand(): string[] {
  const entry = fileURLToPath(new URL('../bin/cgi.js', import.meta.url));
  return [process.execPath, entry];
}

/** Splits a command line on spaces; quotes group words. No shell is involved. */
export function parseCommand(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g))
    words.push(match[1] ?? match[2] ?? match[3] ?? '');
  if (words[0] === 'node') words[0] = process.execPath;
  return words;
}

function cannedResponse(channel: ResponseChannel, status: string, extra = ''): void {
  const body = `${status}\n`;
  channel.write(
    Buffer.from(
      `Status: ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`,
      'latin1',
    ),
  );
  channel.end();
}

/** Validates a CGI response head (`Name: value` lines); returns its length including the blank line, or -1. */
function headLength(buffer: Buffer): number {
  const text = buffer.toString('latin1', 0, Math.min(buffer.length, MAX_HEAD));
  const match = HEAD_END.exec(text);
  if (!match) return buffer.length >= MAX_HEAD ? -2 : -1;
  const lines = text.slice(0, match.index).split(/\r?\n/);
  for (const line of lines) if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(line)) return -2;
  return match.index + match[0].length;
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, signal);
  } catch {
    proc.kill(signal); // the group is already gone
  }
}

export function createCgiResponder(options: CgiRunnerOptions): Responder {
  const { config, log } = options;
  const command = config.cgiCommand ? parseCommand(config.cgiCommand) : defaultCgiCommand();
  const base = baseEnvironment(config.cgiEnv, options.env ?? process.env);
  let running = 0;
  const queue: Array<() => void> = [];
  const release = () => {
    running--;
    const next = queue.shift();
    if (next) next();
  };

  return (params: CgiParams, channel: ResponseChannel): RequestHandle => {
    const pendingBody: Buffer[] = [];
    let bodyEnded = false;
    let child: ChildProcess | null = null;
    let done = false;
    let cancelled = false;

    const start = () => {
      if (cancelled) {
        release();
        return;
      }
      const env = childEnvironment(base, params, config.cgiParams);
      let proc: ChildProcess;
      try {
        // Its own process group, so a timeout or an abort ends whatever the program started too.
        proc = spawn(command[0] as string, command.slice(1), {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
        });
      } catch (err) {
        log.error('CGI program could not start', {
          err: new GatewayError('GW_ERR_CGI_SPAWN', command.join(' '), {}, err),
        });
        finish('502 Bad Gateway');
        return;
      }
      child = proc;
      let released = false;
      proc.on('exit', () => {
        if (!released) {
          released = true;
          release();
        }
      });
      const timer = setTimeout(() => {
        log.warn('CGI program timed out, killed', { code: 'GW_ERR_CGI_TIMEOUT', pid: proc.pid });
        killGroup(proc, 'SIGKILL');
        finish('504 Gateway Timeout');
      }, config.cgiTimeoutMs);

      let head: Buffer | null = Buffer.alloc(0);
      proc.stdout?.on('data', (chunk: Buffer) => {
        if (done) return;
        if (head) {
          head = Buffer.concat([head, chunk]);
          const length = headLength(head);
          if (length === -1) return;
          if (length === -2) {
            log.warn('malformed CGI response', { code: 'GW_ERR_CGI_RESPONSE', pid: proc.pid });
            killGroup(proc, 'SIGKILL');
            finish('502 Bad Gateway');
            return;
          }
          chunk = head;
          head = null;
        }
        if (!channel.write(chunk)) {
          proc.stdout?.pause();
          channel.onWritable(() => proc.stdout?.resume());
        }
      });
      proc.stderr?.on('data', (chunk: Buffer) => channel.writeStderr(chunk));
      proc.stdin?.on('error', () => {}); // a child that exits without reading its body is not an error
      proc.on('error', (err) => {
        log.error('CGI program failed', {
          err: new GatewayError('GW_ERR_CGI_SPAWN', command.join(' '), {}, err),
        });
        clearTimeout(timer);
        if (!released) {
          released = true;
          release();
        }
        finish('502 Bad Gateway');
      });
      proc.on('close', (code, signal) => {
        clearTimeout(timer);
        if (done) return;
        if (head) {
          log.warn('CGI program ended without a response', {
            code: 'GW_ERR_CGI_RESPONSE',
            exit: code,
            signal,
          });
          finish('502 Bad Gateway');
          return;
        }
        done = true;
        channel.end();
      });
      for (const chunk of pendingBody) proc.stdin?.write(chunk);
      pendingBody.length = 0;
      if (bodyEnded) proc.stdin?.end();
    };

    const finish = (status: string) => {
      if (done) return;
      done = true;
      if (!channel.aborted) cannedResponse(channel, status);
    };

    if (running < config.cgiMaxChildren) {
      running++;
      start();
    } else if (queue.length < config.cgiQueue) {
      queue.push(() => {
        running++;
        start();
      });
    } else {
      done = true;
      cannedResponse(channel, '503 Service Unavailable', 'Retry-After: 1\r\n');
    }

    return {
      body(chunk: Buffer): boolean {
        if (done) return true;
        if (!child) {
          pendingBody.push(chunk);
          return true;
        }
        if (child.stdin?.write(chunk) !== false) return true;
        child.stdin.once('drain', () => channel.resumeInput());
        return false;
      },
      endBody(): void {
        bodyEnded = true;
        child?.stdin?.end();
      },
      abort(): void {
        done = true;
        if (child) killGroup(child, 'SIGTERM');
        else cancelled = true; // still queued: start() releases the slot without running it
      },
    };
  };
}
