/** SQL for policies and their OS-ENDPOINT-POLICY associations. */
import type { Queryable } from '../db.js';
import { applyHints, type Hint } from '../hints.js';

export interface PolicyRow {
  id: string;
  type: string;
  blob: string;
  extra: Record<string, unknown>;
}

const POLICY_SELECT = 'SELECT id, type, blob, extra FROM policy';

export async function policyById(db: Queryable, id: string): Promise<PolicyRow | null> {
  return (await db.query<PolicyRow>(`${POLICY_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function listPolicies(db: Queryable, hints: Hint[]): Promise<PolicyRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  applyHints(hints, { type: 'type' }, where, params);
  const { rows } = await db.query<PolicyRow>(
    `${POLICY_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`,
    params,
  );
  return rows;
}

export async function insertPolicy(db: Queryable, p: PolicyRow): Promise<void> {
  await db.query('INSERT INTO policy (id, type, blob, extra) VALUES ($1, $2, $3, $4)', [
    p.id,
    p.type,
    p.blob,
    JSON.stringify(p.extra),
  ]);
}

/** The row locked for an update, or null. */
export async function policyForUpdate(db: Queryable, id: string): Promise<PolicyRow | null> {
  return (await db.query<PolicyRow>(`${POLICY_SELECT} WHERE id = $1 FOR UPDATE`, [id])).rows[0] ?? null;
}

export async function updatePolicy(db: Queryable, p: PolicyRow): Promise<void> {
  await db.query('UPDATE policy SET type = $2, blob = $3, extra = $4 WHERE id = $1', [
    p.id,
    p.type,
    p.blob,
    JSON.stringify(p.extra),
  ]);
}

/** Deletes the policy (and its associations, by cascade); false when there was none. */
export async function deletePolicy(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM policy WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

/** What an association names: an endpoint, a service, or a service in a region. */
export interface AssociationTarget {
  endpoint_id: string | null;
  service_id: string | null;
  region_id: string | null;
}
export interface AssociationRow extends AssociationTarget {
  policy_id: string;
}

/** Keystone's create_policy_association: the target's association now names this policy. */
export async function upsertAssociation(
  db: Queryable,
  policyId: string,
  t: AssociationTarget,
): Promise<void> {
  await db.query(
    `INSERT INTO policy_association (policy_id, endpoint_id, service_id, region_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT ON CONSTRAINT policy_association_target DO UPDATE SET policy_id = EXCLUDED.policy_id`,
    [policyId, t.endpoint_id, t.service_id, t.region_id],
  );
}

const SAME_TARGET =
  'endpoint_id IS NOT DISTINCT FROM $1 AND service_id IS NOT DISTINCT FROM $2 AND region_id IS NOT DISTINCT FROM $3';

export async function associationExists(
  db: Queryable,
  policyId: string,
  t: AssociationTarget,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM policy_association WHERE ${SAME_TARGET} AND policy_id = $4`,
    [t.endpoint_id, t.service_id, t.region_id, policyId],
  );
  return (rowCount ?? 0) > 0;
}

export async function deleteAssociation(
  db: Queryable,
  policyId: string,
  t: AssociationTarget,
): Promise<void> {
  await db.query(`DELETE FROM policy_association WHERE ${SAME_TARGET} AND policy_id = $4`, [
    t.endpoint_id,
    t.service_id,
    t.region_id,
    policyId,
  ]);
}

/** The policy associated with exactly this target, or null. */
export async function policyIdFor(db: Queryable, t: AssociationTarget): Promise<string | null> {
  const { rows } = await db.query<{ policy_id: string }>(
    `SELECT policy_id FROM policy_association WHERE ${SAME_TARGET}`,
    [t.endpoint_id, t.service_id, t.region_id],
  );
  return rows[0]?.policy_id ?? null;
}

export async function associationsOf(db: Queryable, policyId: string): Promise<AssociationRow[]> {
  const { rows } = await db.query<AssociationRow>(
    'SELECT policy_id, endpoint_id, service_id, region_id FROM policy_association WHERE policy_id = $1 ORDER BY id',
    [policyId],
  );
  return rows;
}
