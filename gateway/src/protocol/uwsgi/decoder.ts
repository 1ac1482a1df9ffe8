/**
 * An incremental decoder for one uwsgi request: the 4-byte header, the vars block (u16le-sized
 * keys and values), then exactly CONTENT_LENGTH body bytes and nothing more (nginx opens one
 * connection per request). Accepts any split of the stream. Pure: bytes in, events out.
 */
import { GatewayError } from '../../errors.js';
import { Modifier1, UWSGI_HEADER_LEN, UWSGI_MAX_VARS_SIZE } from './constants.js';

export type UwsgiEvent =
  | {
      kind: 'vars';
      modifier1: number;
      modifier2: number;
      vars: Array<[string, string]>;
      contentLength: number;
    }
  /** Zero-copy: a subarray of the pushed chunk. Copy it to keep it past the callback's caller. */
  | { kind: 'body'; data: Buffer }
  /** The whole CONTENT_LENGTH body has arrived. */
  | { kind: 'end' };

export interface UwsgiDecoderOptions {
  /** Largest vars block accepted, in bytes; at most (and by default) 65535. */
  maxVarsSize?: number;
  /** modifier1 values accepted; by default only 0. */
  allowedModifiers?: readonly number[];
}

type State = 'header' | 'vars' | 'body' | 'done';

/** Decimal digits only, as nginx writes $content_length; 15 digits stay exact in a double. */
const CONTENT_LENGTH = /^\d{1,15}$/;

export class UwsgiDecoder {
  #state: State = 'header';
  /** Bytes of the header or vars block gathered so far, when they arrive split. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #modifier1 = 0;
  #modifier2 = 0;
  #varsSize = 0;
  #bodyLeft = 0;
  #offset = 0;
  /** The first error (ours or the callback's): a decoder that failed stays failed. */
  #error: unknown = null;
  readonly #maxVarsSize: number;
  readonly #allowed: readonly number[];

  constructor(options: UwsgiDecoderOptions = {}) {
    const max = options.maxVarsSize ?? UWSGI_MAX_VARS_SIZE;
    this.#maxVarsSize = Math.max(0, Math.min(Math.floor(max), UWSGI_MAX_VARS_SIZE));
    this.#allowed = options.allowedModifiers ?? [Modifier1.Wsgi];
  }

  /** Absolute number of bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Feeds bytes; calls onEvent in order: vars, then body chunks, then end (end right after vars
   * when CONTENT_LENGTH is empty or 0). Throws GatewayError with context.offset on malformed input.
   */
  push(chunk: Buffer, onEvent: (event: UwsgiEvent) => void): void {
    if (this.#error !== null) throw this.#error;
    try {
      this.#push(chunk, onEvent);
    } catch (err) {
      this.#error = err;
      throw err;
    }
  }

  /** End of input: throws GW_ERR_UWSGI_TRUNCATED unless a whole request was read. */
  end(): void {
    if (this.#error !== null) throw this.#error;
    if (this.#state === 'done') return;
    this.#error = new GatewayError('GW_ERR_UWSGI_TRUNCATED', `input ended inside the ${this.#state}`, {
      offset: this.#offset,
    });
    throw this.#error;
  }

  #push(chunk: Buffer, onEvent: (event: UwsgiEvent) => void): void {
    let at = 0;
    while (at < chunk.length) {
      switch (this.#state) {
        case 'done':
          throw new GatewayError('GW_ERR_UWSGI_TRAILING_DATA', `${chunk.length - at} bytes after the body`, {
            offset: this.#offset,
          });
        case 'body': {
          const n = Math.min(this.#bodyLeft, chunk.length - at);
          const data = chunk.subarray(at, at + n);
          at += n;
          this.#offset += n;
          this.#bodyLeft -= n;
          onEvent({ kind: 'body', data });
          if (this.#bodyLeft === 0) {
            this.#state = 'done';
            onEvent({ kind: 'end' });
          }
          break;
        }
        case 'header': {
          // Checked on the first byte, so HTTP or garbage sent to the socket fails at once.
          if (this.#pendingBytes === 0) this.#checkModifier(chunk[at] as number);
          const before = this.#offset;
          const header = this.#gather(chunk, at, UWSGI_HEADER_LEN);
          at += this.#offset - before;
          if (header) this.#onHeader(header, onEvent);
          break;
        }
        case 'vars': {
          const before = this.#offset;
          const block = this.#gather(chunk, at, this.#varsSize);
          at += this.#offset - before;
          if (block) this.#onVars(block, this.#offset - this.#varsSize, onEvent);
          break;
        }
      }
    }
  }

  /**
   * Takes up to `size` bytes of a fixed-size block from chunk[at..], advancing the offset by what
   * it took. Returns the whole block once complete: a zero-copy subarray when it lies in one
   * chunk, else one copy of the pieces; null while bytes are missing.
   */
  #gather(chunk: Buffer, at: number, size: number): Buffer | null {
    const taken = Math.min(size - this.#pendingBytes, chunk.length - at);
    const piece = chunk.subarray(at, at + taken);
    this.#offset += taken;
    if (this.#pendingBytes === 0 && taken === size) return piece;
    this.#pending.push(piece);
    this.#pendingBytes += taken;
    if (this.#pendingBytes < size) return null;
    const bytes = Buffer.concat(this.#pending, size);
    this.#pending = [];
    this.#pendingBytes = 0;
    return bytes;
  }

  #checkModifier(modifier1: number): void {
    if (!this.#allowed.includes(modifier1)) {
      throw new GatewayError('GW_ERR_UWSGI_MODIFIER', `modifier1 ${modifier1}`, { offset: this.#offset });
    }
  }

  #onHeader(header: Buffer, onEvent: (event: UwsgiEvent) => void): void {
    const start = this.#offset - UWSGI_HEADER_LEN;
    this.#modifier1 = header[0] as number;
    this.#varsSize = header.readUInt16LE(1);
    this.#modifier2 = header[3] as number;
    if (this.#varsSize > this.#maxVarsSize) {
      throw new GatewayError(
        'GW_ERR_UWSGI_VARS_TOO_LARGE',
        `${this.#varsSize} bytes, limit ${this.#maxVarsSize}`,
        { offset: start + 1 },
      );
    }
    this.#state = 'vars';
    if (this.#varsSize === 0) this.#onVars(Buffer.alloc(0), this.#offset, onEvent);
  }

  /** `start` is the absolute offset of the block's first byte, for error offsets. */
  #onVars(block: Buffer, start: number, onEvent: (event: UwsgiEvent) => void): void {
    const vars: Array<[string, string]> = [];
    // One latin1 decode of the block, then slices: one native call per string costs more.
    const text = block.toString('latin1');
    const end = block.length;
    let contentLength: string | null = null;
    let at = 0;
    while (at < end) {
      if (at + 2 > end) this.#varLength(block, at, start);
      const keyEnd = at + 2 + ((block[at] as number) | ((block[at + 1] as number) << 8));
      if (keyEnd > end) this.#varLength(block, at, start);
      const key = text.slice(at + 2, keyEnd);
      at = keyEnd;
      if (at + 2 > end) this.#varLength(block, at, start);
      const valueEnd = at + 2 + ((block[at] as number) | ((block[at + 1] as number) << 8));
      if (valueEnd > end) this.#varLength(block, at, start);
      const value = text.slice(at + 2, valueEnd);
      if (key === 'CONTENT_LENGTH') {
        // A second, different CONTENT_LENGTH would let two readers frame the body differently.
        if (
          !(CONTENT_LENGTH.test(value) || value === '') ||
          (contentLength !== null && value !== contentLength)
        ) {
          throw new GatewayError('GW_ERR_UWSGI_CONTENT_LENGTH', JSON.stringify(value), {
            offset: start + at + 2,
          });
        }
        contentLength = value;
      }
      at = valueEnd;
      vars.push([key, value]);
    }
    const length = contentLength ? Number(contentLength) : 0;
    this.#bodyLeft = length;
    this.#state = length === 0 ? 'done' : 'body';
    onEvent({
      kind: 'vars',
      modifier1: this.#modifier1,
      modifier2: this.#modifier2,
      vars,
      contentLength: length,
    });
    if (length === 0) onEvent({ kind: 'end' });
  }

  #varLength(block: Buffer, at: number, start: number): never {
    const detail =
      at + 2 > block.length
        ? 'size field cut by the end of the vars block'
        : `${block.readUInt16LE(at)} bytes at ${at + 2} of a ${block.length}-byte vars block`;
    throw new GatewayError('GW_ERR_UWSGI_VAR_LENGTH', detail, { offset: start + at });
  }
}
