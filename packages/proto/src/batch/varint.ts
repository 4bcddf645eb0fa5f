/**
 * Zigzag varints (as in protobuf and Kafka) on plain numbers, exact up to 2^53. Arithmetic
 * instead of bit operations so that 64-bit deltas keep their precision.
 */
import { RecordBatchError } from './errors.js';

export function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** Bytes the zigzag varint of `value` takes. */
export function varintBytes(value: number): number {
  let v = zigzag(value);
  let bytes = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    bytes++;
  }
  return bytes;
}

/** Writes the zigzag varint of `value` at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  let v = zigzag(value);
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** A cursor over a byte range; every read is bounds-checked and throws a typed error. */
export class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
  }

  varint(bytesMax: number, what: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < bytesMax; i++) {
      if (this.pos >= this.end) throw new RecordBatchError('CORRUPT_RECORD', `${what}: varint runs past its record`);
      const byte = this.buf[this.pos++] as number;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) throw new RecordBatchError('CORRUPT_RECORD', `${what}: varint out of range`);
        return unzigzag(result);
      }
      scale *= 128;
    }
    throw new RecordBatchError('CORRUPT_RECORD', `${what}: varint longer than ${bytesMax} bytes`);
  }

  /** A length-prefixed byte string as a view (no copy); length -1 is null. */
  bytesOrNull(what: string): Uint8Array | null {
    const length = this.varint(5, what);
    if (length === -1) return null;
    if (length < 0) throw new RecordBatchError('CORRUPT_RECORD', `${what}: negative length ${length}`);
    if (length > this.end - this.pos) throw new RecordBatchError('CORRUPT_RECORD', `${what}: length ${length} runs past its record`);
    const view = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return view;
  }

  u8(what: string): number {
    if (this.pos >= this.end) throw new RecordBatchError('CORRUPT_RECORD', `${what}: runs past its record`);
    return this.buf[this.pos++] as number;
  }
}
