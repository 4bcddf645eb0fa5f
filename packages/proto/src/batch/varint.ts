/**
 * Zigzag varints (as in protobuf and Kafka) on plain numbers, exact up to 2^53. Arithmetic
 * instead of bit operations so that 64-bit deltas keep their precision.
 */
import { varint32BytesMax, varint32RawLimit, varint64BytesMax } from './constants.js';
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

/**
 * A cursor over the records of a batch; every read is bounds-checked and a failure throws a
 * CORRUPT_RECORD error that names the record (and header) being read and where it starts. One
 * reader serves a whole batch (`end` moves to each record's end), so reading allocates nothing.
 */
export class Reader {
  pos: number;
  end: number;
  /** The record being read and the byte it starts at, for error messages; -1 outside records. */
  record = -1;
  recordStart = -1;
  /** The header being read within the record; -1 outside headers. */
  header = -1;

  /** `zigzag` false reads varints as plain unsigned ones: only to diagnose a writer that forgot zigzag. */
  constructor(
    readonly buf: Uint8Array,
    start: number,
    end: number,
    private readonly zigzag = true,
  ) {
    this.pos = start;
    this.end = end;
  }

  fail(detail: string): never {
    if (this.record < 0) throw new RecordBatchError('CORRUPT_RECORD', detail);
    const header = this.header < 0 ? '' : ` header ${this.header}`;
    throw new RecordBatchError(
      'CORRUPT_RECORD',
      `record ${this.record} (at byte ${this.recordStart})${header}: ${detail}`,
    );
  }

  /** A varint of a 32-bit field: at most 5 bytes, a value in the int32 range. */
  varint32(what: string): number {
    return this.varint(varint32BytesMax, varint32RawLimit, what);
  }

  /** A varint of a 64-bit field: at most 10 bytes, a value within ±(2^53 - 1). */
  varint64(what: string): number {
    return this.varint(varint64BytesMax, Number.MAX_SAFE_INTEGER + 1, what);
  }

  private varint(bytesMax: number, rawLimit: number, what: string): number {
    // Most varints of a record (attributes aside: deltas, small lengths, counts) are one byte.
    if (this.pos < this.end) {
      const first = this.buf[this.pos] as number;
      if (first < 0x80) {
        this.pos++;
        return this.zigzag ? (first >>> 1) ^ -(first & 1) : first;
      }
    }
    let result = 0;
    let scale = 1;
    for (let i = 0; i < bytesMax; i++) {
      if (this.pos >= this.end) this.fail(`${what}: varint runs past the end of the record`);
      const byte = this.buf[this.pos++] as number;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (result >= rawLimit) this.fail(`${what}: varint out of range`);
        return this.zigzag ? unzigzag(result) : result;
      }
      scale *= 128;
    }
    return this.fail(`${what}: varint longer than ${bytesMax} bytes`);
  }

  /**
   * A length-prefixed byte string (length -1 is null): checks it and steps over it. Returns the
   * length; the bytes are `buf[pos - length, pos)`.
   */
  nullableLength(what: string): number {
    const length = this.varint32(what);
    if (length === -1) return -1;
    if (length < 0) this.fail(`${what}: length ${length}; a length is -1 (null) or more`);
    if (length > this.end - this.pos)
      this.fail(`${what}: length ${length} runs past the end of the record (${this.end - this.pos} bytes left)`);
    this.pos += length;
    return length;
  }

  u8(what: string): number {
    if (this.pos >= this.end) this.fail(`${what}: runs past the end of the record`);
    return this.buf[this.pos++] as number;
  }
}
