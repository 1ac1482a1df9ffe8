/** SQL for revocation events (Keystone's revocation model, the fields our tokens carry). */
import type { Queryable } from '../db.js';

export interface RevocationCheck {
  auditIds: string[];
  /** The token's user, and a trust-scoped token's trustor (an event for either matches it, as Keystone's). */
  userId: string | string[];
  projectId: string | null;
  domainId: string | null;
  issuedAt: Date;
}

/**
 * Whether an event matches every one of its non-null fields to the token, issued before it. An
 * event naming one token (its audit id) matches it whatever issue time it carries: the token
 * exists before its revocation, and a clock that ran ahead where it was minted must not save it.
 */
export async function isRevoked(db: Queryable, token: RevocationCheck): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM revocation_event
      WHERE (audit_id IS NOT NULL OR issued_before > $1)
        AND (audit_id IS NULL OR audit_id = ANY($2))
        AND (audit_chain_id IS NULL OR audit_chain_id = ANY($2))
        AND (user_id IS NULL OR user_id = ANY($3))
        AND (project_id IS NULL OR project_id = $4)
        AND (domain_id IS NULL OR domain_id = $5)
        AND (audit_id IS NOT NULL OR audit_chain_id IS NOT NULL OR user_id IS NOT NULL
             OR project_id IS NOT NULL OR domain_id IS NOT NULL)
      LIMIT 1`,
    [
      token.issuedAt,
      token.auditIds,
      Array.isArray(token.userId) ? token.userId : [token.userId],
      token.projectId,
      token.domainId,
    ],
  );
  return rows.length > 0;
}

export interface RevocationEvent {
  auditId?: string;
  userId?: string;
  projectId?: string;
  domainId?: string;
  expiresAt?: Date;
}

/**
 * Records the event at `at`, or at the database's now() when null (the clock tokens are issued
 * on); the table's trigger notifies every process (migration 0002).
 * A token's issued_at has whole seconds (the Fernet timestamp). An event naming one token (audit
 * id) matches it whenever it was issued; a broader event (user, project) is stamped with the whole
 * second and matches tokens issued before that second, so a token issued right after a password
 * change or re-enabling stays valid even within the same second.
 */
export async function addRevocation(db: Queryable, event: RevocationEvent, at: Date | null): Promise<void> {
  await db.query(
    `INSERT INTO revocation_event (audit_id, user_id, project_id, domain_id, expires_at, issued_before)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $1::text IS NULL THEN date_trunc('second', coalesce($6::timestamptz, now()))
                                      ELSE coalesce($6::timestamptz, now()) END)`,
    [
      event.auditId ?? null,
      event.userId ?? null,
      event.projectId ?? null,
      event.domainId ?? null,
      event.expiresAt ?? null,
      at,
    ],
  );
}

/**
 * The database's clock, in milliseconds: revocation events are stamped with it, so tokens are
 * issued on it too (an app host whose clock runs ahead would otherwise mint tokens that outlive a
 * revocation made after them).
 */
export async function databaseNow(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  return (rows[0] as { now: Date }).now.getTime();
}

/** Drops events no token can match any more (older than the longest token life plus a margin). */
export async function purgeRevocations(db: Queryable, olderThanSeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM revocation_event WHERE revoked_at < now() - make_interval(secs => $1)`,
    [olderThanSeconds],
  );
  return rowCount ?? 0;
}
