/** OS-FEDERATION's SQL: identity providers and their remote ids, protocols, mappings, service providers. */
import type { Queryable } from '../db.js';
import { applyHints, type Hint } from '../hints.js';

export interface IdpRow {
  id: string;
  domain_id: string;
  enabled: boolean;
  description: string | null;
  authorization_ttl: number | null;
  /** In Keystone's order (by remote id). */
  remote_ids: string[];
}

export interface IdpFields {
  domain_id: string;
  enabled: boolean;
  description: string | null;
  authorization_ttl: number | null;
  remote_ids: string[];
}

export interface ProtocolRow {
  id: string;
  idp_id: string;
  mapping_id: string;
  remote_id_attribute: string | null;
}

export interface MappingRow {
  id: string;
  rules: unknown;
}

export interface ServiceProviderRow {
  id: string;
  enabled: boolean;
  description: string | null;
  auth_url: string;
  sp_url: string;
  relay_state_prefix: string;
}

const IDP_SELECT = `SELECT i.id, i.domain_id, i.enabled, i.description, i.authorization_ttl,
  COALESCE((SELECT array_agg(r.remote_id ORDER BY r.remote_id) FROM idp_remote_ids r WHERE r.idp_id = i.id),
           '{}') AS remote_ids
  FROM identity_provider i`;

export async function idp(db: Queryable, id: string): Promise<IdpRow | null> {
  return (await db.query<IdpRow>(`${IDP_SELECT} WHERE i.id = $1`, [id])).rows[0] ?? null;
}

/** Keystone's list filters: id and enabled (and id's inexact forms). */
export async function listIdps(db: Queryable, hints: Hint[]): Promise<IdpRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  applyHints(hints, { id: 'i.id', enabled: 'i.enabled' }, where, params);
  const sql = `${IDP_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY i.id`;
  return (await db.query<IdpRow>(sql, params)).rows;
}

export async function insertIdp(db: Queryable, id: string, f: IdpFields): Promise<void> {
  await db.query(
    `INSERT INTO identity_provider (id, domain_id, enabled, description, authorization_ttl)
     VALUES ($1, $2, $3, $4, $5)`,
    [id, f.domain_id, f.enabled, f.description, f.authorization_ttl],
  );
  await setRemoteIds(db, id, f.remote_ids);
}

export async function updateIdp(db: Queryable, id: string, f: IdpFields): Promise<void> {
  await db.query(
    'UPDATE identity_provider SET enabled = $2, description = $3, authorization_ttl = $4 WHERE id = $1',
    [id, f.enabled, f.description, f.authorization_ttl],
  );
  await db.query('DELETE FROM idp_remote_ids WHERE idp_id = $1', [id]);
  await setRemoteIds(db, id, f.remote_ids);
}

async function setRemoteIds(db: Queryable, id: string, remoteIds: string[]): Promise<void> {
  if (remoteIds.length === 0) return;
  await db.query('INSERT INTO idp_remote_ids (idp_id, remote_id) SELECT $1, unnest($2::text[])', [
    id,
    remoteIds,
  ]);
}

/** Deletes the provider, its protocols and remote ids (cascade); false when there was none. */
export async function deleteIdp(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM identity_provider WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

export async function protocol(db: Queryable, idpId: string, id: string): Promise<ProtocolRow | null> {
  const { rows } = await db.query<ProtocolRow>(
    'SELECT id, idp_id, mapping_id, remote_id_attribute FROM federation_protocol WHERE idp_id = $1 AND id = $2',
    [idpId, id],
  );
  return rows[0] ?? null;
}

export async function listProtocols(db: Queryable, idpId: string): Promise<ProtocolRow[]> {
  const { rows } = await db.query<ProtocolRow>(
    'SELECT id, idp_id, mapping_id, remote_id_attribute FROM federation_protocol WHERE idp_id = $1 ORDER BY id',
    [idpId],
  );
  return rows;
}

/** `at`: from when its tokens are good (the clock tokens are issued on; null: the database's). */
export async function insertProtocol(db: Queryable, p: ProtocolRow, at: Date | null = null): Promise<void> {
  await db.query(
    `INSERT INTO federation_protocol (id, idp_id, mapping_id, remote_id_attribute, tokens_valid_after)
     VALUES ($1, $2, $3, $4, date_trunc('second', coalesce($5::timestamptz, now())))`,
    [p.id, p.idp_id, p.mapping_id, p.remote_id_attribute, at],
  );
}

export async function updateProtocol(db: Queryable, p: ProtocolRow): Promise<void> {
  await db.query(
    'UPDATE federation_protocol SET mapping_id = $3, remote_id_attribute = $4 WHERE idp_id = $1 AND id = $2',
    [p.idp_id, p.id, p.mapping_id, p.remote_id_attribute],
  );
}

export async function deleteProtocol(db: Queryable, idpId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM federation_protocol WHERE idp_id = $1 AND id = $2', [
    idpId,
    id,
  ]);
  return (rowCount ?? 0) > 0;
}

export async function mapping(db: Queryable, id: string): Promise<MappingRow | null> {
  return (await db.query<MappingRow>('SELECT id, rules FROM mapping WHERE id = $1', [id])).rows[0] ?? null;
}

export async function listMappings(db: Queryable): Promise<MappingRow[]> {
  return (await db.query<MappingRow>('SELECT id, rules FROM mapping ORDER BY id')).rows;
}

/** The rules go in as the text the client sent them in (a json column keeps it as it is). */
export async function insertMapping(db: Queryable, id: string, rules: unknown): Promise<void> {
  await db.query('INSERT INTO mapping (id, rules) VALUES ($1, $2::json)', [id, JSON.stringify(rules)]);
}

export async function updateMapping(db: Queryable, id: string, rules: unknown): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE mapping SET rules = $2::json WHERE id = $1', [
    id,
    JSON.stringify(rules),
  ]);
  return (rowCount ?? 0) > 0;
}

export async function deleteMapping(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM mapping WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

const SP_COLUMNS = 'id, enabled, description, auth_url, sp_url, relay_state_prefix';

export async function serviceProvider(db: Queryable, id: string): Promise<ServiceProviderRow | null> {
  const { rows } = await db.query<ServiceProviderRow>(
    `SELECT ${SP_COLUMNS} FROM service_provider WHERE id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function listServiceProviders(db: Queryable, hints: Hint[]): Promise<ServiceProviderRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  applyHints(hints, { id: 'id', enabled: 'enabled' }, where, params);
  const sql = `SELECT ${SP_COLUMNS} FROM service_provider${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
  return (await db.query<ServiceProviderRow>(sql, params)).rows;
}

export async function insertServiceProvider(db: Queryable, sp: ServiceProviderRow): Promise<void> {
  await db.query(`INSERT INTO service_provider (${SP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`, [
    sp.id,
    sp.enabled,
    sp.description,
    sp.auth_url,
    sp.sp_url,
    sp.relay_state_prefix,
  ]);
}

export async function updateServiceProvider(db: Queryable, sp: ServiceProviderRow): Promise<void> {
  await db.query(
    `UPDATE service_provider SET enabled = $2, description = $3, auth_url = $4, sp_url = $5,
       relay_state_prefix = $6 WHERE id = $1`,
    [sp.id, sp.enabled, sp.description, sp.auth_url, sp.sp_url, sp.relay_state_prefix],
  );
}

export async function deleteServiceProvider(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM service_provider WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

// --- federated logins ------------------------------------------------------------------------

/** The local user a federated identity shadows, when it has logged in before. */
export async function federatedUserId(
  db: Queryable,
  idpId: string,
  protocolId: string,
  uniqueId: string,
): Promise<string | null> {
  const { rows } = await db.query<{ user_id: string }>(
    'SELECT user_id FROM federated_user WHERE idp_id = $1 AND protocol_id = $2 AND unique_id = $3',
    [idpId, protocolId, uniqueId],
  );
  return rows[0]?.user_id ?? null;
}

/**
 * A shadow user: the user row (in the provider's domain, enabled, no password) and its
 * federated_user row. The user's name is the display name, as Keystone's User.name reads it.
 */
export interface ShadowUser {
  /** The id a new shadow user gets. */
  userId: string;
  domainId: string;
  idpId: string;
  protocolId: string;
  uniqueId: string;
  displayName: string;
  email?: string | undefined;
}

export async function insertShadowUser(db: Queryable, u: ShadowUser): Promise<void> {
  await db.query(`INSERT INTO "user" (id, name, domain_id, extra, federated) VALUES ($1, $2, $3, $4, true)`, [
    u.userId,
    u.displayName,
    u.domainId,
    u.email ? { email: u.email } : {},
  ]);
  await db.query(
    `INSERT INTO federated_user (user_id, idp_id, protocol_id, unique_id, display_name)
     VALUES ($1, $2, $3, $4, $5)`,
    [u.userId, u.idpId, u.protocolId, u.uniqueId, u.displayName],
  );
}

/** A returning user's display name (and email, when the mapping gives one) as the login says. */
export async function updateShadowUser(db: Queryable, userId: string, u: ShadowUser): Promise<void> {
  await db.query(
    `UPDATE federated_user SET display_name = $4
      WHERE idp_id = $1 AND protocol_id = $2 AND unique_id = $3 AND display_name IS DISTINCT FROM $4`,
    [u.idpId, u.protocolId, u.uniqueId, u.displayName],
  );
  await db.query(
    `UPDATE "user" SET name = $2,
            extra = CASE WHEN $3::text IS NULL THEN extra ELSE extra || jsonb_build_object('email', $3::text) END,
            last_active_at = now()
      WHERE id = $1`,
    [userId, u.displayName, u.email ?? null],
  );
}

export interface FederatedObject {
  idp_id: string;
  protocols: Array<{ protocol_id: string; unique_id: string }>;
}

/** Keystone's `federated` attribute of a user: per provider, the protocols and unique ids. */
export async function federatedObjects(db: Queryable, userId: string): Promise<FederatedObject[]> {
  const { rows } = await db.query<{ idp_id: string; protocol_id: string; unique_id: string }>(
    'SELECT idp_id, protocol_id, unique_id FROM federated_user WHERE user_id = $1 ORDER BY id',
    [userId],
  );
  const byIdp = new Map<string, FederatedObject>();
  for (const r of rows) {
    const entry = byIdp.get(r.idp_id) ?? { idp_id: r.idp_id, protocols: [] };
    entry.protocols.push({ protocol_id: r.protocol_id, unique_id: r.unique_id });
    byIdp.set(r.idp_id, entry);
  }
  return [...byIdp.values()];
}

/** What validating a federated token reads: is its provider enabled, since when are its tokens good. */
export async function tokenSource(
  db: Queryable,
  idpId: string,
  protocolId: string,
): Promise<{ enabled: boolean; tokens_valid_after: Date } | null> {
  const { rows } = await db.query<{ enabled: boolean; tokens_valid_after: Date }>(
    `SELECT i.enabled, p.tokens_valid_after FROM federation_protocol p
       JOIN identity_provider i ON i.id = p.idp_id
      WHERE p.idp_id = $1 AND p.id = $2`,
    [idpId, protocolId],
  );
  return rows[0] ?? null;
}

/**
 * Ends the tokens issued through the protocols named (a provider's, one protocol, or every
 * protocol using a mapping): tokens issued before this second are refused from now on.
 */
export async function endProtocolTokens(
  db: Queryable,
  which: { idpId: string; protocolId?: string } | { mappingId: string },
  at: Date | null,
): Promise<void> {
  // As revocation events: stamped with the whole second (the clock tokens are issued on), so a
  // token issued right after the change, within the same second, stays valid.
  const stamp = `date_trunc('second', coalesce($1::timestamptz, now()))`;
  if ('mappingId' in which) {
    await db.query(`UPDATE federation_protocol SET tokens_valid_after = ${stamp} WHERE mapping_id = $2`, [
      at,
      which.mappingId,
    ]);
    return;
  }
  await db.query(
    `UPDATE federation_protocol SET tokens_valid_after = ${stamp}
      WHERE idp_id = $2 AND ($3::text IS NULL OR id = $3)`,
    [at, which.idpId, which.protocolId ?? null],
  );
}

/** Which of these group ids name a group. */
export async function existingGroups(db: Queryable, ids: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM "group" WHERE id = ANY($1::text[])', [ids]);
  return rows.map((r) => r.id);
}

/** The provider a remote id names (remote ids are unique across providers). */
export async function idpByRemoteId(db: Queryable, remoteId: string): Promise<string | null> {
  const { rows } = await db.query<{ idp_id: string }>(
    'SELECT idp_id FROM idp_remote_ids WHERE remote_id = $1',
    [remoteId],
  );
  return rows[0]?.idp_id ?? null;
}

/** Each provider with the protocol, and the protocol's own remote id attribute. */
export async function providersOf(
  db: Queryable,
  protocolId: string,
): Promise<Array<{ idp_id: string; remote_id_attribute: string | null }>> {
  const { rows } = await db.query<{ idp_id: string; remote_id_attribute: string | null }>(
    'SELECT idp_id, remote_id_attribute FROM federation_protocol WHERE id = $1 ORDER BY idp_id',
    [protocolId],
  );
  return rows;
}
