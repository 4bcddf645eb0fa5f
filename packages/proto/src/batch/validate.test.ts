/**
 * validateRecordBatch against batches written byte by byte, as another language's client would
 * write them: each malformation behind a valid CRC is refused with CORRUPT_RECORD naming the
 * record, and the validator agrees with the decoder on every batch (fast-check).
 */
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { batchHeaderBytes, decompressedBytesMax, headerLayout, headersPerRecordMax } from './constants.js';
import { RecordBatchError } from './errors.js';
import { computeBatchCrc, decodeRecordBatch, encodeRecordBatch, validateRecordBatch } from './record-batch.js';
import { zigzag } from './varint.js';

// Randomized: the seed is printed; replay with
//   cd packages/proto && FC_SEED=<seed> npx vitest run src/batch/validate.test.ts
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`validate properties: seed ${seed} (replay: FC_SEED=${seed} npx vitest run src/batch/validate.test.ts)`);
const fcParams = { numRuns: 200, seed } as const;

/** One record as raw fields; every field may be given a wrong value on purpose. */
interface RawRecord {
  readonly timestampDelta?: number;
  readonly offsetDelta: number;
  readonly key?: Buffer | null;
  readonly value?: Buffer | null;
  readonly headers?: readonly { readonly key: Buffer | null; readonly value: Buffer | null }[];
  /** Overrides the header count written (default: headers.length). */
  readonly headerCount?: number;
  readonly attributes?: number;
  /** Added to the true record length when it is written. */
  readonly lengthSkew?: number;
  /** Bytes written after the last field, inside the record (its length covers them). */
  readonly inside?: Buffer;
}

interface RawBatchOptions {
  /** Write every varint unsigned (no zigzag), as a client that used a plain uvarint would. */
  readonly unsigned?: boolean;
  readonly recordCount?: number;
  readonly firstTimestamp?: number;
  readonly maxTimestamp?: number;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly baseOffset?: number;
  /** Bytes after the last record. */
  readonly after?: Buffer;
  readonly gzip?: boolean;
}

function varint(value: number, unsigned: boolean): Buffer {
  const bytes: number[] = [];
  let v = unsigned ? value : zigzag(value);
  while (v >= 0x80) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function nullable(bytes: Buffer | null | undefined, unsigned: boolean): Buffer {
  return bytes == null ? varint(-1, false) : Buffer.concat([varint(bytes.byteLength, unsigned), bytes]);
}

/** A record batch written field by field from the layout in record-batch.ts (a second, dumb writer). */
function rawBatch(records: readonly RawRecord[], options: RawBatchOptions = {}): Buffer {
  const unsigned = options.unsigned === true;
  const bodies = records.map((r) => {
    const headers = r.headers ?? [];
    const body = Buffer.concat([
      Buffer.from([r.attributes ?? 0]),
      varint(r.timestampDelta ?? 0, unsigned),
      varint(r.offsetDelta, unsigned),
      nullable(r.key, unsigned),
      nullable(r.value ?? null, unsigned),
      varint(r.headerCount ?? headers.length, unsigned),
      ...headers.flatMap((h) => [nullable(h.key, unsigned), nullable(h.value, unsigned)]),
      r.inside ?? Buffer.alloc(0),
    ]);
    return Buffer.concat([varint(body.byteLength + (r.lengthSkew ?? 0), unsigned), body]);
  });
  const plain = Buffer.concat([...bodies, options.after ?? Buffer.alloc(0)]);
  const section = options.gzip === true ? gzipSync(plain) : plain;
  const batch = Buffer.alloc(batchHeaderBytes + section.byteLength);
  const count = options.recordCount ?? records.length;
  const first = options.firstTimestamp ?? 1_700_000_000_000;
  const max = options.maxTimestamp ?? first + Math.max(0, ...records.map((r) => r.timestampDelta ?? 0));
  batch[headerLayout.magic] = 0xb5;
  batch[headerLayout.version] = 1;
  batch.writeBigUInt64BE(BigInt(options.baseOffset ?? 0), headerLayout.baseOffset);
  batch.writeUInt32BE(batch.byteLength - headerLayout.crc, headerLayout.batchLength);
  batch.writeUInt16BE(options.gzip === true ? 1 : 0, headerLayout.attributes);
  batch.writeInt32BE(count - 1, headerLayout.lastOffsetDelta);
  batch.writeBigInt64BE(BigInt(first), headerLayout.firstTimestamp);
  batch.writeBigInt64BE(BigInt(max), headerLayout.maxTimestamp);
  batch.writeBigInt64BE(BigInt(options.producerId ?? -1), headerLayout.producerId);
  batch.writeInt16BE(options.producerEpoch ?? -1, headerLayout.producerEpoch);
  batch.writeInt32BE(options.baseSequence ?? -1, headerLayout.baseSequence);
  batch.writeInt32BE(count, headerLayout.recordCount);
  section.copy(batch, batchHeaderBytes);
  batch.writeUInt32BE(computeBatchCrc(batch), headerLayout.crc);
  return batch;
}

/** The error validateRecordBatch throws (which must also be what decodeRecordBatch throws), or null. */
function refusal(bytes: Buffer): RecordBatchError | null {
  let validated: RecordBatchError | null = null;
  try {
    validateRecordBatch(bytes);
  } catch (error: unknown) {
    if (!(error instanceof RecordBatchError)) throw error;
    validated = error;
  }
  let decoded: RecordBatchError | null = null;
  try {
    decodeRecordBatch(bytes);
  } catch (error: unknown) {
    if (!(error instanceof RecordBatchError)) throw error;
    decoded = error;
  }
  // Producer-field checks are the validator's alone; everything else the two share.
  if (validated === null || !validated.detail.startsWith('producer id'))
    expect(decoded?.message).toBe(validated?.message);
  return validated;
}

function expectRefused(bytes: Buffer, code: string, ...fragments: string[]): void {
  const error = refusal(bytes);
  expect(error, 'the batch is refused').not.toBeNull();
  expect(error?.code).toBe(code);
  for (const fragment of fragments) expect(error?.message).toContain(fragment);
}

const k = (text: string): Buffer => Buffer.from(text);
const two: RawRecord[] = [
  { offsetDelta: 0, key: k('k0'), value: k('v0'), headers: [{ key: k('h'), value: k('x') }] },
  { offsetDelta: 1, timestampDelta: 5, key: null, value: k('v1') },
];

describe('validateRecordBatch', () => {
  it('accepts what the encoder writes, and the raw writer writes the same bytes', () => {
    const encoded = encodeRecordBatch(
      {
        records: [
          { key: k('k0'), value: k('v0'), headers: [{ key: 'h', value: k('x') }], timestamp: 1_700_000_000_000 },
          { key: null, value: k('v1'), timestamp: 1_700_000_000_005 },
        ],
      },
      {},
    );
    expect(rawBatch(two).equals(encoded)).toBe(true);
    expect(refusal(encoded)).toBeNull();
    expect(validateRecordBatch(encoded)).toEqual(decodeRecordBatch(encoded).header);
  });

  it('refuses varints written without zigzag encoding, and says so', () => {
    // A writer that uses plain unsigned varints (and so never writes a null: -1 has no unsigned form).
    const full: RawRecord[] = [
      { offsetDelta: 0, key: k('k0'), value: k('v0'), headers: [{ key: k('h'), value: k('x') }] },
      { offsetDelta: 1, timestampDelta: 5, key: k('k1'), value: k('v1') },
    ];
    // Record 0's length 14 reads as 7, its key length 2 as 1: the value length runs past the record.
    expectRefused(rawBatch(full, { unsigned: true }), 'CORRUPT_RECORD', 'record 0 (at byte 58)', 'zigzag');
    expectRefused(
      rawBatch([{ offsetDelta: 0, key: k('ab'), value: k('cd') }], { unsigned: true }),
      'CORRUPT_RECORD',
      'record 0',
      'zigzag',
    );
    expectRefused(rawBatch(full, { unsigned: true, gzip: true }), 'CORRUPT_RECORD', 'zigzag');
    // Only record 1's offset delta unsigned: 1 reads as -1.
    expectRefused(
      rawBatch([{ offsetDelta: 0 }, { offsetDelta: -1 }]),
      'CORRUPT_RECORD',
      'record 1',
      'offset delta -1',
      'read unsigned it is 1',
      'zigzag',
    );
  });

  it('refuses a record length that disagrees with its bytes', () => {
    expectRefused(
      rawBatch([{ offsetDelta: 0, value: k('hello'), lengthSkew: 50 }]),
      'CORRUPT_RECORD',
      'record 0',
      'does not fit',
    );
    expectRefused(
      rawBatch([{ offsetDelta: 0, value: k('hello'), lengthSkew: -3 }]),
      'CORRUPT_RECORD',
      'record 0',
      'runs past the end of the record',
    );
    expectRefused(
      rawBatch([{ offsetDelta: 0, value: k('hello'), inside: Buffer.from([1, 2]) }]),
      'CORRUPT_RECORD',
      'record 0',
      '2 bytes left over',
    );
    // A length that fits the batch but swallows the next record.
    expectRefused(
      rawBatch([
        { offsetDelta: 0, value: k('a'), lengthSkew: 8 },
        { offsetDelta: 1, value: k('b') },
      ]),
      'CORRUPT_RECORD',
      'record 0',
    );
  });

  it('refuses a record count that disagrees with the records present', () => {
    expectRefused(rawBatch(two, { recordCount: 3 }), 'CORRUPT_RECORD', 'the header says 3 records, the batch holds 2');
    expectRefused(rawBatch(two, { recordCount: 1 }), 'CORRUPT_RECORD', 'bytes after the last record');
    expectRefused(rawBatch(two, { after: Buffer.from([0]) }), 'CORRUPT_RECORD', '1 bytes after the last record');
    expectRefused(rawBatch(two, { recordCount: 0 }), 'CORRUPT_RECORD', 'record count 0');
  });

  it('refuses offset deltas that are not 0..count-1 in order', () => {
    expectRefused(rawBatch([{ offsetDelta: 0 }, { offsetDelta: 2 }]), 'CORRUPT_RECORD', 'record 1', 'offset delta 2');
    expectRefused(rawBatch([{ offsetDelta: 1 }, { offsetDelta: 0 }]), 'CORRUPT_RECORD', 'record 0', 'offset delta 1');
    expectRefused(rawBatch([{ offsetDelta: 0 }, { offsetDelta: 0 }]), 'CORRUPT_RECORD', 'record 1', 'offset delta 0');
    expectRefused(rawBatch([{ offsetDelta: -1 }]), 'CORRUPT_RECORD', 'record 0', 'offset delta -1');
  });

  it('refuses malformed and out-of-range varints and lengths below -1', () => {
    const tooLong = rawBatch([{ offsetDelta: 0, value: k('a') }]);
    // The value length varint (record byte 4) rewritten as 6 continuation bytes is too long for
    // a 32-bit field; the record length covers the extra bytes.
    const body = Buffer.concat([
      Buffer.from([0, 0, 0, 1]),
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
      Buffer.from([0]),
    ]);
    const longVarint = rawWithBody(body);
    expectRefused(longVarint, 'CORRUPT_RECORD', 'value: varint longer than 5 bytes');
    // 5 bytes holding 2^33: fits the byte bound, not int32.
    expectRefused(
      rawWithBody(
        Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x20]), Buffer.from([0])]),
      ),
      'CORRUPT_RECORD',
      'value: varint out of range',
    );
    // A 64-bit timestamp delta beyond 2^53.
    expectRefused(
      rawWithBody(Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 1, 1, 0])),
      'CORRUPT_RECORD',
      'timestamp delta: varint out of range',
    );
    expect(refusal(tooLong)).toBeNull();
    expectRefused(rawWithBody(Buffer.from([0, 0, 0, 3, 1, 0])), 'CORRUPT_RECORD', 'key: length -2');
  });

  it('refuses timestamps that disagree with the first and max timestamps', () => {
    expectRefused(
      rawBatch([{ offsetDelta: 0, timestampDelta: 3 }], { maxTimestamp: 1_700_000_000_003 }),
      'CORRUPT_RECORD',
      'record 0',
      'first record carries',
    );
    expectRefused(
      rawBatch([{ offsetDelta: 0 }, { offsetDelta: 1, timestampDelta: 9 }], { maxTimestamp: 1_700_000_000_005 }),
      'CORRUPT_RECORD',
      'record 1',
      "after the batch's max timestamp",
    );
    expectRefused(
      rawBatch([{ offsetDelta: 0 }, { offsetDelta: 1, timestampDelta: 2 }], { maxTimestamp: 1_700_000_000_005 }),
      'CORRUPT_RECORD',
      'largest record timestamp is 1700000000002',
    );
    expectRefused(
      rawBatch([{ offsetDelta: 0 }], { maxTimestamp: 1_699_999_999_999 }),
      'CORRUPT_RECORD',
      'before first timestamp',
    );
    // Earlier than the first record is allowed (the first timestamp is the first record's, not the least).
    expect(refusal(rawBatch([{ offsetDelta: 0 }, { offsetDelta: 1, timestampDelta: -10 }]))).toBeNull();
  });

  it('refuses header counts out of bounds and header keys that are null or not UTF-8', () => {
    expectRefused(rawBatch([{ offsetDelta: 0, headerCount: -1 }]), 'CORRUPT_RECORD', 'header count -1');
    expectRefused(
      rawBatch([{ offsetDelta: 0, headerCount: headersPerRecordMax + 1 }]),
      'CORRUPT_RECORD',
      `header count ${headersPerRecordMax + 1}`,
    );
    expectRefused(
      rawBatch([
        {
          offsetDelta: 0,
          headers: [
            { key: k('ok'), value: null },
            { key: null, value: k('v') },
          ],
        },
      ]),
      'CORRUPT_RECORD',
      'record 0 (at byte 58) header 1: key is null',
    );
    for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      expectRefused(
        rawBatch([{ offsetDelta: 0, headers: [{ key: Buffer.from(bad), value: null }] }]),
        'CORRUPT_RECORD',
        'header 0: key is not valid UTF-8',
      );
    }
    // More headers than the record holds.
    expectRefused(
      rawBatch([{ offsetDelta: 0, headerCount: 2, headers: [{ key: k('a'), value: null }] }]),
      'CORRUPT_RECORD',
      'header 1: key: varint runs past the end of the record',
    );
    const utf8 = rawBatch([
      {
        offsetDelta: 0,
        headers: [
          { key: k('ключ-🔑'), value: null },
          { key: k(''), value: k('empty key') },
        ],
      },
    ]);
    expect(refusal(utf8)).toBeNull();
    expect(decodeRecordBatch(utf8).records[0]?.headers.map((h) => h.key)).toEqual(['ключ-🔑', '']);
    // A leading byte order mark is part of the key (it used to be stripped on decode).
    expect(
      decodeRecordBatch(encodeRecordBatch({ records: [{ value: null, headers: [{ key: '\ufeffk', value: null }] }] }))
        .records[0]?.headers[0]?.key,
    ).toBe('\ufeffk');
  });

  it('refuses record attributes, unknown batch attributes and producer fields an idempotent batch lacks', () => {
    expectRefused(rawBatch([{ offsetDelta: 0, attributes: 1 }]), 'CORRUPT_RECORD', 'record 0', 'attributes 0x1');
    expectRefused(
      rawBatch([{ offsetDelta: 0 }], { producerId: 5, producerEpoch: -1, baseSequence: 0 }),
      'CORRUPT_RECORD',
      'producer id 5 with epoch -1',
    );
    expectRefused(
      rawBatch([{ offsetDelta: 0 }], { producerId: 5, producerEpoch: 0, baseSequence: -1 }),
      'CORRUPT_RECORD',
      'producer id 5 with base sequence -1',
    );
    expect(refusal(rawBatch([{ offsetDelta: 0 }], { producerId: 5, producerEpoch: 0, baseSequence: 0 }))).toBeNull();
    expect(() => encodeRecordBatch({ producerId: 5, records: [{ value: null }] })).toThrow(
      /producerEpoch and baseSequence/,
    );
  });

  it('checks compressed records the same way, within the decompression bound', () => {
    expect(refusal(rawBatch(two, { gzip: true }))).toBeNull();
    expect(
      refusal(encodeRecordBatch({ records: [{ value: k('a') }, { value: k('b') }] }, { compression: 'gzip' })),
    ).toBeNull();
    expectRefused(
      rawBatch([{ offsetDelta: 0 }, { offsetDelta: 5 }], { gzip: true }),
      'CORRUPT_RECORD',
      'record 1',
      'offset delta 5',
    );
    const small = encodeRecordBatch({ records: [{ value: k('x') }] }, { compression: 'gzip', timestampMs: 1 });
    const bomb = Buffer.concat([
      small.subarray(0, batchHeaderBytes),
      gzipSync(Buffer.alloc(decompressedBytesMax + 1024)),
    ]);
    bomb.writeUInt32BE(bomb.byteLength - headerLayout.crc, headerLayout.batchLength);
    bomb.writeUInt32BE(computeBatchCrc(bomb), headerLayout.crc);
    expectRefused(bomb, 'CORRUPT_RECORD', `within ${decompressedBytesMax} bytes`);
    const lz4 = rawBatch(two);
    lz4.writeUInt16BE(3, headerLayout.attributes);
    lz4.writeUInt32BE(computeBatchCrc(lz4), headerLayout.crc);
    expectRefused(lz4, 'UNSUPPORTED_CODEC');
  });

  it('checks the frame and the CRC first', () => {
    const flipped = rawBatch(two);
    flipped[flipped.byteLength - 1] = (flipped[flipped.byteLength - 1] as number) ^ 1;
    expectRefused(flipped, 'BAD_CRC');
    expectRefused(rawBatch(two).subarray(0, 40), 'TRUNCATED');
  });

  it('agrees with the decoder on any batch the encoder writes and on any damage to its records (fast-check)', () => {
    const recordArb = fc.record({
      key: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
      value: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
      headers: fc.array(
        fc.record({
          key: fc.string({ maxLength: 6 }),
          value: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }),
        }),
        { maxLength: 3 },
      ),
      timestamp: fc.integer({ min: 1_600_000_000_000, max: 1_600_000_100_000 }),
    });
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 8 }),
        fc.constantFrom('none' as const, 'gzip' as const),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
        fc.integer({ min: -3, max: 3 }),
        (records, compression, writes, cut) => {
          const bytes = encodeRecordBatch({ records }, { compression });
          expect(refusal(bytes)).toBeNull();
          if (compression === 'gzip') return;
          // Damage the records section behind a recomputed CRC: the two readers must agree.
          const sectionBytes = bytes.byteLength - batchHeaderBytes;
          let damaged = Buffer.from(bytes);
          for (const [at, value] of writes) damaged[batchHeaderBytes + (at % sectionBytes)] = value;
          if (cut < 0) damaged = damaged.subarray(0, Math.max(batchHeaderBytes + 1, damaged.byteLength + cut));
          if (cut > 0) damaged = Buffer.concat([damaged, Buffer.alloc(cut, 0x01)]);
          damaged.writeUInt32BE(damaged.byteLength - headerLayout.crc, headerLayout.batchLength);
          damaged.writeUInt32BE(computeBatchCrc(damaged), headerLayout.crc);
          refusal(damaged);
        },
      ),
      fcParams,
    );
  });
});

/** A one-record batch whose record body (after its length) is exactly `body`. */
function rawWithBody(body: Buffer): Buffer {
  const record = Buffer.concat([varint(body.byteLength, false), body]);
  const batch = rawBatch([{ offsetDelta: 0 }]);
  const out = Buffer.concat([batch.subarray(0, batchHeaderBytes), record]);
  out.writeUInt32BE(out.byteLength - headerLayout.crc, headerLayout.batchLength);
  out.writeUInt32BE(computeBatchCrc(out), headerLayout.crc);
  return out;
}
