/**
 * Unified limits as Keystone's unified_limit manager and sql driver keep them: registered limits
 * (unique per service, region and resource; their service and region must exist when written;
 * frozen while limits refer to them) and project or domain limits (each needs its registered
 * limit; one per project or domain). Each write is one transaction; limit writes are serialised
 * so that the strict_two_level model's checks see the tree they change (keystone/limit/models/
 * strict_two_level.py, messages included).
 */
import { randomUUID } from 'node:crypto';
import { type Db, type Tx, transaction } from '../db.js';
import {
  conflict,
  expectedAttribute,
  forbiddenAction,
  IdentityError,
  isForeignKeyViolation,
  isUniqueViolation,
} from '../errors.js';
import type { Hint } from '../hints.js';
import type { EnforcementModel } from './models.js';
import * as repo from './repository.js';

export type { LimitRow, RegisteredLimitRow } from './repository.js';

const newId = () => randomUUID().replaceAll('-', '');

export interface RegisteredLimitFields {
  service_id: string;
  region_id?: string | null;
  resource_name: string;
  default_limit: number;
  description?: string | null;
}

export interface LimitFields {
  project_id?: string;
  domain_id?: string;
  service_id: string;
  region_id?: string;
  resource_name: string;
  resource_limit: number;
  description?: string | null;
}

export interface LimitPatch {
  resource_limit?: number;
  description?: string | null;
}

/** Whose limits a caller lists (Keystone narrows GET /v3/limits by the token's scope). */
export type LimitScope = { system: true } | { domainId: string } | { projectId: string } | null;

/** A limit being written, as the hierarchy check reads it. */
interface Candidate {
  projectId: string | null;
  domainId: string | null;
  serviceId: string;
  regionId: string | null;
  resourceName: string;
  resourceLimit: number;
}

const registeredLimitNotFound = (id: string) =>
  new IdentityError('IDN_ERR_NOT_FOUND', `Could not find registered limit for ${id}.`);
const limitNotFound = (id: string) =>
  new IdentityError('IDN_ERR_NOT_FOUND', `Could not find limit for ${id}.`);
const registeredLimitInUse = (id: string) =>
  forbiddenAction(
    `Unable to update or delete registered limit ${id} because there are project limits associated with it.`,
  );
const noLimitReference = () =>
  forbiddenAction('Unable to create a limit that has no corresponding registered limit.');
const duplicate = (type: 'registered_limit' | 'limit') => conflict(type, 'Duplicate entry');

/** Keystone's InvalidLimit as check_limit words it (its reason ends in a period, then the format's). */
function invalidLimit(c: Candidate): IdentityError {
  const level = c.projectId ? 'project_id' : 'domain_id';
  return forbiddenAction(
    `Invalid resource limit: The resource limit (${level}: ${c.projectId ?? c.domainId}, resource_name: ${c.resourceName}, resource_limit: ${c.resourceLimit}, service_id: ${c.serviceId}, region_id: ${c.regionId ?? 'None'}) doesn't satisfy current hierarchy model..`,
  );
}

/** Thrown inside the hierarchy check, reported as invalidLimit() of the limit being checked. */
class BreaksHierarchy extends Error {}

export class LimitService {
  readonly #db: Db;
  readonly model: EnforcementModel;

  constructor(db: Db, model: EnforcementModel) {
    this.#db = db;
    this.model = model;
  }

  // --- registered limits ---------------------------------------------------------------------

  async registeredLimit(id: string): Promise<repo.RegisteredLimitRow> {
    const row = await repo.registeredLimitById(this.#db, id);
    if (!row) throw registeredLimitNotFound(id);
    return row;
  }

  listRegisteredLimits(hints: Hint[]): Promise<repo.RegisteredLimitRow[]> {
    return repo.listRegisteredLimits(this.#db, hints);
  }

  /** All or none: the references of every item are checked before any is stored. */
  async createRegisteredLimits(items: RegisteredLimitFields[]): Promise<repo.RegisteredLimitRow[]> {
    for (const item of items) await this.#assertRefs(item, 'registered_limit');
    return this.#unique('registered_limit', () =>
      transaction(this.#db, async (tx) => {
        const rows: repo.RegisteredLimitRow[] = [];
        for (const item of items) {
          const row: repo.RegisteredLimitRow = {
            id: newId(),
            service_id: item.service_id,
            region_id: item.region_id ?? null,
            resource_name: item.resource_name,
            default_limit: item.default_limit,
            description: item.description ?? null,
          };
          if (await repo.registeredLimitFor(tx, row.service_id, row.region_id, row.resource_name))
            throw duplicate('registered_limit');
          await repo.insertRegisteredLimit(tx, row);
          rows.push(row);
        }
        return rows;
      }),
    );
  }

  /** Keystone refuses any change, even of the description, while limits refer to it. */
  async updateRegisteredLimit(
    id: string,
    patch: Partial<RegisteredLimitFields>,
  ): Promise<repo.RegisteredLimitRow> {
    await this.#assertRefs(patch, 'registered_limit');
    return this.#unique('registered_limit', () =>
      transaction(this.#db, async (tx) => {
        await repo.lockLimits(tx);
        const current = await repo.registeredLimitById(tx, id);
        if (!current) throw registeredLimitNotFound(id);
        if (await repo.isReferenced(tx, id)) throw registeredLimitInUse(id);
        const next: repo.RegisteredLimitRow = {
          ...current,
          ...(patch.service_id !== undefined ? { service_id: patch.service_id } : {}),
          ...(patch.region_id !== undefined ? { region_id: patch.region_id } : {}),
          ...(patch.resource_name !== undefined ? { resource_name: patch.resource_name } : {}),
          ...(patch.default_limit !== undefined ? { default_limit: patch.default_limit } : {}),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
        };
        if (patch.service_id || 'region_id' in patch || patch.resource_name) {
          const other = await repo.registeredLimitFor(
            tx,
            next.service_id,
            next.region_id,
            next.resource_name,
          );
          if (other && other.id !== id) throw duplicate('registered_limit');
        }
        await repo.updateRegisteredLimit(tx, next);
        return next;
      }),
    );
  }

  async deleteRegisteredLimit(id: string): Promise<void> {
    try {
      await transaction(this.#db, async (tx) => {
        await repo.lockLimits(tx);
        if (!(await repo.registeredLimitById(tx, id))) throw registeredLimitNotFound(id);
        if (await repo.isReferenced(tx, id)) throw registeredLimitInUse(id);
        await repo.deleteRegisteredLimit(tx, id);
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw registeredLimitInUse(id);
      throw err;
    }
  }

  // --- limits --------------------------------------------------------------------------------

  getLimit(id: string): Promise<repo.LimitRow | null> {
    return repo.limitById(this.#db, id);
  }

  async limit(id: string): Promise<repo.LimitRow> {
    const row = await repo.limitById(this.#db, id);
    if (!row) throw limitNotFound(id);
    return row;
  }

  /**
   * Keystone's list: all for a system token, a domain's own limits and its projects' for a
   * domain token, the project's for a project token, none otherwise.
   */
  listLimits(hints: Hint[], scope: LimitScope): Promise<repo.LimitRow[]> {
    if (!scope) return Promise.resolve([]);
    if ('system' in scope) return repo.listLimits(this.#db, hints);
    if ('domainId' in scope) return repo.listLimits(this.#db, hints, { domainId: scope.domainId });
    return repo.listLimits(this.#db, [
      ...hints,
      { kind: 'exact', field: 'project_id', value: scope.projectId },
    ]);
  }

  /**
   * All or none. A project_id naming a domain makes a domain limit, as in Keystone. Under
   * strict_two_level the batch is checked against the tree before anything is stored.
   */
  async createLimits(items: LimitFields[]): Promise<repo.LimitRow[]> {
    const candidates: Candidate[] = [];
    for (const item of items) candidates.push(await this.#candidate(item));
    return this.#unique('limit', () =>
      transaction(this.#db, async (tx) => {
        await repo.lockLimits(tx);
        if (this.model.hierarchical) await this.#checkTree(tx, candidates);
        const rows: repo.LimitRow[] = [];
        for (const [i, c] of candidates.entries()) {
          const registered = await repo.registeredLimitFor(tx, c.serviceId, c.regionId, c.resourceName);
          if (!registered) throw noLimitReference();
          const id = newId();
          const description = items[i]?.description ?? null;
          try {
            await repo.insertLimit(tx, {
              id,
              registeredLimitId: registered.id,
              projectId: c.projectId,
              domainId: c.domainId,
              resourceLimit: c.resourceLimit,
              description,
            });
          } catch (err) {
            if (isUniqueViolation(err)) throw duplicate('limit');
            if (isForeignKeyViolation(err)) throw noLimitReference();
            throw err;
          }
          rows.push({
            id,
            project_id: c.projectId,
            domain_id: c.domainId,
            service_id: c.serviceId,
            region_id: c.regionId,
            resource_name: c.resourceName,
            resource_limit: c.resourceLimit,
            description,
          });
        }
        return rows;
      }),
    );
  }

  async updateLimit(id: string, patch: LimitPatch): Promise<repo.LimitRow> {
    return transaction(this.#db, async (tx) => {
      await repo.lockLimits(tx);
      const current = await repo.limitById(tx, id);
      if (!current) throw limitNotFound(id);
      const next: repo.LimitRow = {
        ...current,
        ...(patch.resource_limit !== undefined ? { resource_limit: patch.resource_limit } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
      };
      if (this.model.hierarchical)
        await this.#checkTree(tx, [
          {
            projectId: next.project_id,
            domainId: next.domain_id,
            serviceId: next.service_id,
            regionId: next.region_id,
            resourceName: next.resource_name,
            resourceLimit: next.resource_limit,
          },
        ]);
      await repo.updateLimit(tx, id, next.resource_limit, next.description);
      return next;
    });
  }

  async deleteLimit(id: string): Promise<void> {
    if (!(await repo.deleteLimit(this.#db, id))) throw limitNotFound(id);
  }

  // --- rules ---------------------------------------------------------------------------------

  /** Keystone's _assert_resource_exist: a missing service, region, project or domain is a 400. */
  async #assertRefs(
    item: { service_id?: string | null | undefined; region_id?: string | null | undefined },
    target: 'registered_limit' | 'limit',
  ): Promise<void> {
    if (item.service_id != null && !(await repo.serviceExists(this.#db, item.service_id)))
      throw expectedAttribute('service_id', target);
    if (item.region_id != null && !(await repo.regionExists(this.#db, item.region_id)))
      throw expectedAttribute('region_id', target);
  }

  async #candidate(item: LimitFields): Promise<Candidate> {
    await this.#assertRefs(item, 'limit');
    let projectId = item.project_id ?? null;
    let domainId = item.domain_id ?? null;
    if (projectId !== null && !(await repo.projectParent(this.#db, projectId))) {
      // Keystone stores domains as projects: a domain's id as project_id is a domain limit.
      if (!(await repo.domainExists(this.#db, projectId))) throw expectedAttribute('project_id', 'limit');
      domainId = projectId;
      projectId = null;
    } else if (domainId !== null && !(await repo.domainExists(this.#db, domainId)))
      throw expectedAttribute('domain_id', 'limit');
    return {
      projectId,
      domainId,
      serviceId: item.service_id,
      regionId: item.region_id ?? null,
      resourceName: item.resource_name,
      resourceLimit: item.resource_limit,
    };
  }

  /**
   * StrictTwoLevelModel.check_limit: a project's limit is at most its domain's (the domain's
   * limit in the same batch, else the stored one, else the registered default); a domain's limit
   * is at least each of its projects' stored limits. Keystone compares with Python truthiness:
   * a parent or child value of 0 (or none) is not compared.
   */
  async #checkTree(tx: Tx, limits: Candidate[]): Promise<void> {
    const same = (a: Candidate, b: Candidate) =>
      a.serviceId === b.serviceId && a.regionId === b.regionId && a.resourceName === b.resourceName;
    for (const c of limits) {
      try {
        if (c.projectId) {
          const parentId = (await repo.projectParent(tx, c.projectId))?.parent ?? null;
          const inBatch = limits.find((x) => x.domainId !== null && x.domainId === parentId && same(x, c));
          if (inBatch) {
            if (c.resourceLimit > inBatch.resourceLimit) throw new BreaksHierarchy();
            continue;
          }
          const parentValue = parentId ? await this.#valueOf(tx, c, { domainId: parentId }) : null;
          if (parentValue && c.resourceLimit > parentValue) throw new BreaksHierarchy();
        } else if (c.domainId) {
          for (const child of await repo.projectIdsInDomain(tx, c.domainId)) {
            const childValue = await this.#valueOf(tx, c, { projectId: child });
            if (childValue && c.resourceLimit < childValue) throw new BreaksHierarchy();
          }
        }
      } catch (err) {
        if (err instanceof BreaksHierarchy) throw invalidLimit(c);
        throw err;
      }
    }
  }

  /** _get_specified_limit_value: the stored limit, or for a domain without one the registered default. */
  async #valueOf(
    tx: Tx,
    c: Candidate,
    owner: { projectId: string } | { domainId: string },
  ): Promise<number | null> {
    const hints: Hint[] = [
      'projectId' in owner
        ? { kind: 'exact', field: 'project_id', value: owner.projectId }
        : { kind: 'exact', field: 'domain_id', value: owner.domainId },
      { kind: 'exact', field: 'service_id', value: c.serviceId },
      { kind: 'exact', field: 'resource_name', value: c.resourceName },
    ];
    const found = (await repo.listLimits(tx, hints)).find((l) => l.region_id === c.regionId);
    if (found) return found.resource_limit;
    if ('projectId' in owner) return null;
    const registered = await repo.registeredLimitFor(tx, c.serviceId, c.regionId, c.resourceName);
    return registered ? registered.default_limit : null;
  }

  /** A write that a concurrent one made a duplicate: Keystone's 409. */
  async #unique<T>(type: 'registered_limit' | 'limit', write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicate(type);
      throw err;
    }
  }
}
