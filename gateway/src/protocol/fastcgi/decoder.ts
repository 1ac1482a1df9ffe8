/**
 * An incremental FastCGI record decoder: bytes in, records out. It accepts any split of the byte
 * stream (records across reads, several records in one read), skips padding, and validates each
 * header before trusting its lengths. Pure: no sockets, no timers, no logs. It decodes both
 * directions, so the server and test clients share it.
 */
import { GatewayError } from '../../errors.js';
import {
  FCGI_HEADER_LEN,
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
  | { kind: 'stream'; type: StreamRecordType; requestId: number; data: Buffer }
  | { kind: 'get-values'; names: string[] }
  | { kind: 'get-values-result'; pairs: Array<[string, string]> }
  | { kind: 'unknown-type'; unknownType: number }
  | { kind: 'unknown'; type: number; requestId: number; content: Buffer };

export interface FastcgiDecoderOptions {
  /** Largest GET_VALUES / GET_VALUES_RESULT body decoded (they are discrete, not streams). */
  maxGetValuesLength?: number;
}

const EMPTY = Buffer.alloc(0);

export class FastcgiDecoder {
  readonly #header = Buffer.alloc(FCGI_HEADER_LEN);
  #headerFill = 0;
  /** Offset of the current record's first byte. */
  #recordStart = 0;
  #type = 0;
  #requestId = 0;
  #contentLength = 0;
  #paddingLength = 0;
  /** Content bytes collected so far when a record spans chunks. */
  #parts: Buffer[] = [];
  #contentFill = 0;
  #paddingLeft = 0;
  #inBody = false;
  #offset = 0;
  #dead = false;
  readonly #maxGetValues: number;

  constructor(options: FastcgiDecoderOptions = {}) {
    this.#maxGetValues = options.maxGetValuesLength ?? 0xffff;
  }

  get offset(): number {
    return this.#offset;
  }

  /** Offset of the first byte of the record being decoded (or last delivered). */
  get recordOffset(): number {
    return this.#recordStart;
  }

  push(chunk: Buffer, onRecord: (record: FastcgiRecord) => void): void {
    if (this.#dead)
      throw new GatewayError('GW_ERR_FCGI_TRUNCATED', 'decoder used after an error', {
        offset: this.#offset,
      });
    let at = 0;
    const end = chunk.length;
    try {
      while (at < end) {
        if (!this.#inBody) {
          // Fast path: a whole header inside this chunk.
          if (this.#headerFill === 0 && end - at >= FCGI_HEADER_LEN) {
            this.#startRecord(chunk, at);
            at += FCGI_HEADER_LEN;
            this.#offset += FCGI_HEADER_LEN;
          } else {
            const n = Math.min(FCGI_HEADER_LEN - this.#headerFill, end - at);
            chunk.copy(this.#header, this.#headerFill, at, at + n);
            this.#headerFill += n;
            at += n;
            this.#offset += n;
            if (this.#headerFill < FCGI_HEADER_LEN) return;
            this.#headerFill = 0;
            this.#startRecord(this.#header, 0);
          }
          if (this.#contentLength === 0 && this.#paddingLength === 0) {
            this.#finishRecord(EMPTY, onRecord);
            continue;
          }
          this.#inBody = true;
        }
        // Content.
        if (this.#contentFill < this.#contentLength) {
          const want = this.#contentLength - this.#contentFill;
          const n = Math.min(want, end - at);
          if (n === want && this.#parts.length === 0) {
            // The whole content lies in this chunk: a zero-copy view.
            this.#parts.push(chunk.subarray(at, at + n));
          } else {
            this.#parts.push(Buffer.from(chunk.subarray(at, at + n)));
          }
          this.#contentFill += n;
          at += n;
          this.#offset += n;
          if (this.#contentFill < this.#contentLength) return;
        }
        // Padding.
        if (this.#paddingLeft > 0) {
          const n = Math.min(this.#paddingLeft, end - at);
          this.#paddingLeft -= n;
          at += n;
          this.#offset += n;
          if (this.#paddingLeft > 0) return;
        }
        const parts = this.#parts;
        this.#parts = [];
        this.#inBody = false;
        this.#finishRecord(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), onRecord);
      }
    } catch (err) {
      this.#dead = true;
      throw err;
    }
  }

  end(): void {
    if (this.#headerFill > 0 || this.#inBody) {
      this.#dead = true;
      throw new GatewayError(
        'GW_ERR_FCGI_TRUNCATED',
        `${this.#offset - this.#recordStart} bytes of a record`,
        {
          offset: this.#offset,
        },
      );
    }
  }

  #startRecord(buf: Buffer, at: number): void {
    const start = this.#offset - (buf === this.#header ? FCGI_HEADER_LEN : 0);
    this.#recordStart = start;
    const version = buf[at] as number;
    if (version !== FCGI_VERSION_1) {
      throw new GatewayError('GW_ERR_FCGI_VERSION', `version ${version}`, { offset: start });
    }
    const type = buf[at + 1] as number;
    const requestId = buf.readUInt16BE(at + 2);
    const contentLength = buf.readUInt16BE(at + 4);
    const paddingLength = buf[at + 6] as number;
    const fixed =
      type === RecordType.BeginRequest || type === RecordType.EndRequest || type === RecordType.UnknownType
        ? 8
        : -1;
    if (
      (fixed !== -1 && contentLength !== fixed) ||
      (type === RecordType.AbortRequest && contentLength !== 0)
    ) {
      throw new GatewayError(
        'GW_ERR_FCGI_RECORD_LENGTH',
        `type ${type} with ${contentLength} content bytes`,
        {
          offset: start + 4,
          requestId,
        },
      );
    }
    if (isManagementType(type)) {
      if (requestId !== 0) {
        throw new GatewayError('GW_ERR_FCGI_MGMT_ID', `type ${type} with request id ${requestId}`, {
          offset: start + 2,
          requestId,
        });
      }
      if (type !== RecordType.UnknownType && contentLength > this.#maxGetValues) {
        throw new GatewayError(
          'GW_ERR_FCGI_RECORD_LENGTH',
          `type ${type} with ${contentLength} content bytes`,
          { offset: start + 4 },
        );
      }
    } else if (type >= RecordType.BeginRequest && type <= RecordType.Data && requestId === 0) {
      throw new GatewayError('GW_ERR_FCGI_NULL_ID', `type ${type} with request id 0`, { offset: start + 2 });
    }
    this.#type = type;
    this.#requestId = requestId;
    this.#contentLength = contentLength;
    this.#paddingLength = paddingLength;
    this.#paddingLeft = paddingLength;
    this.#contentFill = 0;
  }

  #finishRecord(content: Buffer, onRecord: (record: FastcgiRecord) => void): void {
    const type = this.#type;
    const requestId = this.#requestId;
    const contentOffset = this.#recordStart + FCGI_HEADER_LEN;
    if (isStreamType(type)) {
      onRecord({ kind: 'stream', type, requestId, data: content });
      return;
    }
    switch (type) {
      case RecordType.BeginRequest:
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
        onRecord({
          kind: 'end-request',
          requestId,
          appStatus: content.readUInt32BE(0),
          protocolStatus: content[4] as number,
        });
        return;
      case RecordType.GetValues:
        onRecord({
          kind: 'get-values',
          names: decodeNameValuePairs(content, contentOffset).map(([name]) => name),
        });
        return;
      case RecordType.GetValuesResult:
        onRecord({ kind: 'get-values-result', pairs: decodeNameValuePairs(content, contentOffset) });
        return;
      case RecordType.UnknownType:
        onRecord({ kind: 'unknown-type', unknownType: content[0] as number });
        return;
      default:
        onRecord({ kind: 'unknown', type, requestId, content: Buffer.from(content) });
    }
  }
}
