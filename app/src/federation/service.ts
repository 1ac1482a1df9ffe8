/**
 * OS-FEDERATION's objects as Keystone 22's federation manager keeps them: identity providers (a
 * domain of their own made when none is named; remote ids unique across providers), their
 * protocols (each naming a mapping that must exist when it is written), mappings (rules checked
 * against Keystone's schema) and service providers (the enabled ones listed in every token).
 */
import { randomUUID } from 'node:crypto';
import { type Db, type Queryable, transaction } from '../db.js';
import {
  conflict,
  forbidden,
  IdentityError,
  isUniqueViolation,
  notFound,
  unauthorized,
  validation,
} from '../errors.js';
import type { Hint } from '../hints.js';
import type { Invalidation } from '../invalidation.js';
import * as resourceRepo from '../resource/repository.js';
import type { Federation } from '../token/payload.js';
import * as repo from './repository.js';
import { validateMappingStructure } from './schema.js';

export type { IdpRow, MappingRow, ProtocolRow, ServiceProviderRow } from './repository.js';

const newId = () => randomUUID().replaceAll('-', '');

export interface IdpCreate {
  domain_id?: string | null;
  enabled?: boolean;
  description?: string | null;
  authorization_ttl?: number | null;
  remote_ids?: string[] | null;
}
export type IdpUpdate = Omit<IdpCreate, 'domain_id'>;

export interface ProtocolFields {
  mapping_id?: string;
  remote_id_attribute?: string;
}

export interface ServiceProviderFields {
  auth_url?: string;
  sp_url?: string;
  description?: string | null;
  enabled?: boolean;
  relay_state_prefix?: string | null;
}

/** What a token lists of an enabled service provider. */
export interface TokenServiceProvider {
  auth_url: string;
  id: string;
  sp_url: string;
}

export const protocolNotFound = (idpId: string, protocolId: string) =>
  new IdentityError(
    'IDN_ERR_NOT_FOUND',
    `Could not find federated protocol ${protocolId} for Identity Provider: ${idpId}.`,
  );

/** The value PostgreSQL names in a unique violation's detail: `Key (remote_id)=(x) already exists.` */
function duplicateValue(err: unknown): string {
  const detail = (err as { detail?: string }).detail ?? '';
  return /\)=\((.*)\) already exists/s.exec(detail)?.[1] ?? '';
}

export class FederationService {
  readonly #db: Db;
  readonly #invalidation: Invalidation;
  readonly #clock: (() => number) | undefined;
  readonly #relayStatePrefix: string;
  /** The enabled service providers, as tokens list them; recomputed after any invalidation. */
  readonly enabledServiceProviders: () => Promise<TokenServiceProvider[]>;

  /**
   * `clock`: what ending a protocol's tokens is stamped with (tests move it); by default the
   * database's, the clock tokens are issued on.
   */
  constructor(
    db: Db,
    invalidation: Invalidation,
    options: { relayStatePrefix: string; clock?: () => number },
  ) {
    this.#db = db;
    this.#clock = options.clock;
    this.#invalidation = invalidation;
    this.#relayStatePrefix = options.relayStatePrefix;
    this.enabledServiceProviders = invalidation.memo(async () =>
      (await repo.listServiceProviders(this.#db, [{ kind: 'bool', field: 'enabled', value: true }])).map(
        (sp) => ({ auth_url: sp.auth_url, id: sp.id, sp_url: sp.sp_url }),
      ),
    );
  }

  // --- identity providers --------------------------------------------------------------------

  getIdp(id: string): Promise<repo.IdpRow | null> {
    return repo.idp(this.#db, id);
  }

  async requireIdp(id: string): Promise<repo.IdpRow> {
    const idp = await repo.idp(this.#db, id);
    if (!idp) throw notFound('Identity Provider', id);
    return idp;
  }

  listIdps(hints: Hint[]): Promise<repo.IdpRow[]> {
    return repo.listIdps(this.#db, hints);
  }

  /**
   * A new provider, disabled unless asked. Without a domain_id, a domain of its own is made in
   * the same transaction (Keystone's "Auto generated federated domain"), so a refused provider
   * leaves no domain behind; a domain_id given must name a domain.
   */
  async createIdp(id: string, fields: IdpCreate): Promise<repo.IdpRow> {
    await transaction(this.#db, async (tx) => {
      let domainId = fields.domain_id ?? null;
      if (!domainId) {
        domainId = newId();
        await resourceRepo.insertDomain(tx, domainId, {
          name: domainId,
          description: `Auto generated federated domain for Identity Provider: ${id}`,
          enabled: true,
          tags: [],
          options: {},
          extra: {},
        });
      } else if (!(await resourceRepo.domainBy(tx, { id: domainId }))) throw notFound('domain', domainId);
      await this.#idpConflicts(() =>
        repo.insertIdp(tx, id, {
          domain_id: domainId,
          enabled: fields.enabled ?? false,
          description: fields.description ?? null,
          authorization_ttl: fields.authorization_ttl ?? null,
          remote_ids: fields.remote_ids ?? [],
        }),
      );
    });
    return this.requireIdp(id);
  }

  /** Disabling a provider ends the tokens issued through it; enabling it again does not revive them. */
  async updateIdp(id: string, patch: IdpUpdate): Promise<repo.IdpRow> {
    await transaction(this.#db, async (tx) => {
      const current = await repo.idp(tx, id);
      if (!current) throw notFound('Identity Provider', id);
      if (current.enabled && patch.enabled === false) await this.#endTokens(tx, { idpId: id });
      await this.#idpConflicts(() =>
        repo.updateIdp(tx, id, {
          domain_id: current.domain_id,
          enabled: patch.enabled ?? current.enabled,
          description: patch.description === undefined ? current.description : patch.description,
          authorization_ttl:
            patch.authorization_ttl === undefined ? current.authorization_ttl : patch.authorization_ttl,
          remote_ids: patch.remote_ids === undefined ? current.remote_ids : (patch.remote_ids ?? []),
        }),
      );
    });
    this.#invalidation.invalidate();
    return this.requireIdp(id);
  }

  /** Keystone's 409 for a provider id or a remote id already taken. */
  async #idpConflicts(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const remote = (err as { constraint?: string }).constraint?.startsWith('idp_remote_ids') ?? false;
      throw conflict(
        'identity_provider',
        `${remote ? 'Duplicate remote ID' : 'Duplicate entry'}: ${duplicateValue(err)}`,
      );
    }
  }

  /** Deletes the provider with its protocols and remote ids. */
  async deleteIdp(id: string): Promise<void> {
    if (!(await repo.deleteIdp(this.#db, id))) throw notFound('Identity Provider', id);
    this.#invalidation.invalidate();
  }

  // --- protocols -----------------------------------------------------------------------------

  async requireProtocol(idpId: string, id: string): Promise<repo.ProtocolRow> {
    const protocol = await repo.protocol(this.#db, idpId, id);
    if (!protocol) throw protocolNotFound(idpId, id);
    return protocol;
  }

  /** The provider's protocols (an unknown provider has none, as in Keystone). */
  listProtocols(idpId: string): Promise<repo.ProtocolRow[]> {
    return repo.listProtocols(this.#db, idpId);
  }

  /** Keystone checks the mapping before the provider: an unknown mapping is a 400 either way. */
  async createProtocol(idpId: string, id: string, fields: ProtocolFields): Promise<repo.ProtocolRow> {
    const mappingId = fields.mapping_id as string;
    await this.#requireMappingFor(mappingId);
    await this.requireIdp(idpId);
    try {
      await repo.insertProtocol(
        this.#db,
        { id, idp_id: idpId, mapping_id: mappingId, remote_id_attribute: fields.remote_id_attribute ?? null },
        this.#clock ? new Date(this.#clock()) : null,
      );
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict('federation_protocol', `Duplicate entry found with ID ${id}`);
      // The provider went away between the check and the insert.
      if ((err as { code?: string }).code === '23503') throw notFound('Identity Provider', idpId);
      throw err;
    }
    return this.requireProtocol(idpId, id);
  }

  /** A protocol given another mapping (or remote id attribute) ends the tokens issued through it. */
  async updateProtocol(idpId: string, id: string, fields: ProtocolFields): Promise<repo.ProtocolRow> {
    if (fields.mapping_id !== undefined) await this.#requireMappingFor(fields.mapping_id);
    const current = await this.requireProtocol(idpId, id);
    const next = {
      ...current,
      mapping_id: fields.mapping_id ?? current.mapping_id,
      remote_id_attribute:
        fields.remote_id_attribute === undefined ? current.remote_id_attribute : fields.remote_id_attribute,
    };
    await transaction(this.#db, async (tx) => {
      await repo.updateProtocol(tx, next);
      if (next.mapping_id !== current.mapping_id || next.remote_id_attribute !== current.remote_id_attribute)
        await this.#endTokens(tx, { idpId, protocolId: id });
    });
    this.#invalidation.invalidate();
    return this.requireProtocol(idpId, id);
  }

  /** Tokens issued through these protocols until now are no longer valid (every process hears of it). */
  async #endTokens(
    db: Queryable,
    which: { idpId: string; protocolId?: string } | { mappingId: string },
  ): Promise<void> {
    await repo.endProtocolTokens(db, which, this.#clock ? new Date(this.#clock()) : null);
  }

  async deleteProtocol(idpId: string, id: string): Promise<void> {
    if (!(await repo.deleteProtocol(this.#db, idpId, id))) throw protocolNotFound(idpId, id);
    this.#invalidation.invalidate();
  }

  async #requireMappingFor(mappingId: string): Promise<void> {
    if (!(await repo.mapping(this.#db, mappingId))) throw validation(`Invalid mapping id: ${mappingId}`);
  }

  // --- mappings ------------------------------------------------------------------------------

  async requireMapping(id: string): Promise<repo.MappingRow> {
    const mapping = await repo.mapping(this.#db, id);
    if (!mapping) throw notFound('mapping', id);
    return mapping;
  }

  listMappings(): Promise<repo.MappingRow[]> {
    return repo.listMappings(this.#db);
  }

  /** `body` is the request's mapping object, checked whole against Keystone's schema. */
  async createMapping(id: string, body: Record<string, unknown>): Promise<repo.MappingRow> {
    validateMappingStructure(body);
    try {
      await repo.insertMapping(this.#db, id, body.rules);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('mapping', 'Duplicate entry');
      throw err;
    }
    return this.requireMapping(id);
  }

  /** New rules end the tokens issued through every protocol that uses the mapping. */
  async updateMapping(id: string, body: Record<string, unknown>): Promise<repo.MappingRow> {
    validateMappingStructure(body);
    await transaction(this.#db, async (tx) => {
      if (!(await repo.updateMapping(tx, id, body.rules))) throw notFound('mapping', id);
      await this.#endTokens(tx, { mappingId: id });
    });
    this.#invalidation.invalidate();
    return this.requireMapping(id);
  }

  async deleteMapping(id: string): Promise<void> {
    await transaction(this.#db, async (tx) => {
      if (!(await repo.deleteMapping(tx, id))) throw notFound('mapping', id);
      await this.#endTokens(tx, { mappingId: id });
    });
    this.#invalidation.invalidate();
  }

  // --- federated logins ----------------------------------------------------------------------

  /**
   * Keystone's _shadow_federated_user: the user this identity logged in as before (its display
   * name and email brought up to date), or a new one; its id either way. Two first logins at
   * once: the one that loses the insert reads what the other made.
   */
  async shadowUser(u: repo.ShadowUser): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const existing = await repo.federatedUserId(this.#db, u.idpId, u.protocolId, u.uniqueId);
      try {
        await transaction(this.#db, async (tx) => {
          if (existing) await repo.updateShadowUser(tx, existing, u);
          else await repo.insertShadowUser(tx, u);
        });
        this.#invalidation.invalidate();
        return existing ?? u.userId;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // The same unique id through another provider of the domain: the same id (Keystone's too).
        if (attempt > 0 || existing) throw conflict('user', `Duplicate ID, ${u.userId}`);
      }
    }
  }

  federatedObjects(userId: string): Promise<repo.FederatedObject[]> {
    return repo.federatedObjects(this.#db, userId);
  }

  /**
   * Keystone's handle_scoped_token checks before a federated token is re-scoped: the provider
   * enabled (403), the protocol's mapping there (404), and every group of the token still
   * there (MappedGroupNotFound, a 500).
   */
  async rescopable(f: Federation): Promise<Federation> {
    const idp = await this.requireIdp(f.idpId);
    if (!idp.enabled)
      throw new IdentityError('IDN_ERR_FORBIDDEN', forbidden().message, {
        detail: `Identity Provider ${f.idpId} is disabled`,
      });
    const protocol = await this.requireProtocol(f.idpId, f.protocolId);
    await this.requireMapping(protocol.mapping_id);
    const found = new Set(await repo.existingGroups(this.#db, f.groupIds));
    const missing = f.groupIds.find((id) => !found.has(id));
    if (missing !== undefined)
      throw new IdentityError(
        'IDN_ERR_INTERNAL',
        'An unexpected error prevented the server from fulfilling your request.',
        {
          detail: `Group ${missing} returned by mapping ${protocol.mapping_id} was not found in the backend.`,
        },
      );
    return f;
  }

  /**
   * WebSSO without a provider in the path (Keystone's AuthFederationWebSSOResource): the first
   * provider with the protocol whose remote id attribute (the protocol's, else `defaultAttribute`)
   * the web server set, then the provider that remote id names (404 when none does); a 401 when
   * no such variable is set at all.
   */
  async idpForWebSso(
    protocolId: string,
    params: Readonly<Record<string, string>> | undefined,
    defaultAttribute: string | null,
  ): Promise<string> {
    let remoteId: string | undefined;
    for (const p of await repo.providersOf(this.#db, protocolId)) {
      const attribute = p.remote_id_attribute || defaultAttribute;
      remoteId = attribute ? params?.[attribute] : undefined;
      if (remoteId) break;
    }
    if (!remoteId) throw unauthorized('Missing entity ID from environment');
    const idpId = await repo.idpByRemoteId(this.#db, remoteId);
    if (!idpId) throw notFound('Identity Provider', remoteId);
    return idpId;
  }

  /** What validating a federated token needs of its provider and protocol. */
  tokenSource(idpId: string, protocolId: string) {
    return repo.tokenSource(this.#db, idpId, protocolId);
  }

  // --- service providers ---------------------------------------------------------------------

  async requireServiceProvider(id: string): Promise<repo.ServiceProviderRow> {
    const sp = await repo.serviceProvider(this.#db, id);
    if (!sp) throw notFound('Service Provider', id);
    return sp;
  }

  listServiceProviders(hints: Hint[]): Promise<repo.ServiceProviderRow[]> {
    return repo.listServiceProviders(this.#db, hints);
  }

  /** Disabled unless asked; relay_state_prefix from IDENTITY_SAML_RELAY_STATE_PREFIX unless given. */
  async createServiceProvider(id: string, f: ServiceProviderFields): Promise<repo.ServiceProviderRow> {
    try {
      await repo.insertServiceProvider(this.#db, {
        id,
        enabled: f.enabled ?? false,
        description: f.description ?? null,
        auth_url: f.auth_url as string,
        sp_url: f.sp_url as string,
        relay_state_prefix: f.relay_state_prefix === undefined ? this.#relayStatePrefix : relayPrefix(f),
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('service_provider', `Duplicate entry found with ID ${id}`);
      throw err;
    }
    return this.requireServiceProvider(id);
  }

  async updateServiceProvider(id: string, f: ServiceProviderFields): Promise<repo.ServiceProviderRow> {
    const current = await this.requireServiceProvider(id);
    await repo.updateServiceProvider(this.#db, {
      id,
      enabled: f.enabled ?? current.enabled,
      description: f.description === undefined ? current.description : f.description,
      auth_url: f.auth_url ?? current.auth_url,
      sp_url: f.sp_url ?? current.sp_url,
      relay_state_prefix: f.relay_state_prefix === undefined ? current.relay_state_prefix : relayPrefix(f),
    });
    return this.requireServiceProvider(id);
  }

  async deleteServiceProvider(id: string): Promise<void> {
    if (!(await repo.deleteServiceProvider(this.#db, id))) throw notFound('Service Provider', id);
  }
}

/** The column is NOT NULL (as Keystone's): a null prefix is refused as Keystone's database refuses it. */
function relayPrefix(f: ServiceProviderFields): string {
  if (f.relay_state_prefix === null) throw validation("Invalid input for field 'relay_state_prefix': null");
  return f.relay_state_prefix as string;
}
