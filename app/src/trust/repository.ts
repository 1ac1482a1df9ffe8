/** SQL for OS-TRUST: trusts, the roles they delegate, and the atomic use of a limited trust. */
import type { RoleRow } from '../assignment/repository.js';
import type { Queryable } from '../db.js';

export interface TrustRow {
  id: string;
  trustor_user_id: string;
  trustee_user_id: string;
  project_id: string | null;
  impersonation: boolean;
  expires_at: Date | null;
  /** expires_at to the microsecond, UTC, as Keystone renders it (2026-12-04T12:22:50.325786). */
  expires_text: string | null;
  remaining_uses: number | null;
  redelegated_trust_id: string | null;
  redelegation_count: number | null;
  deleted_at: Date | null;
  extra: Record<string, unknown>;
  /** The delegated roles' ids. */
  role_ids: string[];
}

export interface NewTrust {
  id: string;
  trustorUserId: string;
  trusteeUserId: string;
  projectId: string | null;
  impersonation: boolean;
  /** ISO 8601 with up to microseconds, kept to the microsecond. */
  expiresAt: string | null;
  remainingUses: number | null;
  redelegatedTrustId: string | null;
  redelegationCount: number;
  extra: Record<string, unknown>;
  roleIds: string[];
}

const SELECT = `SELECT t.id, t.trustor_user_id, t.trustee_user_id, t.project_id, t.impersonation, t.expires_at,
                       to_char(t.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS expires_text,
                       t.remaining_uses, t.redelegated_trust_id, t.redelegation_count, t.deleted_at, t.extra,
                       COALESCE((SELECT array_agg(r.role_id ORDER BY r.role_id) FROM trust_role r WHERE r.trust_id = t.id),
                                '{}') AS role_ids
                  FROM trust t`;

/** The trust by id, deleted or not (the service decides what it may still be used for). */
export async function trustById(db: Queryable, id: string): Promise<TrustRow | null> {
  return (await db.query<TrustRow>(`${SELECT} WHERE t.id = $1`, [id])).rows[0] ?? null;
}

/** Trusts not deleted, all or by trustor / trustee, oldest first. */
export async function listTrusts(
  db: Queryable,
  filter: { trustorUserId?: string; trusteeUserId?: string; redelegatedTrustId?: string },
): Promise<TrustRow[]> {
  const where = ['t.deleted_at IS NULL'];
  const params: unknown[] = [];
  const add = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    params.push(value);
    where.push(`t.${column} = $${params.length}`);
  };
  add('trustor_user_id', filter.trustorUserId);
  add('trustee_user_id', filter.trusteeUserId);
  add('redelegated_trust_id', filter.redelegatedTrustId);
  return (await db.query<TrustRow>(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY t.id`, params)).rows;
}

export async function insertTrust(db: Queryable, t: NewTrust): Promise<void> {
  await db.query(
    `INSERT INTO trust (id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at,
                        remaining_uses, redelegated_trust_id, redelegation_count, extra)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      t.id,
      t.trustorUserId,
      t.trusteeUserId,
      t.projectId,
      t.impersonation,
      t.expiresAt,
      t.remainingUses,
      t.redelegatedTrustId,
      t.redelegationCount,
      t.extra,
    ],
  );
  if (t.roleIds.length > 0)
    await db.query(
      'INSERT INTO trust_role (trust_id, role_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING',
      [t.id, t.roleIds],
    );
}

/** Marks the trusts deleted (those not deleted yet); the number marked. */
export async function softDelete(db: Queryable, ids: string[]): Promise<number> {
  const { rowCount } = await db.query(
    'UPDATE trust SET deleted_at = now() WHERE id = ANY($1) AND deleted_at IS NULL',
    [ids],
  );
  return rowCount ?? 0;
}

/**
 * Uses one of a limited trust's remaining uses, in one statement: two concurrent issuers can
 * never both take the last one. 'unlimited' when the trust counts no uses, 'exhausted' when none
 * was left, 'gone' when it is deleted.
 */
export async function consumeUse(
  db: Queryable,
  id: string,
): Promise<{ result: 'used' | 'unlimited' | 'exhausted' | 'gone'; remaining: number | null }> {
  const { rows } = await db.query<{ used: boolean; remaining_uses: number | null }>(
    `WITH used AS (
       UPDATE trust SET remaining_uses = remaining_uses - 1
        WHERE id = $1 AND deleted_at IS NULL AND remaining_uses > 0
       RETURNING remaining_uses)
     SELECT true AS used, remaining_uses FROM used
     UNION ALL
     SELECT false, remaining_uses FROM trust WHERE id = $1 AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM used)`,
    [id],
  );
  const row = rows[0];
  if (!row) return { result: 'gone', remaining: null };
  const remaining = row.remaining_uses;
  if (row.used) return { result: 'used', remaining };
  return { result: remaining === null ? 'unlimited' : 'exhausted', remaining };
}

/**
 * The given roles and those they imply, transitively, in one query: each id with its role, or
 * null where the role no longer exists.
 */
export async function impliedClosure(
  db: Queryable,
  roleIds: string[],
): Promise<{ id: string; role: RoleRow | null }[]> {
  const { rows } = await db.query<{ id: string; role: RoleRow | null }>(
    `WITH RECURSIVE closure AS (SELECT unnest($1::text[]) AS role_id
        UNION SELECT i.implied_role_id FROM implied_role i JOIN closure c ON i.prior_role_id = c.role_id)
     SELECT c.role_id AS id,
            CASE WHEN r.id IS NULL THEN NULL
                 ELSE json_build_object('id', r.id, 'name', r.name, 'domain_id', r.domain_id,
                                        'description', r.description, 'options', r.options) END AS role
       FROM closure c LEFT JOIN role r ON r.id = c.role_id`,
    [roleIds],
  );
  return rows;
}

/**
 * Every role the user holds on the project, domain-specific ones included (Keystone's
 * list_role_assignments(effective=True, strip_domain_roles=False)): what a trust may delegate.
 */
export async function heldRoleIds(db: Queryable, userId: string, projectId: string): Promise<string[]> {
  const { rows } = await db.query<{ role_id: string }>(
    `WITH RECURSIVE
       actors AS (SELECT 'user'::text AS type, $1::text AS id
                  UNION ALL SELECT 'group', group_id FROM group_member WHERE user_id = $1),
       ancestors AS (SELECT parent_id AS id FROM project WHERE id = $2
                     UNION SELECT p.parent_id FROM project p JOIN ancestors a ON p.id = a.id WHERE p.parent_id IS NOT NULL),
       granted AS (
         SELECT a.role_id FROM assignment a JOIN actors ON a.actor_type = actors.type AND a.actor_id = actors.id
          WHERE a.target_type = 'project' AND a.target_id = $2 AND NOT a.inherited
         UNION
         SELECT a.role_id FROM assignment a JOIN actors ON a.actor_type = actors.type AND a.actor_id = actors.id
          WHERE a.inherited AND (
                (a.target_type = 'domain' AND a.target_id = (SELECT domain_id FROM project WHERE id = $2))
             OR (a.target_type = 'project' AND a.target_id IN (SELECT id FROM ancestors WHERE id IS NOT NULL)))),
       closure AS (SELECT role_id FROM granted
                   UNION SELECT i.implied_role_id FROM implied_role i JOIN closure c ON i.prior_role_id = c.role_id)
     SELECT role_id FROM closure`,
    [userId, projectId],
  );
  return rows.map((r) => r.role_id);
}
