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
