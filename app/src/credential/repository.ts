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
}

const SELECT = `SELECT id, name, user_id, project_id, secret_hash, expires_at, unrestricted
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
  row: Omit<ApplicationCredentialRow, 'expires_at' | 'unrestricted'> & {
    expires_at?: Date | null;
    unrestricted?: boolean;
    roleIds: string[];
  },
): Promise<void> {
  await db.query(
    `INSERT INTO application_credential (id, name, user_id, project_id, secret_hash, expires_at, unrestricted)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      row.id,
      row.name,
      row.user_id,
      row.project_id,
      row.secret_hash,
      row.expires_at ?? null,
      row.unrestricted ?? false,
    ],
  );
  for (const roleId of row.roleIds)
    await db.query(
      'INSERT INTO application_credential_role (application_credential_id, role_id) VALUES ($1, $2)',
      [row.id, roleId],
    );
}
