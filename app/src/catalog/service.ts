/** The service catalog in Keystone's token shape, kept per process until identity state changes. */
import { randomUUID } from 'node:crypto';
import { type Db, transaction } from '../db.js';
import {
  conflict,
  expectedAttribute,
  forbiddenAction,
  isUniqueViolation,
  notFound,
  validation,
} from '../errors.js';
import type { Invalidation } from '../invalidation.js';
import * as repo from './repository.js';

export type { EndpointRow, RegionRow, ServiceRow } from './repository.js';

const newId = () => randomUUID().replaceAll('-', '');

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
  readonly #invalidation: Invalidation;
  /** Recomputed after any invalidation (the catalog tables notify, migration 0002). */
  readonly catalog: () => Promise<CatalogEntry[]>;

  constructor(db: Db, invalidation: Invalidation) {
    this.#db = db;
    this.#invalidation = invalidation;
    this.catalog = invalidation.memo(async () => catalogFromRows(await repo.catalogRows(this.#db)));
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

  /**
   * This process forgets its catalog and validated tokens at once; the others when the
   * tables' NOTIFY reaches them.
   */
  #changed(): void {
    this.#invalidation.invalidate();
  }

  // --- regions -------------------------------------------------------------------------------

  async region(id: string): Promise<repo.RegionRow> {
    const region = await repo.regionById(this.#db, id);
    if (!region) throw notFound('region', id);
    return region;
  }

  listRegions(filter: { parent_region_id?: string }): Promise<repo.RegionRow[]> {
    return repo.listRegions(this.#db, filter);
  }

  /** POST (id optional) or PUT /v3/regions/{id}: 409 when the id is taken, 404 for a missing parent. */
  async createRegion(r: { id?: string; description: string; parentRegionId: string | null }) {
    const row: repo.RegionRow = {
      id: r.id ?? newId(),
      description: r.description,
      parent_region_id: r.parentRegionId,
    };
    if (row.parent_region_id && !(await repo.regionById(this.#db, row.parent_region_id)))
      throw notFound('region', row.parent_region_id);
    try {
      await repo.insertRegion(this.#db, row);
      this.#changed();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('region', `Duplicate ID, ${row.id}.`);
      throw err;
    }
    return row;
  }

  async updateRegion(id: string, patch: { description?: string; parent_region_id?: string | null }) {
    return transaction(this.#db, async (tx) => {
      if (!(await repo.regionById(tx, id))) throw notFound('region', id);
      const parent = patch.parent_region_id;
      if (parent) {
        if (!(await repo.regionById(tx, parent))) throw notFound('region', parent);
        if (parent === id || (await repo.regionAncestors(tx, parent)).includes(id))
          throw validation(`The specified parent region ${parent} would create a circular region hierarchy.`);
      }
      return (await repo.updateRegion(tx, id, patch)) as repo.RegionRow;
    }).finally(() => this.#changed());
  }

  /** Deletes the region and the regions below it, unless any of them has endpoints (403). */
  async deleteRegion(id: string): Promise<void> {
    await transaction(this.#db, async (tx) => {
      const ids = await repo.regionSubtree(tx, id);
      if (ids.length === 0) throw notFound('region', id);
      if ((await repo.endpointsInRegions(tx, ids)) > 0)
        throw forbiddenAction(
          `Unable to delete region ${id} because it or its child regions have associated endpoints.`,
        );
      await repo.deleteRegions(tx, ids);
    });
    this.#changed();
  }

  // --- services ------------------------------------------------------------------------------

  async service(id: string): Promise<repo.ServiceRow> {
    const service = await repo.serviceById(this.#db, id);
    if (!service) throw notFound('service', id);
    return service;
  }

  async createService(s: Omit<repo.ServiceRow, 'id'>): Promise<repo.ServiceRow> {
    const row = { id: newId(), ...s };
    await repo.insertService(this.#db, row);
    this.#changed();
    return row;
  }

  async updateService(
    id: string,
    patch: { type?: string; name?: string; enabled?: boolean; description?: string | null },
  ): Promise<repo.ServiceRow> {
    const updated = await repo.updateService(this.#db, id, patch);
    this.#changed();
    if (!updated) throw notFound('service', id);
    return updated;
  }

  /** The service and its endpoints. */
  async deleteService(id: string): Promise<void> {
    if (!(await repo.deleteService(this.#db, id))) throw notFound('service', id);
    this.#changed();
  }

  // --- endpoints -----------------------------------------------------------------------------

  async endpoint(id: string): Promise<repo.EndpointRow> {
    const endpoint = await repo.endpointById(this.#db, id);
    if (!endpoint) throw notFound('endpoint', id);
    return endpoint;
  }

  /** Keystone's _assert_service_exists / _assert_region_exists: 400 naming the table. */
  async #checkRefs(e: { service_id?: string; region_id?: string | null }): Promise<void> {
    if (e.service_id !== undefined && !(await repo.serviceById(this.#db, e.service_id)))
      throw expectedAttribute('endpoint service_id', 'service table');
    if (e.region_id && !(await repo.regionById(this.#db, e.region_id)))
      throw expectedAttribute('endpoint region_id', 'region table');
  }

  async createEndpoint(e: Omit<repo.EndpointRow, 'id'>): Promise<repo.EndpointRow> {
    await this.#checkRefs(e);
    const row = { id: newId(), ...e };
    await repo.insertEndpoint(this.#db, row);
    this.#changed();
    return row;
  }

  async updateEndpoint(id: string, patch: Partial<Omit<repo.EndpointRow, 'id'>>): Promise<repo.EndpointRow> {
    await this.endpoint(id);
    await this.#checkRefs(patch);
    const updated = (await repo.updateEndpoint(this.#db, id, patch)) as repo.EndpointRow;
    this.#changed();
    return updated;
  }

  async deleteEndpoint(id: string): Promise<void> {
    if (!(await repo.deleteEndpoint(this.#db, id))) throw notFound('endpoint', id);
    this.#changed();
  }
}
