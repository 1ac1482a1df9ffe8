/**
 * SQL for users, their passwords (current and history) and failed-authentication counters,
 * groups and group membership.
 */
import type { Queryable } from '../db.js';
import { applyHints, type Hint } from '../hints.js';

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
  description: string;
  extra: Record<string, unknown>;
}

/** Keystone's per-user security options (the `options` object of a user). */
export interface UserOptions {
  ignore_password_expiry?: boolean;
  ignore_lockout_failure_attempts?: boolean;
  ignore_change_password_upon_first_use?: boolean;
  lock_password?: boolean;
  multi_factor_auth_enabled?: boolean;
  multi_factor_auth_rules?: string[][];
}

const USER_SELECT = `
  SELECT u.id, u.name, u.domain_id, d.name AS domain_name, d.enabled AS domain_enabled, u.enabled,
         u.default_project_id, u.options, u.failed_auth_count, u.failed_auth_at, u.description, u.extra,
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
  // A name names a local user: shadow users' names are display names, unique nowhere.
  const { rows } = domain.id
    ? await db.query<UserRow>(`${USER_SELECT} WHERE u.name = $1 AND u.domain_id = $2 AND NOT u.federated`, [
        name,
        domain.id,
      ])
    : await db.query<UserRow>(`${USER_SELECT} WHERE u.name = $1 AND d.name = $2 AND NOT u.federated`, [
        name,
        domain.name,
      ]);
  return rows[0] ?? null;
}

/** Creates the user unless one of that name exists in the domain; returns its id either way. */
export async function ensureUser(db: Queryable, id: string, name: string, domainId: string): Promise<string> {
  await db.query(
    `INSERT INTO "user" (id, name, domain_id) VALUES ($1, $2, $3)
     ON CONFLICT (domain_id, name) WHERE NOT federated DO NOTHING`,
    [id, name, domainId],
  );
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM "user" WHERE domain_id = $1 AND name = $2 AND NOT federated`,
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

/** `at`: when it failed (null: the database's now(), one clock for every host). */
export async function recordFailedAuth(db: Queryable, userId: string, at: Date | null): Promise<void> {
  await db.query(
    `UPDATE "user" SET failed_auth_count = failed_auth_count + 1,
                       failed_auth_at = coalesce($2::timestamptz, now()) WHERE id = $1`,
    [userId, at],
  );
}

/**
 * Counts an authentication attempt before its password is checked, unless the account is locked:
 * one atomic statement, so parallel guesses cannot all pass the check before any is counted. A
 * lock whose duration has passed starts the count again. `ignoreLock`: the user's
 * ignore_lockout_failure_attempts option (attempts still count, as in Keystone). False when the
 * account is locked (or gone). `at`: the time of the attempt (null: the database's now(), one clock
 * for every host).
 */
export async function reserveAttempt(
  db: Queryable,
  userId: string,
  lock: { attempts: number; durationSeconds: number; ignore: boolean; at: Date | null },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE "user"
        SET failed_auth_count = CASE WHEN failed_auth_count >= $2 AND NOT $4 THEN 1 ELSE failed_auth_count + 1 END,
            failed_auth_at = coalesce($5::timestamptz, now())
      WHERE id = $1
        AND ($4 OR failed_auth_count < $2
             OR ($3 > 0 AND failed_auth_at + make_interval(secs => $3) <= coalesce($5::timestamptz, now())))`,
    [userId, lock.attempts, lock.durationSeconds, lock.ignore, lock.at],
  );
  return (rowCount ?? 0) > 0;
}

/** Gives back an attempt counted by reserveAttempt whose password was right (or never checked). */
export async function releaseAttempt(db: Queryable, userId: string): Promise<void> {
  await db.query('UPDATE "user" SET failed_auth_count = GREATEST(failed_auth_count - 1, 0) WHERE id = $1', [
    userId,
  ]);
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

const USER_COLUMNS: Record<string, string> = {
  name: 'u.name',
  domain_id: 'u.domain_id',
  enabled: 'u.enabled',
  password_expires_at: 'p.expires_at',
};

/** What a user list shows: no hash, no counters (lists can be long). */
export type UserListRow = Pick<
  UserRow,
  | 'id'
  | 'name'
  | 'domain_id'
  | 'enabled'
  | 'default_project_id'
  | 'options'
  | 'description'
  | 'extra'
  | 'password_expires_at'
>;

const USER_LIST_SELECT = `
  SELECT u.id, u.name, u.domain_id, u.enabled, u.default_project_id, u.options, u.description, u.extra,
         p.expires_at AS password_expires_at
    FROM "user" u
    LEFT JOIN LATERAL (SELECT expires_at FROM password WHERE user_id = u.id
                        ORDER BY created_at DESC, id DESC LIMIT 1) p ON true`;

/** Users matching the hints; `groupId` limits them to one group's members. */
export async function listUsers(db: Queryable, hints: Hint[], groupId?: string): Promise<UserListRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (groupId) {
    params.push(groupId);
    where.push('u.id IN (SELECT user_id FROM group_member WHERE group_id = $1)');
  }
  applyHints(hints, USER_COLUMNS, where, params);
  const { rows } = await db.query<UserListRow>(
    `${USER_LIST_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY u.name, u.id`,
    params,
  );
  return rows;
}

export interface UserFields {
  name: string;
  domainId: string;
  enabled: boolean;
  defaultProjectId: string | null;
  description: string;
  options: UserOptions;
  extra: Record<string, unknown>;
}

export async function insertUser(db: Queryable, id: string, u: UserFields): Promise<void> {
  await db.query(
    `INSERT INTO "user" (id, name, domain_id, enabled, default_project_id, description, options, extra)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [id, u.name, u.domainId, u.enabled, u.defaultProjectId, u.description, u.options, u.extra],
  );
}

export async function updateUser(db: Queryable, id: string, u: Omit<UserFields, 'domainId'>): Promise<void> {
  // Re-enabling also clears a lockout, as setUserEnabled does.
  await db.query(
    `UPDATE "user" SET name = $2, enabled = $3, default_project_id = $4, description = $5, options = $6,
            extra = $7,
            failed_auth_count = CASE WHEN $3 AND NOT enabled THEN 0 ELSE failed_auth_count END,
            failed_auth_at = CASE WHEN $3 AND NOT enabled THEN NULL ELSE failed_auth_at END
      WHERE id = $1`,
    [id, u.name, u.enabled, u.defaultProjectId, u.description, u.options, u.extra],
  );
}

/** Deletes the user and every grant the user holds; passwords, memberships, credentials and
 * application credentials go by foreign key. */
export async function deleteUser(db: Queryable, id: string): Promise<boolean> {
  await db.query(`DELETE FROM assignment WHERE actor_type = 'user' AND actor_id = $1`, [id]);
  const { rowCount } = await db.query('DELETE FROM "user" WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

export interface GroupRow {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  extra: Record<string, unknown>;
}

const GROUP_SELECT = 'SELECT g.id, g.name, g.domain_id, g.description, g.extra FROM "group" g';

export async function groupById(db: Queryable, id: string): Promise<GroupRow | null> {
  return (await db.query<GroupRow>(`${GROUP_SELECT} WHERE g.id = $1`, [id])).rows[0] ?? null;
}

/** Groups matching the hints; `userId` limits them to the user's groups. */
export async function listGroups(db: Queryable, hints: Hint[], userId?: string): Promise<GroupRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (userId) {
    params.push(userId);
    where.push('g.id IN (SELECT group_id FROM group_member WHERE user_id = $1)');
  }
  applyHints(hints, { name: 'g.name', domain_id: 'g.domain_id' }, where, params);
  const { rows } = await db.query<GroupRow>(
    `${GROUP_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY g.name, g.id`,
    params,
  );
  return rows;
}

export interface GroupFields {
  name: string;
  domainId: string;
  description: string;
  extra: Record<string, unknown>;
}

export async function insertGroup(db: Queryable, id: string, g: GroupFields): Promise<void> {
  await db.query(
    'INSERT INTO "group" (id, name, domain_id, description, extra) VALUES ($1, $2, $3, $4, $5)',
    [id, g.name, g.domainId, g.description, g.extra],
  );
}

export async function updateGroup(
  db: Queryable,
  id: string,
  g: Omit<GroupFields, 'domainId'>,
): Promise<void> {
  await db.query('UPDATE "group" SET name = $2, description = $3, extra = $4 WHERE id = $1', [
    id,
    g.name,
    g.description,
    g.extra,
  ]);
}

/** Deletes the group and every grant it holds; memberships go by foreign key. */
export async function deleteGroup(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM assignment WHERE actor_type = 'group' AND actor_id = $1`, [id]);
  await db.query('DELETE FROM "group" WHERE id = $1', [id]);
}

export async function addMember(db: Queryable, groupId: string, userId: string): Promise<void> {
  await db.query('INSERT INTO group_member (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    groupId,
    userId,
  ]);
}

export async function isMember(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM group_member WHERE group_id = $1 AND user_id = $2', [
    groupId,
    userId,
  ]);
  return rows.length > 0;
}

export async function removeMember(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM group_member WHERE group_id = $1 AND user_id = $2', [
    groupId,
    userId,
  ]);
  return (rowCount ?? 0) > 0;
}
