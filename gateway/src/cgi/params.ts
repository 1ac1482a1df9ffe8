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
  /** Header names and values alternating, as node:http's `rawHeaders`. */
  rawHeaders: string[];
  /** Headers as node:http's `req.headers`, duplicates combined by the same rules. */
  headers: Record<string, string | string[]>;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  encrypted: boolean;
  /** Body length from CONTENT_LENGTH; `null` when the body is streamed with no known length. */
  contentLength: number | null;
  /** Whether a body follows at all. */
  hasBody: boolean;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const headerNames = new Map<string, string>();

/** `HTTP_X_AUTH_TOKEN` → `x-auth-token` (cached: the same few names arrive on every request). */
export function headerNameOf(variable: string): string {
  let name = headerNames.get(variable);
  if (name === undefined) {
    name = variable.slice(5).toLowerCase().replaceAll('_', '-');
    if (headerNames.size < 1024) headerNames.set(variable, name);
  }
  return name;
}

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
    const value = params[i + 1] as string;
    if (name.charCodeAt(0) === 72 /* H */ && name.startsWith('HTTP_')) {
      // CONTENT_* travel as their own meta-variables; nginx sends the HTTP_ copies too.
      if (name === 'HTTP_CONTENT_LENGTH' || name === 'HTTP_CONTENT_TYPE') continue;
      if (name === 'HTTP_HOST') hasHost = true;
      else if (name === 'HTTP_TRANSFER_ENCODING') hasTransferEncoding = true;
      rawHeaders.push(headerNameOf(name), value);
      continue;
    }
    switch (name) {
      case 'REQUEST_METHOD':
        method = value;
        break;
      case 'REQUEST_URI':
        requestUri = value;
        break;
      case 'SCRIPT_NAME':
        scriptName = value;
        break;
      case 'PATH_INFO':
        pathInfo = value;
        break;
      case 'QUERY_STRING':
        queryString = value;
        break;
      case 'SERVER_PROTOCOL':
        protocol = value;
        break;
      case 'CONTENT_LENGTH':
        contentLength = value;
        break;
      case 'CONTENT_TYPE':
        contentType = value;
        break;
      case 'HTTPS':
        https = value;
        break;
      case 'REMOTE_ADDR':
        remoteAddress = value;
        break;
      case 'REMOTE_PORT':
        remotePort = value;
        break;
      case 'SERVER_ADDR':
        serverAddr = value;
        break;
      case 'SERVER_PORT':
        serverPort = value;
        break;
      case 'SERVER_NAME':
        serverName = value;
        break;
    }
  }

  if (!METHOD.test(method))
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

  const headers = headersOf(rawHeaders);
  const version = /^HTTP\/(\d)\.(\d)$/.exec(protocol);
  const url = requestUri ?? `${scriptName}${pathInfo}${queryString ? `?${queryString}` : ''}`;
  return {
    method,
    url: url === '' ? '/' : url,
    httpVersionMajor: version ? Number(version[1]) : 1,
    httpVersionMinor: version ? Number(version[2]) : 1,
    rawHeaders,
    headers,
    remoteAddress,
    remotePort: port(remotePort),
    localAddress: serverAddr,
    localPort: port(serverPort),
    encrypted: https.toLowerCase() === 'on' || https === '1',
    contentLength: length,
    hasBody: length === null || length > 0,
  };
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
