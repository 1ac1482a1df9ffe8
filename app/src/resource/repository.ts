/** SQL for domains and projects: lookups, CRUD, hierarchy, tags, and what a domain owns. */
import type { Queryable } from '../db.js';
import { applyHints, type Hint } from '../hints.js';

export interface DomainRow {
  id: string;
  name: string;
  enabled: boolean;
  description: string;
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
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

/** A domain with everything its API shows. */
export interface DomainRecord extends DomainRow {
  tags: string[];
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export type Ref = { id?: string; name?: string };

export async function domainBy(db: Queryable, ref: Ref): Promise<DomainRow | null> {
  const { rows } = ref.id
    ? await db.query<DomainRow>('SELECT id, name, enabled, description FROM domain WHERE id = $1', [ref.id])
    : await db.query<DomainRow>('SELECT id, name, enabled, description FROM domain WHERE name = $1', [
        ref.name,
      ]);
  return rows[0] ?? null;
}

export const PROJECT_SELECT = `
  SELECT p.id, p.name, p.domain_id, d.name AS domain_name, p.enabled, d.enabled AS domain_enabled,
         p.parent_id, p.description, p.is_domain, p.tags, p.options, p.extra
    FROM project p JOIN domain d ON d.id = p.domain_id`;

export async function projectBy(db: Queryable, ref: Ref & { domain?: Ref }): Promise<ProjectRow | null> {
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

export async function ensureDomain(
  db: Queryable,
  id: string,
  name: string,
  description: string,
): Promise<void> {
  await db.query(
    'INSERT INTO domain (id, name, description) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
    [id, name, description],
  );
}

/** Creates the project unless one of that name exists in the domain; returns its id either way. */
export async function ensureProject(
  db: Queryable,
  project: { id: string; name: string; domainId: string; description: string },
): Promise<string> {
  await db.query(
    `INSERT INTO project (id, name, domain_id, description) VALUES ($1, $2, $3, $4)
     ON CONFLICT (domain_id, name) DO NOTHING`,
    [project.id, project.name, project.domainId, project.description],
  );
  const { rows } = await db.query<{ id: string }>(
    'SELECT id FROM project WHERE domain_id = $1 AND name = $2',
    [project.domainId, project.name],
  );
  return (rows[0] as { id: string }).id;
}

export async function setProjectEnabled(db: Queryable, id: string, enabled: boolean): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE project SET enabled = $2 WHERE id = $1', [id, enabled]);
  return (rowCount ?? 0) > 0;
}

export async function setDomainEnabled(db: Queryable, id: string, enabled: boolean): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE domain SET enabled = $2 WHERE id = $1', [id, enabled]);
  return (rowCount ?? 0) > 0;
}

const DOMAIN_SELECT = 'SELECT id, name, enabled, description, tags, options, extra FROM domain';

export async function domainRecord(db: Queryable, id: string): Promise<DomainRecord | null> {
  return (await db.query<DomainRecord>(`${DOMAIN_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function listDomains(db: Queryable, hints: Hint[]): Promise<DomainRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  applyHints(hints, { name: 'name', enabled: 'enabled' }, where, params);
  const { rows } = await db.query<DomainRecord>(
    `${DOMAIN_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name`,
    params,
  );
  return rows;
}

export interface DomainFields {
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export async function insertDomain(db: Queryable, id: string, d: DomainFields): Promise<void> {
  await db.query(
    'INSERT INTO domain (id, name, description, enabled, tags, options, extra) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [id, d.name, d.description, d.enabled, d.tags, d.options, d.extra],
  );
}

export async function updateDomain(db: Queryable, id: string, d: DomainFields): Promise<void> {
  await db.query(
    `UPDATE domain SET name = $2, description = $3, enabled = $4, tags = $5, options = $6, extra = $7
      WHERE id = $1`,
    [id, d.name, d.description, d.enabled, d.tags, d.options, d.extra],
  );
}

/**
 * Deletes a domain and everything it owns: its projects, users, groups and domain-specific
 * roles go by foreign key; the grants on and of them are removed here (grants name their actor
 * and target by id only). Returns the ids of the users that went with it.
 */
export async function deleteDomain(db: Queryable, id: string): Promise<string[]> {
  const users = (await db.query<{ id: string }>('SELECT id FROM "user" WHERE domain_id = $1', [id])).rows.map(
    (r) => r.id,
  );
  await db.query(
    `DELETE FROM assignment a
      WHERE (a.actor_type = 'user' AND a.actor_id IN (SELECT id FROM "user" WHERE domain_id = $1))
         OR (a.actor_type = 'group' AND a.actor_id IN (SELECT id FROM "group" WHERE domain_id = $1))
         OR (a.target_type = 'project' AND a.target_id IN (SELECT id FROM project WHERE domain_id = $1))
         OR (a.target_type = 'domain' AND a.target_id = $1)`,
    [id],
  );
  await db.query('DELETE FROM domain WHERE id = $1', [id]);
  return users;
}

export interface ProjectFilter {
  hints: Hint[];
  /** Every tag (tags), at least one (tags-any), not every one (not-tags), none (not-tags-any). */
  tags?: string[];
  tagsAny?: string[];
  notTags?: string[];
  notTagsAny?: string[];
}

export async function listProjects(db: Queryable, f: ProjectFilter): Promise<ProjectRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  applyHints(
    f.hints,
    { name: 'p.name', enabled: 'p.enabled', domain_id: 'p.domain_id', parent_id: 'p.parent_id' },
    where,
    params,
  );
  const tagClause = (list: string[] | undefined, sql: (p: string) => string) => {
    if (!list) return;
    params.push(list);
    where.push(sql(`$${params.length}::text[]`));
  };
  tagClause(f.tags, (p) => `p.tags @> ${p}`);
  tagClause(f.tagsAny, (p) => `p.tags && ${p}`);
  tagClause(f.notTags, (p) => `NOT (p.tags @> ${p})`);
  tagClause(f.notTagsAny, (p) => `NOT (p.tags && ${p})`);
  const { rows } = await db.query<ProjectRow>(
    `${PROJECT_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY p.name, p.id`,
    params,
  );
  return rows;
}

export interface ProjectFields {
  name: string;
  domainId: string;
  parentId: string | null;
  description: string;
  enabled: boolean;
  tags: string[];
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export async function insertProject(db: Queryable, id: string, p: ProjectFields): Promise<void> {
  await db.query(
    `INSERT INTO project (id, name, domain_id, parent_id, description, enabled, tags, options, extra)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [id, p.name, p.domainId, p.parentId, p.description, p.enabled, p.tags, p.options, p.extra],
  );
}

export async function updateProject(
  db: Queryable,
  id: string,
  p: Omit<ProjectFields, 'domainId' | 'parentId'>,
): Promise<void> {
  await db.query(
    `UPDATE project SET name = $2, description = $3, enabled = $4, tags = $5, options = $6, extra = $7
      WHERE id = $1`,
    [id, p.name, p.description, p.enabled, p.tags, p.options, p.extra],
  );
}

export async function setProjectTags(db: Queryable, id: string, tags: string[]): Promise<void> {
  await db.query('UPDATE project SET tags = $2 WHERE id = $1', [id, tags]);
}

/** The project's ancestors, nearest first. */
export async function projectParents(db: Queryable, id: string): Promise<ProjectRow[]> {
  const { rows } = await db.query<ProjectRow & { depth: number }>(
    `WITH RECURSIVE up AS (SELECT parent_id AS id, 1 AS depth FROM project WHERE id = $1 AND parent_id IS NOT NULL
                           UNION ALL
                           SELECT p.parent_id, up.depth + 1 FROM project p JOIN up ON p.id = up.id
                            WHERE p.parent_id IS NOT NULL)
     ${PROJECT_SELECT} JOIN up ON up.id = p.id ORDER BY up.depth`,
    [id],
  );
  return rows;
}

/** The project's descendants, breadth first. */
export async function projectSubtree(db: Queryable, id: string): Promise<ProjectRow[]> {
  const { rows } = await db.query<ProjectRow>(
    `WITH RECURSIVE down AS (SELECT id, 1 AS depth FROM project WHERE parent_id = $1
                             UNION ALL
                             SELECT p.id, down.depth + 1 FROM project p JOIN down ON p.parent_id = down.id)
     ${PROJECT_SELECT} JOIN down ON down.id = p.id ORDER BY down.depth, p.name`,
    [id],
  );
  return rows;
}

export async function hasChildren(db: Queryable, id: string, enabledOnly = false): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM project WHERE parent_id = $1 ${enabledOnly ? 'AND enabled' : ''} LIMIT 1`,
    [id],
  );
  return rows.length > 0;
}

/** Deletes a leaf project and every grant on it. */
export async function deleteProject(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM assignment WHERE target_type = 'project' AND target_id = $1`, [id]);
  await db.query('DELETE FROM project WHERE id = $1', [id]);
}

/**
 * Projects where the user, directly or through a group, holds a role: on the project itself, or
 * inherited from its domain or an ancestor (Keystone's list_projects_for_user).
 */
export async function projectsForUser(db: Queryable, userId: string, hints: Hint[]): Promise<ProjectRow[]> {
  const where: string[] = [];
  const params: unknown[] = [userId];
  applyHints(hints, { name: 'p.name', enabled: 'p.enabled', domain_id: 'p.domain_id' }, where, params);
  const { rows } = await db.query<ProjectRow>(
    `WITH RECURSIVE
       actors AS (SELECT 'user'::text AS type, $1::text AS id
                  UNION ALL SELECT 'group', group_id FROM group_member WHERE user_id = $1),
       granted AS (SELECT a.target_type, a.target_id, a.inherited FROM assignment a
                     JOIN actors ON a.actor_type = actors.type AND a.actor_id = actors.id
                    WHERE a.target_type IN ('project', 'domain')),
       below AS (SELECT p.id FROM project p JOIN granted g
                   ON g.inherited AND g.target_type = 'project' AND g.target_id = p.parent_id
                 UNION SELECT p.id FROM project p JOIN below b ON p.parent_id = b.id),
       direct AS (SELECT target_id AS id FROM granted WHERE target_type = 'project' AND NOT inherited
                  UNION SELECT p.id FROM project p JOIN granted g
                          ON g.inherited AND g.target_type = 'domain' AND g.target_id = p.domain_id
                  UNION SELECT id FROM below)
     ${PROJECT_SELECT} WHERE p.id IN (SELECT id FROM direct) ${where.length ? `AND ${where.join(' AND ')}` : ''}
      ORDER BY p.name, p.id`,
    params,
  );
  return rows;
}
