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

export type { EndpointGroupFilters, EndpointGroupRow } from './repository.js';

export class CatalogService {
  readonly #db: Db;
  readonly #invalidation: Invalidation;
  readonly #endpointFilter: boolean;
  /** Recomputed after any invalidation (the catalog tables notify, migration 0002). */
  readonly catalog: () => Promise<CatalogEntry[]>;
  /** Each project's associated endpoints (OS-EP-FILTER), likewise kept until an invalidation. */
  readonly #projectEndpoints: () => Promise<Map<string, Set<string>>>;

  constructor(db: Db, invalidation: Invalidation, options: { endpointFilter?: boolean } = {}) {
    this.#db = db;
    this.#invalidation = invalidation;
    this.#endpointFilter = options.endpointFilter ?? true;
    this.catalog = invalidation.memo(async () => catalogFromRows(await repo.catalogRows(this.#db)));
    this.#projectEndpoints = invalidation.memo(() => repo.projectEndpointSets(this.#db));
  }

  /**
   * The catalog a token scoped to `projectId` carries (null: domain or system scope). With
   * endpoint filtering, a project that has endpoints (associated directly or selected by its
   * endpoint groups) sees only those, and only the services that keep one; any other project
   * sees the whole catalog, as Keystone's endpoint_filter.sql catalog does.
   */
  async catalogFor(projectId: string | null): Promise<CatalogEntry[]> {
    const all = await this.catalog();
    if (!projectId || !this.#endpointFilter) return all;
    const allowed = (await this.#projectEndpoints()).get(projectId);
    if (!allowed) return all;
    return all
      .map((service) => ({ ...service, endpoints: service.endpoints.filter((e) => allowed.has(e.id)) }))
      .filter((service) => service.endpoints.length > 0);
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

  /**
   * An endpoint given by the legacy `region` attribute (v2-style clients, tempest) gets that
   * region created when it does not exist, as Keystone does for backward compatibility;
   * `region_id` must name an existing region.
   */
  async #legacyRegion<T extends { region_id?: string | null }>(
    e: T,
    legacy: string | null | undefined,
  ): Promise<T> {
    if (e.region_id != null || legacy == null) return e;
    if (!(await repo.regionById(this.#db, legacy))) {
      try {
        await repo.insertRegion(this.#db, { id: legacy, description: '', parent_region_id: null });
      } catch (err) {
        if (!isUniqueViolation(err)) throw err; // created meanwhile: fine
      }
    }
    return { ...e, region_id: legacy };
  }

  async createEndpoint(
    fields: Omit<repo.EndpointRow, 'id'>,
    legacyRegion?: string | null,
  ): Promise<repo.EndpointRow> {
    const e = await this.#legacyRegion(fields, legacyRegion);
    await this.#checkRefs(e);
    const row = { id: newId(), ...e };
    await repo.insertEndpoint(this.#db, row);
    this.#changed();
    return row;
  }

  async updateEndpoint(
    id: string,
    fields: Partial<Omit<repo.EndpointRow, 'id'>>,
    legacyRegion?: string | null,
  ): Promise<repo.EndpointRow> {
    await this.endpoint(id);
    const patch = await this.#legacyRegion(fields, legacyRegion);
    await this.#checkRefs(patch);
    const updated = (await repo.updateEndpoint(this.#db, id, patch)) as repo.EndpointRow;
    this.#changed();
    return updated;
  }

  async deleteEndpoint(id: string): Promise<void> {
    if (!(await repo.deleteEndpoint(this.#db, id))) throw notFound('endpoint', id);
    this.#changed();
  }

  // --- endpoint groups and project associations (OS-EP-FILTER) ---------------------------------

  async endpointGroup(id: string): Promise<repo.EndpointGroupRow> {
    const group = await repo.endpointGroupById(this.#db, id);
    if (!group) throw notFound('endpoint group', id);
    return group;
  }

  listEndpointGroups(name?: string): Promise<repo.EndpointGroupRow[]> {
    return repo.listEndpointGroups(this.#db, name);
  }

  async createEndpointGroup(g: Omit<repo.EndpointGroupRow, 'id'>): Promise<repo.EndpointGroupRow> {
    const row = { id: newId(), ...g, filters: checkFilters(g.filters) };
    await repo.insertEndpointGroup(this.#db, row);
    this.#changed();
    return row;
  }

  async updateEndpointGroup(id: string, patch: Partial<Omit<repo.EndpointGroupRow, 'id'>>) {
    const current = await this.endpointGroup(id);
    const next = { ...current, ...patch };
    if (patch.filters !== undefined) next.filters = checkFilters(patch.filters);
    await repo.updateEndpointGroup(this.#db, next);
    this.#changed();
    return next;
  }

  async deleteEndpointGroup(id: string): Promise<void> {
    if (!(await repo.deleteEndpointGroup(this.#db, id))) throw notFound('endpoint group', id);
    this.#changed();
  }

  async endpointsInGroup(id: string): Promise<repo.EndpointRow[]> {
    // Every filter must match: the endpoint list's own filters.
    return repo.listEndpoints(this.#db, (await this.endpointGroup(id)).filters);
  }

  async projectIdsOfEndpoint(endpointId: string): Promise<string[]> {
    await this.endpoint(endpointId);
    return repo.projectsOfEndpoint(this.#db, endpointId);
  }

  async projectIdsOfEndpointGroup(groupId: string): Promise<string[]> {
    await this.endpointGroup(groupId);
    return repo.projectsOfEndpointGroup(this.#db, groupId);
  }

  endpointGroupsOfProject(projectId: string): Promise<repo.EndpointGroupRow[]> {
    return repo.endpointGroupsOfProject(this.#db, projectId);
  }

  /** The project's endpoints: those associated and those its groups select (empty: none). */
  async endpointsOfProject(projectId: string): Promise<repo.EndpointRow[]> {
    const ids = (await this.#projectEndpoints()).get(projectId) ?? new Set();
    return (await repo.listEndpoints(this.#db, {})).filter((e) => ids.has(e.id));
  }

  async addProjectEndpoint(projectId: string, endpointId: string): Promise<void> {
    await this.endpoint(endpointId);
    await repo.addProjectEndpoint(this.#db, projectId, endpointId);
    this.#changed();
  }

  async checkProjectEndpoint(projectId: string, endpointId: string): Promise<void> {
    await this.endpoint(endpointId);
    if (!(await repo.hasProjectEndpoint(this.#db, projectId, endpointId)))
      throw notFound('endpoint', `${endpointId} in project ${projectId}`);
  }

  async removeProjectEndpoint(projectId: string, endpointId: string): Promise<void> {
    if (!(await repo.removeProjectEndpoint(this.#db, projectId, endpointId)))
      throw notFound('endpoint', `${endpointId} in project ${projectId}`);
    this.#changed();
  }

  async addProjectEndpointGroup(projectId: string, groupId: string): Promise<void> {
    await this.endpointGroup(groupId);
    await repo.addProjectEndpointGroup(this.#db, projectId, groupId);
    this.#changed();
  }

  async checkProjectEndpointGroup(projectId: string, groupId: string): Promise<void> {
    await this.endpointGroup(groupId);
    if (!(await repo.hasProjectEndpointGroup(this.#db, projectId, groupId)))
      throw notFound('endpoint group', `${groupId} in project ${projectId}`);
  }

  async removeProjectEndpointGroup(projectId: string, groupId: string): Promise<void> {
    await this.endpointGroup(groupId);
    if (!(await repo.removeProjectEndpointGroup(this.#db, projectId, groupId)))
      throw notFound('endpoint group', `${groupId} in project ${projectId}`);
    this.#changed();
  }
}

/** Keystone's rule: an endpoint group filters on service_id, region_id and interface only. */
function checkFilters(filters: object): repo.EndpointGroupFilters {
  if (Object.keys(filters).length === 0) throw validation('filters field is required and cannot be empty');
  for (const key of Object.keys(filters))
    if (!['service_id', 'region_id', 'interface'].includes(key))
      throw expectedAttribute('service_id or region_id or interface', 'endpoint_group');
  return filters as repo.EndpointGroupFilters;
}
