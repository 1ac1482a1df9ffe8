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

const HAS_GRANT = (targetType: string, targetColumn: string) => `
  EXISTS (SELECT 1 FROM assignment a
           WHERE a.target_type = '${targetType}' AND a.target_id = ${targetColumn}
             AND ((a.actor_type = 'user' AND a.actor_id = $1)
               OR (a.actor_type = 'group' AND a.actor_id IN (SELECT group_id FROM group_member WHERE user_id = $1))))`;

/** Enabled projects where the user (or one of the user's groups) holds a role. */
export async function projectsWithRoles(db: Queryable, userId: string): Promise<ProjectRow[]> {
  const { rows } = await db.query<ProjectRow>(
    `${PROJECT_SELECT} WHERE p.enabled AND d.enabled AND ${HAS_GRANT('project', 'p.id')} ORDER BY p.name`,
    [userId],
  );
  return rows;
}

export async function domainsWithRoles(db: Queryable, userId: string): Promise<DomainRow[]> {
  const { rows } = await db.query<DomainRow>(
    `SELECT d.id, d.name, d.enabled, d.description FROM domain d
      WHERE d.enabled AND ${HAS_GRANT('domain', 'd.id')} ORDER BY d.name`,
    [userId],
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
