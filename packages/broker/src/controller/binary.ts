/**
 * Bounded binary writer and reader for the controller's codecs. Integers are unsigned LEB128
 * varints (exact up to Number.MAX_SAFE_INTEGER), strings are UTF-8 with a varint length.
 * Every read is bounds-checked: garbage yields ControllerCodecError('CONTROLLER_MALFORMED'),
 * never an out-of-range read or a huge allocation.
 */
import { assert } from '@streambus/raft';
import { ControllerCodecError } from './errors.js';
import { rethrowBug } from '../bugs.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A varint of a safe integer takes at most 8 bytes (7 bits each, 53 bits). */
const varintBytesMax = 8;

export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(
    private readonly bytesMax: number,
    private readonly what: string,
    initialBytes = 256,
  ) {
    this.buffer = new Uint8Array(Math.min(initialBytes, bytesMax));
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed > this.bytesMax) {
      throw new ControllerCodecError(
        'CONTROLLER_TOO_LARGE',
        `${this.what} exceeds ${this.bytesMax} bytes; make it smaller`,
      );
    }
    if (needed <= this.buffer.length) return;
    const grown = new Uint8Array(Math.min(this.bytesMax, Math.max(needed, this.buffer.length * 2)));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  u8(value: number): void {
    assert(Number.isInteger(value), 'u8 is an integer');
    assert(value >= 0, 'u8 is not negative');
    assert(value <= 0xff, 'u8 fits one byte');
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  u32(value: number): void {
    assert(Number.isInteger(value), 'u32 is an integer');
    assert(value >= 0, 'u32 is not negative');
    assert(value <= 0xffff_ffff, 'u32 fits four bytes');
    this.reserve(4);
    const b = this.buffer;
    b[this.length++] = (value >>> 24) & 0xff;
    b[this.length++] = (value >>> 16) & 0xff;
    b[this.length++] = (value >>> 8) & 0xff;
    b[this.length++] = value & 0xff;
  }

  varint(value: number): void {
    assert(Number.isSafeInteger(value), 'varint is a safe integer');
    assert(value >= 0, 'varint is not negative');
    this.reserve(varintBytesMax);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  /** A UTF-8 string whose encoding must fit in `bytesMax`. */
  string(value: string, bytesMax: number, field: string): void {
    const encoded = encoder.encode(value);
    if (encoded.length > bytesMax) {
      throw new ControllerCodecError(
        'CONTROLLER_TOO_LARGE',
        `${field} is ${encoded.length} bytes, more than ${bytesMax}; shorten it`,
      );
    }
    this.bytes(encoded);
  }

  /** A string or null (a presence byte first). */
  optionalString(value: string | null, bytesMax: number, field: string): void {
    this.bool(value !== null);
    if (value !== null) this.string(value, bytesMax, field);
  }

  get bytesWritten(): number {
    return this.length;
  }

  /** The bytes written so far, as a copy the caller owns. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export class ByteReader {
  private offset = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly what: string,
    start = 0,
    private readonly end = data.length,
  ) {
    this.offset = start;
  }

  malformed(reason: string): ControllerCodecError {
    return new ControllerCodecError('CONTROLLER_MALFORMED', `malformed ${this.what}: ${reason} at byte ${this.offset}`);
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  private need(bytes: number, field: string): void {
    if (this.remaining < bytes) throw this.malformed(`truncated ${field}`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.data[this.offset++] as number;
  }

  u32(field: string): number {
    this.need(4, field);
    const d = this.data;
    const o = this.offset;
    this.offset += 4;
    return (
      (((d[o] as number) << 24) >>> 0) +
      ((d[o + 1] as number) << 16) +
      ((d[o + 2] as number) << 8) +
      (d[o + 3] as number)
    );
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

  bool(field: string): boolean {
    const value = this.u8(field);
    if (value > 1) throw this.malformed(`${field} is not a boolean`);
    return value === 1;
  }

  /** A count of items that each take at least `itemBytesMin` bytes: bounded by `max` and by what is left. */
  count(field: string, max: number, itemBytesMin = 1): number {
    const value = this.bounded(field, 0, max);
    if (value * itemBytesMin > this.remaining) throw this.malformed(`${field} ${value} is more than the bytes left`);
    return value;
  }

  string(field: string, bytesMax: number): string {
    const length = this.bounded(`${field} length`, 0, bytesMax);
    this.need(length, field);
    const slice = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return decoder.decode(slice);
    } catch (error) {
      rethrowBug(error);
      throw this.malformed(`${field} is not valid UTF-8`);
    }
  }

  optionalString(field: string, bytesMax: number): string | null {
    return this.bool(`${field} presence`) ? this.string(field, bytesMax) : null;
  }

  /** Throws unless every byte was consumed. */
  done(): void {
    if (this.remaining !== 0) throw this.malformed(`${this.remaining} trailing bytes`);
  }
}
