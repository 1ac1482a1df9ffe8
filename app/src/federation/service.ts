/**
 * OS-FEDERATION's objects as Keystone 22's federation manager keeps them: identity providers (a
 * domain of their own made when none is named; remote ids unique across providers), their
 * protocols (each naming a mapping that must exist when it is written), mappings (rules checked
 * against Keystone's schema) and service providers (the enabled ones listed in every token).
 */
import { randomUUID } from 'node:crypto';
import { type Db, transaction } from '../db.js';
import { conflict, IdentityError, isUniqueViolation, notFound, validation } from '../errors.js';
import type { Hint } from '../hints.js';
import type { Invalidation } from '../invalidation.js';
import * as resourceRepo from '../resource/repository.js';
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
  readonly #relayStatePrefix: string;
  /** The enabled service providers, as tokens list them; recomputed after any invalidation. */
  readonly enabledServiceProviders: () => Promise<TokenServiceProvider[]>;

  constructor(db: Db, invalidation: Invalidation, options: { relayStatePrefix: string }) {
    this.#db = db;
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

  async updateIdp(id: string, patch: IdpUpdate): Promise<repo.IdpRow> {
    await transaction(this.#db, async (tx) => {
      const current = await repo.idp(tx, id);
      if (!current) throw notFound('Identity Provider', id);
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
      await repo.insertProtocol(this.#db, {
        id,
        idp_id: idpId,
        mapping_id: mappingId,
        remote_id_attribute: fields.remote_id_attribute ?? null,
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict('federation_protocol', `Duplicate entry found with ID ${id}`);
      // The provider went away between the check and the insert.
      if ((err as { code?: string }).code === '23503') throw notFound('Identity Provider', idpId);
      throw err;
    }
    return this.requireProtocol(idpId, id);
  }

  async updateProtocol(idpId: string, id: string, fields: ProtocolFields): Promise<repo.ProtocolRow> {
    if (fields.mapping_id !== undefined) await this.#requireMappingFor(fields.mapping_id);
    const current = await this.requireProtocol(idpId, id);
    await repo.updateProtocol(this.#db, {
      ...current,
      mapping_id: fields.mapping_id ?? current.mapping_id,
      remote_id_attribute:
        fields.remote_id_attribute === undefined ? current.remote_id_attribute : fields.remote_id_attribute,
    });
    return this.requireProtocol(idpId, id);
  }

  async deleteProtocol(idpId: string, id: string): Promise<void> {
    if (!(await repo.deleteProtocol(this.#db, idpId, id))) throw protocolNotFound(idpId, id);
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

  async updateMapping(id: string, body: Record<string, unknown>): Promise<repo.MappingRow> {
    validateMappingStructure(body);
    if (!(await repo.updateMapping(this.#db, id, body.rules))) throw notFound('mapping', id);
    return this.requireMapping(id);
  }

  async deleteMapping(id: string): Promise<void> {
    if (!(await repo.deleteMapping(this.#db, id))) throw notFound('mapping', id);
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
