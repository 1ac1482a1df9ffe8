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

export interface CgiIo {
  env?: NodeJS.ProcessEnv;
  stdin?: Readable;
  stdout?: Writable;
}

/** Serves exactly one request; resolves when the response has been written. */
export function serveCgiRequest(listener: RequestListener, io: CgiIo = {}): Promise<void> {
  const env = io.env ?? process.env;
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const params: string[] = [];
  for (const [name, value] of Object.entries(env)) if (value !== undefined) params.push(name, value);

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
