/**
 * One JSON object per line on stderr, through pino: {"level":"info","time":"…","msg":…, fields}.
 * The identity app logs the same shape (app/src/log.ts), so the gateway's and the app's lines
 * read alike. Workers' lines carry their worker id; the master relays nothing: workers inherit
 * stderr, so lines from every process reach the same log.
 *
 * A worker's stderr is written through pino's asynchronous destination (sonic-boom): a line is
 * queued and written when the fd can take it, instead of a blocking write(2) per line on the
 * request path (node writes to files and pipes synchronously). Lines still queued when the process
 * exits are flushed synchronously by pino's exit hook; a process killed by SIGKILL loses them. The
 * master, which logs little, writes synchronously (gateway/src/bin/gateway.ts).
 */
import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  enabled(level: LogLevel): boolean;
  /** Writes every line queued or being written, then takes no more: for a process about to exit. */
  close(): Promise<void>;
}

export interface LoggerOptions {
  level?: LogLevel;
  fields?: LogFields;
  /** Where lines go, one call per line (tests); by default stderr through the asynchronous destination. */
  write?: (line: string) => void;
  /** stderr written synchronously (the master, the benchmark's baseline, the CGI program's single request). */
  sync?: boolean;
}

/** The pino options both packages share: level as its name, ISO time, no hostname, errors with stack. */
export const pinoOptions = {
  base: null,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
  serializers: { err: pino.stdSerializers.err },
} as const;

function wrap(p: pino.Logger, close: () => Promise<void>): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (fields) => wrap(p.child(fields), close),
    enabled: (level) => p.isLevelEnabled(level),
    close,
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const root = (destination: pino.DestinationStream) => {
    const p = pino({ ...pinoOptions, level: options.level ?? 'info' }, destination);
    return options.fields ? p.child(options.fields) : p;
  };
  const write = options.write;
  if (write) return wrap(root({ write: (line: string) => write(line) }), async () => {});
  const destination = pino.destination({ fd: 2, sync: options.sync ?? false });
  // sonic-boom's end() waits for a write in flight (a flushSync would skip it) and leaves fd 2 open.
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      destination.once('close', () => resolve());
      destination.once('error', () => resolve());
      destination.end();
    }));
  return wrap(root(destination), close);
}
