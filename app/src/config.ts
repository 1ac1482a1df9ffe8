/**
 * Identity service configuration, declared once (name, kind, default, help). Keystone's option
 * names, prefixed IDENTITY_. Secrets also accept a *_FILE variant. A bad value stops start-up
 * with one line naming the variable.
 */
import { readFileSync } from 'node:fs';
import { IdentityError } from './errors.js';

type Kind = 'string' | 'int' | 'secret' | 'choice';
interface Declaration {
  readonly name: string;
  readonly kind: Kind;
  readonly default: string | null;
  readonly help: string;
  readonly choices?: readonly string[];
}

export const declarations = [
  {
    name: 'DATABASE_URL',
    kind: 'secret',
    default: null,
    help: 'PostgreSQL connection URL (or the PG* variables)',
  },
  {
    name: 'IDENTITY_PUBLIC_ENDPOINT',
    kind: 'string',
    default: null,
    help: 'base URL in links and the catalog; default: from the request (Host, HTTPS)',
  },
  {
    name: 'IDENTITY_ADMIN_PASSWORD',
    kind: 'secret',
    default: null,
    help: 'bootstrap: the admin user password',
  },
  {
    name: 'IDENTITY_ADMIN_USERNAME',
    kind: 'string',
    default: 'admin',
    help: 'bootstrap: the admin user name',
  },
  {
    name: 'IDENTITY_ADMIN_PROJECT',
    kind: 'string',
    default: 'admin',
    help: 'bootstrap: the admin project name',
  },
  {
    name: 'IDENTITY_REGION',
    kind: 'string',
    default: 'RegionOne',
    help: 'bootstrap: region of the identity endpoints',
  },
  { name: 'IDENTITY_TOKEN_EXPIRATION', kind: 'int', default: '3600', help: 'token lifetime in seconds' },
  {
    name: 'IDENTITY_ALLOW_EXPIRED_WINDOW',
    kind: 'int',
    default: '172800',
    help: 'seconds past expiry that ?allow_expired accepts',
  },
  {
    name: 'IDENTITY_OAUTH1_REQUEST_TOKEN_DURATION',
    kind: 'int',
    default: '28800',
    help: 'seconds an OAuth1 request token may wait for its authorization (0: forever)',
  },
  {
    name: 'IDENTITY_OAUTH1_ACCESS_TOKEN_DURATION',
    kind: 'int',
    default: '86400',
    help: 'seconds an OAuth1 access token can log in (0: forever)',
  },
  {
    name: 'IDENTITY_FERNET_KEY_REPOSITORY',
    kind: 'string',
    default: '/etc/gatehouse/fernet-keys',
    help: 'Fernet token key repository',
  },
  { name: 'IDENTITY_FERNET_MAX_ACTIVE_KEYS', kind: 'int', default: '3', help: 'keys kept by fernet-rotate' },
  {
    name: 'IDENTITY_CREDENTIAL_KEY_REPOSITORY',
    kind: 'string',
    default: '/etc/gatehouse/credential-keys',
    help: 'key repository for credential blobs',
  },
  {
    name: 'IDENTITY_RECEIPT_KEY_REPOSITORY',
    kind: 'string',
    default: '/etc/gatehouse/receipt-keys',
    help: 'Fernet key repository for auth receipts (multi-factor logins); see manage receipt-setup',
  },
  {
    name: 'IDENTITY_RECEIPT_MAX_ACTIVE_KEYS',
    kind: 'int',
    default: '3',
    help: 'keys kept by receipt-rotate',
  },
  {
    name: 'IDENTITY_RECEIPT_EXPIRATION',
    kind: 'int',
    default: '300',
    help: 'seconds an auth receipt stays valid: how long a user has to add the missing methods',
  },
  {
    name: 'IDENTITY_TOTP_INCLUDED_PREVIOUS_WINDOWS',
    kind: 'int',
    default: '1',
    help: 'earlier 30 s windows whose TOTP passcodes are still accepted, 0-10',
  },
  {
    name: 'IDENTITY_PASSWORD_HASH_ALGORITHM',
    kind: 'choice',
    choices: ['bcrypt', 'pbkdf2_sha512'],
    default: 'bcrypt',
    help: 'algorithm for new password hashes; stored hashes of either kind keep verifying',
  },
  {
    name: 'IDENTITY_PASSWORD_HASH_ROUNDS',
    kind: 'int',
    default: '12',
    help: 'bcrypt: cost 4-31; pbkdf2_sha512: iterations, 1000 or more',
  },
  {
    name: 'IDENTITY_PASSWORD_HASH_CONCURRENCY',
    kind: 'int',
    default: '1',
    help: 'password hashes computed at once per process (the rest queue); keeps cores for validation',
  },
  {
    name: 'IDENTITY_PASSWORD_HASH_NICE',
    kind: 'int',
    default: '10',
    help: 'how much nicer than the process the hashing threads run, 0-19: logins take what validation leaves',
  },
  {
    name: 'IDENTITY_MAX_PASSWORD_LENGTH',
    kind: 'int',
    default: '4096',
    help: 'longest password accepted (bcrypt itself reads the first 72 bytes)',
  },
  {
    name: 'IDENTITY_LOCKOUT_FAILURE_ATTEMPTS',
    kind: 'int',
    default: null,
    help: 'failed password authentications before the account is locked; unset: never',
  },
  {
    name: 'IDENTITY_LOCKOUT_DURATION',
    kind: 'int',
    default: '1800',
    help: 'seconds an account stays locked; 0: until an administrator re-enables the user',
  },
  {
    name: 'IDENTITY_PASSWORD_EXPIRES_DAYS',
    kind: 'int',
    default: null,
    help: 'days a new password stays valid; unset: passwords never expire',
  },
  {
    name: 'IDENTITY_UNIQUE_LAST_PASSWORD_COUNT',
    kind: 'int',
    default: '0',
    help: "a user's own new password must differ from this many latest ones, the current one included; 0: off",
  },
  {
    name: 'IDENTITY_MINIMUM_PASSWORD_AGE',
    kind: 'int',
    default: '0',
    help: 'days a password must be in use before its owner may change it again',
  },
  {
    name: 'IDENTITY_CHANGE_PASSWORD_UPON_FIRST_USE',
    kind: 'choice',
    choices: ['false', 'true'],
    default: 'false',
    help: 'true: a password set by an administrator (create, reset) is expired until its owner changes it',
  },
  {
    name: 'IDENTITY_CATALOG_ENDPOINT_FILTER',
    kind: 'choice',
    choices: ['true', 'false'],
    default: 'true',
    help: "true: a project-scoped catalog holds only the project's endpoints (OS-EP-FILTER) when it has any",
  },
  {
    name: 'IDENTITY_TRUST_MAX_REDELEGATION_COUNT',
    kind: 'int',
    default: '3',
    help: 'longest chain of trusts redelegated from one trust (Keystone [trust] max_redelegation_count)',
  },
  {
    name: 'IDENTITY_SAML_RELAY_STATE_PREFIX',
    kind: 'string',
    default: 'ss:mem:',
    help: "a new service provider's relay_state_prefix when its request gives none (Keystone's [saml])",
  },
  {
    name: 'IDENTITY_FEDERATION_ASSERTION_PREFIX',
    kind: 'string',
    default: null,
    help: "mapped logins read the web server's variables whose names start with this (Keystone's [federation] assertion_prefix); unset: all",
  },
  {
    name: 'IDENTITY_FEDERATION_REMOTE_ID_ATTRIBUTE',
    kind: 'string',
    default: null,
    help: "the variable naming the identity provider, for protocols that set none (Keystone's [federation] remote_id_attribute)",
  },
  {
    name: 'IDENTITY_FEDERATION_TRUSTED_DASHBOARD',
    kind: 'string',
    default: null,
    help: "WebSSO origins a token may be posted back to, comma-separated URLs (Keystone's [federation] trusted_dashboard); unset: none",
  },
  {
    name: 'IDENTITY_LIMIT_ENFORCEMENT_MODEL',
    kind: 'choice',
    choices: ['flat', 'strict_two_level'],
    default: 'flat',
    help: "unified limits: flat, or strict_two_level (project limits within their domain's; trees 2 deep)",
  },
  {
    name: 'IDENTITY_MAX_REQUEST_BODY_SIZE',
    kind: 'int',
    default: '114688',
    help: 'largest request body in bytes; larger ones are 413',
  },
  {
    name: 'IDENTITY_LOG_LEVEL',
    kind: 'choice',
    choices: ['debug', 'info', 'warn', 'error', 'silent'],
    default: 'info',
    help: 'least severe JSON log line written to stderr (info: failed logins, slow queries, 5xx)',
  },
  {
    name: 'IDENTITY_SLOW_QUERY_MS',
    kind: 'int',
    default: '200',
    help: 'a database query slower than this many ms is logged (warn); 0 logs every query',
  },
  {
    name: 'IDENTITY_DATABASE_CONNECT_TIMEOUT',
    kind: 'int',
    default: '5',
    help: 'seconds to get a database connection (a new one, or a free one from the pool); then 503',
  },
  {
    name: 'IDENTITY_DATABASE_STATEMENT_TIMEOUT',
    kind: 'int',
    default: '30',
    help: 'seconds a service query may run (statement_timeout, also enforced by the client); then 503',
  },
  // Policy: oslo.policy's [oslo_policy] options. Both switches on is secure RBAC.
  {
    name: 'IDENTITY_POLICY_ENFORCE_SCOPE',
    kind: 'choice',
    choices: ['false', 'true'],
    default: 'false',
    help: "true: a token whose scope (system, domain, project) is not among an action's scope types gets 403",
  },
  {
    name: 'IDENTITY_POLICY_ENFORCE_NEW_DEFAULTS',
    kind: 'choice',
    choices: ['false', 'true'],
    default: 'false',
    help: "true: only the new default rules apply; false: each rule's deprecated form is also accepted",
  },
  {
    name: 'IDENTITY_POLICY_FILE',
    kind: 'string',
    default: null,
    help: 'YAML or JSON file of rules overriding the defaults (policy.yaml); see manage policy-generate',
  },
  // Hardening limits: what a flood of logins or a cheap caller's list may cost.
  {
    name: 'IDENTITY_PASSWORD_HASH_QUEUE',
    kind: 'int',
    default: '32',
    help: 'password checks that may wait for a hashing thread per process; more get 503 with Retry-After',
  },
  {
    name: 'IDENTITY_LIST_LIMIT',
    kind: 'int',
    default: null,
    help: 'most entries in credential and role assignment lists, then "truncated": true; unset: no limit',
  },
  {
    name: 'IDENTITY_INVALIDATION_HEARTBEAT',
    kind: 'int',
    default: '5',
    help: 'seconds between heartbeats of the LISTEN connection; a missed one stops caching until it is back',
  },
] as const satisfies readonly Declaration[];

export interface IdentityConfig {
  databaseUrl: string | undefined;
  publicEndpoint: string | null;
  adminPassword: string | null;
  adminUsername: string;
  adminProject: string;
  region: string;
  tokenExpiration: number;
  allowExpiredWindow: number;
  oauth1RequestTokenDuration: number;
  oauth1AccessTokenDuration: number;
  fernetKeyRepository: string;
  fernetMaxActiveKeys: number;
  credentialKeyRepository: string;
  receiptKeyRepository: string;
  receiptMaxActiveKeys: number;
  receiptExpiration: number;
  totpIncludedPreviousWindows: number;
  passwordHashAlgorithm: 'bcrypt' | 'pbkdf2_sha512';
  passwordHashRounds: number;
  passwordHashConcurrency: number;
  passwordHashNice: number;
  maxPasswordLength: number;
  lockoutFailureAttempts: number | null;
  lockoutDuration: number;
  passwordExpiresDays: number | null;
  uniqueLastPasswordCount: number;
  minimumPasswordAge: number;
  changePasswordUponFirstUse: boolean;
  catalogEndpointFilter: boolean;
  trustMaxRedelegationCount: number;
  samlRelayStatePrefix: string;
  /** '' when unset: every variable the web server set. */
  federationAssertionPrefix: string;
  federationRemoteIdAttribute: string | null;
  /** WebSSO's trusted dashboards, their host names in lower case (as Keystone compares them). */
  federationTrustedDashboards: string[];
  limitEnforcementModel: 'flat' | 'strict_two_level';
  maxRequestBodySize: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  slowQueryMs: number;
  databaseConnectTimeout: number;
  databaseStatementTimeout: number;
  // Policy
  policyEnforceScope: boolean;
  policyEnforceNewDefaults: boolean;
  policyFile: string | null;
  passwordHashQueue: number;
  listLimit: number | null;
  invalidationHeartbeat: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Keystone's lower_case_hostname: the URL with its network location in lower case. */
export function lowerCaseHost(url: string): string {
  return url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i,
    (_, scheme: string, netloc: string) => scheme + netloc.toLowerCase(),
  );
}

export function loadConfig(env: Env = process.env): IdentityConfig {
  const fail = (name: string, value: string, expected: string): never => {
    throw new IdentityError('IDN_ERR_CONFIG', `${name}=${JSON.stringify(value)}: expected ${expected}`);
  };
  type Name = (typeof declarations)[number]['name'];
  const raw = (name: Name): string | null => {
    const declared = declarations.find((d) => d.name === name) as Declaration;
    const file = env[`${name}_FILE`];
    if (declared.kind === 'secret' && file) {
      try {
        return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch {
        return fail(`${name}_FILE`, file, 'a readable file');
      }
    }
    const value = env[name];
    return value !== undefined && value !== '' ? value : declared.default;
  };
  const optionalInt = (name: Name, min: number, max: number): number | null => {
    const value = raw(name);
    if (value === null) return null;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) fail(name, value, `an integer from ${min} to ${max}`);
    return n;
  };
  const int = (name: Name, min: number, max: number): number => optionalInt(name, min, max) as number;
  const choice = (name: Name): string => {
    const declared = declarations.find((d) => d.name === name) as Declaration;
    const value = raw(name) as string;
    if (!declared.choices?.includes(value)) fail(name, value, `one of ${declared.choices?.join(', ')}`);
    return value;
  };
  const algorithm = raw('IDENTITY_PASSWORD_HASH_ALGORITHM') as string;
  if (algorithm !== 'bcrypt' && algorithm !== 'pbkdf2_sha512')
    fail('IDENTITY_PASSWORD_HASH_ALGORITHM', algorithm, 'bcrypt or pbkdf2_sha512');
  const endpoint = raw('IDENTITY_PUBLIC_ENDPOINT');
  if (endpoint !== null && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(endpoint)) {
    fail('IDENTITY_PUBLIC_ENDPOINT', endpoint, 'an http(s) URL');
  }
  return {
    databaseUrl: raw('DATABASE_URL') ?? undefined,
    publicEndpoint: endpoint?.replace(/\/+$/, '') ?? null,
    adminPassword: raw('IDENTITY_ADMIN_PASSWORD'),
    adminUsername: raw('IDENTITY_ADMIN_USERNAME') as string,
    adminProject: raw('IDENTITY_ADMIN_PROJECT') as string,
    region: raw('IDENTITY_REGION') as string,
    tokenExpiration: int('IDENTITY_TOKEN_EXPIRATION', 60, 30 * 86400),
    allowExpiredWindow: int('IDENTITY_ALLOW_EXPIRED_WINDOW', 0, 30 * 86400),
    oauth1RequestTokenDuration: int('IDENTITY_OAUTH1_REQUEST_TOKEN_DURATION', 0, 365 * 86400),
    oauth1AccessTokenDuration: int('IDENTITY_OAUTH1_ACCESS_TOKEN_DURATION', 0, 365 * 86400),
    fernetKeyRepository: raw('IDENTITY_FERNET_KEY_REPOSITORY') as string,
    fernetMaxActiveKeys: int('IDENTITY_FERNET_MAX_ACTIVE_KEYS', 1, 100),
    credentialKeyRepository: raw('IDENTITY_CREDENTIAL_KEY_REPOSITORY') as string,
    receiptKeyRepository: raw('IDENTITY_RECEIPT_KEY_REPOSITORY') as string,
    receiptMaxActiveKeys: int('IDENTITY_RECEIPT_MAX_ACTIVE_KEYS', 1, 100),
    receiptExpiration: int('IDENTITY_RECEIPT_EXPIRATION', 0, 86400),
    totpIncludedPreviousWindows: int('IDENTITY_TOTP_INCLUDED_PREVIOUS_WINDOWS', 0, 10),
    passwordHashAlgorithm: algorithm as IdentityConfig['passwordHashAlgorithm'],
    passwordHashRounds:
      algorithm === 'bcrypt'
        ? int('IDENTITY_PASSWORD_HASH_ROUNDS', 4, 31)
        : int('IDENTITY_PASSWORD_HASH_ROUNDS', 1000, 10_000_000),
    passwordHashConcurrency: int('IDENTITY_PASSWORD_HASH_CONCURRENCY', 1, 64),
    passwordHashNice: int('IDENTITY_PASSWORD_HASH_NICE', 0, 19),
    maxPasswordLength: int('IDENTITY_MAX_PASSWORD_LENGTH', 1, 65_536),
    lockoutFailureAttempts: optionalInt('IDENTITY_LOCKOUT_FAILURE_ATTEMPTS', 1, 1_000_000),
    lockoutDuration: int('IDENTITY_LOCKOUT_DURATION', 0, 365 * 86400),
    passwordExpiresDays: optionalInt('IDENTITY_PASSWORD_EXPIRES_DAYS', 0, 36_500),
    uniqueLastPasswordCount: int('IDENTITY_UNIQUE_LAST_PASSWORD_COUNT', 0, 1000),
    minimumPasswordAge: int('IDENTITY_MINIMUM_PASSWORD_AGE', 0, 36_500),
    changePasswordUponFirstUse: choice('IDENTITY_CHANGE_PASSWORD_UPON_FIRST_USE') === 'true',
    catalogEndpointFilter: choice('IDENTITY_CATALOG_ENDPOINT_FILTER') === 'true',
    trustMaxRedelegationCount: int('IDENTITY_TRUST_MAX_REDELEGATION_COUNT', 0, 1000),
    samlRelayStatePrefix: raw('IDENTITY_SAML_RELAY_STATE_PREFIX') as string,
    federationAssertionPrefix: raw('IDENTITY_FEDERATION_ASSERTION_PREFIX') ?? '',
    federationRemoteIdAttribute: raw('IDENTITY_FEDERATION_REMOTE_ID_ATTRIBUTE'),
    federationTrustedDashboards: (raw('IDENTITY_FEDERATION_TRUSTED_DASHBOARD') ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== '')
      .map((u) => {
        if (!/^https?:\/\/[^\s/]+/.test(u))
          fail('IDENTITY_FEDERATION_TRUSTED_DASHBOARD', u, 'comma-separated http(s) URLs');
        return lowerCaseHost(u);
      }),
    limitEnforcementModel: choice(
      'IDENTITY_LIMIT_ENFORCEMENT_MODEL',
    ) as IdentityConfig['limitEnforcementModel'],
    maxRequestBodySize: int('IDENTITY_MAX_REQUEST_BODY_SIZE', 1024, 64 * 1024 * 1024),
    logLevel: choice('IDENTITY_LOG_LEVEL') as IdentityConfig['logLevel'],
    slowQueryMs: int('IDENTITY_SLOW_QUERY_MS', 0, 3_600_000),
    databaseConnectTimeout: int('IDENTITY_DATABASE_CONNECT_TIMEOUT', 1, 3600),
    databaseStatementTimeout: int('IDENTITY_DATABASE_STATEMENT_TIMEOUT', 1, 86_400),
    // Policy
    policyEnforceScope: choice('IDENTITY_POLICY_ENFORCE_SCOPE') === 'true',
    policyEnforceNewDefaults: choice('IDENTITY_POLICY_ENFORCE_NEW_DEFAULTS') === 'true',
    policyFile: raw('IDENTITY_POLICY_FILE'),
    passwordHashQueue: int('IDENTITY_PASSWORD_HASH_QUEUE', 0, 100_000),
    listLimit: optionalInt('IDENTITY_LIST_LIMIT', 1, 1_000_000),
    invalidationHeartbeat: int('IDENTITY_INVALIDATION_HEARTBEAT', 1, 3600),
  };
}
