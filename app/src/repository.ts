/**
 * SQL for what authentication needs: users and passwords, domains and projects, effective role
 * assignments (groups, inheritance and implied roles expanded), the catalog, and revocation
 * events. The only module that runs SQL for the token path.
 */
import type { Queryable } from './db.js';

export interface UserRow {
  id: string;
  name: string;
  domain_id: string;
  domain_name: string;
  domain_enabled: boolean;
  enabled: boolean;
  default_project_id: string | null;
  password_hash: string | null;
  password_expires_at: Date | null;
}

const USER_SELECT = `
  SELECT u.id, u.name, u.domain_id, d.name AS domain_name, d.enabled AS domain_enabled, u.enabled,
         u.default_project_id, p.hash AS password_hash, p.expires_at AS password_expires_at
    FROM "user" u JOIN domain d ON d.id = u.domain_id
    LEFT JOIN LATERAL (SELECT hash, expires_at FROM password WHERE user_id = u.id ORDER BY created_at DESC, id DESC LIMIT 1) p ON true`;

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

export interface DomainRow {
  id: string;
  name: string;
  enabled: boolean;
}

export async function domainBy(
  db: Queryable,
  ref: { id?: string; name?: string },
): Promise<DomainRow | null> {
  const { rows } = ref.id
    ? await db.query<DomainRow>('SELECT id, name, enabled FROM domain WHERE id = $1', [ref.id])
    : await db.query<DomainRow>('SELECT id, name, enabled FROM domain WHERE name = $1', [ref.name]);
  return rows[0] ?? null;
}

export interface ProjectRow {
  id: string;
  name: string;
  domain_id: string;
  domain_name: string;
  enabled: boolean;
  domain_enabled: boolean;
  parent_id: string | null;
  description: string;
  is_domain: boolean;
  tags: string[];
}

const PROJECT_SELECT = `
  SELECT p.id, p.name, p.domain_id, d.name AS domain_name, p.enabled, d.enabled AS domain_enabled,
         p.parent_id, p.description, p.is_domain, p.tags
    FROM project p JOIN domain d ON d.id = p.domain_id`;

export async function projectBy(
  db: Queryable,
  ref: { id?: string; name?: string; domain?: { id?: string; name?: string } },
): Promise<ProjectRow | null> {
  if (ref.id)
    return (await db.query<ProjectRow>(`${PROJECT_SELECT} WHERE p.id = $1`, [ref.id])).rows[0] ?? null;
  const { rows } = ref.domain?.id
    ? await db.query<ProjectRow>(`${PROJECT_SELECT} WHERE p.name = $1 AND p.domain_id = $2`, [
        ref.name,
        ref.domain.id,
      ])
    : await db.query<ProjectRow>(`${PROJECT_SELECT} WHERE p.name = $1 AND d.name = $2`, [
        ref.name,
        ref.domain?.name,
      ]);
  return rows[0] ?? null;
}

export interface RoleRef {
  id: string;
  name: string;
}

export type Target =
  | { type: 'project'; id: string }
  | { type: 'domain'; id: string }
  | { type: 'system'; id: 'all' };

/**
 * The user's effective roles on a target: direct and group grants, grants inherited from the
 * project's domain and parent projects, then every role those imply.
 */
export async function effectiveRoles(db: Queryable, userId: string, target: Target): Promise<RoleRef[]> {
  const { rows } = await db.query<RoleRef>(
    `WITH RECURSIVE
       actors AS (SELECT 'user'::text AS type, $1::text AS id
                  UNION ALL SELECT 'group', group_id FROM group_member WHERE user_id = $1),
       ancestors AS (SELECT parent_id AS id FROM project WHERE id = $3 AND $2 = 'project'
                     UNION SELECT p.parent_id FROM project p JOIN ancestors a ON p.id = a.id WHERE p.parent_id IS NOT NULL),
       granted AS (
         SELECT a.role_id FROM assignment a JOIN actors ON a.actor_type = actors.type AND a.actor_id = actors.id
          WHERE a.target_type = $2 AND a.target_id = $3 AND NOT a.inherited
         UNION
         SELECT a.role_id FROM assignment a JOIN actors ON a.actor_type = actors.type AND a.actor_id = actors.id
          WHERE a.inherited AND $2 = 'project' AND (
                (a.target_type = 'domain' AND a.target_id = (SELECT domain_id FROM project WHERE id = $3))
             OR (a.target_type = 'project' AND a.target_id IN (SELECT id FROM ancestors WHERE id IS NOT NULL)))),
       closure AS (SELECT role_id FROM granted
                   UNION SELECT i.implied_role_id FROM implied_role i JOIN closure c ON i.prior_role_id = c.role_id)
     SELECT r.id, r.name FROM role r JOIN closure c ON c.role_id = r.id ORDER BY r.name`,
    [userId, target.type, target.id],
  );
  return rows;
}

export async function projectsWithRoles(db: Queryable, userId: string): Promise<ProjectRow[]> {
  const { rows } = await db.query<ProjectRow>(
    `${PROJECT_SELECT}
      WHERE p.enabled AND EXISTS (
        SELECT 1 FROM assignment a
         WHERE a.target_type = 'project' AND a.target_id = p.id
           AND ((a.actor_type = 'user' AND a.actor_id = $1)
             OR (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM group_member WHERE user_id = $1))))
      ORDER BY p.name`,
    [userId],
  );
  return rows;
}

export async function hasSystemRole(db: Queryable, userId: string): Promise<boolean> {
  return (await effectiveRoles(db, userId, { type: 'system', id: 'all' })).length > 0;
}

export interface CatalogEndpointRow {
  service_id: string;
  service_type: string;
  service_name: string;
  endpoint_id: string | null;
  interface: string | null;
  region_id: string | null;
  url: string | null;
}

export async function catalogRows(db: Queryable): Promise<CatalogEndpointRow[]> {
  const { rows } = await db.query<CatalogEndpointRow>(
    `SELECT s.id AS service_id, s.type AS service_type, s.name AS service_name,
            e.id AS endpoint_id, e.interface, e.region_id, e.url
       FROM service s LEFT JOIN endpoint e ON e.service_id = s.id AND e.enabled
      WHERE s.enabled
      ORDER BY s.type, s.id, e.interface`,
  );
  return rows;
}

export interface RevocationCheck {
  auditIds: string[];
  userId: string;
  projectId: string | null;
  issuedAt: Date;
}

/** Whether a revocation event matches the token (Keystone's model, the fields tokens carry). */
export async function isRevoked(db: Queryable, token: RevocationCheck): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM revocation_event
      WHERE issued_before >= $1
        AND (audit_id IS NULL OR audit_id = ANY($2))
        AND (audit_chain_id IS NULL OR audit_chain_id = ANY($2))
        AND (user_id IS NULL OR user_id = $3)
        AND (project_id IS NULL OR project_id = $4)
        AND (audit_id IS NOT NULL OR audit_chain_id IS NOT NULL OR user_id IS NOT NULL OR project_id IS NOT NULL)
      LIMIT 1`,
    [token.issuedAt, token.auditIds, token.userId, token.projectId],
  );
  return rows.length > 0;
}

export async function addRevocation(
  db: Queryable,
  event: { auditId?: string; userId?: string; projectId?: string; expiresAt?: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO revocation_event (audit_id, user_id, project_id, expires_at, issued_before) VALUES ($1, $2, $3, $4, now())`,
    [event.auditId ?? null, event.userId ?? null, event.projectId ?? null, event.expiresAt ?? null],
  );
  await db.query("SELECT pg_notify('identity_invalidate', 'revocation')");
}

export async function domainsWithRoles(
  db: Queryable,
  userId: string,
): Promise<Array<DomainRow & { description: string }>> {
  const { rows } = await db.query<DomainRow & { description: string }>(
    `SELECT d.id, d.name, d.enabled, d.description FROM domain d
      WHERE d.enabled AND EXISTS (
        SELECT 1 FROM assignment a
         WHERE a.target_type = 'domain' AND a.target_id = d.id
           AND ((a.actor_type = 'user' AND a.actor_id = $1)
             OR (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM group_member WHERE user_id = $1))))
      ORDER BY d.name`,
    [userId],
  );
  return rows;
}
