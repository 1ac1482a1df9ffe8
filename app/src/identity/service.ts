/**
 * Users and passwords: password authentication with Keystone's security-compliance rules
 * (lockout after failures, expiry, minimum age, history), password changes, enabling and
 * disabling users. Changes that must end sessions record revocation events.
 */
import { randomUUID } from 'node:crypto';
import { type Db, transaction } from '../db.js';
import {
  accountLocked,
  conflict,
  IdentityError,
  isUniqueViolation,
  notFound,
  passwordExpired,
  passwordInHistory,
  passwordTooYoung,
  unauthorized,
  validation,
} from '../errors.js';
import type { Hint } from '../hints.js';
import type { Invalidation } from '../invalidation.js';
import type { RevocationService } from '../token/revocation.js';
import { dummyHash, type HashPolicy, hashPassword, verifyPassword } from './passwords.js';
import * as repo from './repository.js';

const newId = () => randomUUID().replaceAll('-', '');
const notMember = (groupId: string, userId: string) =>
  new IdentityError('IDN_ERR_NOT_FOUND', `User '${userId}' not found in group '${groupId}'`);

export type { GroupFields, GroupRow, UserFields, UserListRow, UserOptions, UserRow } from './repository.js';

/** PostgreSQL's foreign_key_violation: the user's or group's domain does not exist. */
const isForeignKeyViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23503';

export const passwordSelfServiceDisabled = () =>
  new IdentityError(
    'IDN_ERR_FORBIDDEN',
    'You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.',
  );

export type UserPatch = Partial<Omit<repo.UserFields, 'domainId'>> & { password?: string | null };

export interface PasswordRules {
  hash: HashPolicy;
  maxLength: number;
  lockoutFailureAttempts: number | null;
  /** Seconds; 0: locked until re-enabled. */
  lockoutDuration: number;
  expiresDays: number | null;
  uniqueLastCount: number;
  minimumAgeDays: number;
  /** Passwords an administrator sets start expired (unless the user's option says otherwise). */
  changeUponFirstUse?: boolean;
}

export type UserRef = { id: string } | { name: string; domain: { id?: string; name?: string } };

const DAY = 86_400_000;

export class IdentityService {
  readonly #db: Db;
  readonly #rules: PasswordRules;
  readonly #revocation: RevocationService;
  readonly #invalidation: Invalidation | undefined;
  /** What failed logins and a lockout's end are timed by; by default the database's. */
  readonly #clock: (() => number) | undefined;

  /**
   * `invalidation`: this process's "identity state changed" signal; writes that end no session
   * (a new user, a renamed group, a new member) invalidate at once, before their NOTIFY comes
   * back, so that this process never answers from what it cached before its own write.
   * `clock`: milliseconds since the epoch for the lockout (tests move it instead of waiting); by
   * default the database's now(), one clock for every host.
   */
  constructor(
    db: Db,
    rules: PasswordRules,
    revocation: RevocationService,
    invalidation?: Invalidation,
    clock?: () => number,
  ) {
    this.#db = db;
    this.#rules = rules;
    this.#revocation = revocation;
    this.#invalidation = invalidation;
    this.#clock = clock;
  }

  /** The lockout's time: the clock's, or null for the database's now(). */
  #lockoutNow(): Date | null {
    return this.#clock ? new Date(this.#clock()) : null;
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
   * but "locked" and "expired" answer the same generic 401. With lockout on, the attempt is
   * counted before the hash and given back when the password is right, so that N parallel wrong
   * guesses get at most as many checks as the lockout allows. `allowExpired`: a password change
   * may use an expired password. `signal`: the request's; a check still queued when it aborts is
   * dropped.
   */
  async authenticate(
    ref: UserRef,
    password: string,
    options: { allowExpired?: boolean; signal?: AbortSignal } = {},
  ): Promise<repo.UserRow> {
    if (password.length > this.#rules.maxLength)
      throw validation('Invalid input for field password: too long.');
    const user = await this.findUser(ref);
    if (!user?.password_hash) {
      await verifyPassword(password, await dummyHash(this.#rules.hash), options.signal);
      throw unauthorized(user ? `user ${user.id} has no password` : 'no such user');
    }
    const max = this.#rules.lockoutFailureAttempts;
    const reserved =
      max !== null &&
      (await repo.reserveAttempt(this.#db, user.id, {
        attempts: max,
        durationSeconds: this.#rules.lockoutDuration,
        ignore: user.options.ignore_lockout_failure_attempts === true,
        at: this.#lockoutNow(),
      }));
    if (max !== null && !reserved) throw accountLocked(user.id);
    const release = () => (reserved ? repo.releaseAttempt(this.#db, user.id) : Promise.resolve());
    let matches: boolean;
    try {
      matches = await verifyPassword(password, user.password_hash, options.signal);
    } catch (err) {
      await release();
      throw err;
    }
    if (!matches) {
      if (!reserved) await repo.recordFailedAuth(this.#db, user.id, this.#lockoutNow());
      throw unauthorized(`wrong password for user ${user.id}`);
    }
    if (!user.enabled || !user.domain_enabled) {
      await release();
      throw unauthorized(`user ${user.id} is disabled`);
    }
    if (!options.allowExpired && this.#expired(user)) {
      await release();
      throw passwordExpired(user.id);
    }
    if (reserved || user.failed_auth_count) await repo.resetFailedAuth(this.#db, user.id);
    return user;
  }

  #expired(user: repo.UserRow): boolean {
    if (user.options.ignore_password_expiry || !user.password_expires_at) return false;
    return user.password_expires_at.getTime() <= Date.now();
  }

  /**
   * Self-service change (POST /v3/users/{id}/password), as Keystone's change_password: the
   * original password goes through authenticate(), so a locked account is refused, a wrong
   * original counts toward lockout, a disabled or unknown user is 401 (an expired password is
   * fine: that is what this is for); then minimum age and history apply, and every token the
   * user had is revoked.
   */
  async changePassword(userId: string, original: string, next: string, signal?: AbortSignal): Promise<void> {
    const user = await this.authenticate({ id: userId }, original, { allowExpired: true, signal });
    if (user.options.lock_password) throw passwordSelfServiceDisabled();
    const minDays = this.#rules.minimumAgeDays;
    if (minDays > 0 && user.password_created_at) {
      const allowedAt = user.password_created_at.getTime() + minDays * DAY;
      if (allowedAt > Date.now()) throw passwordTooYoung(minDays, Math.ceil((allowedAt - Date.now()) / DAY));
    }
    // Keystone's history rule: the new password differs from the last N, the current one included.
    const unique = this.#rules.uniqueLastCount;
    if (unique > 0) {
      for (const old of await repo.recentPasswordHashes(this.#db, userId, unique))
        if (await verifyPassword(next, old)) throw passwordInHistory(unique);
    }
    await this.setPassword(userId, next);
  }

  /**
   * Sets the password (bootstrap, an administrator's reset): neither history nor minimum age
   * apply, as in Keystone, where only the user's own change is held to them.
   */
  async setPassword(userId: string, next: string): Promise<void> {
    const user = await repo.userById(this.#db, userId);
    if (!user) throw notFound('user', userId);
    const prepared = await this.#preparePassword(next, user);
    await transaction(this.#db, async (tx) => {
      await repo.addPassword(tx, userId, prepared.hash, prepared.expiresAt);
      await repo.resetFailedAuth(tx, userId);
    });
    this.#invalidation?.invalidate();
    if (user.password_hash) await this.#revocation.revokeUser(userId);
  }

  /** Length, hash and expiry of a new password. */
  async #preparePassword(
    next: string,
    user: { id: string; options: repo.UserOptions } | null,
    setByAdministrator = false,
  ): Promise<{ hash: string; expiresAt: Date | null }> {
    if (next.length === 0 || next.length > this.#rules.maxLength)
      throw validation(
        `Invalid input for field password: expected 1 to ${this.#rules.maxLength} characters.`,
      );
    const hash = await hashPassword(next, this.#rules.hash);
    const days = this.#rules.expiresDays;
    const options = user?.options ?? {};
    if (
      setByAdministrator &&
      this.#rules.changeUponFirstUse &&
      !options.ignore_change_password_upon_first_use
    )
      return { hash, expiresAt: new Date() };
    const ignore = options.ignore_password_expiry === true;
    return { hash, expiresAt: days !== null && !ignore ? new Date(Date.now() + days * DAY) : null };
  }

  listUsers(hints: Hint[], groupId?: string): Promise<repo.UserListRow[]> {
    return repo.listUsers(this.#db, hints, groupId);
  }

  async requireUser(id: string): Promise<repo.UserRow> {
    const user = await repo.userById(this.#db, id);
    if (!user) throw notFound('user', id);
    return user;
  }

  /** A new user, with its password if one is given, in one transaction. */
  async createUser(fields: repo.UserFields, password: string | null): Promise<repo.UserRow> {
    const id = newId();
    const prepared =
      password === null ? null : await this.#preparePassword(password, { id, options: fields.options }, true);
    await this.#write('user', fields.name, fields.domainId, () =>
      transaction(this.#db, async (tx) => {
        await repo.insertUser(tx, id, fields);
        if (prepared) await repo.addPassword(tx, id, prepared.hash, prepared.expiresAt);
      }),
    );
    this.#invalidation?.invalidate();
    return this.requireUser(id);
  }

  /**
   * An administrator's update. A new password is a reset: no history, no minimum age;
   * a new password or disabling ends the user's sessions; re-enabling clears a lockout.
   */
  async updateUser(id: string, patch: UserPatch): Promise<repo.UserRow> {
    const current = await this.requireUser(id);
    const options = { ...current.options };
    for (const [k, v] of Object.entries(patch.options ?? {})) {
      if (v === null) delete options[k as keyof repo.UserOptions];
      else Object.assign(options, { [k]: v });
    }
    const prepared =
      typeof patch.password === 'string'
        ? await this.#preparePassword(patch.password, { id, options }, true)
        : null;
    const next = {
      name: patch.name ?? current.name,
      enabled: patch.enabled ?? current.enabled,
      defaultProjectId:
        patch.defaultProjectId === undefined ? current.default_project_id : patch.defaultProjectId,
      description: patch.description ?? current.description,
      options,
      extra: { ...current.extra, ...patch.extra },
    };
    await this.#write('user', next.name, current.domain_id, () =>
      transaction(this.#db, async (tx) => {
        await repo.updateUser(tx, id, next);
        if (prepared) {
          await repo.addPassword(tx, id, prepared.hash, prepared.expiresAt);
          await repo.resetFailedAuth(tx, id);
        }
      }),
    );
    this.#invalidation?.invalidate();
    if ((prepared && current.password_hash) || (current.enabled && !next.enabled))
      await this.#revocation.revokeUser(id);
    return this.requireUser(id);
  }

  /** The user goes with its grants, memberships, credentials and application credentials. */
  async deleteUser(id: string): Promise<void> {
    if (!(await transaction(this.#db, (tx) => repo.deleteUser(tx, id)))) throw notFound('user', id);
    await this.#revocation.revokeUser(id);
  }

  // --- groups --------------------------------------------------------------------------------

  async requireGroup(id: string): Promise<repo.GroupRow> {
    const group = await repo.groupById(this.#db, id);
    if (!group) throw notFound('group', id);
    return group;
  }

  findGroup(id: string): Promise<repo.GroupRow | null> {
    return repo.groupById(this.#db, id);
  }

  /** A group by its name in a domain (what a mapping's `group` by name names). */
  async groupByName(name: string, domainId: string): Promise<repo.GroupRow | null> {
    const [group] = await repo.listGroups(this.#db, [
      { kind: 'exact', field: 'name', value: name },
      { kind: 'exact', field: 'domain_id', value: domainId },
    ]);
    return group ?? null;
  }

  listGroups(hints: Hint[], userId?: string): Promise<repo.GroupRow[]> {
    return repo.listGroups(this.#db, hints, userId);
  }

  async createGroup(fields: repo.GroupFields): Promise<repo.GroupRow> {
    const id = newId();
    await this.#write('group', fields.name, fields.domainId, () => repo.insertGroup(this.#db, id, fields));
    this.#invalidation?.invalidate();
    return this.requireGroup(id);
  }

  async updateGroup(id: string, patch: Partial<Omit<repo.GroupFields, 'domainId'>>): Promise<repo.GroupRow> {
    const current = await this.requireGroup(id);
    const name = patch.name ?? current.name;
    await this.#write('group', name, current.domain_id, () =>
      repo.updateGroup(this.#db, id, {
        name,
        description: patch.description ?? current.description,
        extra: { ...current.extra, ...patch.extra },
      }),
    );
    this.#invalidation?.invalidate();
    return this.requireGroup(id);
  }

  /** The group goes with its grants and memberships; its members' tokens are revoked. */
  async deleteGroup(id: string): Promise<void> {
    await this.requireGroup(id);
    const members = await repo.groupMembers(this.#db, id);
    await transaction(this.#db, (tx) => repo.deleteGroup(tx, id));
    for (const user of members) await this.#revocation.revokeUser(user);
  }

  async addMember(groupId: string, userId: string): Promise<void> {
    await this.requireGroup(groupId);
    await this.requireUser(userId);
    try {
      await repo.addMember(this.#db, groupId, userId);
    } catch (err) {
      // Deleted between the checks and the insert.
      if (isForeignKeyViolation(err)) throw notFound('user', userId);
      throw err;
    }
    this.#invalidation?.invalidate();
  }

  async checkMember(groupId: string, userId: string): Promise<void> {
    await this.requireGroup(groupId);
    await this.requireUser(userId);
    if (!(await repo.isMember(this.#db, groupId, userId))) throw notMember(groupId, userId);
  }

  /** Leaving a group ends the user's sessions (the group's roles may have carried them). */
  async removeMember(groupId: string, userId: string): Promise<void> {
    await this.requireGroup(groupId);
    await this.requireUser(userId);
    if (!(await repo.removeMember(this.#db, groupId, userId))) throw notMember(groupId, userId);
    await this.#revocation.revokeUser(userId);
  }

  /** Runs a write; a duplicate name is Keystone's 409 and a missing domain its 404. */
  async #write(type: string, name: string, domainId: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict(type, `Duplicate entry found with name ${name} at domain ID ${domainId}`);
      if (isForeignKeyViolation(err)) throw notFound('domain', domainId);
      throw err;
    }
  }

  /** Disabling a user revokes the user's tokens; re-enabling clears a lockout. */
  async setUserEnabled(userId: string, enabled: boolean): Promise<void> {
    if (!(await repo.setUserEnabled(this.#db, userId, enabled))) throw notFound('user', userId);
    this.#invalidation?.invalidate();
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
