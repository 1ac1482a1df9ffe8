/**
 * Domains and projects: lookups for authentication and the token provider, and Keystone's
 * resource rules for the API (an enabled domain cannot be deleted, a project's parent is in its
 * domain, only leaves are deleted, hierarchy depth). Each write is one transaction; the events
 * that end sessions are recorded after it commits.
 */
import { randomUUID } from 'node:crypto';
import { type Db, transaction } from '../db.js';
import { conflict, forbiddenAction, isUniqueViolation, notFound, validation } from '../errors.js';
import type { Invalidation } from '../invalidation.js';
import type { RevocationService } from '../token/revocation.js';
import * as repo from './repository.js';

export type {
  DomainFields,
  DomainRecord,
  DomainRow,
  ProjectFields,
  ProjectFilter,
  ProjectRow,
  Ref,
} from './repository.js';

/** Keystone's [DEFAULT] max_project_tree_depth. */
export const MAX_PROJECT_TREE_DEPTH = 5;
/** Keystone's limit on tags per project. */
export const MAX_TAGS = 80;

export const newId = () => randomUUID().replaceAll('-', '');

export interface ProjectCreate {
  name: string;
  domainId: string | null;
  parentId: string | null;
  description?: string;
  enabled?: boolean;
  tags?: string[];
  options?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

export type ProjectPatch = Partial<
  Pick<repo.ProjectFields, 'name' | 'description' | 'enabled' | 'tags' | 'options' | 'extra'>
>;

export class ResourceService {
  readonly #db: Db;
  readonly #revocation: RevocationService;
  readonly #invalidation: Invalidation | undefined;
  readonly #maxDepth: number;

  /**
   * `invalidation`: invalidated after each write, before its NOTIFY comes back (see IdentityService).
   * `limitModelDepth`: the limit enforcement model's bound on the tree, when it has one (Keystone
   * takes the smaller of it and max_project_tree_depth).
   */
  constructor(
    db: Db,
    revocation: RevocationService,
    invalidation?: Invalidation,
    limitModelDepth: number | null = null,
  ) {
    this.#db = db;
    this.#revocation = revocation;
    this.#invalidation = invalidation;
    this.#maxDepth = Math.min(MAX_PROJECT_TREE_DEPTH, limitModelDepth ?? MAX_PROJECT_TREE_DEPTH);
  }

  domain(ref: repo.Ref): Promise<repo.DomainRow | null> {
    return repo.domainBy(this.#db, ref);
  }

  project(ref: repo.Ref & { domain?: repo.Ref }): Promise<repo.ProjectRow | null> {
    return repo.projectBy(this.#db, ref);
  }

  /** Disabling a project revokes every token scoped to it; re-enabling does not bring them back. */
  async setProjectEnabled(id: string, enabled: boolean): Promise<void> {
    if (!(await repo.setProjectEnabled(this.#db, id, enabled))) throw notFound('project', id);
    this.#invalidation?.invalidate();
    if (!enabled) await this.#revocation.revokeProject(id);
  }

  async setDomainEnabled(id: string, enabled: boolean): Promise<void> {
    if (!(await repo.setDomainEnabled(this.#db, id, enabled))) throw notFound('domain', id);
    this.#invalidation?.invalidate();
    if (!enabled) await this.#revocation.revokeDomain(id);
  }

  ensureDomain(id: string, name: string, description: string): Promise<void> {
    return repo.ensureDomain(this.#db, id, name, description);
  }

  ensureProject(project: {
    id: string;
    name: string;
    domainId: string;
    description: string;
  }): Promise<string> {
    return repo.ensureProject(this.#db, project);
  }

  // --- domains -------------------------------------------------------------------------------

  getDomain(id: string): Promise<repo.DomainRecord | null> {
    return repo.domainRecord(this.#db, id);
  }

  async requireDomain(id: string): Promise<repo.DomainRecord> {
    const domain = await repo.domainRecord(this.#db, id);
    if (!domain) throw notFound('domain', id);
    return domain;
  }

  listDomains(hints: Parameters<typeof repo.listDomains>[1]): Promise<repo.DomainRecord[]> {
    return repo.listDomains(this.#db, hints);
  }

  async createDomain(fields: Partial<repo.DomainFields> & { name: string }): Promise<repo.DomainRecord> {
    const id = newId();
    await this.#unique('project', domainTaken(fields.name), () =>
      repo.insertDomain(this.#db, id, {
        name: fields.name,
        description: fields.description ?? '',
        enabled: fields.enabled ?? true,
        tags: fields.tags ?? [],
        options: fields.options ?? {},
        extra: fields.extra ?? {},
      }),
    );
    return this.requireDomain(id);
  }

  async updateDomain(id: string, patch: Partial<repo.DomainFields>): Promise<repo.DomainRecord> {
    const current = await this.requireDomain(id);
    const next: repo.DomainFields = {
      name: patch.name ?? current.name,
      description: patch.description ?? current.description,
      enabled: patch.enabled ?? current.enabled,
      tags: patch.tags ?? current.tags,
      options: mergeOptions(current.options, patch.options),
      extra: { ...current.extra, ...patch.extra },
    };
    await this.#unique('project', domainTaken(next.name), () => repo.updateDomain(this.#db, id, next));
    if (current.enabled && !next.enabled) await this.#revocation.revokeDomain(id);
    return this.requireDomain(id);
  }

  /** Keystone's rule: disable first. Then the domain goes with everything it owns. */
  async deleteDomain(id: string): Promise<void> {
    const domain = await this.requireDomain(id);
    if (domain.enabled)
      throw forbiddenAction('Cannot delete a domain that is enabled, please disable it first.');
    const users = await transaction(this.#db, (tx) => repo.deleteDomain(tx, id));
    await this.#revocation.revokeDomain(id);
    for (const user of users) await this.#revocation.revokeUser(user);
  }

  // --- projects ------------------------------------------------------------------------------

  async requireProject(id: string): Promise<repo.ProjectRow> {
    const project = await repo.projectBy(this.#db, { id });
    if (!project) throw notFound('project', id);
    return project;
  }

  listProjects(filter: repo.ProjectFilter): Promise<repo.ProjectRow[]> {
    return repo.listProjects(this.#db, filter);
  }

  projectsForUser(userId: string, hints: repo.ProjectFilter['hints']): Promise<repo.ProjectRow[]> {
    return repo.projectsForUser(this.#db, userId, hints);
  }

  parents(id: string): Promise<repo.ProjectRow[]> {
    return repo.projectParents(this.#db, id);
  }

  subtree(id: string): Promise<repo.ProjectRow[]> {
    return repo.projectSubtree(this.#db, id);
  }

  /**
   * parent_id may name a project of the same domain or the domain itself (a top-level project).
   * Without a domain_id the project goes to `defaultDomain` (the caller's domain, else
   * `default`), and a parent elsewhere is refused, as Keystone does.
   */
  async createProject(p: ProjectCreate, defaultDomain: string): Promise<repo.ProjectRow> {
    const domainId = p.domainId ?? defaultDomain;
    let parentId: string | null = null;
    if (p.parentId && p.parentId !== domainId) {
      const parent = await repo.projectBy(this.#db, { id: p.parentId });
      if (!parent) {
        if (await repo.domainRecord(this.#db, p.parentId))
          throw validation(
            `Cannot create project, the parent (${p.parentId}) is acting as a domain, but this project's domain id (${domainId}) does not match the parent's id.`,
          );
        throw validation(`Could not find project: ${p.parentId}.`);
      }
      if (parent.domain_id !== domainId)
        throw validation(
          `Cannot create project, since it specifies its domain_id ${domainId}, but specifies a parent in a different domain (${parent.domain_id}).`,
        );
      parentId = parent.id;
      if ((await repo.projectParents(this.#db, parent.id)).length + 2 > this.#maxDepth)
        throw forbiddenAction(`Max hierarchy depth reached for ${parent.id} branch.`);
      if (p.enabled !== false && !parent.enabled)
        throw forbiddenAction(`Cannot create project, since its parent (${parent.id}) is disabled.`);
    }
    const domain = await repo.domainRecord(this.#db, domainId);
    if (!domain) throw notFound('domain', domainId);
    const id = newId();
    await this.#unique('project', projectTaken(p.name, id), () =>
      repo.insertProject(this.#db, id, {
        name: p.name,
        domainId,
        parentId,
        description: p.description ?? '',
        enabled: p.enabled ?? true,
        tags: checkTags(p.tags ?? []),
        options: p.options ?? {},
        extra: p.extra ?? {},
      }),
    );
    return this.requireProject(id);
  }

  async updateProject(id: string, patch: ProjectPatch): Promise<repo.ProjectRow> {
    const current = await this.requireProject(id);
    const enabled = patch.enabled ?? current.enabled;
    if (enabled && !current.enabled && current.parent_id) {
      const disabled = (await repo.projectParents(this.#db, id)).find((p) => !p.enabled);
      if (disabled)
        throw forbiddenAction(`Cannot enable project ${id} since it has disabled parents: ${disabled.id}.`);
    }
    if (!enabled && current.enabled && (await repo.hasChildren(this.#db, id, true)))
      throw forbiddenAction(`Cannot disable project ${id} since its subtree contains enabled projects.`);
    const name = patch.name ?? current.name;
    await this.#unique('project', projectTaken(name, id), () =>
      repo.updateProject(this.#db, id, {
        name,
        description: patch.description ?? current.description,
        enabled,
        tags: checkTags(patch.tags ?? current.tags),
        options: mergeOptions(current.options, patch.options),
        extra: { ...current.extra, ...patch.extra },
      }),
    );
    if (current.enabled && !enabled) await this.#revocation.revokeProject(id);
    return this.requireProject(id);
  }

  async deleteProject(id: string): Promise<void> {
    await this.requireProject(id);
    if (await repo.hasChildren(this.#db, id))
      throw forbiddenAction(
        `Cannot delete the project ${id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`,
      );
    await transaction(this.#db, (tx) => repo.deleteProject(tx, id));
    await this.#revocation.revokeProject(id);
  }

  async setTags(id: string, tags: string[]): Promise<string[]> {
    await this.requireProject(id);
    const unique = checkTags(tags);
    await repo.setProjectTags(this.#db, id, unique);
    this.#invalidation?.invalidate();
    return unique;
  }

  /** Adds one tag (PUT …/tags/{tag}); returns the project's tags. */
  async addTag(id: string, tag: string): Promise<string[]> {
    return transaction(this.#db, async (tx) => {
      const project = await repo.projectBy(tx, { id });
      if (!project) throw notFound('project', id);
      const tags = checkTags(project.tags.includes(tag) ? project.tags : [...project.tags, tag]);
      await repo.setProjectTags(tx, id, tags);
      return tags;
    }).finally(() => this.#invalidation?.invalidate());
  }

  async removeTag(id: string, tag: string): Promise<void> {
    const project = await this.requireProject(id);
    if (!project.tags.includes(tag)) throw notFound('project tag', tag);
    await repo.setProjectTags(
      this.#db,
      id,
      project.tags.filter((t) => t !== tag),
    );
    this.#invalidation?.invalidate();
  }

  async #unique(type: string, details: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(type, details);
      throw err;
    }
    this.#invalidation?.invalidate();
  }
}

// Keystone stores domains as projects acting as domains, hence "store project" for both.
const domainTaken = (name: string) =>
  `it is not permitted to have two projects acting as domains with the same name: ${name}`;
const projectTaken = (name: string, id: string) =>
  `it is not permitted to have two projects with either the same name or same id in the same domain: name is ${name}, project id ${id}`;

/** Keystone's tag rules: 1 to 255 characters, no `/` or `,`, at most 80; duplicates folded. */
export function checkTags(tags: string[]): string[] {
  for (const tag of tags)
    if (tag.length === 0 || tag.length > 255 || /[/,]/.test(tag))
      throw validation(
        `Invalid input for field 'tags': '${tag}' must be 1 to 255 characters and contain no '/' or ','.`,
      );
  const unique = [...new Set(tags)];
  if (unique.length > MAX_TAGS)
    throw validation(`Invalid input for field 'tags': at most ${MAX_TAGS} tags are allowed.`);
  return unique;
}

/** Options are merged as Keystone's: a null value removes that option. */
export function mergeOptions(
  current: Record<string, unknown>,
  patch: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}
