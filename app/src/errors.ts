/**
 * The identity service's error table: stable `IDN_ERR_*` codes, each with Keystone's status and
 * title. Every error leaves the service as Keystone's body {"error":{"code","title","message"}}.
 */
export const errorTable = {
  IDN_ERR_VALIDATION: { status: 400, title: 'Bad Request' },
  IDN_ERR_UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  IDN_ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  IDN_ERR_NOT_FOUND: { status: 404, title: 'Not Found' },
  IDN_ERR_TOKEN_NOT_FOUND: { status: 404, title: 'Not Found' },
  IDN_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed' },
  IDN_ERR_CONFLICT: { status: 409, title: 'Conflict' },
  IDN_ERR_TOO_LARGE: { status: 413, title: 'Request Entity Too Large' },
  IDN_ERR_UNSUPPORTED_MEDIA: { status: 415, title: 'Unsupported Media Type' },
  IDN_ERR_INTERNAL: { status: 500, title: 'Internal Server Error' },
  IDN_ERR_CONFIG: { status: 500, title: 'Internal Server Error' },
} as const;

export type IdentityErrorCode = keyof typeof errorTable;

/** Keystone's wording for 401: details stay in the log, never in the response. */
export const UNAUTHORIZED_MESSAGE = 'The request you have made requires authentication.';

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;
  readonly status: number;
  readonly title: string;
  /** Logged, never sent: why an authentication failed. */
  readonly detail: string | undefined;

  constructor(code: IdentityErrorCode, message: string, options: { detail?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.status = errorTable[code].status;
    this.title = errorTable[code].title;
    this.detail = options.detail;
  }

  body(): { error: { code: number; title: string; message: string } } {
    return { error: { code: this.status, title: this.title, message: this.message } };
  }
}

export const unauthorized = (detail: string) =>
  new IdentityError('IDN_ERR_UNAUTHORIZED', UNAUTHORIZED_MESSAGE, { detail });
export const notFound = (type: string, id: string) =>
  new IdentityError('IDN_ERR_NOT_FOUND', `Could not find ${type}: ${id}.`);
export const validation = (message: string) => new IdentityError('IDN_ERR_VALIDATION', message);
export const forbidden = () =>
  new IdentityError('IDN_ERR_FORBIDDEN', 'You are not authorized to perform the requested action.');
