/**
 * CGI meta-variables (RFC 3875, as nginx sends them over FastCGI and uwsgi) to the parts of an
 * HTTP request a Node request listener sees. Pure: strings in, a plain object out.
 */
import { GatewayError } from '../errors.js';

/** Meta-variables as a flat list: name, value, name, value… (the order they arrived in). */
export type CgiParams = string[];

export interface RequestHead {
  method: string;
  url: string;
  httpVersionMajor: number;
  httpVersionMinor: number;
  /** Header names and values alternating, as node:http's `rawHeaders` (`headersOf` combines them). */
  rawHeaders: string[];
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  encrypted: boolean;
  /** Body length from CONTENT_LENGTH; `null` when the body is streamed with no known length. */
  contentLength: number | null;
  /** Whether a body follows at all. */
  hasBody: boolean;
  /** The meta-variables themselves, as they arrived (what `trustedParams` reads). */
  params: CgiParams;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Methods that need no check against the token grammar. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
const VERSION = /^HTTP\/(\d)\.(\d)$/;

// What a meta-variable is to the request head: one of these, or (for HTTP_*) the header name.
const IGNORED = 0;
const REQUEST_METHOD = 1;
const REQUEST_URI = 2;
const SCRIPT_NAME = 3;
const PATH_INFO = 4;
const QUERY_STRING = 5;
const SERVER_PROTOCOL = 6;
const CONTENT_LENGTH = 7;
const CONTENT_TYPE = 8;
const HTTPS = 9;
const REMOTE_ADDR = 10;
const REMOTE_PORT = 11;
const SERVER_ADDR = 12;
const SERVER_PORT = 13;
const SERVER_NAME = 14;
const META: Record<string, number> = {
  REQUEST_METHOD,
  REQUEST_URI,
  SCRIPT_NAME,
  PATH_INFO,
  QUERY_STRING,
  SERVER_PROTOCOL,
  CONTENT_LENGTH,
  CONTENT_TYPE,
  HTTPS,
  REMOTE_ADDR,
  REMOTE_PORT,
  SERVER_ADDR,
  SERVER_PORT,
  SERVER_NAME,
};

/** `HTTP_X_AUTH_TOKEN` → `x-auth-token`. */
function headerNameOf(variable: string): string {
  return variable.slice(5).toLowerCase().replaceAll('_', '-');
}

/**
 * The same few dozen names arrive on every request: each is classified once, and found again
 * with one map lookup (when the guess by position in buildRequestHead misses).
 */
const kinds = new Map<string, number | string>();
function kindOf(name: string): number | string {
  let kind = kinds.get(name);
  if (kind === undefined) {
    if (name.startsWith('HTTP_')) {
      // CONTENT_* travel as their own meta-variables; nginx sends the HTTP_ copies too.
      kind = name === 'HTTP_CONTENT_LENGTH' || name === 'HTTP_CONTENT_TYPE' ? IGNORED : headerNameOf(name);
    } else {
      kind = Object.hasOwn(META, name) ? (META[name] as number) : IGNORED;
    }
    if (kinds.size < 1024) kinds.set(name, kind);
  }
  return kind;
}

/** The names of the last request by position (the first MAX_REMEMBERED), and what they were. */
const MAX_REMEMBERED = 128;
const lastNames: string[] = [];
const lastKinds: Array<number | string> = [];

function port(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

export function buildRequestHead(params: CgiParams): RequestHead {
  const rawHeaders: string[] = [];
  let method = 'GET';
  let requestUri: string | undefined;
  let scriptName = '';
  let pathInfo = '';
  let queryString = '';
  let protocol = 'HTTP/1.1';
  let contentLength = '';
  let contentType = '';
  let https = '';
  let remoteAddress: string | undefined;
  let remotePort: string | undefined;
  let serverAddr: string | undefined;
  let serverPort: string | undefined;
  let serverName: string | undefined;
  let hasHost = false;
  let hasTransferEncoding = false;

  for (let i = 0; i + 1 < params.length; i += 2) {
    const name = params[i] as string;
    // The web server sends its names in the same order every time: the name at this position
    // last time is usually this one, and comparing two strings is cheaper than hashing one.
    const slot = i >> 1;
    let kind: number | string;
    if (name === lastNames[slot]) kind = lastKinds[slot] as number | string;
    else {
      kind = kindOf(name);
      if (slot < MAX_REMEMBERED) {
        lastNames[slot] = name;
        lastKinds[slot] = kind;
      }
    }
    const value = params[i + 1] as string;
    if (typeof kind === 'string') {
      if (kind === 'host') hasHost = true;
      else if (kind === 'transfer-encoding') hasTransferEncoding = true;
      rawHeaders.push(kind, value);
      continue;
    }
    switch (kind) {
      case REQUEST_METHOD:
        method = value;
        break;
      case REQUEST_URI:
        requestUri = value;
        break;
      case SCRIPT_NAME:
        scriptName = value;
        break;
      case PATH_INFO:
        pathInfo = value;
        break;
      case QUERY_STRING:
        queryString = value;
        break;
      case SERVER_PROTOCOL:
        protocol = value;
        break;
      case CONTENT_LENGTH:
        contentLength = value;
        break;
      case CONTENT_TYPE:
        contentType = value;
        break;
      case HTTPS:
        https = value;
        break;
      case REMOTE_ADDR:
        remoteAddress = value;
        break;
      case REMOTE_PORT:
        remotePort = value;
        break;
      case SERVER_ADDR:
        serverAddr = value;
        break;
      case SERVER_PORT:
        serverPort = value;
        break;
      case SERVER_NAME:
        serverName = value;
        break;
    }
  }

  if (!KNOWN_METHODS.has(method) && !METHOD.test(method))
    throw new GatewayError('GW_ERR_CGI_PARAMS', `REQUEST_METHOD ${JSON.stringify(method)}`);
  // nginx sends CONTENT_TYPE and CONTENT_LENGTH even when empty; an empty one is no header at all
  // (as content-length: '' fastify would answer 415 or 400).
  if (contentType !== '') rawHeaders.push('content-type', contentType);
  let length: number | null = 0;
  if (contentLength !== '') {
    if (!/^\d{1,15}$/.test(contentLength)) {
      throw new GatewayError('GW_ERR_CGI_PARAMS', `CONTENT_LENGTH ${JSON.stringify(contentLength)}`);
    }
    length = Number(contentLength);
    rawHeaders.push('content-length', contentLength);
  } else if (hasTransferEncoding) {
    // FastCGI with request buffering off: a chunked upload streams with no known length. The
    // transfer-encoding header stays, so the app knows a body follows.
    length = null;
  }
  if (!hasHost && serverName) {
    rawHeaders.push(
      'host',
      serverPort && serverPort !== '80' && serverPort !== '443' ? `${serverName}:${serverPort}` : serverName,
    );
  }

  let major = 1;
  let minor = 1;
  if (protocol === 'HTTP/1.0') minor = 0;
  else if (protocol !== 'HTTP/1.1') {
    const version = VERSION.exec(protocol);
    if (version) {
      major = Number(version[1]);
      minor = Number(version[2]);
    }
  }
  const url = requestUri ?? `${scriptName}${pathInfo}${queryString ? `?${queryString}` : ''}`;
  return {
    method,
    url: url === '' ? '/' : url,
    httpVersionMajor: major,
    httpVersionMinor: minor,
    rawHeaders,
    remoteAddress,
    remotePort: port(remotePort),
    localAddress: serverAddr,
    localPort: port(serverPort),
    encrypted: https.toLowerCase() === 'on' || https === '1',
    contentLength: length,
    hasBody: length === null || length > 0,
    params,
  };
}

/**
 * The meta-variables the web server set itself, by name: every one but the HTTP_* copies of
 * the client's headers (which the client chose) and HTTP_PROXY's kind. REMOTE_USER, AUTH_TYPE and
 * whatever `fastcgi_param` / `uwsgi_param` lines add (an auth module's results) are here; a client
 * can put nothing here that nginx did not. The last of a repeated name wins, as in PHP-FPM and
 * as buildRequestHead reads REMOTE_ADDR and the others.
 */
export function trustedParams(params: CgiParams): Readonly<Record<string, string>> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i + 1 < params.length; i += 2) {
    const name = params[i] as string;
    if (name.startsWith('HTTP_')) continue;
    out[name] = params[i + 1] as string;
  }
  return Object.freeze(out);
}

// node:http keeps the first of these when a request repeats them (IncomingMessage._addHeaderLine).
const FIRST_WINS = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** `req.headers` from raw header pairs, combining duplicates exactly as node:http does. */
export function headersOf(rawHeaders: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = rawHeaders[i + 1] as string;
    const previous = headers[name];
    if (previous === undefined) {
      headers[name] = name === 'set-cookie' ? [value] : value;
    } else if (name === 'set-cookie') {
      (previous as string[]).push(value);
    } else if (!FIRST_WINS.has(name)) {
      headers[name] = `${previous}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return headers;
}

/**
 * The request params a CGI process gets as environment variables: RFC 3875's meta-variables (§4.1)
 * and those web servers add (nginx's fastcgi_params, Apache's mod_cgi). Everything else a client
 * of the gateway port sends (NODE_OPTIONS, LD_PRELOAD, PATH, PGHOST, IDENTITY_*…) would configure
 * the process instead of describing the request, so it never becomes its environment.
 */
export const META_VARIABLES: ReadonlySet<string> = new Set([
  'AUTH_TYPE',
  'CONTENT_LENGTH',
  'CONTENT_TYPE',
  'GATEWAY_INTERFACE',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'QUERY_STRING',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE',
  'DOCUMENT_ROOT',
  'DOCUMENT_URI',
  'HTTPS',
  'REDIRECT_STATUS',
  'REMOTE_PORT',
  'REQUEST_SCHEME',
  'REQUEST_URI',
  'SCRIPT_FILENAME',
  'SERVER_ADDR',
]);

/**
 * What tells the CGI program which of its environment variables the web server set for the
 * request (the rest came from the gateway's own environment): their names, comma-separated.
 */
export const PARAM_NAMES_VARIABLE = 'GATEWAY_PARAM_NAMES';
