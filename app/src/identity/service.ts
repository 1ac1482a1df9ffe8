/**
 * Users and passwords: password authentication with Keystone's security-compliance rules
 * (lockout after failures, expiry, minimum age, history), password changes, enabling and
 * disabling users. Changes that must end sessions record revocation events.
 */
import { type Db, transaction } from '../db.js';
import {
  accountLocked,
  notFound,
  passwordExpired,
  passwordInHistory,
  passwordTooYoung,
  unauthorized,
  validation,
} from '../errors.js';
import type { RevocationService } from '../token/revocation.js';
import { dummyHash, type HashPolicy, hashPassword, verifyPassword } from './passwords.js';
import * as repo from './repository.js';

export type { UserRow } from './repository.js';

export interface PasswordRules {
  hash: HashPolicy;
  maxLength: number;
  lockoutFailureAttempts: number | null;
  /** Seconds; 0: locked until re-enabled. */
  lockoutDuration: number;
  expiresDays: number | null;
  uniqueLastCount: number;
  minimumAgeDays: number;
}

export type UserRef = { id: string } | { name: string; domain: { id?: string; name?: string } };

const DAY = 86_400_000;

export class IdentityService {
  readonly #db: Db;
  readonly #rules: PasswordRules;
  readonly #revocation: RevocationService;

  constructor(db: Db, rules: PasswordRules, revocation: RevocationService) {
    this.#db = db;
    this.#rules = rules;
    this.#revocation = revocation;
  }

  getUser(id: string): Promise<repo.UserRow | null> {
    return repo.userById(this.#db, id);
  }

  findUser(ref: UserRef): Promise<repo.UserRow | null> {
    return 'id' in ref ? repo.userById(this.#db, ref.id) : repo.userByName(this.#db, ref.name, ref.domain);
  }

  /**
   * Keystone's order (identity/backends/sql.py authenticate): locked? then the password, then
   * enabled, then expiry. Every failure before the password check still runs one hash, and all
   * but "locked" and "expired" answer the same generic 401.
   */
  async authenticate(ref: UserRef, password: string): Promise<repo.UserRow> {
    if (password.length > this.#rules.maxLength)
      throw validation('Invalid input for field password: too long.');
    const user = await this.findUser(ref);
    if (!user?.password_hash) {
      await verifyPassword(password, await dummyHash(this.#rules.hash));
      throw unauthorized(user ? `user ${user.id} has no password` : 'no such user');
    }
    if (await this.#locked(user)) throw accountLocked(user.id);
    if (!(await verifyPassword(password, user.password_hash))) {
      await repo.recordFailedAuth(this.#db, user.id);
      throw unauthorized(`wrong password for user ${user.id}`);
    }
    if (!user.enabled || !user.domain_enabled) throw unauthorized(`user ${user.id} is disabled`);
    if (this.#expired(user)) throw passwordExpired(user.id);
    if (user.failed_auth_count) await repo.resetFailedAuth(this.#db, user.id);
    return user;
  }

  async #locked(user: repo.UserRow): Promise<boolean> {
    const max = this.#rules.lockoutFailureAttempts;
    if (!max || user.failed_auth_count < max || user.options.ignore_lockout_failure_attempts) return false;
    if (!this.#rules.lockoutDuration) return true;
    const until = (user.failed_auth_at?.getTime() ?? 0) + this.#rules.lockoutDuration * 1000;
    if (until > Date.now()) return true;
    await repo.resetFailedAuth(this.#db, user.id);
    return false;
  }

  #expired(user: repo.UserRow): boolean {
    if (user.options.ignore_password_expiry || !user.password_expires_at) return false;
    return user.password_expires_at.getTime() <= Date.now();
  }

  /**
   * Self-service change (POST /v3/users/{id}/password): the original password must be right
   * (an expired one is fine: that is what this is for); minimum age and history apply; every
   * token the user had is revoked.
   */
  async changePassword(userId: string, original: string, next: string): Promise<void> {
    const user = await repo.userById(this.#db, userId);
    if (!user) throw notFound('user', userId);
    if (!user.password_hash || !(await verifyPassword(original, user.password_hash)))
      throw unauthorized(`wrong original password for user ${userId}`);
    const minDays = this.#rules.minimumAgeDays;
    if (minDays > 0 && user.password_created_at) {
      const allowedAt = user.password_created_at.getTime() + minDays * DAY;
      if (allowedAt > Date.now()) throw passwordTooYoung(minDays, Math.ceil((allowedAt - Date.now()) / DAY));
    }
    await this.setPassword(userId, next);
  }

  /** Sets the password (bootstrap, an administrator's update): history applies, not minimum age. */
  async setPassword(userId: string, next: string): Promise<void> {
    if (next.length === 0 || next.length > this.#rules.maxLength)
      throw validation(
        `Invalid input for field password: expected 1 to ${this.#rules.maxLength} characters.`,
      );
    const user = await repo.userById(this.#db, userId);
    if (!user) throw notFound('user', userId);
    const unique = this.#rules.uniqueLastCount;
    if (unique > 1) {
      for (const old of await repo.recentPasswordHashes(this.#db, userId, unique - 1))
        if (await verifyPassword(next, old)) throw passwordInHistory(unique);
    }
    const hash = await hashPassword(next, this.#rules.hash);
    const days = this.#rules.expiresDays;
    const expiresAt =
      days !== null && !user.options.ignore_password_expiry ? new Date(Date.now() + days * DAY) : null;
    await transaction(this.#db, async (tx) => {
      await repo.addPassword(tx, userId, hash, expiresAt);
      await repo.resetFailedAuth(tx, userId);
    });
    if (user.password_hash) await this.#revocation.revokeUser(userId);
  }

  /** Disabling a user revokes the user's tokens; re-enabling clears a lockout. */
  async setUserEnabled(userId: string, enabled: boolean): Promise<void> {
    if (!(await repo.setUserEnabled(this.#db, userId, enabled))) throw notFound('user', userId);
    if (!enabled) await this.#revocation.revokeUser(userId);
  }

  /** Whether `password` is the user's current one (bootstrap keeps a password it already has). */
  async hasPassword(userId: string, password: string): Promise<boolean> {
    const [current] = await repo.recentPasswordHashes(this.#db, userId, 1);
    return current !== undefined && (await verifyPassword(password, current));
  }

  ensureUser(id: string, name: string, domainId: string): Promise<string> {
    return repo.ensureUser(this.#db, id, name, domainId);
  }

  groupMembers(groupId: string): Promise<string[]> {
    return repo.groupMembers(this.#db, groupId);
  }
}
