/**
 * uwsgi request encoders, for clients, health checks and tests. The caller supplies every var,
 * CONTENT_LENGTH included: the encoder writes what it is given and nothing else.
 */
import { UWSGI_HEADER_LEN, UWSGI_MAX_VARS_SIZE } from './constants.js';

/** Keys and values in wire order, and the size of the vars block they make. */
function collect(vars: Iterable<readonly [string, string]>): { strings: string[]; size: number } {
  const strings: string[] = [];
  let size = 0;
  for (const [key, value] of vars) {
    strings.push(key, value);
    size += 4 + key.length + value.length;
  }
  return { strings, size };
}

/**
 * Writes each string as u16le size + latin1 bytes. A plain char-code loop: the strings are short,
 * and one native write per string costs more; it also refuses what latin1 cannot carry, which
 * Buffer's latin1 encoding would silently cut to the low byte.
 */
function writeVars(strings: readonly string[], target: Buffer, at: number): void {
  for (const text of strings) {
    const n = text.length;
    if (n > 0xffff) throw new RangeError(`uwsgi var of ${n} bytes (max 65535)`);
    target[at] = n & 0xff;
    target[at + 1] = n >>> 8;
    at += 2;
    for (let i = 0; i < n; i++) {
      const code = text.charCodeAt(i);
      if (code > 0xff) throw new RangeError(`uwsgi var ${JSON.stringify(text)} is not latin1`);
      target[at + i] = code;
    }
    at += n;
  }
}

/** The vars block only: for each pair, u16le key size, key, u16le value size, value (latin1). */
export function encodeVars(vars: Iterable<readonly [string, string]>): Buffer {
  const { strings, size } = collect(vars);
  const block = Buffer.allocUnsafe(size);
  writeVars(strings, block, 0);
  return block;
}

/** A whole request packet: header, vars block, then the body (if any) as given. */
export function encodeRequest(
  vars: Iterable<readonly [string, string]>,
  body?: Buffer,
  modifier1 = 0,
  modifier2 = 0,
): Buffer {
  for (const m of [modifier1, modifier2]) {
    if (!Number.isInteger(m) || m < 0 || m > 0xff) throw new RangeError(`uwsgi modifier ${m} is not a u8`);
  }
  const { strings, size } = collect(vars);
  if (size > UWSGI_MAX_VARS_SIZE) {
    throw new RangeError(`uwsgi vars block of ${size} bytes (max ${UWSGI_MAX_VARS_SIZE})`);
  }
  const packet = Buffer.allocUnsafe(UWSGI_HEADER_LEN + size + (body?.length ?? 0));
  packet[0] = modifier1;
  packet.writeUInt16LE(size, 1);
  packet[3] = modifier2;
  writeVars(strings, packet, UWSGI_HEADER_LEN);
  body?.copy(packet, UWSGI_HEADER_LEN + size);
  return packet;
}
