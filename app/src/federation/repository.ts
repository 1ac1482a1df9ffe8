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

export async function insertProtocol(db: Queryable, p: ProtocolRow): Promise<void> {
  await db.query(
    'INSERT INTO federation_protocol (id, idp_id, mapping_id, remote_id_attribute) VALUES ($1, $2, $3, $4)',
    [p.id, p.idp_id, p.mapping_id, p.remote_id_attribute],
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
