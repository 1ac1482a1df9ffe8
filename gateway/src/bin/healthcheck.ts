#!/usr/bin/env node
/**
 * gatehouse-healthcheck: asks the gateway for its ping path over the protocol it is configured for
 * (GATEWAY_PROTOCOL, GATEWAY_LISTEN, GATEWAY_PING_PATH), the way nginx would ask, and exits 0 when
 * the answer is 200 "pong", 1 otherwise with one line saying why. A container's HEALTHCHECK runs
 * it; a wildcard listen address (0.0.0.0, ::) is reached on loopback.
 *
 *   gatehouse-healthcheck [--timeout SECONDS]
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { type GatewayConfig, loadConfig } from '../config.js';
import { isGatewayError } from '../errors.js';
import {
  encodeBeginRequest,
  encodeParams,
  encodeRecord,
  FastcgiDecoder,
  RecordType,
  Role,
} from '../protocol/fastcgi/index.js';
import { encodeRequest } from '../protocol/uwsgi/index.js';

interface Answer {
  status: number;
  body: string;
}

type Target = { path: string } | { host: string; port: number };

function target(config: GatewayConfig): Target {
  const listen = config.listen;
  if (listen.kind === 'unix') return { path: listen.path };
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return { host, port: listen.port };
}

function open(to: Target): Socket {
  return 'path' in to ? connect(to.path) : connect(to.port, to.host);
}

/** The CGI meta-variables nginx's snippets send, for a GET of `path`. */
function metaVariables(path: string): Array<[string, string]> {
  return [
    ['REQUEST_METHOD', 'GET'],
    ['REQUEST_URI', path],
    ['DOCUMENT_URI', path],
    ['SCRIPT_NAME', path],
    ['PATH_INFO', path],
    ['QUERY_STRING', ''],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', 'gatehouse-healthcheck'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['SERVER_NAME', 'localhost'],
    ['SERVER_PORT', '80'],
    ['HTTP_HOST', 'localhost'],
  ];
}

/** Splits a CGI response head (`Status: 200 OK`) or an HTTP one (`HTTP/1.1 200 OK`) from its body. */
function parseResponse(bytes: Buffer): Answer {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no response head in ${JSON.stringify(text.slice(0, 120))}`);
  const head = text.slice(0, end);
  const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(head) ?? /^Status:\s*(\d{3})/im.exec(head);
  return { status: statusLine ? Number(statusLine[1]) : 200, body: text.slice(end + 4) };
}

function askFastcgi(to: Target, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = open(to);
    const decoder = new FastcgiDecoder();
    const stdout: Buffer[] = [];
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write(
        Buffer.concat([
          encodeBeginRequest(1, Role.Responder, 0),
          encodeParams(1, metaVariables(path)),
          encodeRecord(RecordType.Stdin, 1),
        ]),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (record) => {
          if (record.kind === 'stream' && record.type === RecordType.Stdout) stdout.push(record.data);
          if (record.kind === 'end-request') {
            socket.destroy();
            resolve(parseResponse(Buffer.concat(stdout)));
          }
        });
      } catch (err) {
        socket.destroy();
        reject(err);
      }
    });
    socket.on('close', () => reject(new Error('connection closed before END_REQUEST')));
  });
}

function askUwsgi(to: Target, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = open(to);
    const parts: Buffer[] = [];
    socket.on('error', reject);
    socket.on('connect', () => socket.write(encodeRequest(metaVariables(path))));
    socket.on('data', (chunk: Buffer) => parts.push(chunk));
    // uwsgi ends a response by closing the connection.
    socket.on('end', () => {
      try {
        resolve(parseResponse(Buffer.concat(parts)));
      } catch (err) {
        reject(err);
      }
    });
  });
}

function askHttp(to: Target, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const where = 'path' in to ? { socketPath: to.path } : { host: to.host, port: to.port };
    const req = httpRequest({ ...where, path, headers: { connection: 'close' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<number> {
  const at = process.argv.indexOf('--timeout');
  const timeoutSeconds = at === -1 ? 5 : Number(process.argv[at + 1]);
  if (!(timeoutSeconds > 0)) {
    process.stderr.write('gatehouse-healthcheck: --timeout takes a positive number of seconds\n');
    return 2;
  }
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${isGatewayError(err) ? err.message : String(err)}\n`);
    return 1;
  }
  if (config.pingPath === '') {
    process.stderr.write('gatehouse-healthcheck: GATEWAY_PING_PATH is empty, nothing to ask\n');
    return 1;
  }
  const to = target(config);
  const ask = config.protocol === 'uwsgi' ? askUwsgi : config.protocol === 'http' ? askHttp : askFastcgi;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutSeconds}s`)), timeoutSeconds * 1000);
  });
  const where = 'path' in to ? `unix:${to.path}` : `${to.host}:${to.port}`;
  try {
    const answer = await Promise.race([ask(to, config.pingPath), deadline]);
    if (answer.status !== 200 || answer.body.trim() !== 'pong') {
      process.stderr.write(
        `gatehouse-healthcheck: ${config.protocol} ${where}${config.pingPath} answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 80))}\n`,
      );
      return 1;
    }
    process.stdout.write(`${config.protocol} ${where}${config.pingPath}: pong\n`);
    return 0;
  } catch (err) {
    process.stderr.write(
      `gatehouse-healthcheck: ${config.protocol} ${where}${config.pingPath}: ${(err as Error).message}\n`,
    );
    return 1;
  } finally {
    clearTimeout(timer);
  }
}

process.exitCode = await main();
