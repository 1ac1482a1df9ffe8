/** Roles and grants: effective roles for tokens, and grant changes that end the affected sessions. */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db.js';
import {
  conflict,
  forbiddenAction,
  IdentityError,
  isUniqueViolation,
  notFound,
  validation,
} from '../errors.js';
import type { IdentityService } from '../identity/service.js';
import type { Invalidation } from '../invalidation.js';
import type { DomainRow, ProjectRow } from '../resource/repository.js';
import type { RevocationService } from '../token/revocation.js';
import * as repo from './repository.js';

export type { Actor, AssignmentRow, Grant, Inference, RoleRef, RoleRow, Target } from './repository.js';

/** Roles Keystone never lets another role imply ([assignment] prohibited_implied_role). */
const PROHIBITED_IMPLIED_ROLES = ['admin'];

/** One entry of GET /v3/role_assignments, before rendering. */
export interface RoleAssignment {
  roleId: string;
  actor: repo.Actor;
  target: repo.Target;
  /** Shown as "OS-INHERIT:inherited_to": "projects" (stored grants only, not effective ones). */
  inherited: boolean;
  /** The stored grant this entry comes from (links.assignment). */
  source: repo.AssignmentRow;
  /** The group whose membership gave the user this entry (links.membership). */
  viaGroup?: string;
  /** The role that implies this one (links.prior_role). */
  priorRole?: string;
}

export interface AssignmentQuery {
  userId?: string;
  groupId?: string;
  roleId?: string;
  projectId?: string;
  domainId?: string;
  system?: boolean;
  inheritedToProjects?: boolean;
  effective?: boolean;
  includeSubtree?: boolean;
  /** Only assignments on this domain and its projects (a domain-scoped reader's view). */
  withinDomain?: string;
}

const roleAssignmentNotFound = (g: repo.Grant) =>
  new IdentityError(
    'IDN_ERR_NOT_FOUND',
    `Could not find role assignment with role: ${g.roleId}, user or group: ${g.actor.id}, project, domain, or system: ${g.target.id}.`,
  );

const newId = () => randomUUID().replaceAll('-', '');

export class AssignmentService {
  readonly #db: Db;
  readonly #identity: IdentityService;
  readonly #revocation: RevocationService;
  readonly #invalidation: Invalidation | undefined;

  /** `invalidation`: invalidated at once after a change here (other processes hear the tables' NOTIFY). */
  constructor(db: Db, identity: IdentityService, revocation: RevocationService, invalidation?: Invalidation) {
    this.#db = db;
    this.#identity = identity;
    this.#revocation = revocation;
    this.#invalidation = invalidation;
    this.#graph = invalidation ? invalidation.memo(() => this.#computeGraph()) : () => this.#computeGraph();
  }

  #changed(): void {
    this.#invalidation?.invalidate();
  }

  /**
   * The project tree, the inference rules and the domain-specific roles, as effective role
   * assignments need them: kept per process until any identity table changes (migration
   * 0002's triggers), recomputed per call where nothing is cached.
   */
  readonly #graph: () => Promise<AssignmentGraph>;

  async #computeGraph(): Promise<AssignmentGraph> {
    const [tree, rules, roles] = await Promise.all([
      repo.projectTree(this.#db),
      repo.inferences(this.#db),
      repo.domainRoleIds(this.#db),
    ]);
    const graph: AssignmentGraph = {
      children: new Map(),
      byDomain: new Map(),
      implied: new Map(),
      domainRoles: new Set(roles),
    };
    for (const p of tree) {
      if (p.parent_id) push(graph.children, p.parent_id, p.id);
      push(graph.byDomain, p.domain_id, p.id);
    }
    for (const i of rules) push(graph.implied, i.prior_role_id, i.implied_role_id);
    return graph;
  }

  /** `groupIds`: a federated token's groups, whose roles the user holds while using it. */
  effectiveRoles(userId: string, target: repo.Target, groupIds?: readonly string[]): Promise<repo.RoleRef[]> {
    return repo.effectiveRoles(this.#db, userId, target, groupIds);
  }

  projectsFor(userId: string, groupIds?: readonly string[]): Promise<ProjectRow[]> {
    return repo.projectsWithRoles(this.#db, userId, groupIds);
  }

  domainsFor(userId: string, groupIds?: readonly string[]): Promise<DomainRow[]> {
    return repo.domainsWithRoles(this.#db, userId, groupIds);
  }

  async hasSystemRole(userId: string): Promise<boolean> {
    return (await repo.effectiveRoles(this.#db, userId, { type: 'system', id: 'all' })).length > 0;
  }

  grant(g: repo.Grant): Promise<void> {
    return repo.addGrant(this.#db, g);
  }

  /**
   * Removes a grant and revokes the tokens it supported: the user's (or each group member's)
   * tokens on that project, or all of their tokens for a domain or system grant (inheritance
   * and implied roles make the affected set hard to bound more tightly).
   */
  async revokeGrant(g: repo.Grant): Promise<boolean> {
    if (!(await repo.removeGrant(this.#db, g))) return false;
    const users = g.actor.type === 'user' ? [g.actor.id] : await this.#identity.groupMembers(g.actor.id);
    for (const user of users) {
      if (g.target.type === 'project' && !g.inherited)
        await this.#revocation.revokeUserOnProject(user, g.target.id);
      else await this.#revocation.revokeUser(user);
    }
    return true;
  }

  ensureGlobalRole(id: string, name: string): Promise<string> {
    return repo.ensureGlobalRole(this.#db, id, name);
  }

  addImpliedRole(prior: string, implied: string): Promise<void> {
    return repo.addImpliedRole(this.#db, prior, implied);
  }

  removeImpliedRole(prior: string, implied: string): Promise<void> {
    return repo.removeImpliedRole(this.#db, prior, implied);
  }

  // --- roles ---------------------------------------------------------------------------------

  role(id: string): Promise<repo.RoleRow | null> {
    return repo.roleById(this.#db, id);
  }

  async requireRole(id: string): Promise<repo.RoleRow> {
    const role = await repo.roleById(this.#db, id);
    if (!role) throw notFound('role', id);
    return role;
  }

  listRoles(filter: { name?: string; domainId?: string | null }): Promise<repo.RoleRow[]> {
    return repo.listRoles(this.#db, filter);
  }

  async createRole(r: {
    id?: string;
    name: string;
    domainId: string | null;
    description: string;
    options: repo.RoleRow['options'];
  }): Promise<repo.RoleRow> {
    if (r.domainId && !(await repo.targetDomain(this.#db, { type: 'domain', id: r.domainId })))
      throw notFound('domain', r.domainId);
    const row: repo.RoleRow = {
      id: r.id ?? newId(),
      name: r.name,
      domain_id: r.domainId,
      description: r.description,
      options: r.options,
    };
    try {
      await repo.insertRole(this.#db, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('role', `Duplicate entry found with name ${r.name}`);
      throw err;
    }
    return row;
  }

  async updateRole(
    id: string,
    patch: { name?: string; description?: string; options?: repo.RoleRow['options'] },
  ): Promise<repo.RoleRow> {
    const role = await this.requireRole(id);
    // An immutable role changes only by clearing the option first (and nothing else with it).
    if (role.options.immutable && !(patch.options && patch.options.immutable !== true))
      throw immutable('update', id);
    const options = patch.options ? { ...role.options, ...patch.options } : undefined;
    for (const [k, v] of Object.entries(options ?? {}))
      if (v === null) delete (options as Record<string, unknown>)[k];
    try {
      const updated = await repo.updateRole(this.#db, id, { ...patch, ...(options ? { options } : {}) });
      if (!updated) throw notFound('role', id);
      this.#changed();
      return updated;
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('role', `Duplicate entry found with name ${patch.name}`);
      throw err;
    }
  }

  /** Deletes the role with every grant and inference that names it. */
  async deleteRole(id: string): Promise<void> {
    const role = await this.requireRole(id);
    if (role.options.immutable) throw immutable('delete', id);
    await repo.deleteRole(this.#db, id);
    this.#changed();
  }

  // --- implied roles -------------------------------------------------------------------------

  /** Keystone's rules (403): admin cannot be implied, a global role cannot imply a domain role. */
  async createInference(priorId: string, impliedId: string): Promise<[repo.RoleRow, repo.RoleRow]> {
    const prior = await this.requireRole(priorId);
    const implied = await this.requireRole(impliedId);
    // Keystone 22 lets a role imply itself (harmless: the closure is the same).
    if (
      PROHIBITED_IMPLIED_ROLES.includes(implied.name) ||
      (prior.domain_id === null && implied.domain_id !== null)
    )
      throw forbiddenAction(`${implied.id} cannot be an implied roles.`);
    if (!(await repo.insertImpliedRole(this.#db, prior.id, implied.id)))
      throw conflict('implied_role', 'Duplicate entry');
    this.#changed();
    return [prior, implied];
  }

  async inference(priorId: string, impliedId: string): Promise<[repo.RoleRow, repo.RoleRow]> {
    const prior = await this.requireRole(priorId);
    const implied = await this.requireRole(impliedId);
    const found = await repo.inferences(this.#db, prior.id);
    if (!found.some((i) => i.implied_role_id === implied.id)) throw impliedRoleNotFound(prior.id, implied.id);
    return [prior, implied];
  }

  async deleteInference(priorId: string, impliedId: string): Promise<void> {
    await this.requireRole(priorId);
    await this.requireRole(impliedId);
    if (!(await repo.deleteImpliedRole(this.#db, priorId, impliedId)))
      throw impliedRoleNotFound(priorId, impliedId);
    this.#changed();
  }

  /** The rules, with the roles they name (for rendering). */
  async inferences(priorId?: string): Promise<{ rules: repo.Inference[]; roles: Map<string, repo.RoleRow> }> {
    if (priorId !== undefined) await this.requireRole(priorId);
    const rules = await repo.inferences(this.#db, priorId);
    const ids = [...new Set(rules.flatMap((r) => [r.prior_role_id, r.implied_role_id]))];
    const roles = new Map((await repo.rolesByIds(this.#db, ids)).map((r) => [r.id, r]));
    return { rules, roles };
  }

  // --- grants --------------------------------------------------------------------------------

  /** The grant's parts exist, and a domain-specific role stays in its domain. */
  async #checkGrant(g: repo.Grant): Promise<repo.RoleRow> {
    const role = await this.requireRole(g.roleId);
    if (!(await repo.actorExists(this.#db, g.actor))) throw notFound(g.actor.type, g.actor.id);
    const domain = await repo.targetDomain(this.#db, g.target);
    if (g.target.type !== 'system' && !domain) throw notFound(g.target.type, g.target.id);
    if (role.domain_id) {
      if (g.target.type === 'system')
        throw validation(
          `Role ${role.id} is a domain-specific role. Unable to use a domain-specific role in a system assignment.`,
        );
      if (role.domain_id !== domain)
        throw forbiddenAction(
          `${g.target.type === 'project' ? 'Project' : 'Domain'} ${g.target.id} must be in the same domain as the role ${role.id} being assigned.`,
        );
    }
    return role;
  }

  /** PUT …/roles/{role}: idempotent. */
  async createGrant(g: repo.Grant): Promise<void> {
    await this.#checkGrant(g);
    await repo.addGrant(this.#db, g);
    this.#changed();
  }

  /** HEAD/GET …/roles/{role}: 404 unless the grant exists. */
  async checkGrant(g: repo.Grant): Promise<void> {
    await this.#checkGrant(g);
    if (!(await repo.hasGrant(this.#db, g))) throw roleAssignmentNotFound(g);
  }

  /** DELETE …/roles/{role}: the grant goes, and the tokens it supported. */
  async deleteGrant(g: repo.Grant): Promise<void> {
    await this.requireRole(g.roleId);
    if (!(await this.revokeGrant(g))) throw roleAssignmentNotFound(g);
  }

  async listGrants(actor: repo.Actor, target: repo.Target, inherited: boolean): Promise<repo.RoleRow[]> {
    if (!(await repo.actorExists(this.#db, actor))) throw notFound(actor.type, actor.id);
    if (target.type !== 'system' && !(await repo.targetDomain(this.#db, target)))
      throw notFound(target.type, target.id);
    return repo.grantedRoles(this.#db, actor, target, inherited);
  }

  actorDomain(actor: repo.Actor): Promise<string | null> {
    return repo.actorDomain(this.#db, actor);
  }

  targetDomain(target: repo.Target): Promise<string | null> {
    return repo.targetDomain(this.#db, target);
  }

  // --- role assignments ----------------------------------------------------------------------

  /**
   * GET /v3/role_assignments. Stored grants, or with `effective` what they amount to: group
   * grants expanded to each member, inherited grants to each project below their target, every
   * implied role added after its prior, and domain-specific roles left out (they only imply).
   */
  async roleAssignments(q: AssignmentQuery): Promise<RoleAssignment[]> {
    // Effective assignments are never inherited ones, as Keystone answers.
    if (q.effective && q.inheritedToProjects) return [];
    const db = this.#db;
    const graph = await this.#graph();
    const subtreeOf = (id: string): string[] => {
      const out: string[] = [];
      const walk = (at: string) => {
        for (const c of graph.children.get(at) ?? []) {
          out.push(c);
          walk(c);
        }
      };
      walk(id);
      return out;
    };
    const projectIds = q.projectId
      ? new Set([q.projectId, ...(q.includeSubtree ? subtreeOf(q.projectId) : [])])
      : null;
    // A domain-scoped caller's view is narrowed in SQL first: only grants on that domain and its
    // projects can give an entry there, so the rest of the cloud is never read nor expanded.
    const within = q.withinDomain ? { withinDomain: q.withinDomain } : {};

    let entries: RoleAssignment[];
    if (!q.effective) {
      const actorType = q.userId ? 'user' : q.groupId ? 'group' : undefined;
      const actorId = q.userId ?? q.groupId;
      const targetType = q.projectId ? 'project' : q.domainId ? 'domain' : q.system ? 'system' : undefined;
      const targetIds = projectIds ? [...projectIds] : q.domainId ? [q.domainId] : undefined;
      const rows = await repo.listAssignments(db, {
        ...(actorType ? { actorType } : {}),
        ...(actorId ? { actorIds: [actorId] } : {}),
        ...(q.roleId ? { roleIds: [q.roleId] } : {}),
        ...(targetType ? { targetType } : {}),
        ...(targetIds ? { targetIds } : {}),
        ...(q.inheritedToProjects ? { inherited: true } : {}),
        ...within,
      });
      entries = rows.map((row) => ({
        roleId: row.role_id,
        actor: { type: row.actor_type, id: row.actor_id },
        target: targetOf(row),
        inherited: row.inherited,
        source: row,
      }));
    } else {
      let rows: repo.AssignmentRow[];
      const members = new Map<string, string[]>();
      if (q.userId) {
        // One user: their own grants and their groups', each group standing for this user alone.
        const [own, groups] = await Promise.all([
          repo.listAssignments(db, { actorType: 'user', actorIds: [q.userId], ...within }),
          repo.groupsOfUser(db, q.userId),
        ]);
        for (const g of groups) members.set(g, [q.userId]);
        rows =
          groups.length > 0
            ? [
                ...own,
                ...(await repo.listAssignments(db, { actorType: 'group', actorIds: groups, ...within })),
              ]
            : own;
      } else {
        rows = await repo.listAssignments(db, within);
        const groupIds = [...new Set(rows.filter((r) => r.actor_type === 'group').map((r) => r.actor_id))];
        if (groupIds.length > 0)
          for (const m of await repo.membersOfGroups(db, groupIds)) push(members, m.group_id, m.user_id);
      }
      // Keystone 22 leaves system grants out of effective lists unless they are asked for.
      if (!q.system) rows = rows.filter((r) => r.target_type !== 'system');
      const { implied, domainRoles, byDomain } = graph;
      entries = [];
      for (const row of rows) {
        const targets: repo.Target[] = !row.inherited
          ? [targetOf(row)]
          : (row.target_type === 'domain'
              ? (byDomain.get(row.target_id) ?? [])
              : subtreeOf(row.target_id)
            ).map((id) => ({ type: 'project', id }));
        const users =
          row.actor_type === 'user'
            ? [{ id: row.actor_id }]
            : (members.get(row.actor_id) ?? []).map((id) => ({ id, viaGroup: row.actor_id }));
        // The granted role, then what it implies (breadth first, each with its immediate prior).
        const chain: Array<{ roleId: string; priorRole?: string }> = [{ roleId: row.role_id }];
        const seen = new Set([row.role_id]);
        for (let i = 0; i < chain.length; i++) {
          const at = (chain[i] as { roleId: string }).roleId;
          for (const next of implied.get(at) ?? [])
            if (!seen.has(next)) {
              seen.add(next);
              chain.push({ roleId: next, priorRole: at });
            }
        }
        for (const target of targets)
          for (const user of users)
            for (const link of chain) {
              if (domainRoles.has(link.roleId)) continue;
              entries.push({
                roleId: link.roleId,
                actor: { type: 'user', id: user.id },
                target,
                inherited: false,
                source: row,
                ...('viaGroup' in user ? { viaGroup: user.viaGroup } : {}),
                ...(link.priorRole ? { priorRole: link.priorRole } : {}),
              });
            }
      }
      entries = entries.filter(
        (e) =>
          (!q.userId || e.actor.id === q.userId) &&
          (!q.roleId || e.roleId === q.roleId) &&
          (!projectIds || (e.target.type === 'project' && projectIds.has(e.target.id))) &&
          (!q.domainId || (e.target.type === 'domain' && e.target.id === q.domainId)) &&
          (!q.system || e.target.type === 'system'),
      );
    }
    if (q.withinDomain) {
      const domain = q.withinDomain;
      const inDomain = new Set(graph.byDomain.get(domain) ?? []);
      entries = entries.filter(
        (e) =>
          (e.target.type === 'domain' && e.target.id === domain) ||
          (e.target.type === 'project' && inDomain.has(e.target.id)),
      );
    }
    return entries;
  }

  /** id → name (and domain) for include_names. */
  names(kind: 'user' | 'group' | 'project' | 'domain' | 'role', ids: string[]) {
    return repo.names(this.#db, kind, [...new Set(ids)]);
  }
}

interface AssignmentGraph {
  children: Map<string, string[]>;
  byDomain: Map<string, string[]>;
  implied: Map<string, string[]>;
  domainRoles: Set<string>;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function targetOf(row: repo.AssignmentRow): repo.Target {
  return row.target_type === 'system'
    ? { type: 'system', id: 'all' }
    : { type: row.target_type, id: row.target_id };
}

const immutable = (what: 'update' | 'delete', id: string) =>
  forbiddenAction(
    `Unable to ${what} immutable role resource: \`${id}. Set resource option "immutable" to false first.`,
  );

const impliedRoleNotFound = (prior: string, implied: string) =>
  new IdentityError('IDN_ERR_NOT_FOUND', `${prior} does not imply ${implied}.`);
