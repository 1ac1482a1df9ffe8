/** uwsgi request encoders, for clients, health checks and tests. */
import { UWSGI_HEADER_LEN, UWSGI_MAX_VARS_SIZE } from './constants.js';

/** The vars block: for each pair, u16le key size, key, u16le value size, value (latin1). */
export function encodeVars(vars: Iterable<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of vars) {
    for (const text of [key, value]) {
      const bytes = Buffer.from(text, 'latin1');
      if (bytes.length > 0xffff) throw new RangeError(`uwsgi var of ${bytes.length} bytes`);
      const size = Buffer.allocUnsafe(2);
      size.writeUInt16LE(bytes.length, 0);
      parts.push(size, bytes);
    }
  }
  return Buffer.concat(parts);
}

export function encodeRequest(
  vars: Iterable<readonly [string, string]>,
  body?: Buffer,
  modifier1 = 0,
  modifier2 = 0,
): Buffer {
  const block = encodeVars(vars);
  if (block.length > UWSGI_MAX_VARS_SIZE) throw new RangeError(`uwsgi vars block of ${block.length} bytes`);
  const head = Buffer.allocUnsafe(UWSGI_HEADER_LEN);
  head[0] = modifier1;
  head.writeUInt16LE(block.length, 1);
  head[3] = modifier2;
  return Buffer.concat(body ? [head, block, body] : [head, block]);
}
