/**
 * Bounded binary writer and reader for the controller's codecs. Integers are unsigned LEB128
 * varints (exact up to Number.MAX_SAFE_INTEGER), strings are UTF-8 with a varint length.
 * Every read is bounds-checked: garbage yields ControllerCodecError('CONTROLLER_MALFORMED'),
 * never an out-of-range read or a huge allocation.
 */
import { assert } from '@streambus/raft';
import { BoundedByteReader, varintBytesMax, writeVarint } from '../binary/bounded-reader.js';
import { ControllerCodecError } from './errors.js';

const encoder = new TextEncoder();

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
    this.length = writeVarint(this.buffer, this.length, value);
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

export class ByteReader extends BoundedByteReader {
  malformed(reason: string): ControllerCodecError {
    return new ControllerCodecError('CONTROLLER_MALFORMED', `malformed ${this.what}: ${reason} at byte ${this.offset}`);
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

  bool(field: string): boolean {
    const value = this.u8(field);
    if (value > 1) throw this.malformed(`${field} is not a boolean`);
    return value === 1;
  }

  string(field: string, bytesMax: number): string {
    return this.utf8(field, this.bounded(`${field} length`, 0, bytesMax));
  }

  optionalString(field: string, bytesMax: number): string | null {
    return this.bool(`${field} presence`) ? this.string(field, bytesMax) : null;
  }

  /** Bytes written by ByteWriter.bytes, their length in bytesMin..bytesMax; a copy the caller owns. */
  bytes(field: string, bytesMin: number, bytesMax: number): Buffer {
    const length = this.bounded(`${field} length`, bytesMin, bytesMax);
    this.need(length, field);
    const value = Buffer.from(this.data.subarray(this.offset, this.offset + length));
    this.offset += length;
    return value;
  }
}
