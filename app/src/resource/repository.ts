/** SQL for domains and projects. */
import type { Queryable } from '../db.js';

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
         p.parent_id, p.description, p.is_domain, p.tags
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
