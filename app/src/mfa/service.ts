/**
 * Multi-factor logins as Keystone 22 does them: the `totp` method (secrets from the user's totp
 * credentials, any of them may match), the user's rules checked against the methods that
 * succeeded (with those of a receipt the request brings), and a receipt instead of a token when
 * no rule is met. Beyond Keystone: a passcode is accepted once (see migration 0012).
 */
import { timingSafeEqual } from 'node:crypto';
import type { CredentialService } from '../credential/service.js';
import type { Db } from '../db.js';
import { AuthReceiptRequired, unauthorized } from '../errors.js';
import type { IdentityService, UserRef, UserRow } from '../identity/service.js';
import { METHODS, type Method } from '../token/payload.js';
import { type ReceiptProvider, receiptNotFound } from '../token/receipt.js';
import * as repo from './repository.js';
import { type MfaOptions, requiredMethods, satisfiesRules } from './rules.js';
import { totpKey, totpPasscodes } from './totp.js';

export interface MfaServiceOptions {
  identity: IdentityService;
  credential: CredentialService;
  receipts: ReceiptProvider;
  /** [totp] included_previous_windows. */
  previousWindows: number;
  /** Milliseconds since the epoch (Date.now); tests move it. */
  clock?: () => number;
}

/** Keystone's isotime with subseconds: 2026-12-04T14:40:00.000000Z. */
const isotime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

const same = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

export class MfaService {
  readonly #db: Db;
  readonly #o: MfaServiceOptions;
  readonly #clock: () => number;

  constructor(db: Db, options: MfaServiceOptions) {
    this.#db = db;
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * The totp method: the user named, when the passcode is one of the current windows' for one of
   * the user's totp credentials and was not used before; 401 otherwise (Keystone's "Invalid
   * username or TOTP passcode", shown as its generic 401).
   */
  async authenticateTotp(ref: UserRef, passcode: unknown): Promise<UserRow> {
    const user = await this.#o.identity.findUser(ref);
    if (!user) throw unauthorized('no such user');
    if (!user.enabled || !user.domain_enabled) throw unauthorized(`user ${user.id} is disabled`);
    if (typeof passcode !== 'string') throw unauthorized('Invalid username or TOTP passcode');
    const { credentials } = await this.#o.credential.listCredentials({ user_id: user.id, type: 'totp' });
    const now = this.#clock();
    let replayed = false;
    for (const credential of credentials) {
      const key = totpKey(credential.blob);
      if (!key) continue;
      const match = totpPasscodes(key, now, this.#o.previousWindows).find((c) => same(c.passcode, passcode));
      if (!match) continue;
      if (await repo.advanceTotpStep(this.#db, credential.id, match.step)) return user;
      replayed = true;
    }
    throw unauthorized(
      replayed ? `TOTP passcode already used for user ${user.id}` : 'Invalid username or TOTP passcode',
    );
  }

  /**
   * The methods of the login once the user's rules are met: those that succeeded, with those of
   * the receipt when one came (it must be this user's and valid, else Keystone's 401
   * ReceiptNotFound). When no rule is met: AuthReceiptRequired, a 401 with a new receipt.
   */
  async complete(user: UserRow, succeeded: readonly Method[], receipt?: string): Promise<Method[]> {
    const now = this.#clock();
    const combined = new Set<Method>(succeeded);
    if (receipt) {
      const held = this.#o.receipts.validate(receipt, now);
      if (held.userId !== user.id)
        throw receiptNotFound(receipt, `the receipt is user ${held.userId}'s, the login user ${user.id}'s`);
      for (const m of held.methods) combined.add(m);
    }
    // [auth] order, as the token's bitmask orders them.
    const methods = METHODS.filter((m) => combined.has(m));
    const options = user.options as MfaOptions;
    if (satisfiesRules(options, combined, METHODS)) return methods;
    const issued = this.#o.receipts.issue(user.id, methods, now);
    throw new AuthReceiptRequired(
      issued.receipt,
      {
        receipt: {
          methods,
          user: {
            id: user.id,
            name: user.name,
            domain: { id: user.domain_id, name: user.domain_name },
          },
          expires_at: isotime(issued.expiresAt),
          issued_at: isotime(issued.issuedAt),
        },
        required_auth_methods: requiredMethods(options, combined, METHODS),
      },
      methods,
      user.id,
    );
  }
}
