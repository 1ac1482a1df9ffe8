/**
 * Name-value pairs (§3.4): `nameLength valueLength nameData valueData`, each length one byte when
 * below 128, else four bytes big-endian with the top bit set. Names and values are latin1
 * strings, as node:http gives header values. Used by PARAMS, GET_VALUES and GET_VALUES_RESULT.
 */
import { GatewayError } from '../../errors.js';

/** Reads a 1- or 4-byte length at `at`; returns [length, bytes used] or null when past `end`. */
function readLength(buf: Buffer, at: number, end: number): [number, number] | null {
  if (at >= end) return null;
  const first = buf[at] as number;
  if (first < 0x80) return [first, 1];
  if (at + 4 > end) return null;
  return [
    ((first & 0x7f) << 24) |
      ((buf[at + 1] as number) << 16) |
      ((buf[at + 2] as number) << 8) |
      (buf[at + 3] as number),
    4,
  ];
}

/**
 * A value may end in NULs (trimmed, as PHP-FPM does); a NUL followed by more data is rejected:
 * it would truncate the value in any C-string consumer.
 */
function checkedSlice(text: string, start: number, end: number, offset: number): string {
  let stop = end;
  while (stop > start && text.charCodeAt(stop - 1) === 0) stop--;
  const nul = text.indexOf('\0', start);
  if (nul !== -1 && nul < stop)
    throw new GatewayError('GW_ERR_FCGI_NUL_BYTE', undefined, { offset: offset + (nul - start) });
  return text.slice(start, stop);
}

export function forEachNameValuePair(
  buf: Buffer,
  onPair: (name: string, value: string) => void,
  baseOffset = 0,
): void {
  const end = buf.length;
  // One latin1 decode for the whole block (a byte is a character), then cheap slices: decoding
  // each name and value on its own costs a native call apiece.
  const text = buf.toString('latin1');
  const hasNul = buf.indexOf(0) !== -1;
  let at = 0;
  while (at < end) {
    const pairStart = at;
    const nameLength = readLength(buf, at, end);
    if (!nameLength)
      throw new GatewayError('GW_ERR_FCGI_NAME_VALUE', 'truncated name length', { offset: baseOffset + at });
    at += nameLength[1];
    const valueLength = readLength(buf, at, end);
    if (!valueLength)
      throw new GatewayError('GW_ERR_FCGI_NAME_VALUE', 'truncated value length', { offset: baseOffset + at });
    at += valueLength[1];
    const nameEnd = at + nameLength[0];
    const valueEnd = nameEnd + valueLength[0];
    if (valueEnd > end) {
      throw new GatewayError('GW_ERR_FCGI_NAME_VALUE', 'name and value run past the data', {
        offset: baseOffset + pairStart,
      });
    }
    if (hasNul) {
      onPair(
        checkedSlice(text, at, nameEnd, baseOffset + at),
        checkedSlice(text, nameEnd, valueEnd, baseOffset + nameEnd),
      );
    } else {
      onPair(text.slice(at, nameEnd), text.slice(nameEnd, valueEnd));
    }
    at = valueEnd;
  }
}

export function decodeNameValuePairs(buf: Buffer, baseOffset = 0): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  forEachNameValuePair(buf, (name, value) => pairs.push([name, value]), baseOffset);
  return pairs;
}

function lengthSize(n: number): number {
  return n < 0x80 ? 1 : 4;
}

function writeLength(buf: Buffer, at: number, n: number): number {
  if (n < 0x80) {
    buf[at] = n;
    return at + 1;
  }
  buf.writeUInt32BE((n | 0x80000000) >>> 0, at);
  return at + 4;
}

export function encodeNameValuePairs(pairs: Iterable<readonly [string, string]>): Buffer {
  const list = [...pairs];
  let size = 0;
  for (const [name, value] of list) {
    const n = Buffer.byteLength(name, 'latin1');
    const v = Buffer.byteLength(value, 'latin1');
    size += lengthSize(n) + lengthSize(v) + n + v;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [name, value] of list) {
    at = writeLength(buf, at, name.length);
    at = writeLength(buf, at, value.length);
    at += buf.write(name, at, 'latin1');
    at += buf.write(value, at, 'latin1');
  }
  return buf;
}
