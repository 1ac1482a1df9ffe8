/** SQL for application credentials and their roles. */

import type { RoleRef } from '../assignment/repository.js';
import type { Queryable } from '../db.js';

export interface ApplicationCredentialRow {
  id: string;
  name: string;
  user_id: string;
  project_id: string;
  secret_hash: string;
  expires_at: Date | null;
  unrestricted: boolean;
  description: string;
}

const SELECT = `SELECT id, name, user_id, project_id, secret_hash, expires_at, unrestricted, description
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
  row: Omit<ApplicationCredentialRow, 'expires_at' | 'unrestricted' | 'description'> & {
    expires_at?: Date | null;
    unrestricted?: boolean;
    description?: string;
    roleIds: string[];
    accessRules?: AccessRule[];
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
  for (const rule of row.accessRules ?? [])
    await db.query(
      'INSERT INTO access_rule (application_credential_id, service, path, method) VALUES ($1, $2, $3, $4)',
      [row.id, rule.service, rule.path, rule.method],
    );
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

export interface AccessRuleRow extends AccessRule {
  id: string;
  application_credential_id: string;
}

const RULE_SELECT = `SELECT r.id::text AS id, r.application_credential_id, r.service, r.path, r.method
                       FROM access_rule r JOIN application_credential c ON c.id = r.application_credential_id`;

export async function accessRules(
  db: Queryable,
  filter: { userId: string; applicationCredentialIds?: string[]; id?: string },
): Promise<AccessRuleRow[]> {
  const { rows } = await db.query<AccessRuleRow>(
    `${RULE_SELECT} WHERE c.user_id = $1 AND ($2::text[] IS NULL OR r.application_credential_id = ANY($2))
        AND ($3::text IS NULL OR r.id::text = $3) ORDER BY r.id`,
    [filter.userId, filter.applicationCredentialIds ?? null, filter.id ?? null],
  );
  return rows;
}

/** One credential's access rules, as its tokens carry them (Keystone's order of keys). */
export async function accessRulesOf(
  db: Queryable,
  applicationCredentialId: string,
): Promise<Array<AccessRule & { id: string }>> {
  const { rows } = await db.query<AccessRule & { id: string }>(
    `SELECT r.id::text AS id, r.service, r.path, r.method FROM access_rule r
      WHERE r.application_credential_id = $1 ORDER BY r.id`,
    [applicationCredentialId],
  );
  return rows;
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
