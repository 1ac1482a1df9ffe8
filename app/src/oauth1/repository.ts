/** SQL for OS-OAUTH1 consumers, request tokens and access tokens. */
import type { Queryable } from '../db.js';

export interface ConsumerRow {
  id: string;
  description: string | null;
  secret: string;
  extra: Record<string, unknown>;
}

export interface RequestTokenRow {
  id: string;
  request_secret: string;
  verifier: string | null;
  authorizing_user_id: string | null;
  requested_project_id: string;
  role_ids: string[] | null;
  consumer_id: string;
  expires_at: string | null;
}

export interface AccessTokenRow {
  id: string;
  access_secret: string;
  authorizing_user_id: string;
  project_id: string;
  role_ids: string[];
  consumer_id: string;
  expires_at: string | null;
}

export async function consumerById(db: Queryable, id: string): Promise<ConsumerRow | null> {
  return (await db.query<ConsumerRow>('SELECT * FROM consumer WHERE id = $1', [id])).rows[0] ?? null;
}

export async function listConsumers(db: Queryable): Promise<ConsumerRow[]> {
  return (await db.query<ConsumerRow>('SELECT * FROM consumer ORDER BY id')).rows;
}

export async function insertConsumer(db: Queryable, c: ConsumerRow): Promise<void> {
  await db.query('INSERT INTO consumer (id, description, secret, extra) VALUES ($1, $2, $3, $4)', [
    c.id,
    c.description,
    c.secret,
    c.extra,
  ]);
}

/** The description and extra attributes; never the secret. */
export async function updateConsumer(
  db: Queryable,
  id: string,
  description: string | null,
  extra: Record<string, unknown>,
): Promise<ConsumerRow | null> {
  const { rows } = await db.query<ConsumerRow>(
    'UPDATE consumer SET description = $2, extra = $3 WHERE id = $1 RETURNING *',
    [id, description, extra],
  );
  return rows[0] ?? null;
}

/** Its request and access tokens go with it (ON DELETE CASCADE). */
export async function deleteConsumer(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM consumer WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

export async function insertRequestToken(db: Queryable, t: RequestTokenRow): Promise<void> {
  await db.query(
    `INSERT INTO request_token (id, request_secret, requested_project_id, consumer_id, expires_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [t.id, t.request_secret, t.requested_project_id, t.consumer_id, t.expires_at],
  );
}

export async function requestTokenById(db: Queryable, id: string): Promise<RequestTokenRow | null> {
  return (await db.query<RequestTokenRow>('SELECT * FROM request_token WHERE id = $1', [id])).rows[0] ?? null;
}

export async function authorizeRequestToken(
  db: Queryable,
  id: string,
  userId: string,
  verifier: string,
  roleIds: string[],
): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE request_token SET authorizing_user_id = $2, verifier = $3, role_ids = $4 WHERE id = $1',
    [id, userId, verifier, JSON.stringify(roleIds)],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Exchanges an authorized request token for an access token in one statement: the request token
 * is deleted as the access token is made from it, so a second exchange (even a concurrent one)
 * finds nothing. null when the request token is gone or was not authorized.
 */
export async function exchangeRequestToken(
  db: Queryable,
  requestTokenId: string,
  access: { id: string; secret: string; expiresAt: string | null },
): Promise<AccessTokenRow | null> {
  const { rows } = await db.query<AccessTokenRow>(
    `WITH used AS (DELETE FROM request_token WHERE id = $1 AND authorizing_user_id IS NOT NULL RETURNING *)
     INSERT INTO access_token (id, access_secret, authorizing_user_id, project_id, role_ids, consumer_id, expires_at)
     SELECT $2, $3, authorizing_user_id, requested_project_id, COALESCE(role_ids, '[]'), consumer_id, $4 FROM used
     RETURNING *`,
    [requestTokenId, access.id, access.secret, access.expiresAt],
  );
  return rows[0] ?? null;
}

export async function accessTokenById(db: Queryable, id: string): Promise<AccessTokenRow | null> {
  return (await db.query<AccessTokenRow>('SELECT * FROM access_token WHERE id = $1', [id])).rows[0] ?? null;
}

export async function accessTokensOf(db: Queryable, userId: string): Promise<AccessTokenRow[]> {
  return (
    await db.query<AccessTokenRow>('SELECT * FROM access_token WHERE authorizing_user_id = $1 ORDER BY id', [
      userId,
    ])
  ).rows;
}

export async function deleteAccessToken(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM access_token WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

/**
 * The roles an access token delegates, with the roles they imply (Keystone's add_implied_roles):
 * a token issued through it holds those of them its user still has on the project.
 */
export async function delegatedRoleIds(db: Queryable, accessTokenId: string): Promise<string[]> {
  const { rows } = await db.query<{ role_id: string }>(
    `WITH RECURSIVE closure AS (
       SELECT jsonb_array_elements_text(role_ids) AS role_id FROM access_token WHERE id = $1
       UNION SELECT i.implied_role_id FROM implied_role i JOIN closure c ON i.prior_role_id = c.role_id)
     SELECT role_id FROM closure`,
    [accessTokenId],
  );
  return rows.map((r) => r.role_id);
}
