/**
 * Revocation events: written to Postgres (the table's trigger NOTIFYs every process, see
 * migration 0002) and this process's caches invalidated at once, before the notification comes
 * back.
 */
import type { Db } from '../db.js';
import type { Invalidation } from '../invalidation.js';
import * as repo from './repository.js';

export class RevocationService {
  readonly #db: Db;
  readonly #invalidation: Invalidation | undefined;
  /** A clock tests move; by default the database's (one clock for every host). */
  readonly #clock: (() => number) | undefined;

  /**
   * One clock stamps events and issues tokens, so that one compares with the other: the
   * database's, unless `clock` is given (tests, which move it instead of waiting).
   */
  constructor(db: Db, invalidation?: Invalidation, clock?: () => number) {
    this.#db = db;
    this.#invalidation = invalidation;
    this.#clock = clock;
  }

  isRevoked(check: repo.RevocationCheck): Promise<boolean> {
    return repo.isRevoked(this.#db, check);
  }

  /** The clock revocation events are stamped with (the database's): tokens are issued on it. */
  async now(): Promise<number> {
    return this.#clock ? this.#clock() : repo.databaseNow(this.#db);
  }

  /** Every token that carries the audit id (the token itself and tokens rescoped from it). */
  revokeToken(auditId: string, expiresAt: Date): Promise<void> {
    return this.#record({ auditId, expiresAt });
  }

  /** Every token of the user issued until now (password change, disabled, deleted). */
  revokeUser(userId: string): Promise<void> {
    return this.#record({ userId });
  }

  /** Every token scoped to the project (disabled, deleted). */
  revokeProject(projectId: string): Promise<void> {
    return this.#record({ projectId });
  }

  /** Every token scoped to the domain (disabled, deleted). */
  revokeDomain(domainId: string): Promise<void> {
    return this.#record({ domainId });
  }

  /** The user's tokens on one project (a role assignment there was removed). */
  revokeUserOnProject(userId: string, projectId: string): Promise<void> {
    return this.#record({ userId, projectId });
  }

  /** Drops events that no unexpired token can match any more. */
  purge(olderThanSeconds: number): Promise<number> {
    return repo.purgeRevocations(this.#db, olderThanSeconds);
  }

  async #record(event: repo.RevocationEvent): Promise<void> {
    await repo.addRevocation(this.#db, event, this.#clock ? new Date(this.#clock()) : null);
    this.#invalidation?.invalidate();
  }
}
