/** SQL for users, their passwords (current and history) and failed-authentication counters. */
import type { Queryable } from '../db.js';

export interface UserRow {
  id: string;
  name: string;
  domain_id: string;
  domain_name: string;
  domain_enabled: boolean;
  enabled: boolean;
  default_project_id: string | null;
  options: UserOptions;
  failed_auth_count: number;
  failed_auth_at: Date | null;
  password_hash: string | null;
  password_created_at: Date | null;
  password_expires_at: Date | null;
}

/** Keystone's per-user security options (the `options` object of a user). */
export interface UserOptions {
  ignore_password_expiry?: boolean;
  ignore_lockout_failure_attempts?: boolean;
  ignore_change_password_upon_first_use?: boolean;
  lock_password?: boolean;
}

const USER_SELECT = `
  SELECT u.id, u.name, u.domain_id, d.name AS domain_name, d.enabled AS domain_enabled, u.enabled,
         u.default_project_id, u.options, u.failed_auth_count, u.failed_auth_at,
         p.hash AS password_hash, p.created_at AS password_created_at, p.expires_at AS password_expires_at
    FROM "user" u JOIN domain d ON d.id = u.domain_id
    LEFT JOIN LATERAL (SELECT hash, created_at, expires_at FROM password WHERE user_id = u.id
                        ORDER BY created_at DESC, id DESC LIMIT 1) p ON true`;

export async function userById(db: Queryable, id: string): Promise<UserRow | null> {
  return (await db.query<UserRow>(`${USER_SELECT} WHERE u.id = $1`, [id])).rows[0] ?? null;
}

export async function userByName(
  db: Queryable,
  name: string,
  domain: { id?: string; name?: string },
): Promise<UserRow | null> {
  const { rows } = domain.id
    ? await db.query<UserRow>(`${USER_SELECT} WHERE u.name = $1 AND u.domain_id = $2`, [name, domain.id])
    : await db.query<UserRow>(`${USER_SELECT} WHERE u.name = $1 AND d.name = $2`, [name, domain.name]);
  return rows[0] ?? null;
}

/** Creates the user unless one of that name exists in the domain; returns its id either way. */
export async function ensureUser(db: Queryable, id: string, name: string, domainId: string): Promise<string> {
  await db.query(
    `INSERT INTO "user" (id, name, domain_id) VALUES ($1, $2, $3) ON CONFLICT (domain_id, name) DO NOTHING`,
    [id, name, domainId],
  );
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM "user" WHERE domain_id = $1 AND name = $2`,
    [domainId, name],
  );
  return (rows[0] as { id: string }).id;
}

/** The newest `count` password hashes, newest first (the first is the current password). */
export async function recentPasswordHashes(db: Queryable, userId: string, count: number): Promise<string[]> {
  const { rows } = await db.query<{ hash: string }>(
    'SELECT hash FROM password WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
    [userId, count],
  );
  return rows.map((r) => r.hash);
}

/** Makes `hash` the current password; earlier rows stay as history. */
export async function addPassword(
  db: Queryable,
  userId: string,
  hash: string,
  expiresAt: Date | null,
): Promise<void> {
  await db.query('INSERT INTO password (user_id, hash, expires_at) VALUES ($1, $2, $3)', [
    userId,
    hash,
    expiresAt,
  ]);
}

export async function recordFailedAuth(db: Queryable, userId: string): Promise<void> {
  await db.query(
    'UPDATE "user" SET failed_auth_count = failed_auth_count + 1, failed_auth_at = now() WHERE id = $1',
    [userId],
  );
}

export async function resetFailedAuth(db: Queryable, userId: string): Promise<void> {
  await db.query(
    'UPDATE "user" SET failed_auth_count = 0, failed_auth_at = NULL WHERE id = $1 AND failed_auth_count <> 0',
    [userId],
  );
}

export async function setUserEnabled(db: Queryable, userId: string, enabled: boolean): Promise<boolean> {
  // Re-enabling also clears a lockout, as Keystone's does.
  const { rowCount } = await db.query(
    `UPDATE "user" SET enabled = $2,
            failed_auth_count = CASE WHEN $2 THEN 0 ELSE failed_auth_count END,
            failed_auth_at = CASE WHEN $2 THEN NULL ELSE failed_auth_at END
      WHERE id = $1`,
    [userId, enabled],
  );
  return (rowCount ?? 0) > 0;
}

/** The members of a group (a group grant's removal revokes their tokens). */
export async function groupMembers(db: Queryable, groupId: string): Promise<string[]> {
  const { rows } = await db.query<{ user_id: string }>(
    'SELECT user_id FROM group_member WHERE group_id = $1',
    [groupId],
  );
  return rows.map((r) => r.user_id);
}
