/** Roles and grants: effective roles for tokens, and grant changes that end the affected sessions. */
import type { Db } from '../db.js';
import type { IdentityService } from '../identity/service.js';
import type { DomainRow, ProjectRow } from '../resource/repository.js';
import type { RevocationService } from '../token/revocation.js';
import * as repo from './repository.js';

export type { Actor, Grant, RoleRef, Target } from './repository.js';

export class AssignmentService {
  readonly #db: Db;
  readonly #identity: IdentityService;
  readonly #revocation: RevocationService;

  constructor(db: Db, identity: IdentityService, revocation: RevocationService) {
    this.#db = db;
    this.#identity = identity;
    this.#revocation = revocation;
  }

  effectiveRoles(userId: string, target: repo.Target): Promise<repo.RoleRef[]> {
    return repo.effectiveRoles(this.#db, userId, target);
  }

  projectsFor(userId: string): Promise<ProjectRow[]> {
    return repo.projectsWithRoles(this.#db, userId);
  }

  domainsFor(userId: string): Promise<DomainRow[]> {
    return repo.domainsWithRoles(this.#db, userId);
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
}
