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
    name: 'IDENTITY_PASSWORD_HASH_ALGORITHM',
    kind: 'choice',
    choices: ['bcrypt'],
    default: 'bcrypt',
    help: 'password hashing algorithm',
  },
  { name: 'IDENTITY_PASSWORD_HASH_ROUNDS', kind: 'int', default: '12', help: 'bcrypt cost (4-31)' },
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
  fernetKeyRepository: string;
  fernetMaxActiveKeys: number;
  credentialKeyRepository: string;
  passwordHashRounds: number;
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env): IdentityConfig {
  const fail = (name: string, value: string, expected: string): never => {
    throw new IdentityError('IDN_ERR_CONFIG', `${name}=${JSON.stringify(value)}: expected ${expected}`);
  };
  const raw = (name: (typeof declarations)[number]['name']): string | null => {
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
  const int = (name: (typeof declarations)[number]['name'], min: number, max: number): number => {
    const value = raw(name) as string;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) fail(name, value, `an integer from ${min} to ${max}`);
    return n;
  };
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
    fernetKeyRepository: raw('IDENTITY_FERNET_KEY_REPOSITORY') as string,
    fernetMaxActiveKeys: int('IDENTITY_FERNET_MAX_ACTIVE_KEYS', 1, 100),
    credentialKeyRepository: raw('IDENTITY_CREDENTIAL_KEY_REPOSITORY') as string,
    passwordHashRounds: int('IDENTITY_PASSWORD_HASH_ROUNDS', 4, 31),
  };
}
