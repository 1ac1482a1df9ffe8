/** SQL for application credentials and their roles. */

import { randomUUID } from 'node:crypto';
import type { RoleRef } from '../assignment/repository.js';
import type { Queryable } from '../db.js';

export interface ApplicationCredentialRow {
  id: string;
  name: string;
  user_id: string;
  project_id: string;
  secret_hash: string;
  expires_at: Date | null;
  /** expires_at to the microsecond, UTC, as Keystone renders it (2026-12-04T12:22:50.325786). */
  expires_text: string | null;
  unrestricted: boolean;
  description: string;
}

const SELECT = `SELECT id, name, user_id, project_id, secret_hash, expires_at,
                       to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS expires_text,
                       unrestricted, description
                  FROM application_credential`;

export async function applicationCredentialById(
  db: Queryable,
  id: string,
): Promise<ApplicationCredentialRow | null> {
  return (await db.query<ApplicationCredentialRow>(`${SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function applicationCredentialByName(
  db: Queryable,
  userId: string,
  name: string,
): Promise<ApplicationCredentialRow | null> {
  return (
    (await db.query<ApplicationCredentialRow>(`${SELECT} WHERE user_id = $1 AND name = $2`, [userId, name]))
      .rows[0] ?? null
  );
}

export async function applicationCredentialRoles(db: Queryable, id: string): Promise<RoleRef[]> {
  const { rows } = await db.query<RoleRef>(
    `SELECT r.id, r.name FROM application_credential_role ar JOIN role r ON r.id = ar.role_id
      WHERE ar.application_credential_id = $1 ORDER BY r.name`,
    [id],
  );
  return rows;
}

export async function insertApplicationCredential(
  db: Queryable,
  row: Omit<ApplicationCredentialRow, 'expires_at' | 'expires_text' | 'unrestricted' | 'description'> & {
    /** A Date, or ISO 8601 text with a zone (kept to the microsecond). */
    expires_at?: Date | string | null;
    unrestricted?: boolean;
    description?: string;
    roleIds: string[];
    accessRules?: Array<Partial<AccessRuleRef>>;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO application_credential (id, name, user_id, project_id, secret_hash, expires_at, unrestricted, description)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      row.id,
      row.name,
      row.user_id,
      row.project_id,
      row.secret_hash,
      row.expires_at ?? null,
      row.unrestricted ?? false,
      row.description ?? '',
    ],
  );
  for (const roleId of row.roleIds)
    await db.query(
      'INSERT INTO application_credential_role (application_credential_id, role_id) VALUES ($1, $2)',
      [row.id, roleId],
    );
  for (const rule of row.accessRules ?? []) {
    const ruleId = await userAccessRule(db, row.user_id, rule);
    await db.query(
      `INSERT INTO application_credential_access_rule (application_credential_id, access_rule_id)
       VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [row.id, ruleId],
    );
  }
}

/**
 * The user's rule a credential refers to, as Keystone finds it: by id when one is given (another
 * user's id is not found), else the user's identical rule, else a new one with a new id.
 */
async function userAccessRule(db: Queryable, userId: string, rule: Partial<AccessRuleRef>): Promise<number> {
  if (rule.id !== undefined) {
    const { rows } = await db.query<{ id: number }>(
      'SELECT id FROM access_rule WHERE external_id = $1 AND user_id = $2',
      [rule.id, userId],
    );
    if (rows[0]) return rows[0].id;
  }
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO access_rule (external_id, user_id, service, path, method) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id, service, path, method) DO UPDATE SET external_id = access_rule.external_id
     RETURNING id`,
    [rule.id ?? randomUUID().replaceAll('-', ''), userId, rule.service, rule.path, rule.method],
  );
  return (rows[0] as { id: number }).id;
}

export async function listApplicationCredentials(
  db: Queryable,
  userId: string,
  name?: string,
): Promise<ApplicationCredentialRow[]> {
  const { rows } = await db.query<ApplicationCredentialRow>(
    `${SELECT} WHERE user_id = $1 AND ($2::text IS NULL OR name = $2) ORDER BY name, id`,
    [userId, name ?? null],
  );
  return rows;
}

export async function deleteApplicationCredential(
  db: Queryable,
  userId: string,
  id: string,
): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM application_credential WHERE id = $1 AND user_id = $2', [
    id,
    userId,
  ]);
  return (rowCount ?? 0) > 0;
}

export interface ApplicationCredentialRole extends RoleRef {
  domain_id: string | null;
  description: string;
  options: Record<string, unknown>;
}

// --- access rules ------------------------------------------------------------------------------

export interface AccessRule {
  service: string;
  path: string;
  method: string;
}

/** A rule as a create request names it: its parts, and the id of the user's existing one. */
export interface AccessRuleRef extends AccessRule {
  id?: string;
}

export interface AccessRuleRow extends AccessRule {
  id: string;
}

/** The user's rules, or those of some of their credentials (each row with the credential's id). */
export async function accessRules(
  db: Queryable,
  filter: { userId: string; id?: string },
): Promise<AccessRuleRow[]> {
  const { rows } = await db.query<AccessRuleRow>(
    `SELECT external_id AS id, service, path, method FROM access_rule
      WHERE user_id = $1 AND ($2::text IS NULL OR external_id = $2) ORDER BY id`,
    [filter.userId, filter.id ?? null],
  );
  return rows;
}

export async function accessRulesOf(
  db: Queryable,
  applicationCredentialIds: string[],
): Promise<Array<AccessRuleRow & { application_credential_id: string }>> {
  const { rows } = await db.query<AccessRuleRow & { application_credential_id: string }>(
    `SELECT a.application_credential_id, r.external_id AS id, r.service, r.path, r.method
       FROM application_credential_access_rule a JOIN access_rule r ON r.id = a.access_rule_id
      WHERE a.application_credential_id = ANY($1) ORDER BY r.id`,
    [applicationCredentialIds],
  );
  return rows;
}

/** Deletes a rule no credential uses: 'deleted', 'in use' or 'missing'. */
export async function deleteAccessRule(
  db: Queryable,
  userId: string,
  externalId: string,
): Promise<'deleted' | 'in use' | 'missing'> {
  const { rows } = await db.query<{ in_use: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM application_credential_access_rule a WHERE a.access_rule_id = r.id) AS in_use
       FROM access_rule r WHERE r.external_id = $1 AND r.user_id = $2 FOR UPDATE OF r`,
    [externalId, userId],
  );
  if (!rows[0]) return 'missing';
  if (rows[0].in_use) return 'in use';
  await db.query('DELETE FROM access_rule WHERE external_id = $1 AND user_id = $2', [externalId, userId]);
  return 'deleted';
}

export async function applicationCredentialRolesOf(
  db: Queryable,
  ids: string[],
): Promise<Array<ApplicationCredentialRole & { application_credential_id: string }>> {
  const { rows } = await db.query<ApplicationCredentialRole & { application_credential_id: string }>(
    `SELECT ar.application_credential_id, r.id, r.name, r.domain_id, r.description, r.options
       FROM application_credential_role ar
       JOIN role r ON r.id = ar.role_id WHERE ar.application_credential_id = ANY($1) ORDER BY r.name`,
    [ids],
  );
  return rows;
}

// --- credentials (ec2, totp, cert …) -----------------------------------------------------------

export interface CredentialRow {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  encrypted_blob: string;
  key_hash: string;
}

const CREDENTIAL_SELECT = 'SELECT id, user_id, project_id, type, encrypted_blob, key_hash FROM credential';

export async function credentialById(db: Queryable, id: string): Promise<CredentialRow | null> {
  return (await db.query<CredentialRow>(`${CREDENTIAL_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

/** Credentials matching the filter, in a stable order; `limit` rows at most (null: all). */
export async function listCredentials(
  db: Queryable,
  filter: { user_id?: string; type?: string },
  limit: number | null = null,
): Promise<CredentialRow[]> {
  const { rows } = await db.query<CredentialRow>(
    `${CREDENTIAL_SELECT} WHERE ($1::text IS NULL OR user_id = $1) AND ($2::text IS NULL OR type = $2)
      ORDER BY user_id, id LIMIT $3`,
    [filter.user_id ?? null, filter.type ?? null, limit],
  );
  return rows;
}

export async function insertCredential(db: Queryable, c: CredentialRow): Promise<void> {
  await db.query(
    'INSERT INTO credential (id, user_id, project_id, type, encrypted_blob, key_hash) VALUES ($1, $2, $3, $4, $5, $6)',
    [c.id, c.user_id, c.project_id, c.type, c.encrypted_blob, c.key_hash],
  );
}

export async function updateCredential(db: Queryable, c: CredentialRow): Promise<void> {
  await db.query(
    'UPDATE credential SET user_id = $2, project_id = $3, type = $4, encrypted_blob = $5, key_hash = $6 WHERE id = $1',
    [c.id, c.user_id, c.project_id, c.type, c.encrypted_blob, c.key_hash],
  );
}

export async function deleteCredential(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM credential WHERE id = $1', [id])).rowCount ?? 0) > 0;
}
