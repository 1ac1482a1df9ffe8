/**
 * Auth receipts (keystone/receipt/receipt_formatters.py, the fernet receipt provider): what a
 * user whose multi-factor rules are not yet met gets instead of a token. A Fernet token made
 * with the receipt key repository over msgpack [user id, methods bitmask, expires_at as float
 * seconds], ids as in token payloads ([true, 16 bytes] for a UUID), base64url with the padding
 * stripped; issued_at is the Fernet timestamp. Validation needs no row: the receipt carries all.
 */
import { IdentityError } from '../errors.js';
import { decrypt, encrypt, type FernetKey } from './fernet.js';
import { Float64, type Packable, pack, unpack } from './msgpack.js';
import { intToMethods, type Method, methodsToInt, packId, unpackId } from './payload.js';

export interface ReceiptPayload {
  userId: string;
  methods: Method[];
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface Receipt extends ReceiptPayload {
  receipt: string;
  /** Milliseconds since the epoch, whole seconds (the Fernet timestamp). */
  issuedAt: number;
}

export function encodeReceiptPayload(p: ReceiptPayload): Buffer {
  return pack([packId(p.userId), methodsToInt(p.methods), new Float64(p.expiresAt / 1000)]);
}

export function decodeReceiptPayload(buf: Buffer): ReceiptPayload | null {
  let value: Packable;
  try {
    value = unpack(buf);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 3) return null;
  const [user, methods, expires] = value;
  if (typeof methods !== 'number' || typeof expires !== 'number') return null;
  try {
    return {
      userId: unpackId(user as Packable),
      methods: intToMethods(methods),
      expiresAt: Math.round(expires * 1000),
    };
  } catch {
    return null;
  }
}

/** Keystone's ReceiptNotFound (401): it names the receipt the client sent. */
export const receiptNotFound = (receipt: string, detail: string) =>
  new IdentityError('IDN_ERR_UNAUTHORIZED', `Could not find auth receipt: ${receipt}.`, { detail });

const FORMAT = /^[A-Za-z0-9_-]{40,1024}={0,2}$/;

export class ReceiptProvider {
  readonly #keys: () => FernetKey[];
  /** Seconds ([receipt] expiration). */
  readonly #expiration: number;

  constructor(keys: () => FernetKey[], expiration: number) {
    this.#keys = keys;
    this.#expiration = expiration;
  }

  /** A receipt for `methods` so far; it expires [receipt] expiration seconds from now (whole seconds). */
  issue(userId: string, methods: Method[], nowMs: number): Receipt {
    const now = Math.floor(nowMs / 1000) * 1000;
    const payload = { userId, methods, expiresAt: now + this.#expiration * 1000 };
    let primary: FernetKey | undefined;
    try {
      [primary] = this.#keys();
    } catch {
      primary = undefined;
    }
    if (!primary)
      throw new IdentityError(
        'IDN_ERR_INTERNAL',
        'No receipt keys are available: create them with `manage receipt-setup`.',
      );
    const receipt = encrypt(primary, encodeReceiptPayload(payload), now).toString('base64url');
    return { ...payload, receipt, issuedAt: now };
  }

  /** The receipt's content when a key verifies it and it has not expired; ReceiptNotFound (401) otherwise. */
  validate(receipt: string, nowMs: number): Receipt {
    if (!FORMAT.test(receipt)) throw receiptNotFound(receipt, 'malformed receipt');
    let keys: FernetKey[];
    try {
      keys = this.#keys();
    } catch {
      keys = [];
    }
    const opened = decrypt(keys, Buffer.from(receipt.replace(/=+$/, ''), 'base64url'));
    if (!opened) throw receiptNotFound(receipt, 'no receipt key verifies the receipt');
    const payload = decodeReceiptPayload(opened.message);
    if (!payload) throw receiptNotFound(receipt, 'the receipt payload does not decode');
    if (nowMs >= payload.expiresAt) throw receiptNotFound(receipt, 'the receipt has expired');
    return { ...payload, receipt, issuedAt: opened.timestamp * 1000 };
  }
}
