/**
 * Bounded binary writer and reader for the group records. Integers are LEB128 varints (signed
 * ones zigzag-encoded first), exact up to Number.MAX_SAFE_INTEGER; strings are UTF-8 with a
 * varint length. The writer asserts (the coordinator only writes what it validated); the reader
 * checks every byte and throws GroupRecordError, never reads out of range or allocates much.
 */
import { assert } from '@streambus/raft';
import { GroupRecordError } from './errors.js';
import { rethrowBug } from '../bugs.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** 53 bits take 8 groups of 7. */
const varintBytesMax = 8;
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
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
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

export class GroupByteReader {
  private offset = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly what: string,
  ) {}

  malformed(reason: string): GroupRecordError {
    return new GroupRecordError('GROUP_RECORD_MALFORMED', `malformed ${this.what}: ${reason} at byte ${this.offset}`);
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  u8(field: string): number {
    if (this.remaining < 1) throw this.malformed(`truncated ${field}`);
    return this.data[this.offset++] as number;
  }

  varint(field: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < varintBytesMax; i++) {
      const byte = this.u8(field);
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        // One value, one encoding: a trailing zero group is refused.
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

  signed(field: string, min: number, max: number): number {
    const zigzag = this.varint(field);
    const value = zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
    if (value < min || value > max) throw this.malformed(`${field} ${value} outside [${min}, ${max}]`);
    return value;
  }

  /** A count of items each at least `itemBytesMin` long: bounded by `max` and by the bytes left. */
  count(field: string, max: number, itemBytesMin = 1): number {
    const value = this.bounded(field, 0, max);
    if (value * itemBytesMin > this.remaining) throw this.malformed(`${field} ${value} is more than the bytes left`);
    return value;
  }

  /** A UTF-8 string of at most `lengthMax` characters (UTF-16 code units, as JS counts them). */
  string(field: string, lengthMax: number): string {
    const bytes = this.bounded(`${field} length`, 0, lengthMax * 3);
    if (this.remaining < bytes) throw this.malformed(`truncated ${field}`);
    const slice = this.data.subarray(this.offset, this.offset + bytes);
    this.offset += bytes;
    let value: string;
    try {
      value = decoder.decode(slice);
    } catch (error) {
      rethrowBug(error);
      throw this.malformed(`${field} is not valid UTF-8`);
    }
    if (value.length > lengthMax) throw this.malformed(`${field} is longer than ${lengthMax} characters`);
    return value;
  }

  /** Throws unless every byte was read. */
  done(): void {
    if (this.remaining !== 0) throw this.malformed(`${this.remaining} trailing bytes`);
  }
}
