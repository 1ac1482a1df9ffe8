/** SQL for regions, services and endpoints. */
import type { Queryable } from '../db.js';

export interface CatalogEndpointRow {
  service_id: string;
  service_type: string;
  service_name: string;
  endpoint_id: string | null;
  interface: string | null;
  region_id: string | null;
  url: string | null;
}

/** Enabled services, each with its enabled endpoints (or one row with null endpoint columns). */
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

export async function ensureRegion(db: Queryable, id: string): Promise<void> {
  await db.query('INSERT INTO region (id) VALUES ($1) ON CONFLICT DO NOTHING', [id]);
}

/** The first service of the type, created with this id and name when there is none. */
export async function ensureService(db: Queryable, id: string, type: string, name: string): Promise<string> {
  await db.query(
    'INSERT INTO service (id, type, name) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM service WHERE type = $2)',
    [id, type, name],
  );
  const { rows } = await db.query<{ id: string }>(
    'SELECT id FROM service WHERE type = $1 ORDER BY id LIMIT 1',
    [type],
  );
  return (rows[0] as { id: string }).id;
}

/** Sets the URL of the service's endpoint for (interface, region), creating it if missing. */
export async function upsertEndpoint(
  db: Queryable,
  e: { id: string; serviceId: string; interface: string; regionId: string; url: string },
): Promise<void> {
  const { rowCount } = await db.query(
    'UPDATE endpoint SET url = $1 WHERE service_id = $2 AND interface = $3 AND region_id = $4',
    [e.url, e.serviceId, e.interface, e.regionId],
  );
  if (!rowCount)
    await db.query(
      'INSERT INTO endpoint (id, service_id, region_id, interface, url) VALUES ($1, $2, $3, $4, $5)',
      [e.id, e.serviceId, e.regionId, e.interface, e.url],
    );
}

export interface ServiceRow {
  id: string;
  type: string;
  name: string;
  enabled: boolean;
  description: string | null;
}

export async function listServices(
  db: Queryable,
  filter: { type?: string; name?: string },
): Promise<ServiceRow[]> {
  const { rows } = await db.query<ServiceRow>(
    `SELECT id, type, name, enabled, extra->>'description' AS description FROM service
      WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR name = $2) ORDER BY type, id`,
    [filter.type ?? null, filter.name ?? null],
  );
  return rows;
}

export interface EndpointRow {
  id: string;
  service_id: string;
  region_id: string | null;
  interface: string;
  url: string;
  enabled: boolean;
}

export async function listEndpoints(
  db: Queryable,
  filter: { interface?: string; service_id?: string; region_id?: string },
): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    `SELECT id, service_id, region_id, interface, url, enabled FROM endpoint
      WHERE ($1::text IS NULL OR interface = $1) AND ($2::text IS NULL OR service_id = $2)
        AND ($3::text IS NULL OR region_id = $3)
      ORDER BY service_id, interface, id`,
    [filter.interface ?? null, filter.service_id ?? null, filter.region_id ?? null],
  );
  return rows;
}

// --- regions -----------------------------------------------------------------------------------

export interface RegionRow {
  id: string;
  description: string;
  parent_region_id: string | null;
}

const REGION_SELECT = 'SELECT id, description, parent_region_id FROM region';

export async function regionById(db: Queryable, id: string): Promise<RegionRow | null> {
  return (await db.query<RegionRow>(`${REGION_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function listRegions(
  db: Queryable,
  filter: { parent_region_id?: string },
): Promise<RegionRow[]> {
  const { rows } = await db.query<RegionRow>(
    `${REGION_SELECT} WHERE $1::text IS NULL OR parent_region_id = $1 ORDER BY id`,
    [filter.parent_region_id ?? null],
  );
  return rows;
}

export async function insertRegion(db: Queryable, r: RegionRow): Promise<void> {
  await db.query('INSERT INTO region (id, description, parent_region_id) VALUES ($1, $2, $3)', [
    r.id,
    r.description,
    r.parent_region_id,
  ]);
}

export async function updateRegion(
  db: Queryable,
  id: string,
  patch: { description?: string; parent_region_id?: string | null },
): Promise<RegionRow | null> {
  const { rows } = await db.query<RegionRow>(
    `UPDATE region SET description = COALESCE($2, description),
            parent_region_id = CASE WHEN $3 THEN $4 ELSE parent_region_id END
      WHERE id = $1 RETURNING id, description, parent_region_id`,
    [id, patch.description ?? null, 'parent_region_id' in patch, patch.parent_region_id ?? null],
  );
  return rows[0] ?? null;
}

/** The region and every region below it, deepest first (the order they can be deleted in). */
export async function regionSubtree(db: Queryable, id: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH RECURSIVE sub(id, depth) AS (SELECT id, 0 FROM region WHERE id = $1
       UNION SELECT r.id, s.depth + 1 FROM region r JOIN sub s ON r.parent_region_id = s.id WHERE s.depth < 100)
     SELECT id FROM sub ORDER BY depth DESC`,
    [id],
  );
  return rows.map((r) => r.id);
}

/** The region's ancestors, nearest first. */
export async function regionAncestors(db: Queryable, id: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH RECURSIVE up(id, depth) AS (SELECT parent_region_id, 0 FROM region WHERE id = $1
       UNION SELECT r.parent_region_id, u.depth + 1 FROM region r JOIN up u ON r.id = u.id
        WHERE r.parent_region_id IS NOT NULL AND u.depth < 100)
     SELECT id FROM up WHERE id IS NOT NULL ORDER BY depth`,
    [id],
  );
  return rows.map((r) => r.id);
}

export async function deleteRegions(db: Queryable, ids: string[]): Promise<number> {
  let n = 0;
  for (const id of ids) n += (await db.query('DELETE FROM region WHERE id = $1', [id])).rowCount ?? 0;
  return n;
}

export async function endpointsInRegions(db: Queryable, ids: string[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM endpoint WHERE region_id = ANY($1)',
    [ids],
  );
  return Number(rows[0]?.n ?? 0);
}

// --- services and endpoints --------------------------------------------------------------------

const SERVICE_SELECT = `SELECT id, type, name, enabled, extra->>'description' AS description FROM service`;

export async function serviceById(db: Queryable, id: string): Promise<ServiceRow | null> {
  return (await db.query<ServiceRow>(`${SERVICE_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function insertService(db: Queryable, s: ServiceRow): Promise<void> {
  await db.query(
    `INSERT INTO service (id, type, name, enabled, extra)
     VALUES ($1, $2, $3, $4, CASE WHEN $5::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('description', $5::text) END)`,
    [s.id, s.type, s.name, s.enabled, s.description],
  );
}

export async function updateService(
  db: Queryable,
  id: string,
  patch: { type?: string; name?: string; enabled?: boolean; description?: string | null },
): Promise<ServiceRow | null> {
  const { rows } = await db.query<ServiceRow>(
    `UPDATE service SET type = COALESCE($2, type), name = COALESCE($3, name), enabled = COALESCE($4, enabled),
            extra = CASE WHEN NOT $5 THEN extra WHEN $6::text IS NULL THEN extra - 'description'
                         ELSE extra || jsonb_build_object('description', $6::text) END
      WHERE id = $1 RETURNING id, type, name, enabled, extra->>'description' AS description`,
    [
      id,
      patch.type ?? null,
      patch.name ?? null,
      patch.enabled ?? null,
      'description' in patch,
      patch.description ?? null,
    ],
  );
  return rows[0] ?? null;
}

/** Deletes the service and its endpoints (FK cascade). */
export async function deleteService(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM service WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

const ENDPOINT_SELECT = 'SELECT id, service_id, region_id, interface, url, enabled FROM endpoint';

export async function endpointById(db: Queryable, id: string): Promise<EndpointRow | null> {
  return (await db.query<EndpointRow>(`${ENDPOINT_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function insertEndpoint(db: Queryable, e: EndpointRow): Promise<void> {
  await db.query(
    'INSERT INTO endpoint (id, service_id, region_id, interface, url, enabled) VALUES ($1, $2, $3, $4, $5, $6)',
    [e.id, e.service_id, e.region_id, e.interface, e.url, e.enabled],
  );
}

export async function updateEndpoint(
  db: Queryable,
  id: string,
  patch: Partial<Omit<EndpointRow, 'id'>>,
): Promise<EndpointRow | null> {
  const { rows } = await db.query<EndpointRow>(
    `UPDATE endpoint SET service_id = COALESCE($2, service_id),
            region_id = CASE WHEN $3 THEN $4 ELSE region_id END,
            interface = COALESCE($5, interface), url = COALESCE($6, url), enabled = COALESCE($7, enabled)
      WHERE id = $1 RETURNING id, service_id, region_id, interface, url, enabled`,
    [
      id,
      patch.service_id ?? null,
      'region_id' in patch,
      patch.region_id ?? null,
      patch.interface ?? null,
      patch.url ?? null,
      patch.enabled ?? null,
    ],
  );
  return rows[0] ?? null;
}

export async function deleteEndpoint(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM endpoint WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

// --- endpoint filtering (OS-EP-FILTER) ------------------------------------------------------------

export interface EndpointGroupFilters {
  service_id?: string;
  region_id?: string;
  interface?: string;
}

export interface EndpointGroupRow {
  id: string;
  name: string;
  description: string | null;
  filters: EndpointGroupFilters;
}

const GROUP_SELECT = 'SELECT id, name, description, filters FROM endpoint_group';

export async function endpointGroupById(db: Queryable, id: string): Promise<EndpointGroupRow | null> {
  return (await db.query<EndpointGroupRow>(`${GROUP_SELECT} WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function listEndpointGroups(db: Queryable, name?: string): Promise<EndpointGroupRow[]> {
  const { rows } = await db.query<EndpointGroupRow>(
    `${GROUP_SELECT} WHERE ($1::text IS NULL OR name = $1) ORDER BY name, id`,
    [name ?? null],
  );
  return rows;
}

export async function insertEndpointGroup(db: Queryable, g: EndpointGroupRow): Promise<void> {
  await db.query('INSERT INTO endpoint_group (id, name, description, filters) VALUES ($1, $2, $3, $4)', [
    g.id,
    g.name,
    g.description,
    g.filters,
  ]);
}

export async function updateEndpointGroup(db: Queryable, g: EndpointGroupRow): Promise<void> {
  await db.query('UPDATE endpoint_group SET name = $2, description = $3, filters = $4 WHERE id = $1', [
    g.id,
    g.name,
    g.description,
    g.filters,
  ]);
}

export async function deleteEndpointGroup(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM endpoint_group WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

/**
 * A project's associations with endpoints (project_endpoint) or with endpoint groups
 * (project_endpoint_group): add (idempotent), has, remove (whether there was one), and the
 * projects of one endpoint or group.
 */
function projectAssociation(table: 'project_endpoint' | 'project_endpoint_group', column: string) {
  const one = `${table} WHERE ${column} = $1 AND project_id = $2`;
  return {
    async add(db: Queryable, projectId: string, id: string): Promise<void> {
      await db.query(`INSERT INTO ${table} (${column}, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
        id,
        projectId,
      ]);
    },
    async has(db: Queryable, projectId: string, id: string): Promise<boolean> {
      return ((await db.query(`SELECT 1 FROM ${one}`, [id, projectId])).rowCount ?? 0) > 0;
    },
    async remove(db: Queryable, projectId: string, id: string): Promise<boolean> {
      return ((await db.query(`DELETE FROM ${one}`, [id, projectId])).rowCount ?? 0) > 0;
    },
    async projects(db: Queryable, id: string): Promise<string[]> {
      const { rows } = await db.query<{ project_id: string }>(
        `SELECT project_id FROM ${table} WHERE ${column} = $1 ORDER BY project_id`,
        [id],
      );
      return rows.map((r) => r.project_id);
    },
  };
}

const projectEndpoint = projectAssociation('project_endpoint', 'endpoint_id');
export const addProjectEndpoint = projectEndpoint.add;
export const hasProjectEndpoint = projectEndpoint.has;
export const removeProjectEndpoint = projectEndpoint.remove;
export const projectsOfEndpoint = projectEndpoint.projects;

const projectEndpointGroup = projectAssociation('project_endpoint_group', 'endpoint_group_id');
export const addProjectEndpointGroup = projectEndpointGroup.add;
export const hasProjectEndpointGroup = projectEndpointGroup.has;
export const removeProjectEndpointGroup = projectEndpointGroup.remove;
export const projectsOfEndpointGroup = projectEndpointGroup.projects;

export async function endpointGroupsOfProject(db: Queryable, projectId: string): Promise<EndpointGroupRow[]> {
  const { rows } = await db.query<EndpointGroupRow>(
    `SELECT g.id, g.name, g.description, g.filters FROM endpoint_group g
       JOIN project_endpoint_group p ON p.endpoint_group_id = g.id
      WHERE p.project_id = $1 ORDER BY g.name, g.id`,
    [projectId],
  );
  return rows;
}

/**
 * Every project's endpoints, as the filtered catalog needs them: those associated directly and
 * those its endpoint groups select. A project absent from the map has none (no associations, or
 * groups that select nothing): Keystone then gives it the whole catalog.
 */
export async function projectEndpointSets(db: Queryable): Promise<Map<string, Set<string>>> {
  const { rows } = await db.query<{ project_id: string; endpoint_id: string }>(
    `SELECT project_id, endpoint_id FROM project_endpoint
     UNION
     SELECT p.project_id, e.id
       FROM project_endpoint_group p
       JOIN endpoint_group g ON g.id = p.endpoint_group_id
       JOIN endpoint e ON (g.filters->>'service_id' IS NULL OR e.service_id = g.filters->>'service_id')
                      AND (g.filters->>'region_id' IS NULL OR e.region_id = g.filters->>'region_id')
                      AND (g.filters->>'interface' IS NULL OR e.interface = g.filters->>'interface')`,
  );
  const sets = new Map<string, Set<string>>();
  for (const r of rows) {
    let set = sets.get(r.project_id);
    if (!set) {
      set = new Set();
      sets.set(r.project_id, set);
    }
    set.add(r.endpoint_id);
  }
  return sets;
}
