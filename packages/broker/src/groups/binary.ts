/**
 * Bounded binary writer and reader for the group records. Integers are LEB128 varints (signed
 * ones zigzag-encoded first), exact up to Number.MAX_SAFE_INTEGER; strings are UTF-8 with a
 * varint length. The writer asserts (the coordinator only writes what it validated); the reader
 * checks every byte and throws GroupRecordError, never reads out of range or allocates much.
 */
import { assert } from '@streambus/raft';
import { BoundedByteReader, varintBytesMax, writeVarint } from '../binary/bounded-reader.js';
import { GroupRecordError } from './errors.js';

const encoder = new TextEncoder();
/** Zigzag keeps |value| < 2^52 exact in a double. */
const signedMagnitudeMax = 2 ** 52;

export class GroupByteWriter {
  private buffer = new Uint8Array(64);
  private length = 0;

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  u8(value: number): void {
    assert(Number.isInteger(value), 'u8 is an integer');
    assert(value >= 0 && value <= 0xff, 'u8 fits one byte');
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  varint(value: number): void {
    assert(Number.isSafeInteger(value), 'varint is a safe integer');
    assert(value >= 0, 'varint is not negative');
    this.reserve(varintBytesMax);
    this.length = writeVarint(this.buffer, this.length, value);
  }

  signed(value: number): void {
    assert(Number.isSafeInteger(value), 'signed varint is a safe integer');
    assert(Math.abs(value) < signedMagnitudeMax, 'signed varint is below 2^52');
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** A UTF-8 string of at most `lengthMax` characters (UTF-16 code units), as the reader checks. */
  string(value: string, lengthMax: number): void {
    assert(value.length <= lengthMax, 'string is within its bound');
    const encoded = encoder.encode(value);
    this.varint(encoded.length);
    this.reserve(encoded.length);
    this.buffer.set(encoded, this.length);
    this.length += encoded.length;
  }

  /** A non-empty string, as the reader's ids are. */
  id(value: string, lengthMax: number): void {
    assert(value.length > 0, 'ids are not empty');
    this.string(value, lengthMax);
  }

  finish(): Buffer {
    return Buffer.from(this.buffer.buffer, this.buffer.byteOffset, this.length);
  }
}

export class GroupByteReader extends BoundedByteReader {
  malformed(reason: string): GroupRecordError {
    return new GroupRecordError('GROUP_RECORD_MALFORMED', `malformed ${this.what}: ${reason} at byte ${this.offset}`);
  }

  signed(field: string, min: number, max: number): number {
    const zigzag = this.varint(field);
    const value = zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
    if (value < min || value > max) throw this.malformed(`${field} ${value} outside [${min}, ${max}]`);
    return value;
  }

  /** A UTF-8 string of at most `lengthMax` characters (UTF-16 code units, as JS counts them). */
  string(field: string, lengthMax: number): string {
    const value = this.utf8(field, this.bounded(`${field} length`, 0, lengthMax * 3));
    if (value.length > lengthMax) throw this.malformed(`${field} is longer than ${lengthMax} characters`);
    return value;
  }
}
