/**
 * Application credentials (authentication by id, or name and user, and secret; create, list,
 * show, delete; their access rules) and credentials (ec2, totp, cert …) whose blobs are
 * encrypted at rest with the credential key repository, as Keystone's Fernet credential provider.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RoleRef } from '../assignment/repository.js';
import { type Db, transaction } from '../db.js';
import {
  conflict,
  expectedAttribute,
  forbiddenAction,
  IdentityError,
  isForeignKeyViolation,
  isUniqueViolation,
  notFound,
  unauthorized,
  validation,
} from '../errors.js';
import { dummyHash, type HashPolicy, hashPassword, verifyPassword } from '../identity/passwords.js';
import type { Invalidation } from '../invalidation.js';
import { decrypt, encrypt, type FernetKey } from '../token/fernet.js';
import * as repo from './repository.js';

export type {
  AccessRule,
  AccessRuleRow,
  ApplicationCredentialRow,
  CredentialRow,
} from './repository.js';

const newId = () => randomUUID().replaceAll('-', '');

/** A credential as the API shows it: the blob decrypted. */
export interface Credential {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  blob: string;
}

export interface ApplicationCredential extends Omit<repo.ApplicationCredentialRow, 'secret_hash'> {
  roles: repo.ApplicationCredentialRole[];
  access_rules: repo.AccessRuleRow[];
}

/** An ec2 blob as Keystone's _validate_blob_json reads it: a JSON object. */
function parseBlob(blob: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob);
  } catch {
    throw validation('Invalid blob in credential');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw expectedAttribute('blob', 'credential');
  return parsed as Record<string, unknown>;
}

export class CredentialService {
  readonly #db: Db;
  readonly #hash: HashPolicy;
  readonly #keys: (() => FernetKey[]) | undefined;
  readonly #invalidation: Invalidation | undefined;

  /**
   * `keys`: the credential key repository (primary first), needed for credential blobs only;
   * `invalidation`: invalidated at once when an application credential goes (tokens made with it
   * end).
   */
  constructor(db: Db, hash: HashPolicy, keys?: () => FernetKey[], invalidation?: Invalidation) {
    this.#db = db;
    this.#hash = hash;
    this.#keys = keys;
    this.#invalidation = invalidation;
  }

  applicationCredential(id: string): Promise<repo.ApplicationCredentialRow | null> {
    return repo.applicationCredentialById(this.#db, id);
  }

  applicationCredentialRoles(id: string): Promise<RoleRef[]> {
    return repo.applicationCredentialRoles(this.#db, id);
  }

  /** The credential's access rules (id, service, path, method), for its tokens. */
  async accessRulesOf(id: string): Promise<Array<repo.AccessRule & { id: string }>> {
    return (await repo.accessRulesOf(this.#db, [id])).map(
      ({ application_credential_id: _, ...rule }) => rule,
    );
  }

  /** The credential, when the secret is right and it has not expired; 401 otherwise. */
  async authenticateApplicationCredential(
    ref: { id: string } | { name: string; userId: string },
    secret: string,
    signal?: AbortSignal,
  ): Promise<repo.ApplicationCredentialRow> {
    const found =
      'id' in ref
        ? await repo.applicationCredentialById(this.#db, ref.id)
        : await repo.applicationCredentialByName(this.#db, ref.userId, ref.name);
    const ok = await verifyPassword(secret, found?.secret_hash ?? (await dummyHash(this.#hash)), signal);
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

  // --- application credentials: the API ------------------------------------------------------

  /**
   * Creates the credential with its roles and access rules in one transaction; the secret (given
   * or generated, as Keystone's: 64 random bytes, base64url) is returned here only.
   */
  async create(c: {
    name: string;
    userId: string;
    projectId: string;
    description: string;
    secret?: string;
    roleIds: string[];
    /** ISO 8601 with a zone; PostgreSQL keeps its microseconds. */
    expiresAt: string | null;
    unrestricted: boolean;
    accessRules: Array<Partial<repo.AccessRuleRef>>;
  }): Promise<ApplicationCredential & { secret: string }> {
    // A rule named by id alone must be one of the user's.
    for (const rule of c.accessRules)
      if (rule.service === undefined && rule.id !== undefined) await this.accessRule(c.userId, rule.id);
    const secret = c.secret ?? randomBytes(64).toString('base64url');
    const id = newId();
    const secretHash = await hashPassword(secret, this.#hash);
    try {
      await transaction(this.#db, (tx) =>
        repo.insertApplicationCredential(tx, {
          id,
          name: c.name,
          user_id: c.userId,
          project_id: c.projectId,
          secret_hash: secretHash,
          expires_at: c.expiresAt,
          unrestricted: c.unrestricted,
          description: c.description,
          roleIds: c.roleIds,
          accessRules: c.accessRules,
        }),
      );
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict('application_credential', `Duplicate entry found with name ${c.name}`);
      throw err;
    }
    return { ...(await this.show(c.userId, id)), secret };
  }

  async list(userId: string, name?: string): Promise<ApplicationCredential[]> {
    return this.#withDetails(userId, await repo.listApplicationCredentials(this.#db, userId, name));
  }

  async show(userId: string, id: string): Promise<ApplicationCredential> {
    const row = await repo.applicationCredentialById(this.#db, id);
    if (!row || row.user_id !== userId) throw notFound('application credential', id);
    return (await this.#withDetails(userId, [row]))[0] as ApplicationCredential;
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await repo.deleteApplicationCredential(this.#db, userId, id)))
      throw notFound('application credential', id);
    this.#invalidation?.invalidate();
  }

  async #withDetails(
    userId: string,
    rows: repo.ApplicationCredentialRow[],
  ): Promise<ApplicationCredential[]> {
    const ids = rows.map((r) => r.id);
    const roles = ids.length ? await repo.applicationCredentialRolesOf(this.#db, ids) : [];
    const rules = ids.length ? await repo.accessRulesOf(this.#db, ids) : [];
    return rows.map(({ secret_hash: _, ...r }) => ({
      ...r,
      roles: roles
        .filter((x) => x.application_credential_id === r.id)
        .map(({ application_credential_id: _, ...role }) => role),
      access_rules: rules
        .filter((x) => x.application_credential_id === r.id)
        .map(({ application_credential_id: _, ...rule }) => rule),
    }));
  }

  accessRules(userId: string): Promise<repo.AccessRuleRow[]> {
    return repo.accessRules(this.#db, { userId });
  }

  async accessRule(userId: string, id: string): Promise<repo.AccessRuleRow> {
    const rule = (await repo.accessRules(this.#db, { userId, id }))[0];
    if (!rule) throw notFound('Access Rule', id);
    return rule;
  }

  /** Keystone's rule: a rule some application credential still uses cannot be deleted. */
  async deleteAccessRule(userId: string, id: string): Promise<void> {
    const outcome = await transaction(this.#db, (tx) => repo.deleteAccessRule(tx, userId, id));
    if (outcome === 'missing') throw notFound('Access Rule', id);
    if (outcome === 'in use') throw forbiddenAction('May not delete access rule in use');
  }

  // --- credentials ---------------------------------------------------------------------------

  #primary(): { keys: FernetKey[]; hash: string } {
    let keys: FernetKey[];
    try {
      keys = this.#keys?.() ?? [];
    } catch (err) {
      keys = [];
      if (!(err instanceof Error)) throw err;
    }
    const primary = keys[0];
    if (!primary)
      throw new IdentityError(
        'IDN_ERR_INTERNAL',
        'No credential keys are available: create them with `manage credential-setup`.',
      );
    const text = Buffer.concat([primary.signing, primary.encryption]).toString('base64url');
    return { keys, hash: createHash('sha1').update(`${text}=`).digest('hex') };
  }

  #seal(blob: string): { encrypted_blob: string; key_hash: string } {
    const { keys, hash } = this.#primary();
    const token = encrypt(keys[0] as FernetKey, Buffer.from(blob, 'utf8')).toString('base64url');
    return { encrypted_blob: token.padEnd(Math.ceil(token.length / 4) * 4, '='), key_hash: hash };
  }

  #open(row: repo.CredentialRow): Credential {
    const { keys } = this.#primary();
    const opened = decrypt(keys, Buffer.from(row.encrypted_blob, 'base64url'));
    if (!opened)
      throw new IdentityError(
        'IDN_ERR_INTERNAL',
        `Credential ${row.id} cannot be decrypted with the current keys.`,
      );
    return {
      id: row.id,
      user_id: row.user_id,
      project_id: row.project_id,
      type: row.type,
      blob: opened.message.toString('utf8'),
    };
  }

  /** Keystone's rule: an ec2 credential's id is the SHA-256 of its access key. */
  static ec2Id(blob: string): string {
    const access = parseBlob(blob).access;
    if (access === undefined || access === null) throw expectedAttribute('access', 'credential');
    return CredentialService.ec2IdOfAccess(String(access));
  }

  async createCredential(c: Omit<Credential, 'id'>): Promise<Credential> {
    const id = c.type.toLowerCase() === 'ec2' ? CredentialService.ec2Id(c.blob) : newId();
    const row = { id, user_id: c.user_id, project_id: c.project_id, type: c.type, ...this.#seal(c.blob) };
    try {
      await repo.insertCredential(this.#db, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('credential', `Duplicate ID, ${id}`);
      if (isForeignKeyViolation(err)) throw notFound('user', c.user_id);
      throw err;
    }
    return { id, ...c };
  }

  async credential(id: string): Promise<Credential> {
    const row = await repo.credentialById(this.#db, id);
    if (!row) throw notFound('credential', id);
    return this.#open(row);
  }

  /** The stored row without decrypting (for policy targets). */
  credentialOwner(id: string): Promise<repo.CredentialRow | null> {
    return repo.credentialById(this.#db, id);
  }

  /**
   * Credentials matching the filter, decrypted: only the rows the filter selects in SQL are read
   * and opened. `limit` (Keystone's list_limit): at most that many, `truncated` when more exist.
   */
  async listCredentials(
    filter: { user_id?: string; type?: string },
    limit: number | null = null,
  ): Promise<{ credentials: Credential[]; truncated: boolean }> {
    const rows = await repo.listCredentials(this.#db, filter, limit === null ? null : limit + 1);
    const truncated = limit !== null && rows.length > limit;
    return { credentials: (truncated ? rows.slice(0, limit) : rows).map((r) => this.#open(r)), truncated };
  }

  /**
   * A new blob for a credential. An ec2 credential's id is the hash of its access key, and the
   * scope it was made under (trust, application credential, OAuth access token) is part of it:
   * neither may change in place.
   */
  async updateCredential(id: string, blob: string): Promise<Credential> {
    const current = await this.credential(id);
    if (current.type.toLowerCase() === 'ec2') {
      if (CredentialService.ec2Id(blob) !== id)
        throw validation('Credential ID does not match the ec2 access key in the blob');
      const before = parseBlob(current.blob);
      const after = parseBlob(blob);
      for (const key of ['trust_id', 'app_cred_id', 'access_token_id', 'access_id'])
        if (before[key] !== after[key]) throw validation(`${key} can not be updated for credential`);
    }
    const next = { ...current, blob };
    await repo.updateCredential(this.#db, {
      id,
      user_id: next.user_id,
      project_id: next.project_id,
      type: next.type,
      ...this.#seal(blob),
    });
    return next;
  }

  async deleteCredential(id: string): Promise<void> {
    if (!(await repo.deleteCredential(this.#db, id))) throw notFound('credential', id);
  }

  // --- OS-EC2: ec2 credentials as the EC2 API shows them ------------------------------------

  /**
   * A new EC2 key pair for the user on the project, stored as Keystone's OS-EC2 API stores it: an
   * `ec2` credential whose id is the SHA-256 of the access key and whose blob is the JSON text
   * Python writes (so /v3/credentials shows the same string Keystone's does).
   */
  createEc2(userId: string, projectId: string, trustId: string | null = null): Promise<Credential> {
    const access = newId();
    const secret = newId();
    const blob = `{"access": ${JSON.stringify(access)}, "secret": ${JSON.stringify(secret)}, "trust_id": ${JSON.stringify(trustId)}}`;
    return this.createCredential({ user_id: userId, project_id: projectId, type: 'ec2', blob });
  }

  /** The user's ec2 credentials. */
  async ec2Credentials(userId: string): Promise<Credential[]> {
    return (await this.listCredentials({ user_id: userId, type: 'ec2' })).credentials;
  }

  /** The credential an access key names (by its hash), or Keystone's 404 naming the hash. */
  ec2ByAccess(access: string): Promise<Credential> {
    return this.credential(CredentialService.ec2IdOfAccess(access));
  }

  static ec2IdOfAccess(access: string): string {
    return createHash('sha256').update(access, 'utf8').digest('hex');
  }
}
