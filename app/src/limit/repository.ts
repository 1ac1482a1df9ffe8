/** SQL for registered limits and limits (migration 0008). */
import type { Queryable } from '../db.js';
import { applyHints, type Hint } from '../hints.js';

export interface RegisteredLimitRow {
  id: string;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  default_limit: number;
  description: string | null;
}

/** A limit with its registered limit's service, region and resource, as Keystone shows it. */
export interface LimitRow {
  id: string;
  project_id: string | null;
  domain_id: string | null;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  resource_limit: number;
  description: string | null;
}

const REGISTERED = `SELECT id, service_id, region_id, resource_name, default_limit, description
                      FROM registered_limit`;
const LIMIT = `SELECT l.id, l.project_id, l.domain_id, r.service_id, r.region_id, r.resource_name,
                      l.resource_limit, l.description
                 FROM "limit" l JOIN registered_limit r ON r.id = l.registered_limit_id`;

const REGISTERED_COLUMNS = {
  service_id: 'service_id',
  region_id: 'region_id',
  resource_name: 'resource_name',
};
const LIMIT_COLUMNS = {
  service_id: 'r.service_id',
  region_id: 'r.region_id',
  resource_name: 'r.resource_name',
  project_id: 'l.project_id',
  domain_id: 'l.domain_id',
};

export async function registeredLimitById(db: Queryable, id: string): Promise<RegisteredLimitRow | null> {
  const { rows } = await db.query<RegisteredLimitRow>(`${REGISTERED} WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listRegisteredLimits(db: Queryable, hints: Hint[]): Promise<RegisteredLimitRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  applyHints(hints, REGISTERED_COLUMNS, where, params);
  const { rows } = await db.query<RegisteredLimitRow>(
    `${REGISTERED} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY internal_id`,
    params,
  );
  return rows;
}

/** The registered limit of a service, region (null: none) and resource. */
export async function registeredLimitFor(
  db: Queryable,
  serviceId: string,
  regionId: string | null,
  resourceName: string,
): Promise<RegisteredLimitRow | null> {
  const { rows } = await db.query<RegisteredLimitRow>(
    `${REGISTERED} WHERE service_id = $1 AND region_id IS NOT DISTINCT FROM $2 AND resource_name = $3`,
    [serviceId, regionId, resourceName],
  );
  return rows[0] ?? null;
}

export async function insertRegisteredLimit(db: Queryable, r: RegisteredLimitRow): Promise<void> {
  await db.query(
    `INSERT INTO registered_limit (id, service_id, region_id, resource_name, default_limit, description)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [r.id, r.service_id, r.region_id, r.resource_name, r.default_limit, r.description],
  );
}

export async function updateRegisteredLimit(db: Queryable, r: RegisteredLimitRow): Promise<void> {
  await db.query(
    `UPDATE registered_limit SET service_id = $2, region_id = $3, resource_name = $4, default_limit = $5,
            description = $6 WHERE id = $1`,
    [r.id, r.service_id, r.region_id, r.resource_name, r.default_limit, r.description],
  );
}

export async function deleteRegisteredLimit(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM registered_limit WHERE id = $1', [id]);
}

/** Whether any limit refers to the registered limit. */
export async function isReferenced(db: Queryable, registeredLimitId: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM "limit" WHERE registered_limit_id = $1 LIMIT 1', [
    registeredLimitId,
  ]);
  return rows.length > 0;
}

export async function limitById(db: Queryable, id: string): Promise<LimitRow | null> {
  const { rows } = await db.query<LimitRow>(`${LIMIT} WHERE l.id = $1`, [id]);
  return rows[0] ?? null;
}

/** Limits matching the hints; `within` narrows them to a domain: its own limits and its projects'. */
export async function listLimits(
  db: Queryable,
  hints: Hint[],
  within?: { domainId: string },
): Promise<LimitRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  applyHints(hints, LIMIT_COLUMNS, where, params);
  if (within) {
    params.push(within.domainId);
    const p = `$${params.length}`;
    where.push(`(l.domain_id = ${p} OR l.project_id IN (SELECT id FROM project WHERE domain_id = ${p}))`);
  }
  const { rows } = await db.query<LimitRow>(
    `${LIMIT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY l.internal_id`,
    params,
  );
  return rows;
}

export async function insertLimit(
  db: Queryable,
  l: {
    id: string;
    registeredLimitId: string;
    projectId: string | null;
    domainId: string | null;
    resourceLimit: number;
    description: string | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO "limit" (id, registered_limit_id, project_id, domain_id, resource_limit, description)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [l.id, l.registeredLimitId, l.projectId, l.domainId, l.resourceLimit, l.description],
  );
}

export async function updateLimit(
  db: Queryable,
  id: string,
  resourceLimit: number,
  description: string | null,
): Promise<void> {
  await db.query('UPDATE "limit" SET resource_limit = $2, description = $3 WHERE id = $1', [
    id,
    resourceLimit,
    description,
  ]);
}

export async function deleteLimit(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM "limit" WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

/**
 * Limit writes are serialised (one transaction at a time): the hierarchical model checks a
 * write against the limits around it, which a concurrent write must not change meanwhile.
 */
export async function lockLimits(db: Queryable): Promise<void> {
  await db.query("SELECT pg_advisory_xact_lock(hashtext('gatehouse.limit'))");
}

// --- what the limits refer to ---------------------------------------------------------------

export async function serviceExists(db: Queryable, id: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM service WHERE id = $1', [id])).rows.length > 0;
}

export async function regionExists(db: Queryable, id: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM region WHERE id = $1', [id])).rows.length > 0;
}

export async function domainExists(db: Queryable, id: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM domain WHERE id = $1', [id])).rows.length > 0;
}

/** A project's parent as Keystone names it: its parent project, else its domain. */
export async function projectParent(db: Queryable, id: string): Promise<{ parent: string } | null> {
  const { rows } = await db.query<{ parent: string }>(
    'SELECT coalesce(parent_id, domain_id) AS parent FROM project WHERE id = $1',
    [id],
  );
  return rows[0] ?? null;
}

/** The projects of a domain (Keystone's subtree of the project acting as the domain). */
export async function projectIdsInDomain(db: Queryable, domainId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM project WHERE domain_id = $1 ORDER BY id', [
    domainId,
  ]);
  return rows.map((r) => r.id);
}
