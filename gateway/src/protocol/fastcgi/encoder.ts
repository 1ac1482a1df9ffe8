/**
 * FastCGI record encoders. Every record is padded to a multiple of 8 bytes, as nginx and PHP-FPM
 * pad them (§3.3 recommends it); stream data longer than 65535 bytes is split over several
 * records. Pure: frames in, bytes out.
 */
import {
  FCGI_HEADER_LEN,
  FCGI_MAX_CONTENT_LENGTH,
  FCGI_NULL_REQUEST_ID,
  FCGI_VERSION_1,
  RecordType,
  type StreamRecordType,
} from './constants.js';
import { encodeNameValuePairs } from './name-value.js';

/** Padding bytes are never read by a receiver; one shared block of zeros serves every record. */
const ZEROS = Buffer.alloc(8);

/** Padding that ends a record on an 8-byte boundary: `(8 - len % 8) % 8`, as nginx and PHP compute it. */
export function paddingFor(contentLength: number): number {
  return -contentLength & 7;
}

function checkU8(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new RangeError(`FastCGI ${what} ${n} is not a u8`);
}

function checkU16(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`FastCGI ${what} ${n} is not a u16`);
}

function writeHeader(
  out: Buffer,
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
): void {
  checkU8('record type', type);
  checkU16('request id', requestId);
  checkU16('content length', contentLength);
  checkU8('padding length', paddingLength);
  out[0] = FCGI_VERSION_1;
  out[1] = type;
  out[2] = requestId >>> 8;
  out[3] = requestId & 0xff;
  out[4] = contentLength >>> 8;
  out[5] = contentLength & 0xff;
  out[6] = paddingLength;
  out[7] = 0; // reserved
}

/** The 8-byte header alone, for writers that send content and padding as buffers of their own. */
export function encodeHeader(
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
): Buffer {
  const header = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  writeHeader(header, type, requestId, contentLength, paddingLength);
  return header;
}

/** One record in one buffer: header, content (at most 65535 bytes), zero padding. */
export function encodeRecord(type: number, requestId: number, content?: Buffer): Buffer {
  const length = content?.length ?? 0;
  if (length > FCGI_MAX_CONTENT_LENGTH) {
    throw new RangeError(`FastCGI record content of ${length} bytes (max ${FCGI_MAX_CONTENT_LENGTH})`);
  }
  const padding = paddingFor(length);
  const out = Buffer.allocUnsafe(FCGI_HEADER_LEN + length + padding);
  writeHeader(out, type, requestId, length, padding);
  content?.copy(out, FCGI_HEADER_LEN);
  out.fill(0, FCGI_HEADER_LEN + length);
  return out;
}

/**
 * A stream's data as records of at most 65535 bytes each, as a list of buffers to write in
 * order: per record its header, a zero-copy slice of `data`, and its padding when it needs any.
 * Empty data gives the single empty record that ends a stream. The padding buffers are shared
 * and must not be written to.
 */
export function encodeStream(type: StreamRecordType, requestId: number, data: Buffer): Buffer[] {
  if (data.length === 0) return [encodeRecord(type, requestId)];
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += FCGI_MAX_CONTENT_LENGTH) {
    const slice = data.subarray(at, Math.min(at + FCGI_MAX_CONTENT_LENGTH, data.length));
    const padding = paddingFor(slice.length);
    out.push(encodeHeader(type, requestId, slice.length, padding), slice);
    if (padding > 0) out.push(ZEROS.subarray(0, padding));
  }
  return out;
}

/** BEGIN_REQUEST: roleB1 roleB0 flags reserved[5]. */
export function encodeBeginRequest(requestId: number, role: number, flags: number): Buffer {
  checkU16('role', role);
  checkU8('flags', flags);
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body[2] = flags;
  return encodeRecord(RecordType.BeginRequest, requestId, body);
}

/** END_REQUEST: appStatus (u32, a negative exit status wraps as C's would), protocolStatus, reserved[3]. */
export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  checkU8('protocol status', protocolStatus);
  const body = Buffer.alloc(8);
  body.writeUInt32BE(appStatus >>> 0, 0);
  body[4] = protocolStatus;
  return encodeRecord(RecordType.EndRequest, requestId, body);
}

/** UNKNOWN_TYPE (a management record): the type not understood, reserved[7]. */
export function encodeUnknownType(type: number): Buffer {
  checkU8('unknown type', type);
  const body = Buffer.alloc(8);
  body[0] = type;
  return encodeRecord(RecordType.UnknownType, FCGI_NULL_REQUEST_ID, body);
}

/** GET_VALUES: the names asked for, each with an empty value (§4.1). */
export function encodeGetValues(names: Iterable<string>): Buffer {
  const pairs: Array<[string, string]> = [];
  for (const name of names) pairs.push([name, '']);
  return encodeRecord(RecordType.GetValues, FCGI_NULL_REQUEST_ID, encodeNameValuePairs(pairs));
}

export function encodeGetValuesResult(pairs: Iterable<readonly [string, string]>): Buffer {
  return encodeRecord(RecordType.GetValuesResult, FCGI_NULL_REQUEST_ID, encodeNameValuePairs(pairs));
}

/** PARAMS records (split at 65535 bytes) and the empty record that ends the stream. */
export function encodeParams(requestId: number, pairs: Iterable<readonly [string, string]>): Buffer {
  const data = encodeNameValuePairs(pairs);
  const records = data.length > 0 ? encodeStream(RecordType.Params, requestId, data) : [];
  records.push(encodeRecord(RecordType.Params, requestId));
  return Buffer.concat(records);
}
