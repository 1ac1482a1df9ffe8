/**
 * An incremental decoder for one uwsgi request: the 4-byte header, the vars block (u16le-sized
 * keys and values), then exactly CONTENT_LENGTH body bytes. Accepts any split of the stream.
 * Pure: bytes in, events out.
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
  | { kind: 'body'; data: Buffer }
  | { kind: 'end' };

export interface UwsgiDecoderOptions {
  maxVarsSize?: number;
  allowedModifiers?: readonly number[];
}

export class UwsgiDecoder {
  #state: 'head' | 'vars' | 'body' | 'done' = 'head';
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #modifier1 = 0;
  #modifier2 = 0;
  #varsSize = 0;
  #bodyLeft = 0;
  #offset = 0;
  #dead = false;
  readonly #maxVarsSize: number;
  readonly #allowed: readonly number[];

  constructor(options: UwsgiDecoderOptions = {}) {
    this.#maxVarsSize = Math.min(options.maxVarsSize ?? UWSGI_MAX_VARS_SIZE, UWSGI_MAX_VARS_SIZE);
    this.#allowed = options.allowedModifiers ?? [Modifier1.Wsgi];
  }

  get offset(): number {
    return this.#offset;
  }

  push(chunk: Buffer, onEvent: (event: UwsgiEvent) => void): void {
    if (this.#dead)
      throw new GatewayError('GW_ERR_UWSGI_TRUNCATED', 'decoder used after an error', {
        offset: this.#offset,
      });
    try {
      this.#push(chunk, onEvent);
    } catch (err) {
      this.#dead = true;
      throw err;
    }
  }

  #push(chunk: Buffer, onEvent: (event: UwsgiEvent) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === 'done') {
        throw new GatewayError('GW_ERR_UWSGI_TRAILING_DATA', `${chunk.length - at} bytes`, {
          offset: this.#offset,
        });
      }
      if (this.#state === 'body') {
        const n = Math.min(this.#bodyLeft, chunk.length - at);
        onEvent({ kind: 'body', data: chunk.subarray(at, at + n) });
        at += n;
        this.#offset += n;
        this.#bodyLeft -= n;
        if (this.#bodyLeft === 0) {
          this.#state = 'done';
          onEvent({ kind: 'end' });
        }
        continue;
      }
      const need = this.#state === 'head' ? UWSGI_HEADER_LEN : this.#varsSize;
      const n = Math.min(need - this.#pendingBytes, chunk.length - at);
      this.#pending.push(chunk.subarray(at, at + n));
      this.#pendingBytes += n;
      at += n;
      if (this.#pendingBytes < need) {
        this.#offset += n;
        return;
      }
      const block = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
      const blockStart = this.#offset + n - need;
      this.#offset += n;
      this.#pending = [];
      this.#pendingBytes = 0;
      if (this.#state === 'head') this.#onHead(block, blockStart, onEvent);
      else this.#onVars(block, blockStart, onEvent);
    }
  }

  end(): void {
    if (this.#state !== 'done') {
      this.#dead = true;
      throw new GatewayError('GW_ERR_UWSGI_TRUNCATED', `input ended in the ${this.#state}`, {
        offset: this.#offset,
      });
    }
  }

  #onHead(head: Buffer, start: number, onEvent: (event: UwsgiEvent) => void): void {
    this.#modifier1 = head[0] as number;
    this.#varsSize = head.readUInt16LE(1);
    this.#modifier2 = head[3] as number;
    if (!this.#allowed.includes(this.#modifier1)) {
      throw new GatewayError('GW_ERR_UWSGI_MODIFIER', `modifier1 ${this.#modifier1}`, { offset: start });
    }
    if (this.#varsSize > this.#maxVarsSize) {
      throw new GatewayError('GW_ERR_UWSGI_VARS_TOO_LARGE', `${this.#varsSize} bytes`, { offset: start + 1 });
    }
    this.#state = 'vars';
    if (this.#varsSize === 0) this.#onVars(Buffer.alloc(0), start + UWSGI_HEADER_LEN, onEvent);
  }

  #onVars(block: Buffer, start: number, onEvent: (event: UwsgiEvent) => void): void {
    const vars: Array<[string, string]> = [];
    let contentLength = '';
    let at = 0;
    // One latin1 decode of the block, then slices: a native call per string costs more.
    const text = block.toString('latin1');
    const readString = (): string => {
      if (at + 2 > block.length) {
        throw new GatewayError('GW_ERR_UWSGI_VAR_LENGTH', 'length field past the vars block', {
          offset: start + at,
        });
      }
      const size = block.readUInt16LE(at);
      if (at + 2 + size > block.length) {
        throw new GatewayError('GW_ERR_UWSGI_VAR_LENGTH', `${size} bytes past the vars block`, {
          offset: start + at,
        });
      }
      const value = text.slice(at + 2, at + 2 + size);
      at += 2 + size;
      return value;
    };
    while (at < block.length) {
      const key = readString();
      const value = readString();
      if (key === 'CONTENT_LENGTH') contentLength = value;
      vars.push([key, value]);
    }
    if (contentLength !== '' && !/^\d{1,15}$/.test(contentLength)) {
      throw new GatewayError('GW_ERR_UWSGI_CONTENT_LENGTH', JSON.stringify(contentLength), { offset: start });
    }
    const length = contentLength === '' ? 0 : Number(contentLength);
    onEvent({
      kind: 'vars',
      modifier1: this.#modifier1,
      modifier2: this.#modifier2,
      vars,
      contentLength: length,
    });
    this.#bodyLeft = length;
    if (length === 0) {
      this.#state = 'done';
      onEvent({ kind: 'end' });
    } else {
      this.#state = 'body';
    }
  }
}
