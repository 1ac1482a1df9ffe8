/**
 * The subset of MessagePack that Keystone's token payloads use: nil, booleans, integers,
 * float64, str, bin and arrays. Encoded as Python's msgpack packs them (use_bin_type=True); the
 * decoder reads every form the encoder writes (str8/16/32, bin8/16/32, array16/32 included) and
 * rejects the rest with IDN_ERR_MSGPACK and the offset.
 */
import { msgpackError } from '../errors.js';

export type Packable = null | boolean | number | string | Uint8Array | Float64 | Packable[];

/**
 * A number Python holds as a float: packed as float64 even when integral (Python packs 3600.0
 * as 0xcb …, never as an int), as Keystone's expires_at is.
 */
export class Float64 {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export function pack(value: Packable): Buffer {
  const out: Buffer[] = [];
  write(value, out);
  return Buffer.concat(out);
}

/** A length prefix: the fix form when `small` allows it, else the 8-, 16- or 32-bit form. */
function header(length: number, small: number | null, codes: [number, number, number]): Buffer {
  if (small !== null && length < 16 + (small === 0xa0 ? 16 : 0)) return Buffer.from([small | length]);
  if (length < 0x100 && codes[0] !== 0) return Buffer.from([codes[0], length]);
  if (length < 0x10000) return Buffer.from([codes[1], length >> 8, length & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = codes[2];
  b.writeUInt32BE(length, 1);
  return b;
}

function write(value: Packable, out: Buffer[]): void {
  if (value === null) out.push(Buffer.from([0xc0]));
  else if (value === true) out.push(Buffer.from([0xc3]));
  else if (value === false) out.push(Buffer.from([0xc2]));
  else if (typeof value === 'number') out.push(packNumber(value));
  else if (value instanceof Float64) out.push(packFloat(value.value));
  else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    out.push(header(bytes.length, 0xa0, [0xd9, 0xda, 0xdb]), bytes);
  } else if (value instanceof Uint8Array) {
    out.push(header(value.length, null, [0xc4, 0xc5, 0xc6]), Buffer.from(value));
  } else {
    out.push(header(value.length, 0x90, [0, 0xdc, 0xdd]));
    for (const item of value) write(item, out);
  }
}

function packFloat(n: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0xcb;
  b.writeDoubleBE(n, 1);
  return b;
}

function packNumber(n: number): Buffer {
  // An integral number past 64 bits has no int form: a float64, as Python packs such a float.
  if (!Number.isInteger(n) || n >= 2 ** 64 || n < -(2 ** 63)) return packFloat(n);
  if (n >= 0) {
    if (n < 0x80) return Buffer.from([n]);
    if (n < 0x100) return Buffer.from([0xcc, n]);
    if (n < 0x10000) return Buffer.from([0xcd, n >> 8, n & 0xff]);
    if (n < 0x100000000) {
      const b = Buffer.alloc(5);
      b[0] = 0xce;
      b.writeUInt32BE(n, 1);
      return b;
    }
    const b = Buffer.alloc(9);
    b[0] = 0xcf;
    b.writeBigUInt64BE(BigInt(n), 1);
    return b;
  }
  if (n >= -32) return Buffer.from([n & 0xff]);
  if (n >= -0x80) return Buffer.from([0xd0, n & 0xff]);
  if (n >= -0x8000) {
    const b = Buffer.alloc(3);
    b[0] = 0xd1;
    b.writeInt16BE(n, 1);
    return b;
  }
  if (n >= -0x80000000) {
    const b = Buffer.alloc(5);
    b[0] = 0xd2;
    b.writeInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xd3;
  b.writeBigInt64BE(BigInt(n), 1);
  return b;
}

export function unpack(buf: Buffer): Packable {
  const state = { at: 0 };
  const value = read(buf, state);
  if (state.at !== buf.length) throw msgpackError('trailing bytes after a msgpack value', state.at);
  return value;
}

function need(buf: Buffer, state: { at: number }, n: number): void {
  if (state.at + n > buf.length) throw msgpackError('truncated msgpack value', state.at);
}

function read(buf: Buffer, state: { at: number }): Packable {
  need(buf, state, 1);
  const t = buf[state.at++] as number;
  const bytes = (n: number): Buffer => {
    need(buf, state, n);
    const out = buf.subarray(state.at, state.at + n);
    state.at += n;
    return out;
  };
  const array = (n: number): Packable[] => {
    const out: Packable[] = [];
    for (let i = 0; i < n; i++) out.push(read(buf, state));
    return out;
  };
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 0x100;
  if ((t & 0xf0) === 0x90) return array(t & 0x0f);
  if ((t & 0xe0) === 0xa0) return bytes(t & 0x1f).toString('utf8');
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return Buffer.from(bytes(bytes(1)[0] as number));
    case 0xc5:
      return Buffer.from(bytes(bytes(2).readUInt16BE(0)));
    case 0xc6:
      return Buffer.from(bytes(bytes(4).readUInt32BE(0)));
    case 0xcb:
      return bytes(8).readDoubleBE(0);
    case 0xca:
      return bytes(4).readFloatBE(0);
    case 0xcc:
      return bytes(1)[0] as number;
    case 0xcd:
      return bytes(2).readUInt16BE(0);
    case 0xce:
      return bytes(4).readUInt32BE(0);
    case 0xcf:
      return Number(bytes(8).readBigUInt64BE(0));
    case 0xd0:
      return bytes(1).readInt8(0);
    case 0xd1:
      return bytes(2).readInt16BE(0);
    case 0xd2:
      return bytes(4).readInt32BE(0);
    case 0xd3:
      return Number(bytes(8).readBigInt64BE(0));
    case 0xd9:
      return bytes(bytes(1)[0] as number).toString('utf8');
    case 0xda:
      return bytes(bytes(2).readUInt16BE(0)).toString('utf8');
    case 0xdb:
      return bytes(bytes(4).readUInt32BE(0)).toString('utf8');
    case 0xdc:
      return array(bytes(2).readUInt16BE(0));
    case 0xdd:
      return array(bytes(4).readUInt32BE(0));
    default:
      throw msgpackError(`msgpack type 0x${t.toString(16)} is not used in tokens`, state.at - 1);
  }
}
