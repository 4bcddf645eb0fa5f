/**
 * What the broker's binary codecs (the controller's commands and snapshots, the consumer groups'
 * records) share: unsigned LEB128 varints, exact up to Number.MAX_SAFE_INTEGER, written by
 * `writeVarint` and read, bounds-checked and canonical, by `BoundedByteReader`. Each codec's
 * reader extends it with its own fields and names its own error (`malformed`): garbage never
 * reads out of range or allocates much.
 */
import { rethrowBug } from '../bugs.js';

/** A varint of a safe integer takes at most 8 bytes (7 bits each, 53 bits). */
export const varintBytesMax = 8;

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Writes `value` (a non-negative safe integer, which the caller asserts) as a varint into
 * `buffer` at `at`, which has room for varintBytesMax bytes; returns the position after it.
 */
export function writeVarint(buffer: Uint8Array, at: number, value: number): number {
  let rest = value;
  let position = at;
  while (rest >= 0x80) {
    buffer[position++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buffer[position++] = rest;
  return position;
}

export abstract class BoundedByteReader {
  protected offset: number;

  constructor(
    protected readonly data: Uint8Array,
    protected readonly what: string,
    start = 0,
    protected readonly end = data.length,
  ) {
    this.offset = start;
  }

  /** The codec's typed error for bad bytes at the current position. */
  abstract malformed(reason: string): Error;

  get remaining(): number {
    return this.end - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  protected need(bytes: number, field: string): void {
    if (this.remaining < bytes) throw this.malformed(`truncated ${field}`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.data[this.offset++] as number;
  }

  varint(field: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < varintBytesMax; i++) {
      const byte = this.u8(field);
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        // Reject non-canonical encodings (a trailing zero byte) so that one value has one encoding.
        if (byte === 0 && i > 0) throw this.malformed(`non-canonical varint in ${field}`);
        if (!Number.isSafeInteger(value)) throw this.malformed(`${field} exceeds 2^53`);
        return value;
      }
      scale *= 0x80;
    }
    throw this.malformed(`varint ${field} longer than ${varintBytesMax} bytes`);
  }

  /** A varint in [min, max]. */
  bounded(field: string, min: number, max: number): number {
    const value = this.varint(field);
    if (value < min || value > max) throw this.malformed(`${field} ${value} outside [${min}, ${max}]`);
    return value;
  }

  /** A count of items that each take at least `itemBytesMin` bytes: bounded by `max` and by what is left. */
  count(field: string, max: number, itemBytesMin = 1): number {
    const value = this.bounded(field, 0, max);
    if (value * itemBytesMin > this.remaining) throw this.malformed(`${field} ${value} is more than the bytes left`);
    return value;
  }

  /** `bytes` bytes of UTF-8, decoded. */
  protected utf8(field: string, bytes: number): string {
    this.need(bytes, field);
    const slice = this.data.subarray(this.offset, this.offset + bytes);
    this.offset += bytes;
    try {
      return decoder.decode(slice);
    } catch (error) {
      rethrowBug(error);
      throw this.malformed(`${field} is not valid UTF-8`);
    }
  }

  /** Throws unless every byte was consumed. */
  done(): void {
    if (this.remaining !== 0) throw this.malformed(`${this.remaining} trailing bytes`);
  }
}
