/** The service catalog in Keystone's token shape, kept per process until identity state changes. */
import type { Db } from '../db.js';
import type { ValidationCache } from '../token/cache.js';
import * as repo from './repository.js';

export type { EndpointRow, ServiceRow } from './repository.js';

export interface CatalogEndpoint {
  id: string;
  interface: string;
  region: string | null;
  region_id: string | null;
  url: string;
}
export interface CatalogEntry {
  endpoints: CatalogEndpoint[];
  id: string;
  type: string;
  name: string;
}

export function catalogFromRows(rows: repo.CatalogEndpointRow[]): CatalogEntry[] {
  const services = new Map<string, CatalogEntry>();
  for (const row of rows) {
    let service = services.get(row.service_id);
    if (!service) {
      service = { endpoints: [], id: row.service_id, type: row.service_type, name: row.service_name };
      services.set(row.service_id, service);
    }
    if (row.endpoint_id)
      service.endpoints.push({
        id: row.endpoint_id,
        interface: row.interface as string,
        region: row.region_id,
        region_id: row.region_id,
        url: row.url as string,
      });
  }
  return [...services.values()];
}

export class CatalogService {
  readonly #db: Db;
  /** Recomputed after any invalidation (the catalog tables notify, migration 0002). */
  readonly catalog: () => Promise<CatalogEntry[]>;

  constructor(db: Db, cache: ValidationCache) {
    this.#db = db;
    this.catalog = cache.memo(async () => catalogFromRows(await repo.catalogRows(this.#db)));
  }

  listServices(filter: { type?: string; name?: string }): Promise<repo.ServiceRow[]> {
    return repo.listServices(this.#db, filter);
  }

  listEndpoints(filter: {
    interface?: string;
    service_id?: string;
    region_id?: string;
  }): Promise<repo.EndpointRow[]> {
    return repo.listEndpoints(this.#db, filter);
  }

  ensureRegion(id: string): Promise<void> {
    return repo.ensureRegion(this.#db, id);
  }

  ensureService(id: string, type: string, name: string): Promise<string> {
    return repo.ensureService(this.#db, id, type, name);
  }

  upsertEndpoint(e: { id: string; serviceId: string; interface: string; regionId: string; url: string }) {
    return repo.upsertEndpoint(this.#db, e);
  }
}
