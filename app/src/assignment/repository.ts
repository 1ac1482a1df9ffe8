/** SQL for roles, implied roles and grants, and the effective roles they add up to. */
import type { Queryable } from '../db.js';
import { type DomainRow, PROJECT_SELECT, type ProjectRow } from '../resource/repository.js';

export interface RoleRef {
  id: string;
  name: string;
}

export type Target =
  | { type: 'project'; id: string }
  | { type: 'domain'; id: string }
  | { type: 'system'; id: 'all' };

export type Actor = { type: 'user' | 'group'; id: string };

/**
 * The user's effective roles on a target: direct and group grants, grants inherited from the
 * project's domain and parent projects, then every role those imply. Domain-specific roles only
 * imply: they are left out at the end, as Keystone's _strip_domain_roles does, so a domain role
 * named `admin` grants nothing but the global roles it implies.
 */
/**
 * `groupIds`: groups the user acts in without being a member (a federated token's, from its
 * mapping): their roles count as the user's own groups' do.
 */
export async function effectiveRoles(
  db: Queryable,
  userId: string,
  target: Target,
  groupIds: readonly string[] = [],
): Promise<RoleRef[]> {
  const { rows } = await db.query<RoleRef>(
    `WITH RECURSIVE
       actors AS (SELECT 'user'::text AS type, $1::text AS id
                  UNION ALL SELECT 'group', group_id FROM group_member WHERE user_id = $1
                  UNION ALL SELECT 'group', unnest($4::text[])),
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
     SELECT r.id, r.name FROM role r JOIN closure c ON c.role_id = r.id WHERE r.domain_id IS NULL
      ORDER BY r.name`,
    [userId, target.type, target.id, groupIds],
  );
  return rows;
}

const HAS_GRANT = (targetType: string, targetColumn: string) => `
  EXISTS (SELECT 1 FROM assignment a
           WHERE a.target_type = '${targetType}' AND a.target_id = ${targetColumn}
             AND ((a.actor_type = 'user' AND a.actor_id = $1)
               OR (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM group_member WHERE user_id = $1))
               OR (a.actor_type = 'group' AND a.actor_id = ANY($2::text[]))))`;

/** Enabled projects where the user (or one of the user's groups) holds a role. */
export async function projectsWithRoles(
  db: Queryable,
  userId: string,
  groupIds: readonly string[] = [],
): Promise<ProjectRow[]> {
  const { rows } = await db.query<ProjectRow>(
    `${PROJECT_SELECT} WHERE p.enabled AND d.enabled AND ${HAS_GRANT('project', 'p.id')} ORDER BY p.name`,
    [userId, groupIds],
  );
  return rows;
}

export async function domainsWithRoles(
  db: Queryable,
  userId: string,
  groupIds: readonly string[] = [],
): Promise<DomainRow[]> {
  const { rows } = await db.query<DomainRow>(
    `SELECT d.id, d.name, d.enabled, d.description FROM domain d
      WHERE d.enabled AND ${HAS_GRANT('domain', 'd.id')} ORDER BY d.name`,
    [userId, groupIds],
  );
  return rows;
}

/** Creates a global role unless one of that name exists; returns its id either way. */
export async function ensureGlobalRole(db: Queryable, id: string, name: string): Promise<string> {
  await db.query(
    'INSERT INTO role (id, name) SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM role WHERE name = $2 AND domain_id IS NULL)',
    [id, name],
  );
  const { rows } = await db.query<{ id: string }>(
    'SELECT id FROM role WHERE name = $1 AND domain_id IS NULL',
    [name],
  );
  return (rows[0] as { id: string }).id;
}

export async function addImpliedRole(db: Queryable, prior: string, implied: string): Promise<void> {
  await db.query(
    'INSERT INTO implied_role (prior_role_id, implied_role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [prior, implied],
  );
}

export async function removeImpliedRole(db: Queryable, prior: string, implied: string): Promise<void> {
  await db.query('DELETE FROM implied_role WHERE prior_role_id = $1 AND implied_role_id = $2', [
    prior,
    implied,
  ]);
}

export interface Grant {
  actor: Actor;
  target: Target;
  roleId: string;
  inherited?: boolean;
}

export async function addGrant(db: Queryable, g: Grant): Promise<void> {
  await db.query(
    `INSERT INTO assignment (actor_type, actor_id, target_type, target_id, role_id, inherited)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [g.actor.type, g.actor.id, g.target.type, g.target.id, g.roleId, g.inherited ?? false],
  );
}

export async function removeGrant(db: Queryable, g: Grant): Promise<boolean> {
  const { rowCount } = await db.query(
    `DELETE FROM assignment WHERE actor_type = $1 AND actor_id = $2 AND target_type = $3 AND target_id = $4
        AND role_id = $5 AND inherited = $6`,
    [g.actor.type, g.actor.id, g.target.type, g.target.id, g.roleId, g.inherited ?? false],
  );
  return (rowCount ?? 0) > 0;
}

// --- roles -----------------------------------------------------------------------------------

export interface RoleRow {
  id: string;
  name: string;
  domain_id: string | null;
  description: string;
  options: { immutable?: boolean };
}

const ROLE_SELECT = 'SELECT id, name, domain_id, description, options FROM role';

export async function roleById(db: Queryable, id: string): Promise<RoleRow | null> {
  return (await db.query<RoleRow>(`${ROLE_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function domainRoleIds(db: Queryable): Promise<string[]> {
  return (await db.query<{ id: string }>('SELECT id FROM role WHERE domain_id IS NOT NULL')).rows.map(
    (r) => r.id,
  );
}

export async function rolesByIds(db: Queryable, ids: string[]): Promise<RoleRow[]> {
  return (await db.query<RoleRow>(`${ROLE_SELECT} WHERE id = ANY($1)`, [ids])).rows;
}

/** Global roles unless a domain is given (Keystone lists domain roles only when asked). */
export async function listRoles(
  db: Queryable,
  filter: { name?: string; domainId?: string | null },
): Promise<RoleRow[]> {
  const { rows } = await db.query<RoleRow>(
    `${ROLE_SELECT} WHERE domain_id IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR name = $2) ORDER BY name, id`,
    [filter.domainId ?? null, filter.name ?? null],
  );
  return rows;
}

export async function insertRole(db: Queryable, role: RoleRow): Promise<void> {
  await db.query('INSERT INTO role (id, name, domain_id, description, options) VALUES ($1, $2, $3, $4, $5)', [
    role.id,
    role.name,
    role.domain_id,
    role.description,
    role.options,
  ]);
}

export async function updateRole(
  db: Queryable,
  id: string,
  patch: { name?: string; description?: string; options?: RoleRow['options'] },
): Promise<RoleRow | null> {
  const { rows } = await db.query<RoleRow>(
    `UPDATE role SET name = COALESCE($2, name), description = COALESCE($3, description),
            options = COALESCE($4, options)
      WHERE id = $1 RETURNING id, name, domain_id, description, options`,
    [id, patch.name ?? null, patch.description ?? null, patch.options ?? null],
  );
  return rows[0] ?? null;
}

/** Deletes the role; its grants, inferences and application credential roles go with it (FKs). */
export async function deleteRole(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM role WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

// --- implied roles ---------------------------------------------------------------------------

export interface Inference {
  prior_role_id: string;
  implied_role_id: string;
}

/** Inserts the rule; false when it already exists. */
export async function insertImpliedRole(db: Queryable, prior: string, implied: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO implied_role (prior_role_id, implied_role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [prior, implied],
  );
  return (rowCount ?? 0) > 0;
}

export async function deleteImpliedRole(db: Queryable, prior: string, implied: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM implied_role WHERE prior_role_id = $1 AND implied_role_id = $2',
    [prior, implied],
  );
  return (rowCount ?? 0) > 0;
}

export async function inferences(db: Queryable, prior?: string): Promise<Inference[]> {
  const { rows } = await db.query<Inference>(
    `SELECT prior_role_id, implied_role_id FROM implied_role
      WHERE $1::text IS NULL OR prior_role_id = $1 ORDER BY prior_role_id, implied_role_id`,
    [prior ?? null],
  );
  return rows;
}

// --- grants ----------------------------------------------------------------------------------

export async function hasGrant(db: Queryable, g: Grant): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM assignment WHERE actor_type = $1 AND actor_id = $2 AND target_type = $3 AND target_id = $4
        AND role_id = $5 AND inherited = $6`,
    [g.actor.type, g.actor.id, g.target.type, g.target.id, g.roleId, g.inherited ?? false],
  );
  return (rowCount ?? 0) > 0;
}

/** The roles granted directly to the actor on the target (inherited or not). */
export async function grantedRoles(
  db: Queryable,
  actor: Actor,
  target: Target,
  inherited: boolean,
): Promise<RoleRow[]> {
  const { rows } = await db.query<RoleRow>(
    `SELECT r.id, r.name, r.domain_id, r.description, r.options FROM assignment a JOIN role r ON r.id = a.role_id
      WHERE a.actor_type = $1 AND a.actor_id = $2 AND a.target_type = $3 AND a.target_id = $4 AND a.inherited = $5
      ORDER BY r.name, r.id`,
    [actor.type, actor.id, target.type, target.id, inherited],
  );
  return rows;
}

export interface AssignmentRow {
  actor_type: 'user' | 'group';
  actor_id: string;
  target_type: 'project' | 'domain' | 'system';
  target_id: string;
  role_id: string;
  inherited: boolean;
}

/** Stored grants, narrowed by whichever columns are given. */
export async function listAssignments(
  db: Queryable,
  filter: {
    actorType?: 'user' | 'group';
    actorIds?: string[];
    roleIds?: string[];
    targetType?: 'project' | 'domain' | 'system';
    targetIds?: string[];
    inherited?: boolean;
    /** Only grants on this domain or on its projects (all that can give an entry within it). */
    withinDomain?: string;
  },
): Promise<AssignmentRow[]> {
  const { rows } = await db.query<AssignmentRow>(
    `SELECT actor_type, actor_id, target_type, target_id, role_id, inherited FROM assignment
      WHERE ($1::text IS NULL OR actor_type = $1) AND ($2::text[] IS NULL OR actor_id = ANY($2))
        AND ($3::text[] IS NULL OR role_id = ANY($3)) AND ($4::text IS NULL OR target_type = $4)
        AND ($5::text[] IS NULL OR target_id = ANY($5)) AND ($6::boolean IS NULL OR inherited = $6)
        AND ($7::text IS NULL OR (target_type = 'domain' AND target_id = $7)
             OR (target_type = 'project' AND target_id IN (SELECT id FROM project WHERE domain_id = $7)))
      ORDER BY target_type, target_id, actor_type, actor_id, role_id, inherited`,
    [
      filter.actorType ?? null,
      filter.actorIds ?? null,
      filter.roleIds ?? null,
      filter.targetType ?? null,
      filter.targetIds ?? null,
      filter.inherited ?? null,
      filter.withinDomain ?? null,
    ],
  );
  return rows;
}

export async function groupsOfUser(db: Queryable, userId: string): Promise<string[]> {
  const { rows } = await db.query<{ group_id: string }>(
    'SELECT group_id FROM group_member WHERE user_id = $1',
    [userId],
  );
  return rows.map((r) => r.group_id);
}

export async function membersOfGroups(
  db: Queryable,
  groupIds: string[],
): Promise<Array<{ group_id: string; user_id: string }>> {
  const { rows } = await db.query<{ group_id: string; user_id: string }>(
    'SELECT group_id, user_id FROM group_member WHERE group_id = ANY($1) ORDER BY group_id, user_id',
    [groupIds],
  );
  return rows;
}

export interface ProjectNode {
  id: string;
  domain_id: string;
  parent_id: string | null;
}

/** Every project (not projects acting as domains): the tree inherited grants flow down. */
export async function projectTree(db: Queryable): Promise<ProjectNode[]> {
  const { rows } = await db.query<ProjectNode>(
    'SELECT id, domain_id, parent_id FROM project WHERE NOT is_domain ORDER BY id',
  );
  return rows;
}

export interface NamedRef {
  id: string;
  name: string;
  domain_id: string | null;
  domain_name: string | null;
}

/** Names for include_names: users, groups, projects, domains and roles by id. */
export async function names(
  db: Queryable,
  kind: 'user' | 'group' | 'project' | 'domain' | 'role',
  ids: string[],
): Promise<NamedRef[]> {
  const sql = {
    user: 'SELECT x.id, x.name, x.domain_id, d.name AS domain_name FROM "user" x JOIN domain d ON d.id = x.domain_id',
    group:
      'SELECT x.id, x.name, x.domain_id, d.name AS domain_name FROM "group" x JOIN domain d ON d.id = x.domain_id',
    project:
      'SELECT x.id, x.name, x.domain_id, d.name AS domain_name FROM project x JOIN domain d ON d.id = x.domain_id',
    domain: 'SELECT x.id, x.name, NULL AS domain_id, NULL AS domain_name FROM domain x',
    role: 'SELECT x.id, x.name, x.domain_id, d.name AS domain_name FROM role x LEFT JOIN domain d ON d.id = x.domain_id',
  }[kind];
  return (await db.query<NamedRef>(`${sql} WHERE x.id = ANY($1)`, [ids])).rows;
}

/** Whether the actor exists (a user or a group). */
export async function actorExists(db: Queryable, actor: Actor): Promise<boolean> {
  const table = actor.type === 'user' ? '"user"' : '"group"';
  return ((await db.query(`SELECT 1 FROM ${table} WHERE id = $1`, [actor.id])).rowCount ?? 0) > 0;
}

/** The target's domain (a project's own domain, a domain itself); null when it does not exist. */
export async function targetDomain(db: Queryable, target: Target): Promise<string | null> {
  if (target.type === 'system') return null;
  const sql =
    target.type === 'project'
      ? 'SELECT domain_id AS id FROM project WHERE id = $1'
      : 'SELECT id FROM domain WHERE id = $1';
  return (await db.query<{ id: string }>(sql, [target.id])).rows[0]?.id ?? null;
}

export async function actorDomain(db: Queryable, actor: Actor): Promise<string | null> {
  const table = actor.type === 'user' ? '"user"' : '"group"';
  return (
    (await db.query<{ domain_id: string }>(`SELECT domain_id FROM ${table} WHERE id = $1`, [actor.id]))
      .rows[0]?.domain_id ?? null
  );
}
