/** Domains and projects, as authentication and the token provider need them. */
import type { Db } from '../db.js';
import { notFound } from '../errors.js';
import type { RevocationService } from '../token/revocation.js';
import * as repo from './repository.js';

export type { DomainRow, ProjectRow, Ref } from './repository.js';

export class ResourceService {
  readonly #db: Db;
  readonly #revocation: RevocationService;

  constructor(db: Db, revocation: RevocationService) {
    this.#db = db;
    this.#revocation = revocation;
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
    if (!enabled) await this.#revocation.revokeProject(id);
  }

  async setDomainEnabled(id: string, enabled: boolean): Promise<void> {
    if (!(await repo.setDomainEnabled(this.#db, id, enabled))) throw notFound('domain', id);
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
}
