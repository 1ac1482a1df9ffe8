/**
 * The identity service's error table: stable `IDN_ERR_*` codes, each with Keystone's status and
 * title. Every error leaves the service as Keystone's body {"error":{"code","title","message"}}.
 */
export const errorTable = {
  IDN_ERR_VALIDATION: { status: 400, title: 'Bad Request' },
  IDN_ERR_UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  IDN_ERR_UNSUPPORTED_METHOD: { status: 401, title: 'Unauthorized' },
  IDN_ERR_ACCOUNT_LOCKED: { status: 401, title: 'Unauthorized' },
  IDN_ERR_PASSWORD_EXPIRED: { status: 401, title: 'Unauthorized' },
  IDN_ERR_PASSWORD_HISTORY: { status: 400, title: 'Bad Request' },
  IDN_ERR_PASSWORD_AGE: { status: 400, title: 'Bad Request' },
  IDN_ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  IDN_ERR_NOT_FOUND: { status: 404, title: 'Not Found' },
  IDN_ERR_TOKEN_NOT_FOUND: { status: 404, title: 'Not Found' },
  IDN_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed' },
  IDN_ERR_CONFLICT: { status: 409, title: 'Conflict' },
  IDN_ERR_TOO_LARGE: { status: 413, title: 'Request Entity Too Large' },
  IDN_ERR_UNSUPPORTED_MEDIA: { status: 415, title: 'Unsupported Media Type' },
  IDN_ERR_INTERNAL: { status: 500, title: 'Internal Server Error' },
  IDN_ERR_UNAVAILABLE: { status: 503, title: 'Service Unavailable' },
  IDN_ERR_CONFIG: { status: 500, title: 'Internal Server Error' },
  // Token codecs: bytes that do not decode. The token service answers them as TokenNotFound
  // (Keystone's "Could not recognize Fernet token"), so their status is that one's.
  IDN_ERR_MSGPACK: { status: 404, title: 'Not Found' },
  IDN_ERR_TOKEN_PAYLOAD: { status: 404, title: 'Not Found' },
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
  /** More members of the body's "error" object (Keystone adds "identity" to auth errors). */
  readonly extra: Record<string, unknown> | undefined;
  /** Response headers that go with the error (Retry-After on a 503). */
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: IdentityErrorCode,
    message: string,
    options: {
      detail?: string;
      cause?: unknown;
      extra?: Record<string, unknown>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.status = errorTable[code].status;
    this.title = errorTable[code].title;
    this.detail = options.detail;
    this.extra = options.extra;
    this.headers = options.headers;
  }

  body(): Record<string, unknown> {
    return { error: { code: this.status, title: this.title, message: this.message, ...this.extra } };
  }
}

/**
 * Keystone's InsufficientAuthMethods, rendered as its receipt handler renders it: a 401 whose
 * body is the receipt and the rules that would complete the login, the receipt itself in the
 * Openstack-Auth-Receipt header, and no WWW-Authenticate.
 */
export class AuthReceiptRequired extends IdentityError {
  readonly #body: Record<string, unknown>;

  constructor(receipt: string, body: Record<string, unknown>, methods: readonly string[], userId: string) {
    super(
      'IDN_ERR_UNAUTHORIZED',
      `Insufficient auth methods received for ${userId}. Auth Methods Provided: [${methods.join(',')}].`,
      { headers: { 'openstack-auth-receipt': receipt }, detail: 'more authentication methods are required' },
    );
    this.#body = body;
  }

  override body(): Record<string, unknown> {
    return this.#body;
  }
}

export const unauthorized = (detail: string) =>
  new IdentityError('IDN_ERR_UNAUTHORIZED', UNAUTHORIZED_MESSAGE, { detail });
export const notFound = (type: string, id: string) =>
  new IdentityError('IDN_ERR_NOT_FOUND', `Could not find ${type}: ${id}.`);
export const validation = (message: string) => new IdentityError('IDN_ERR_VALIDATION', message);
/** Keystone's 409: "Conflict occurred attempting to store user - Duplicate entry found with …". */
export const conflict = (type: string, details: string) =>
  new IdentityError('IDN_ERR_CONFLICT', `Conflict occurred attempting to store ${type} - ${details}.`);
/** Keystone's ForbiddenNotSecurity: a 403 whose message says what rule the request broke. */
export const forbiddenAction = (message: string) => new IdentityError('IDN_ERR_FORBIDDEN', message);
/** PostgreSQL's unique_violation: a concurrent or repeated create of the same name. */
export const isUniqueViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
/** PostgreSQL's foreign_key_violation: a reference to a row that does not (or no longer) exist. */
export const isForeignKeyViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';
/** Keystone's ValidationError for a missing or unusable attribute. */
export const expectedAttribute = (attribute: string, target: string) =>
  validation(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
/** The methods Keystone lists in an unsupported-method error ([auth] methods). */
export const AUTH_METHODS = [
  'external',
  'password',
  'token',
  'oauth1',
  'mapped',
  'application_credential',
  'totp',
];
export const unsupportedMethod = (methods: string[]) =>
  new IdentityError('IDN_ERR_UNSUPPORTED_METHOD', 'Attempted to authenticate with an unsupported method.', {
    detail: `methods ${methods.join(', ')}`,
    extra: { identity: { methods: AUTH_METHODS } },
  });
export const accountLocked = (userId: string) =>
  new IdentityError('IDN_ERR_ACCOUNT_LOCKED', `The account is locked for user: ${userId}.`);
export const passwordExpired = (userId: string) =>
  new IdentityError(
    'IDN_ERR_PASSWORD_EXPIRED',
    `The password is expired and needs to be changed for user: ${userId}.`,
  );
export const passwordInHistory = (count: number) =>
  new IdentityError(
    'IDN_ERR_PASSWORD_HISTORY',
    `The new password cannot be identical to a previous password. The total number which includes the new password must be unique is ${count}.`,
  );
export const passwordTooYoung = (minDays: number, daysLeft: number) =>
  new IdentityError(
    'IDN_ERR_PASSWORD_AGE',
    `You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for ${minDays} day(s) before it can be changed. Please try again in ${daysLeft} day(s) or contact your administrator to reset your password.`,
  );
export const forbidden = () =>
  new IdentityError('IDN_ERR_FORBIDDEN', 'You are not authorized to perform the requested action.');

/** MessagePack bytes that do not decode; `offset` is where the decoder stood. */
export const msgpackError = (message: string, offset: number) =>
  new IdentityError('IDN_ERR_MSGPACK', `${message} at offset ${offset}`);

/** A msgpack value that is not one of Keystone's token payloads. */
export const payloadError = (message: string) => new IdentityError('IDN_ERR_TOKEN_PAYLOAD', message);
