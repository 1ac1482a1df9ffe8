/**
 * Runs a Node request listener as a classic CGI program (RFC 3875): the meta-variables come from
 * the environment, the body from stdin, and the CGI response goes to stdout. The same adapter
 * that serves FastCGI builds the request, so a listener behaves identically in every mode.
 */
import type { RequestListener } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { createNodeResponder } from '../http/adapter.js';
import { createLogger } from '../log.js';
import type { ResponseChannel } from '../session/types.js';
import { META_VARIABLES, PARAM_NAMES_VARIABLE } from './params.js';

export interface CgiIo {
  env?: NodeJS.ProcessEnv;
  stdin?: Readable;
  stdout?: Writable;
}

/**
 * The request's meta-variables out of the process environment: the headers (HTTP_*) and the
 * names the gateway's runner lists in GATEWAY_PARAM_NAMES (what the web server set); under
 * another CGI server, RFC 3875's meta-variables. The program's own variables (DATABASE_URL,
 * PATH…) are never the request's, so an app reading the web server's params never sees them.
 */
export function requestParams(env: NodeJS.ProcessEnv): string[] {
  const listed = env[PARAM_NAMES_VARIABLE];
  const named: ReadonlySet<string> =
    listed === undefined ? META_VARIABLES : new Set(listed.split(',').filter((n) => n !== ''));
  const params: string[] = [];
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && (name.startsWith('HTTP_') || named.has(name))) params.push(name, value);
  return params;
}

/** Serves exactly one request; resolves when the response has been written. */
export function serveCgiRequest(listener: RequestListener, io: CgiIo = {}): Promise<void> {
  const env = io.env ?? process.env;
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const params = requestParams(env);

  return new Promise<void>((resolve) => {
    let ended = false;
    const channel: ResponseChannel = {
      write: (chunk) => stdout.write(chunk),
      flush: () => {},
      onWritable: (callback) => {
        if (stdout.writableNeedDrain) stdout.once('drain', callback);
        else callback();
      },
      end: () => {
        ended = true;
        stdout.end(resolve);
      },
      fail: () => {
        // A CGI response ends with the program: an exit status that is not 0 says it failed.
        ended = true;
        process.exitCode = 1;
        stdout.end(resolve);
      },
      writeStderr: (chunk) => process.stderr.write(chunk),
      resumeInput: () => stdin.resume(),
      get aborted() {
        return ended;
      },
    };
    const log = createLogger({ level: 'warn', write: (line) => process.stderr.write(line) });
    const handle = createNodeResponder({ listener, log })(params, channel, {
      protocol: 'fastcgi',
      reused: false,
    });
    const length = Number(env.CONTENT_LENGTH || 0);
    if (!(length > 0) && !env.HTTP_TRANSFER_ENCODING) {
      handle.endBody();
      return;
    }
    stdin.on('data', (chunk: Buffer) => {
      if (!handle.body(chunk)) stdin.pause();
    });
    stdin.on('end', () => handle.endBody());
  });
}
