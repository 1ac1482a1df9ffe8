/** Application credentials: authentication by id (or name and user) and secret. */
import type { RoleRef } from '../assignment/repository.js';
import type { Db } from '../db.js';
import { unauthorized } from '../errors.js';
import { dummyHash, type HashPolicy, hashPassword, verifyPassword } from '../identity/passwords.js';
import * as repo from './repository.js';

export type { ApplicationCredentialRow } from './repository.js';

export class CredentialService {
  readonly #db: Db;
  readonly #hash: HashPolicy;

  constructor(db: Db, hash: HashPolicy) {
    this.#db = db;
    this.#hash = hash;
  }

  applicationCredential(id: string): Promise<repo.ApplicationCredentialRow | null> {
    return repo.applicationCredentialById(this.#db, id);
  }

  applicationCredentialRoles(id: string): Promise<RoleRef[]> {
    return repo.applicationCredentialRoles(this.#db, id);
  }

  /** The credential, when the secret is right and it has not expired; 401 otherwise. */
  async authenticateApplicationCredential(
    ref: { id: string } | { name: string; userId: string },
    secret: string,
  ): Promise<repo.ApplicationCredentialRow> {
    const found =
      'id' in ref
        ? await repo.applicationCredentialById(this.#db, ref.id)
        : await repo.applicationCredentialByName(this.#db, ref.userId, ref.name);
    const ok = await verifyPassword(secret, found?.secret_hash ?? (await dummyHash(this.#hash)));
    if (!found || !ok) throw unauthorized('invalid application credential');
    if (found.expires_at && found.expires_at.getTime() <= Date.now())
      throw unauthorized(`application credential ${found.id} has expired`);
    return found;
  }

  /** Stores a credential with its secret hashed (the CRUD API and tests create them here). */
  async createApplicationCredential(c: {
    id: string;
    name: string;
    userId: string;
    projectId: string;
    secret: string;
    roleIds: string[];
    expiresAt?: Date | null;
    unrestricted?: boolean;
  }): Promise<void> {
    await repo.insertApplicationCredential(this.#db, {
      id: c.id,
      name: c.name,
      user_id: c.userId,
      project_id: c.projectId,
      secret_hash: await hashPassword(c.secret, this.#hash),
      expires_at: c.expiresAt ?? null,
      unrestricted: c.unrestricted ?? false,
      roleIds: c.roleIds,
    });
  }
}
