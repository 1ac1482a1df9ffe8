/**
 * FastCGI record encoders. Records are padded to a multiple of 8 bytes, as nginx and PHP-FPM pad
 * them (§3.3 recommends it); stream data longer than 65535 bytes is split over several records.
 */
import {
  FCGI_HEADER_LEN,
  FCGI_MAX_CONTENT_LENGTH,
  FCGI_VERSION_1,
  RecordType,
  type StreamRecordType,
} from './constants.js';
import { encodeNameValuePairs } from './name-value.js';

const ZEROS = Buffer.alloc(8);

export function paddingFor(contentLength: number): number {
  return (8 - (contentLength % 8)) % 8;
}

export function encodeHeader(
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
): Buffer {
  const header = Buffer.allocUnsafe(FCGI_HEADER_LEN);
  header[0] = FCGI_VERSION_1;
  header[1] = type;
  header.writeUInt16BE(requestId, 2);
  header.writeUInt16BE(contentLength, 4);
  header[6] = paddingLength;
  header[7] = 0;
  return header;
}

/** One record in one buffer: header, content, padding. */
export function encodeRecord(type: number, requestId: number, content: Buffer = Buffer.alloc(0)): Buffer {
  if (content.length > FCGI_MAX_CONTENT_LENGTH)
    throw new RangeError(`record content of ${content.length} bytes`);
  const padding = paddingFor(content.length);
  const out = Buffer.alloc(FCGI_HEADER_LEN + content.length + padding);
  out[0] = FCGI_VERSION_1;
  out[1] = type;
  out.writeUInt16BE(requestId, 2);
  out.writeUInt16BE(content.length, 4);
  out[6] = padding;
  content.copy(out, FCGI_HEADER_LEN);
  return out;
}

/**
 * A stream's data as records of at most 65535 bytes, as buffers to write in order. Small data is
 * copied into one buffer (one write); large data is sliced without copying. Empty data gives the
 * single empty record that ends a stream.
 */
export function encodeStream(type: StreamRecordType, requestId: number, data: Buffer): Buffer[] {
  if (data.length <= 16 * 1024) return [encodeRecord(type, requestId, data)];
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += FCGI_MAX_CONTENT_LENGTH) {
    const slice = data.subarray(at, Math.min(at + FCGI_MAX_CONTENT_LENGTH, data.length));
    const padding = paddingFor(slice.length);
    out.push(encodeHeader(type, requestId, slice.length, padding), slice);
    if (padding > 0) out.push(ZEROS.subarray(0, padding));
  }
  return out;
}

export function encodeBeginRequest(requestId: number, role: number, flags: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body[2] = flags;
  return encodeRecord(RecordType.BeginRequest, requestId, body);
}

export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(appStatus >>> 0, 0);
  body[4] = protocolStatus;
  return encodeRecord(RecordType.EndRequest, requestId, body);
}

export function encodeUnknownType(type: number): Buffer {
  const body = Buffer.alloc(8);
  body[0] = type;
  return encodeRecord(RecordType.UnknownType, 0, body);
}

export function encodeGetValues(names: Iterable<string>): Buffer {
  return encodeRecord(RecordType.GetValues, 0, encodeNameValuePairs([...names].map((n) => [n, ''] as const)));
}

export function encodeGetValuesResult(pairs: Iterable<readonly [string, string]>): Buffer {
  return encodeRecord(RecordType.GetValuesResult, 0, encodeNameValuePairs(pairs));
}

/** PARAMS records (split at 65535 bytes) and the empty record that ends the stream. */
export function encodeParams(requestId: number, pairs: Iterable<readonly [string, string]>): Buffer {
  const data = encodeNameValuePairs(pairs);
  const records = data.length > 0 ? encodeStream(RecordType.Params, requestId, data) : [];
  return Buffer.concat([...records, encodeRecord(RecordType.Params, requestId)]);
}
