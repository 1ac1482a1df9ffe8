/**
 * RFC 6238 time-based one-time passwords as Keystone's totp method makes them
 * (keystone/auth/plugins/totp.py over cryptography's TOTP): HMAC-SHA1, 6 digits, 30 s steps,
 * the secret a base32 string padded with '=' to a multiple of 8 and decoded as Python's
 * base64.b32decode does (upper case only); a key shorter than 128 bits is refused, as
 * cryptography's HOTP refuses it. Pure: no clock, no I/O.
 */
import { createHmac } from 'node:crypto';

export const PASSCODE_LENGTH = 6;
export const PASSCODE_TIME_PERIOD = 30;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Padding lengths b32decode accepts in the last 8-character quantum. */
const PADDINGS = new Set([0, 1, 3, 4, 6]);

/** The secret's bytes, or null where Keystone's decoding or key length check fails. */
export function totpKey(secret: string): Buffer | null {
  let padded = secret;
  while (padded.length % 8 !== 0) padded += '=';
  const body = padded.replace(/=+$/, '');
  if (!PADDINGS.has(padded.length - body.length)) return null;
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of body) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) return null;
    value = ((value << 5) | digit) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return out.length >= 16 ? Buffer.from(out) : null;
}

/** HOTP (RFC 4226) for one counter: dynamic truncation, zero-padded decimal. */
export function hotp(key: Buffer, counter: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const code = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(code % 10 ** PASSCODE_LENGTH).padStart(PASSCODE_LENGTH, '0');
}

/**
 * The passcodes valid at `nowMs`: the current step's, then `previousWindows` earlier ones
 * (Keystone's [totp] included_previous_windows), each with its step.
 */
export function totpPasscodes(
  key: Buffer,
  nowMs: number,
  previousWindows: number,
): Array<{ step: number; passcode: string }> {
  const current = Math.floor(nowMs / 1000 / PASSCODE_TIME_PERIOD);
  const codes: Array<{ step: number; passcode: string }> = [];
  for (let i = 0; i <= previousWindows && current - i >= 0; i++)
    codes.push({ step: current - i, passcode: hotp(key, current - i) });
  return codes;
}
