/**
 * An incremental FastCGI record decoder: bytes in, records out. It accepts any split of the byte
 * stream (records across reads, several records in one read), skips padding, and validates each
 * header before trusting its lengths. Pure: no sockets, no timers, no logs. It decodes both
 * directions, so the server and test clients share it.
 *
 * PARAMS stay raw stream records: a name-value pair may span PARAMS records (§3.4), so the
 * session joins the stream and calls forEachNameValuePair once it has ended.
 */
import { GatewayError } from '../../errors.js';
import {
  FCGI_HEADER_LEN,
  FCGI_NULL_REQUEST_ID,
  FCGI_VERSION_1,
  isManagementType,
  isStreamType,
  RecordType,
  type StreamRecordType,
} from './constants.js';
import { decodeNameValuePairs } from './name-value.js';

export type FastcgiRecord =
  | { kind: 'begin-request'; requestId: number; role: number; flags: number }
  | { kind: 'abort-request'; requestId: number }
  | { kind: 'end-request'; requestId: number; appStatus: number; protocolStatus: number }
  /** data.length 0 ends the stream. */
  | { kind: 'stream'; type: StreamRecordType; requestId: number; data: Buffer }
  | { kind: 'get-values'; names: string[] }
  | { kind: 'get-values-result'; pairs: Array<[string, string]> }
  /** An FCGI_UNKNOWN_TYPE record (type 11): the peer did not know management type `unknownType`. */
  | { kind: 'unknown-type'; unknownType: number }
  /** A record of a type this codec does not know (0, or 12 and above); the session decides. */
  | { kind: 'unknown'; type: number; requestId: number; content: Buffer };

export interface FastcgiDecoderOptions {
  /** Largest GET_VALUES / GET_VALUES_RESULT content accepted (they are buffered whole). */
  maxGetValuesLength?: number;
}

/** Offsets of the header fields that validation can point at. */
const VERSION_AT = 0;
const REQUEST_ID_AT = 2;
const CONTENT_LENGTH_AT = 4;
/** BEGIN_REQUEST, END_REQUEST and UNKNOWN_TYPE bodies are exactly 8 bytes (§5.1, §5.5, §4.2). */
const FIXED_BODY_LENGTH = 8;

const EMPTY = Buffer.alloc(0);

export class FastcgiDecoder {
  readonly #maxGetValues: number;
  /** Header bytes gathered when a header spans chunks. */
  readonly #header = Buffer.alloc(FCGI_HEADER_LEN);
  #headerFill = 0;
  /** True once the header of the current record is read, until its padding is skipped. */
  #inBody = false;
  /** Absolute offset of the current record's first byte. */
  #recordStart = 0;
  #type = 0;
  #requestId = 0;
  #contentLength = 0;
  /** Content of a record that spans chunks, copied once into a buffer of its own. */
  #content: Buffer | null = null;
  #contentFill = 0;
  #paddingLeft = 0;
  #offset = 0;
  /** The first error; every later call throws it again. */
  #error: unknown = null;

  constructor(options: FastcgiDecoderOptions = {}) {
    this.#maxGetValues = options.maxGetValuesLength ?? 0xffff;
  }

  /** Absolute number of bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** True while part of a record has arrived and the rest has not. */
  get midRecord(): boolean {
    return this.#headerFill > 0 || this.#inBody;
  }

  /** Offset of the first byte of the record being decoded (or of the last one delivered). */
  get recordOffset(): number {
    return this.#recordStart;
  }

  /**
   * Feeds bytes; calls onRecord once per complete record, in order. Stream data is a zero-copy
   * subarray of `chunk` when the record's content lies inside it. Throws GatewayError on
   * malformed input (context.offset = absolute offset of the offending byte); an error, or one
   * thrown by onRecord, leaves the decoder dead: later calls throw the same error.
   */
  push(chunk: Buffer, onRecord: (record: FastcgiRecord) => void): void {
    if (this.#error !== null) throw this.#error;
    try {
      this.#push(chunk, onRecord);
    } catch (err) {
      this.#error = err;
      throw err;
    }
  }

  /** End of input: throws GW_ERR_FCGI_TRUNCATED (offset = bytes consumed) inside a record. */
  end(): void {
    if (this.#error !== null) throw this.#error;
    if (this.#headerFill > 0 || this.#inBody) {
      const part =
        this.#headerFill > 0 ? 'header' : this.#contentFill < this.#contentLength ? 'content' : 'padding';
      this.#error = new GatewayError(
        'GW_ERR_FCGI_TRUNCATED',
        `input ended in the ${part} of a record ${this.#offset - this.#recordStart} bytes in`,
        { offset: this.#offset },
      );
      throw this.#error;
    }
  }

  #push(chunk: Buffer, onRecord: (record: FastcgiRecord) => void): void {
    const end = chunk.length;
    let at = 0;
    while (at < end) {
      if (!this.#inBody) {
        if (this.#headerFill === 0 && end - at >= FCGI_HEADER_LEN) {
          // Fast path: the whole header lies in this chunk.
          this.#recordStart = this.#offset;
          this.#startRecord(chunk, at);
          at += FCGI_HEADER_LEN;
          this.#offset += FCGI_HEADER_LEN;
        } else {
          if (this.#headerFill === 0) {
            this.#recordStart = this.#offset;
            // Refuse a wrong version on its own byte: HTTP or garbage fails at once, not after 8 bytes.
            this.#checkVersion(chunk[at] as number);
          }
          const n = Math.min(FCGI_HEADER_LEN - this.#headerFill, end - at);
          chunk.copy(this.#header, this.#headerFill, at, at + n);
          this.#headerFill += n;
          at += n;
          this.#offset += n;
          if (this.#headerFill < FCGI_HEADER_LEN) return;
          this.#headerFill = 0;
          this.#startRecord(this.#header, 0);
        }
        if (this.#contentLength === 0 && this.#paddingLeft === 0) {
          this.#finishRecord(EMPTY, onRecord);
          continue;
        }
        this.#inBody = true;
      }
      let content: Buffer;
      const want = this.#contentLength - this.#contentFill;
      if (want === 0) {
        // No content, or all of it came in an earlier chunk and only padding was missing.
        content = this.#content ?? EMPTY;
      } else if (this.#content === null && end - at >= want) {
        // The whole content lies in this chunk: a zero-copy view.
        content = chunk.subarray(at, at + want);
        this.#contentFill = this.#contentLength;
        at += want;
        this.#offset += want;
      } else {
        // Nothing of the content yet: wait, so content arriving whole in the next chunk stays a view.
        if (at === end) return;
        const n = Math.min(want, end - at);
        content = this.#content ??= Buffer.allocUnsafe(this.#contentLength);
        chunk.copy(content, this.#contentFill, at, at + n);
        this.#contentFill += n;
        at += n;
        this.#offset += n;
        if (n < want) return;
      }
      if (this.#paddingLeft > 0) {
        const n = Math.min(this.#paddingLeft, end - at);
        this.#paddingLeft -= n;
        at += n;
        this.#offset += n;
        if (this.#paddingLeft > 0) {
          // The padding goes on in the next chunk: keep the content, as a copy if it is a view,
          // since a caller may reuse its chunk once push returns.
          this.#content = content === this.#content || content.length === 0 ? content : Buffer.from(content);
          return;
        }
      }
      this.#content = null;
      this.#inBody = false;
      this.#finishRecord(content, onRecord);
    }
  }

  #checkVersion(version: number): void {
    if (version !== FCGI_VERSION_1) {
      throw new GatewayError('GW_ERR_FCGI_VERSION', `version ${version}`, {
        offset: this.#recordStart + VERSION_AT,
      });
    }
  }

  /** Reads and checks a header; the checks run in byte order, so the first bad field is named. */
  #startRecord(buf: Buffer, at: number): void {
    const start = this.#recordStart;
    this.#checkVersion(buf[at] as number);
    const type = buf[at + 1] as number;
    const requestId = buf.readUInt16BE(at + REQUEST_ID_AT);
    const contentLength = buf.readUInt16BE(at + CONTENT_LENGTH_AT);
    const paddingLength = buf[at + 6] as number;
    // byte 7 is reserved: ignored, as the specification asks.
    const management = isManagementType(type);
    if (management && requestId !== FCGI_NULL_REQUEST_ID) {
      throw new GatewayError('GW_ERR_FCGI_MGMT_ID', `type ${type} with request id ${requestId}`, {
        offset: start + REQUEST_ID_AT,
        requestId,
      });
    }
    if (type >= RecordType.BeginRequest && type <= RecordType.Data && requestId === FCGI_NULL_REQUEST_ID) {
      throw new GatewayError('GW_ERR_FCGI_NULL_ID', `type ${type} with request id 0`, {
        offset: start + REQUEST_ID_AT,
      });
    }
    const lengthOk =
      type === RecordType.BeginRequest || type === RecordType.EndRequest || type === RecordType.UnknownType
        ? contentLength === FIXED_BODY_LENGTH
        : type === RecordType.AbortRequest
          ? contentLength === 0
          : !management || contentLength <= this.#maxGetValues;
    if (!lengthOk) {
      throw new GatewayError(
        'GW_ERR_FCGI_RECORD_LENGTH',
        `type ${type} with ${contentLength} content bytes`,
        {
          offset: start + CONTENT_LENGTH_AT,
          requestId,
        },
      );
    }
    this.#type = type;
    this.#requestId = requestId;
    this.#contentLength = contentLength;
    this.#contentFill = 0;
    this.#paddingLeft = paddingLength;
  }

  #finishRecord(content: Buffer, onRecord: (record: FastcgiRecord) => void): void {
    const type = this.#type;
    const requestId = this.#requestId;
    if (isStreamType(type)) {
      onRecord({ kind: 'stream', type, requestId, data: content });
      return;
    }
    switch (type) {
      case RecordType.BeginRequest:
        // roleB1 roleB0 flags reserved[5]
        onRecord({
          kind: 'begin-request',
          requestId,
          role: content.readUInt16BE(0),
          flags: content[2] as number,
        });
        return;
      case RecordType.AbortRequest:
        onRecord({ kind: 'abort-request', requestId });
        return;
      case RecordType.EndRequest:
        // appStatusB3..B0 protocolStatus reserved[3]
        onRecord({
          kind: 'end-request',
          requestId,
          appStatus: content.readUInt32BE(0),
          protocolStatus: content[4] as number,
        });
        return;
      case RecordType.GetValues: {
        // Values are empty in a query (§4.1); whatever a peer puts there is ignored.
        const pairs = decodeNameValuePairs(content, this.#recordStart + FCGI_HEADER_LEN);
        onRecord({ kind: 'get-values', names: pairs.map(([name]) => name) });
        return;
      }
      case RecordType.GetValuesResult:
        onRecord({
          kind: 'get-values-result',
          pairs: decodeNameValuePairs(content, this.#recordStart + FCGI_HEADER_LEN),
        });
        return;
      case RecordType.UnknownType:
        // type reserved[7]
        onRecord({ kind: 'unknown-type', unknownType: content[0] as number });
        return;
      default:
        // A copy: such records are rare, and whoever keeps one should not pin a whole socket read.
        onRecord({ kind: 'unknown', type, requestId, content: Buffer.from(content) });
    }
  }
}
