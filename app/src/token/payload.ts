/**
 * Keystone's Fernet token payloads (keystone/token/token_formatters.py): a msgpack array of the
 * payload version and that version's fields. Ids that are 32-hex UUIDs travel as 16 raw bytes
 * ([true, bytes]), others as strings ([false, "default"]); methods are a bitmask in the order of
 * [auth] methods; expires_at is float seconds; audit ids are their 16 decoded bytes.
 */
import { payloadError } from '../errors.js';
import { Float64, type Packable, pack, unpack } from './msgpack.js';

export const METHODS = [
  'external',
  'password',
  'token',
  'oauth1',
  'mapped',
  'application_credential',
  // Keystone's default [auth] methods plus totp, as a deployment that offers TOTP lists them.
  'totp',
] as const;
/**
 * Methods written into tokens by endpoints that are no auth plugin (so not in [auth] methods), on
 * Keystone's fixed high bits (_PSEUDO_METHOD_BITS) so they survive the Fernet round trip:
 * /v3/ec2tokens and /v3/s3tokens issue `ec2credential` tokens.
 */
export const PSEUDO_METHODS = { ec2credential: 2 ** 32 } as const;
export type Method = (typeof METHODS)[number] | keyof typeof PSEUDO_METHODS;

export type Scope =
  | { kind: 'unscoped' }
  | { kind: 'domain'; domainId: string }
  | { kind: 'project'; projectId: string }
  | { kind: 'system' }
  /** Keystone's TrustScopedPayload: the trust's project, and the trust id as 16 raw bytes. */
  | { kind: 'trust'; projectId: string; trustId: string }
  | { kind: 'application_credential'; projectId: string; applicationCredentialId: string }
  | { kind: 'oauth1'; projectId: string; accessTokenId: string };

/**
 * What a federated token carries besides its scope (Keystone's Federated*Payload): the groups the
 * mapping gave, and the identity provider and protocol the user came through.
 */
export interface Federation {
  groupIds: string[];
  idpId: string;
  protocolId: string;
}

export interface TokenPayload {
  userId: string;
  methods: Method[];
  scope: Scope;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  auditIds: string[];
  /** Only on federated tokens (unscoped, project or domain scoped: payload versions 4, 5, 6). */
  federated?: Federation;
}

/** Payload versions, as Keystone numbers them. */
const VERSION = {
  unscoped: 0,
  domain: 1,
  project: 2,
  trust: 3,
  federatedUnscoped: 4,
  federatedProject: 5,
  federatedDomain: 6,
  oauth1: 7,
  system: 8,
  application_credential: 9,
} as const;

const UUID_HEX = /^[0-9a-f]{32}$/;

export function packId(id: string): Packable {
  return UUID_HEX.test(id) ? [true, Buffer.from(id, 'hex')] : [false, id];
}

export function unpackId(value: Packable): string {
  if (!Array.isArray(value) || value.length !== 2) throw payloadError('bad id in token payload');
  const [isUuid, id] = value;
  if (isUuid === true && id instanceof Uint8Array) return Buffer.from(id).toString('hex');
  if (typeof id === 'string') return id;
  if (id instanceof Uint8Array) return Buffer.from(id).toString('utf8');
  throw payloadError('bad id in token payload');
}

const bitOf = (m: Method): number =>
  m in PSEUDO_METHODS ? PSEUDO_METHODS[m as keyof typeof PSEUDO_METHODS] : 2 ** METHODS.indexOf(m as never);

// Arithmetic, not bitwise operators: the pseudo bits are past JavaScript's 32-bit `|` and `&`.
export function methodsToInt(methods: readonly Method[]): number {
  return [...new Set(methods)].reduce((mask, m) => mask + bitOf(m), 0);
}

export function intToMethods(mask: number): Method[] {
  const all: Method[] = [...METHODS, ...(Object.keys(PSEUDO_METHODS) as Method[])];
  return all.filter((m) => Math.floor(mask / bitOf(m)) % 2 === 1);
}

const auditToBytes = (id: string) => Buffer.from(id, 'base64url');
const bytesToAudit = (b: Packable) => Buffer.from(b as Uint8Array).toString('base64url');

/**
 * Keystone's FederatedUnscopedPayload (4) and FederatedScopedPayload (5 project, 6 domain): the
 * group ids as [is_uuid, id] pairs, the provider's id likewise, the protocol id a plain string;
 * a scoped one puts its project or domain id (as a pair, the domain's too) after the methods.
 */
function encodeFederated(p: TokenPayload, f: Federation): Buffer {
  const user = packId(p.userId);
  const methods = methodsToInt(p.methods);
  const expires = new Float64(p.expiresAt / 1000);
  const audits = p.auditIds.map(auditToBytes);
  const rest = [f.groupIds.map(packId), packId(f.idpId), f.protocolId, expires, audits];
  switch (p.scope.kind) {
    case 'unscoped':
      return pack([VERSION.federatedUnscoped, user, methods, ...rest]);
    case 'project':
      return pack([VERSION.federatedProject, user, methods, packId(p.scope.projectId), ...rest]);
    case 'domain':
      return pack([VERSION.federatedDomain, user, methods, packId(p.scope.domainId), ...rest]);
    default:
      throw payloadError(`a federated token cannot be ${p.scope.kind} scoped`);
  }
}

function decodeFederated(value: Packable[], at: number): Federation {
  const groups = value[at];
  const protocol = value[at + 2];
  if (!Array.isArray(groups)) throw payloadError('token payload group ids are not an array');
  const protocolId =
    typeof protocol === 'string'
      ? protocol
      : protocol instanceof Uint8Array
        ? Buffer.from(protocol).toString('utf8')
        : null;
  if (protocolId === null) throw payloadError('token payload protocol id is not a string');
  return {
    groupIds: groups.map((g) => unpackId(g as Packable)),
    idpId: unpackId(value[at + 1] as Packable),
    protocolId,
  };
}

export function encodePayload(p: TokenPayload): Buffer {
  if (p.federated) return encodeFederated(p, p.federated);
  const user = packId(p.userId);
  const methods = methodsToInt(p.methods);
  const expires = new Float64(p.expiresAt / 1000);
  const audits = p.auditIds.map(auditToBytes);
  switch (p.scope.kind) {
    case 'unscoped':
      return pack([VERSION.unscoped, user, methods, expires, audits]);
    case 'domain':
      // Keystone packs the default domain's id as-is and others as UUID bytes when they are one.
      return pack([
        VERSION.domain,
        user,
        methods,
        UUID_HEX.test(p.scope.domainId) ? Buffer.from(p.scope.domainId, 'hex') : p.scope.domainId,
        expires,
        audits,
      ]);
    case 'project':
      return pack([VERSION.project, user, methods, packId(p.scope.projectId), expires, audits]);
    case 'system':
      return pack([VERSION.system, user, methods, 'all', expires, audits]);
    case 'trust':
      // convert_uuid_hex_to_bytes: always bytes, never the [is_uuid, id] pair.
      if (!UUID_HEX.test(p.scope.trustId)) throw payloadError('a trust id must be a UUID');
      return pack([
        VERSION.trust,
        user,
        methods,
        packId(p.scope.projectId),
        expires,
        audits,
        Buffer.from(p.scope.trustId, 'hex'),
      ]);
    case 'application_credential':
      return pack([
        VERSION.application_credential,
        user,
        methods,
        packId(p.scope.projectId),
        expires,
        audits,
        packId(p.scope.applicationCredentialId),
      ]);
    case 'oauth1':
      // OauthScopedPayload: the access token's id comes before the expiry.
      return pack([
        VERSION.oauth1,
        user,
        methods,
        packId(p.scope.projectId),
        packId(p.scope.accessTokenId),
        expires,
        audits,
      ]);
  }
}

export function decodePayload(buf: Buffer): TokenPayload {
  const value = unpack(buf);
  if (!Array.isArray(value) || typeof value[0] !== 'number')
    throw payloadError('token payload is not a versioned array');
  const [version, user, methods] = value;
  if (typeof methods !== 'number') throw payloadError('token payload methods are not a bitmask');
  const common = { userId: unpackId(user as Packable), methods: intToMethods(methods) };
  const tail = (expires: Packable | undefined, audits: Packable | undefined) => {
    if (typeof expires !== 'number') throw payloadError('token payload expiry is not a number');
    if (!Array.isArray(audits) || !audits.every((a) => a instanceof Uint8Array))
      throw payloadError('token payload audit ids are not an array of bytes');
    return { expiresAt: Math.round(expires * 1000), auditIds: audits.map(bytesToAudit) };
  };
  switch (version) {
    case VERSION.unscoped:
      return { ...common, scope: { kind: 'unscoped' }, ...tail(value[3], value[4]) };
    case VERSION.domain: {
      const d = value[3];
      const domainId = d instanceof Uint8Array ? Buffer.from(d).toString('hex') : String(d);
      return {
        ...common,
        scope: { kind: 'domain', domainId },
        ...tail(value[4], value[5]),
      };
    }
    case VERSION.project:
      return {
        ...common,
        scope: { kind: 'project', projectId: unpackId(value[3] as Packable) },
        ...tail(value[4], value[5]),
      };
    case VERSION.system:
      return { ...common, scope: { kind: 'system' }, ...tail(value[4], value[5]) };
    case VERSION.federatedUnscoped:
      return {
        ...common,
        scope: { kind: 'unscoped' },
        ...tail(value[6], value[7]),
        federated: decodeFederated(value, 3),
      };
    case VERSION.federatedProject:
    case VERSION.federatedDomain: {
      const id = unpackId(value[3] as Packable);
      return {
        ...common,
        scope:
          version === VERSION.federatedProject
            ? { kind: 'project', projectId: id }
            : { kind: 'domain', domainId: id },
        ...tail(value[7], value[8]),
        federated: decodeFederated(value, 4),
      };
    }
    case VERSION.trust: {
      const trust = value[6];
      if (!(trust instanceof Uint8Array) || trust.length !== 16)
        throw payloadError('token payload trust id is not 16 bytes');
      return {
        ...common,
        scope: {
          kind: 'trust',
          projectId: unpackId(value[3] as Packable),
          trustId: Buffer.from(trust).toString('hex'),
        },
        ...tail(value[4], value[5]),
      };
    }
    case VERSION.application_credential:
      return {
        ...common,
        scope: {
          kind: 'application_credential',
          projectId: unpackId(value[3] as Packable),
          applicationCredentialId: unpackId(value[6] as Packable),
        },
        ...tail(value[4], value[5]),
      };
    case VERSION.oauth1:
      return {
        ...common,
        scope: {
          kind: 'oauth1',
          projectId: unpackId(value[3] as Packable),
          accessTokenId: unpackId(value[4] as Packable),
        },
        ...tail(value[5], value[6]),
      };
    default:
      throw payloadError(`token payload version ${String(version)} is not supported`);
  }
}
