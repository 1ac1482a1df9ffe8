/**
 * Policies as Keystone's policy API keeps them (a blob of a type; any other attribute kept as
 * `extra`) and OS-ENDPOINT-POLICY: a policy associated with an endpoint, a service, or a service
 * in a region, and the policy in effect for an endpoint (keystone/endpoint_policy/core.py).
 */
import type { CatalogService, EndpointRow } from '../catalog/service.js';
import { type Db, transaction } from '../db.js';
import { IdentityError, notFound, validation } from '../errors.js';
import type { Hint } from '../hints.js';
import { newId } from '../resource/service.js';
import * as repo from './repository.js';

export type { AssociationTarget, PolicyRow } from './repository.js';

const ATTRIBUTES = ['id', 'type', 'blob'] as const;

/** Splits a request's attributes into the columns and `extra` (Keystone's ModelDictMixinWithExtras). */
function toRow(id: string, fields: Record<string, unknown>): repo.PolicyRow {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields))
    if (!(ATTRIBUTES as readonly string[]).includes(k) && k !== 'links') extra[k] = v;
  return { id, type: fields.type as string, blob: fields.blob as string, extra };
}

/** Keystone's _normalize_dict on a created policy: `os:x` and `a-b` become `os_x` and `a_b`. */
const normalize = (fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k.replace(/[:-]/g, '_'), v]));

export class PolicyService {
  readonly #db: Db;
  readonly #catalog: CatalogService;

  constructor(db: Db, catalog: CatalogService) {
    this.#db = db;
    this.#catalog = catalog;
  }

  async policy(id: string): Promise<repo.PolicyRow> {
    const row = await repo.policyById(this.#db, id);
    if (!row) throw notFound('policy', id);
    return row;
  }

  listPolicies(hints: Hint[]): Promise<repo.PolicyRow[]> {
    return repo.listPolicies(this.#db, hints);
  }

  /** A new policy; an id in the request is replaced by a new one, as Keystone does. */
  async createPolicy(fields: Record<string, unknown>): Promise<repo.PolicyRow> {
    const row = toRow(newId(), normalize(fields));
    await repo.insertPolicy(this.#db, row);
    return row;
  }

  /** The attributes given replace the stored ones; the others stay. */
  async updatePolicy(id: string, fields: Record<string, unknown>): Promise<repo.PolicyRow> {
    if ('id' in fields && fields.id !== id) throw validation('Cannot change policy ID');
    return transaction(this.#db, async (tx) => {
      const current = await repo.policyForUpdate(tx, id);
      if (!current) throw notFound('policy', id);
      const row = toRow(id, { ...current.extra, type: current.type, blob: current.blob, ...fields });
      await repo.updatePolicy(tx, row);
      return row;
    });
  }

  async deletePolicy(id: string): Promise<void> {
    if (!(await repo.deletePolicy(this.#db, id))) throw notFound('policy', id);
  }

  // --- OS-ENDPOINT-POLICY ----------------------------------------------------------------------

  /**
   * The policy and every object the target names must exist (404 naming the first missing one,
   * in Keystone's order: policy, endpoint or service, region).
   */
  async #requireAll(policyId: string, t: repo.AssociationTarget): Promise<void> {
    await this.policy(policyId);
    if (t.endpoint_id !== null) await this.#catalog.endpoint(t.endpoint_id);
    if (t.service_id !== null) await this.#catalog.service(t.service_id);
    if (t.region_id !== null) await this.#catalog.region(t.region_id);
  }

  /** Associates the policy with the target, replacing the policy the target had. */
  async associate(policyId: string, t: repo.AssociationTarget): Promise<void> {
    await this.#requireAll(policyId, t);
    await repo.upsertAssociation(this.#db, policyId, t);
  }

  /** Resolves when the association exists; Keystone's 404 otherwise. */
  async checkAssociation(policyId: string, t: repo.AssociationTarget): Promise<void> {
    await this.#requireAll(policyId, t);
    if (!(await repo.associationExists(this.#db, policyId, t)))
      throw new IdentityError('IDN_ERR_NOT_FOUND', 'Could not find policy association.');
  }

  /** Removes the association if there is one (Keystone answers 204 either way). */
  async dissociate(policyId: string, t: repo.AssociationTarget): Promise<void> {
    await this.#requireAll(policyId, t);
    await repo.deleteAssociation(this.#db, policyId, t);
  }

  /**
   * The endpoints the policy's associations reach, association by association as Keystone lists
   * them: the endpoint; every endpoint of the service; every endpoint of the service in the
   * region or the regions below it. An endpoint reached twice is listed twice, as in Keystone.
   */
  async endpointsForPolicy(policyId: string): Promise<EndpointRow[]> {
    await this.policy(policyId);
    const associations = await repo.associationsOf(this.#db, policyId);
    if (associations.length === 0) return [];
    const endpoints = await this.#catalog.listEndpoints({});
    const regions = await this.#catalog.listRegions({});
    const found: EndpointRow[] = [];
    for (const a of associations) {
      if (a.endpoint_id !== null) found.push(...endpoints.filter((e) => e.id === a.endpoint_id));
      else if (a.region_id === null) found.push(...endpoints.filter((e) => e.service_id === a.service_id));
      else {
        // The region and the regions below it, each once (a cycle ends the walk).
        const seen = new Set<string>();
        const walk = (regionId: string) => {
          if (seen.has(regionId)) return;
          seen.add(regionId);
          found.push(...endpoints.filter((e) => e.service_id === a.service_id && e.region_id === regionId));
          for (const r of regions) if (r.parent_region_id === regionId) walk(r.id);
        };
        walk(a.region_id);
      }
    }
    return found;
  }

  /**
   * The policy in effect for an endpoint: its own association; else its service's in its region,
   * then in each parent region up the tree; else its service's; else 404.
   */
  async policyForEndpoint(endpointId: string): Promise<repo.PolicyRow> {
    const endpoint = await this.#catalog.endpoint(endpointId);
    const none = { endpoint_id: null, service_id: null, region_id: null };
    let policyId = await repo.policyIdFor(this.#db, { ...none, endpoint_id: endpoint.id });
    const seen = new Set<string>();
    let regionId = endpoint.region_id;
    while (policyId === null && regionId !== null && !seen.has(regionId)) {
      policyId = await repo.policyIdFor(this.#db, {
        ...none,
        service_id: endpoint.service_id,
        region_id: regionId,
      });
      seen.add(regionId);
      regionId = (await this.#catalog.region(regionId)).parent_region_id;
    }
    policyId ??= await repo.policyIdFor(this.#db, { ...none, service_id: endpoint.service_id });
    if (policyId === null)
      throw new IdentityError('IDN_ERR_NOT_FOUND', `No policy is associated with endpoint ${endpointId}.`);
    return this.policy(policyId);
  }
}
