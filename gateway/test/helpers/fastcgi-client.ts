/**
 * A small FastCGI client written from the specification, for tests: it speaks as a web server
 * (BEGIN_REQUEST, PARAMS, STDIN), multiplexes when asked (nginx never does), and records every
 * record it receives.
 */
import { connect, type Socket } from 'node:net';
import {
  encodeBeginRequest,
  encodeGetValues,
  encodeParams,
  encodeRecord,
  encodeStream,
  FastcgiDecoder,
  type FastcgiRecord,
  FCGI_KEEP_CONN,
  RecordType,
  Role,
} from '../../src/protocol/fastcgi/index.js';

export interface FastcgiResult {
  stdout: Buffer;
  stderr: Buffer;
  appStatus: number;
  protocolStatus: number;
}

export interface RequestOptions {
  requestId?: number;
  keepConn?: boolean;
  role?: number;
  params: Record<string, string> | Array<[string, string]>;
  stdin?: Buffer | Buffer[];
  /** Split STDIN into records of this many bytes (default 32 KiB, as nginx). */
  stdinChunkSize?: number;
}

interface Pending {
  stdout: Buffer[];
  stderr: Buffer[];
  resolve: (result: FastcgiResult) => void;
}

export class FastcgiClient {
  readonly records: FastcgiRecord[] = [];
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #decoder = new FastcgiDecoder();
  readonly #pending = new Map<number, Pending>();
  #valueWaiters: Array<(pairs: Map<string, string>) => void> = [];
  readonly #recordWaiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#decoder.push(chunk, (record) => this.#onRecord(record)));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static connect(address: { host: string; port: number } | { path: string }): Promise<FastcgiClient> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
      socket.once('connect', () => resolve(new FastcgiClient(socket)));
      socket.once('error', reject);
    });
  }

  request(options: RequestOptions): Promise<FastcgiResult> {
    const id = options.requestId ?? 1;
    const pairs = Array.isArray(options.params) ? options.params : Object.entries(options.params);
    const result = new Promise<FastcgiResult>((resolve) => {
      this.#pending.set(id, { stdout: [], stderr: [], resolve });
    });
    const out: Buffer[] = [
      encodeBeginRequest(id, options.role ?? Role.Responder, options.keepConn ? FCGI_KEEP_CONN : 0),
      encodeParams(id, pairs),
    ];
    const body = Array.isArray(options.stdin)
      ? Buffer.concat(options.stdin)
      : (options.stdin ?? Buffer.alloc(0));
    const size = options.stdinChunkSize ?? 32 * 1024;
    for (let at = 0; at < body.length; at += size) {
      out.push(...encodeStream(RecordType.Stdin, id, body.subarray(at, Math.min(at + size, body.length))));
    }
    out.push(encodeRecord(RecordType.Stdin, id));
    this.#socket.write(Buffer.concat(out));
    return result;
  }

  getValues(names: string[]): Promise<Map<string, string>> {
    const result = new Promise<Map<string, string>>((resolve) => this.#valueWaiters.push(resolve));
    this.#socket.write(encodeGetValues(names));
    return result;
  }

  /** Resolves with the first record received (already, or as records arrive) that `match` accepts. */
  record(match: (record: FastcgiRecord) => boolean): Promise<FastcgiRecord> {
    return new Promise((resolve) => {
      const check = () => {
        const found = this.records.find(match);
        if (!found) return;
        this.#recordWaiters.delete(check);
        resolve(found);
      };
      this.#recordWaiters.add(check);
      check();
    });
  }

  sendRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  close(): void {
    this.#socket.destroy();
  }

  #onRecord(record: FastcgiRecord): void {
    this.records.push(record);
    for (const check of this.#recordWaiters) check();
    if (record.kind === 'get-values-result') {
      this.#valueWaiters.shift()?.(new Map(record.pairs));
      return;
    }
    if (record.kind === 'stream') {
      const pending = this.#pending.get(record.requestId);
      if (record.type === RecordType.Stdout) pending?.stdout.push(record.data);
      else if (record.type === RecordType.Stderr) pending?.stderr.push(record.data);
      return;
    }
    if (record.kind === 'end-request') {
      const pending = this.#pending.get(record.requestId);
      if (!pending) return;
      this.#pending.delete(record.requestId);
      pending.resolve({
        stdout: Buffer.concat(pending.stdout),
        stderr: Buffer.concat(pending.stderr),
        appStatus: record.appStatus,
        protocolStatus: record.protocolStatus,
      });
    }
  }
}

export interface CgiResponse {
  status: number;
  /** The reason phrase after the code in `Status:`; empty without one. */
  reason: string;
  headers: Record<string, string[]>;
  body: Buffer;
}

/** Splits a CGI response: status from `Status:`, 302 when only `Location` is given, else 200. */
export function parseCgiResponse(stdout: Buffer): CgiResponse {
  let end = stdout.indexOf('\r\n\r\n');
  let sep = 4;
  if (end === -1) {
    end = stdout.indexOf('\n\n');
    sep = 2;
  }
  if (end === -1)
    throw new Error(`no CGI head in ${JSON.stringify(stdout.toString('latin1').slice(0, 200))}`);
  const headers: Record<string, string[]> = {};
  for (const line of stdout.toString('latin1', 0, end).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed CGI header line ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers[name] ?? [];
    list.push(line.slice(colon + 1).trim());
    headers[name] = list;
  }
  const status = headers.status ? Number(headers.status[0]?.split(' ')[0]) : headers.location ? 302 : 200;
  const reason = headers.status?.[0]?.replace(/^\d+\s*/, '') ?? '';
  return { status, reason, headers, body: stdout.subarray(end + sep) };
}
