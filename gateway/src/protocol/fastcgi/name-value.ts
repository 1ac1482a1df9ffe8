/**
 * Name-value pairs (§3.4): `nameLength valueLength nameData valueData`, each length one byte when
 * at most 127, else four bytes big-endian with the top bit set (for names as well as values).
 * Names and values are latin1 strings, as node:http gives header values. Used by PARAMS (after
 * the session has joined the stream), GET_VALUES and GET_VALUES_RESULT.
 */
import { GatewayError } from '../../errors.js';

/** Largest length a one-byte length field holds; longer ones take four bytes. */
const MAX_SHORT_LENGTH = 0x7f;
/** The top bit of a length's first byte marks the four-byte form. */
const LONG_LENGTH_FLAG = 0x80;

/**
 * Trims trailing NULs, as PHP-FPM does (`fcgi_param_get_eff_len`), and refuses a NUL followed by
 * more data: a C-string consumer of the value (an environment, a log) would cut it there.
 */
function checkedSlice(text: string, start: number, end: number, baseOffset: number): string {
  let stop = end;
  while (stop > start && text.charCodeAt(stop - 1) === 0) stop--;
  const nul = text.indexOf('\0', start);
  if (nul !== -1 && nul < stop) {
    throw new GatewayError('GW_ERR_FCGI_NUL_BYTE', `at byte ${nul - start} of a ${end - start}-byte string`, {
      offset: baseOffset + nul,
    });
  }
  return text.slice(start, stop);
}

/**
 * Calls onPair for each pair, in order, without building an array. Offsets in errors are
 * `baseOffset` plus the index in `buf`: the length field that runs past the data, or the NUL.
 */
export function forEachNameValuePair(
  buf: Buffer,
  onPair: (name: string, value: string) => void,
  baseOffset = 0,
): void {
  const end = buf.length;
  // One latin1 decode for the whole block (a byte is a character), then cheap slices: decoding
  // each name and value on its own costs a native call apiece.
  const text = buf.toString('latin1');
  // NULs are rare in names and values, but every empty value has a length byte of 0: track the
  // next NUL, so only a pair whose strings hold one takes the careful slice.
  let nextNul = buf.indexOf(0);
  let at = 0;
  while (at < end) {
    const nameField = at;
    let nameLength = buf[at] as number;
    if (nameLength & LONG_LENGTH_FLAG) {
      if (at + 4 > end) throw truncated('name length', baseOffset + nameField, end - at);
      nameLength = buf.readUInt32BE(at) & 0x7fffffff;
      at += 4;
    } else {
      at += 1;
    }
    if (at >= end) {
      throw new GatewayError('GW_ERR_FCGI_NAME_VALUE', 'value length missing', { offset: baseOffset + at });
    }
    const valueField = at;
    let valueLength = buf[at] as number;
    if (valueLength & LONG_LENGTH_FLAG) {
      if (at + 4 > end) throw truncated('value length', baseOffset + valueField, end - at);
      valueLength = buf.readUInt32BE(at) & 0x7fffffff;
      at += 4;
    } else {
      at += 1;
    }
    const nameEnd = at + nameLength;
    if (nameEnd > end) throw runsPast('name', nameLength, end - at, baseOffset + nameField);
    const valueEnd = nameEnd + valueLength;
    if (valueEnd > end) throw runsPast('value', valueLength, end - nameEnd, baseOffset + valueField);
    while (nextNul !== -1 && nextNul < at) nextNul = buf.indexOf(0, nextNul + 1);
    if (nextNul !== -1 && nextNul < valueEnd) {
      onPair(checkedSlice(text, at, nameEnd, baseOffset), checkedSlice(text, nameEnd, valueEnd, baseOffset));
    } else {
      onPair(text.slice(at, nameEnd), text.slice(nameEnd, valueEnd));
    }
    at = valueEnd;
  }
}

function truncated(field: string, offset: number, have: number): GatewayError {
  return new GatewayError('GW_ERR_FCGI_NAME_VALUE', `${field} cut short (${have} of 4 bytes)`, { offset });
}

function runsPast(field: string, length: number, left: number, offset: number): GatewayError {
  return new GatewayError('GW_ERR_FCGI_NAME_VALUE', `${field} of ${length} bytes with ${left} left`, {
    offset,
  });
}

export function decodeNameValuePairs(buf: Buffer, baseOffset = 0): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  forEachNameValuePair(buf, (name, value) => pairs.push([name, value]), baseOffset);
  return pairs;
}

function lengthSize(n: number): number {
  return n <= MAX_SHORT_LENGTH ? 1 : 4;
}

function writeLength(buf: Buffer, at: number, n: number): number {
  if (n <= MAX_SHORT_LENGTH) {
    buf[at] = n;
    return at + 1;
  }
  buf.writeUInt32BE((n | 0x80000000) >>> 0, at);
  return at + 4;
}

/**
 * Writes a string as latin1 bytes. A char-code loop: it refuses what latin1 cannot carry, which
 * Buffer's latin1 encoding would silently cut to the low byte, and for the short strings of a
 * request it costs less than one native write apiece.
 */
function writeLatin1(buf: Buffer, at: number, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`FastCGI name or value ${JSON.stringify(text)} is not latin1`);
    buf[at + i] = code;
  }
  return at + n;
}

/** Pairs in the order given; a length takes four bytes only when above 127, as nginx writes it. */
export function encodeNameValuePairs(pairs: Iterable<readonly [string, string]>): Buffer {
  const strings: string[] = [];
  let size = 0;
  for (const [name, value] of pairs) {
    strings.push(name, value);
    size += lengthSize(name.length) + lengthSize(value.length) + name.length + value.length;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < strings.length; i += 2) {
    const name = strings[i] as string;
    const value = strings[i + 1] as string;
    at = writeLength(buf, at, name.length);
    at = writeLength(buf, at, value.length);
    at = writeLatin1(buf, at, name);
    at = writeLatin1(buf, at, value);
  }
  return buf;
}
