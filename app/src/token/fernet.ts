/**
 * Fernet (github.com/fernet/spec): version 0x80, a big-endian u64 timestamp, a 16-byte IV,
 * AES-128-CBC ciphertext (PKCS7) and an HMAC-SHA256 over all of it. A key is 32 bytes, base64url:
 * the first half signs, the second encrypts.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;

export class FernetKey {
  readonly signing: Buffer;
  readonly encryption: Buffer;

  constructor(key: string) {
    const raw = Buffer.from(key.trim(), 'base64url');
    if (raw.length !== 32) throw new Error('a Fernet key is 32 bytes, base64url-encoded');
    this.signing = raw.subarray(0, 16);
    this.encryption = raw.subarray(16);
  }

  static generate(): string {
    return randomBytes(32).toString('base64url').concat('=');
  }
}

export function encrypt(
  key: FernetKey,
  message: Buffer,
  now = Date.now(),
  iv: Buffer = randomBytes(16),
): Buffer {
  const cipher = createCipheriv('aes-128-cbc', key.encryption, iv);
  const ciphertext = Buffer.concat([cipher.update(message), cipher.final()]);
  const head = Buffer.alloc(9);
  head[0] = VERSION;
  head.writeBigUInt64BE(BigInt(Math.floor(now / 1000)), 1);
  const signed = Buffer.concat([head, iv, ciphertext]);
  return Buffer.concat([signed, createHmac('sha256', key.signing).update(signed).digest()]);
}

export interface Decrypted {
  message: Buffer;
  /** Seconds since the epoch, from the token. */
  timestamp: number;
}

/** Tries each key (primary first); null when no key verifies the token or it is malformed. */
export function decrypt(keys: readonly FernetKey[], token: Buffer): Decrypted | null {
  if (token.length < 1 + 8 + 16 + 16 + 32 || token[0] !== VERSION || (token.length - 57) % 16 !== 0)
    return null;
  const signed = token.subarray(0, token.length - 32);
  const mac = token.subarray(token.length - 32);
  for (const key of keys) {
    const expected = createHmac('sha256', key.signing).update(signed).digest();
    if (!timingSafeEqual(expected, mac)) continue;
    try {
      const decipher = createDecipheriv('aes-128-cbc', key.encryption, token.subarray(9, 25));
      const message = Buffer.concat([
        decipher.update(token.subarray(25, token.length - 32)),
        decipher.final(),
      ]);
      return { message, timestamp: Number(token.readBigUInt64BE(1)) };
    } catch {
      return null;
    }
  }
  return null;
}
