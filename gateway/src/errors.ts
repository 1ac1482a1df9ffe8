/**
 * The gateway's error table. Every error the gateway raises or logs has a stable
 * `GW_ERR_*` code listed here; docs/errors.md documents each one and a test keeps the two
 * in sync. Codec errors carry the stream offset at which the bad byte was found.
 */

export const errorTable = {
  // Configuration
  GW_ERR_CONFIG: 'invalid configuration',
  GW_ERR_LISTEN: 'cannot listen on the configured address',
  GW_ERR_APP_LOAD: 'the application module could not be loaded',

  // FastCGI codec
  GW_ERR_FCGI_VERSION: 'unsupported FastCGI protocol version',
  GW_ERR_FCGI_RECORD_LENGTH: 'record content length is invalid for its type',
  GW_ERR_FCGI_MGMT_ID: 'management record with a non-zero request id',
  GW_ERR_FCGI_NULL_ID: 'application record with request id 0',
  GW_ERR_FCGI_NAME_VALUE: 'malformed name-value pair',
  GW_ERR_FCGI_NUL_BYTE: 'NUL byte inside a name or value',
  GW_ERR_FCGI_TRUNCATED: 'connection closed inside a record',

  // FastCGI session
  GW_ERR_FCGI_PARAMS_TOO_LARGE: 'request parameters exceed the configured limit',
  GW_ERR_FCGI_DUPLICATE_ID: 'BEGIN_REQUEST for a request id that is already active',
  GW_ERR_FCGI_UNEXPECTED_RECORD: 'record not allowed in the state of its request',
  GW_ERR_FCGI_STDIN_OVERFLOW: 'request body exceeds CONTENT_LENGTH',

  // uwsgi codec
  GW_ERR_UWSGI_MODIFIER: 'unsupported uwsgi modifier1',
  GW_ERR_UWSGI_VARS_TOO_LARGE: 'uwsgi vars block exceeds the configured limit',
  GW_ERR_UWSGI_VAR_LENGTH: 'uwsgi var length runs past the vars block',
  GW_ERR_UWSGI_TRUNCATED: 'connection closed inside a uwsgi packet',
  GW_ERR_UWSGI_CONTENT_LENGTH: 'invalid CONTENT_LENGTH in uwsgi vars',
  GW_ERR_UWSGI_TRAILING_DATA: 'bytes after the end of the uwsgi request body',

  // CGI mapping
  GW_ERR_CGI_PARAMS: 'request parameters cannot form an HTTP request',
  GW_ERR_CGI_RESPONSE: 'malformed CGI response from a child process',
  GW_ERR_CGI_SPAWN: 'the CGI program could not be started',
  GW_ERR_CGI_TIMEOUT: 'the CGI program exceeded the request timeout',

  // Runtime
  GW_ERR_IDLE_TIMEOUT: 'connection idle for longer than the idle timeout',
  GW_ERR_HEADER_TIMEOUT: "a request's params did not arrive within the header timeout",
  GW_ERR_BODY_TIMEOUT: "a request's body did not arrive within the body timeout",
  GW_ERR_REQUEST_INPUT_TIMEOUT: "http mode: a request's headers or body did not arrive in time",
  GW_ERR_MAX_CONNECTIONS: 'connection refused: the worker holds its maximum of connections',
  GW_ERR_CLIENT_NOT_ALLOWED: 'connection refused: the client address is not in the allowed clients',
  GW_ERR_HANDLER: 'the application threw while handling a request',
  GW_ERR_UNCAUGHT: 'an exception no request owns escaped to the process: the worker is replaced',
  GW_ERR_REQUEST_TIMEOUT: 'request exceeded the terminate timeout',
  GW_ERR_WORKER_EXIT: 'a worker exited unexpectedly',
  GW_ERR_WORKER_STUCK: 'worker event loop stuck past the terminate timeout',
} as const;

export type GatewayErrorCode = keyof typeof errorTable;

export interface GatewayErrorContext {
  /** Absolute byte offset in the connection's input stream, for codec errors. */
  offset?: number;
  requestId?: number;
  [key: string]: unknown;
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: GatewayErrorCode;
  readonly context: GatewayErrorContext;

  constructor(code: GatewayErrorCode, detail?: string, context: GatewayErrorContext = {}, cause?: unknown) {
    super(detail ? `${errorTable[code]}: ${detail}` : errorTable[code], cause === undefined ? {} : { cause });
    this.code = code;
    this.context = context;
  }

  get offset(): number | undefined {
    return this.context.offset;
  }
}

export function isGatewayError(value: unknown, code?: GatewayErrorCode): value is GatewayError {
  return value instanceof GatewayError && (code === undefined || value.code === code);
}
