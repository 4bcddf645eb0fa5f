import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { batchHeaderBytes, decompressedBytesMax, headerLayout } from './constants.js';
import { RecordBatchError } from './errors.js';
import {
  computeBatchCrc,
  decodeRecordBatch,
  encodeRecordBatch,
  isRecordBatch,
  readBatchHeader,
  stampBaseOffset,
  verifyBatch,
  type RecordBatchInput,
  type RecordInput,
} from './record-batch.js';

// Randomized: the seed is printed; replay with
//   cd packages/proto && FC_SEED=<seed> npx vitest run src/batch/record-batch.test.ts
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(
  `record-batch properties: seed ${seed} (replay: FC_SEED=${seed} npx vitest run src/batch/record-batch.test.ts)`,
);
const fcParams = { numRuns: 150, seed } as const;

const bytesArb = fc.uint8Array({ maxLength: 64 });
const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(bytesArb, { nil: null }),
  value: fc.option(bytesArb, { nil: null }),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: fc.option(bytesArb, { nil: null }) }), {
    maxLength: 3,
  }),
  timestamp: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
});
const producerArb = fc.oneof(
  fc.constant({ producerId: -1, producerEpoch: -1, baseSequence: -1 }),
  fc.record({
    producerId: fc.integer({ min: 0, max: 2 ** 40 }),
    producerEpoch: fc.integer({ min: 0, max: 0x7fff }),
    baseSequence: fc.integer({ min: 0, max: 0x7fffffff }),
  }),
);
const batchArb: fc.Arbitrary<RecordBatchInput> = fc
  .record({
    baseOffset: fc.maxSafeNat().map((n) => n % 2 ** 48),
    producer: producerArb,
    records: fc.array(recordArb, { minLength: 1, maxLength: 12 }),
  })
  .map(({ baseOffset, producer, records }) => ({ baseOffset, ...producer, records }));
const codecArb = fc.constantFrom('none' as const, 'gzip' as const);

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error: unknown) {
    if (error instanceof RecordBatchError) return error.code;
    throw error;
  }
  return 'OK';
}

describe('record batch codec', () => {
  it('round-trips every field (fast-check)', () => {
    fc.assert(
      fc.property(batchArb, codecArb, (input, compression) => {
        const bytes = encodeRecordBatch(input, { compression });
        expect(isRecordBatch(bytes)).toBe(true);
        const { header, records } = decodeRecordBatch(bytes);
        expect(header.baseOffset).toBe(input.baseOffset);
        expect(header.recordCount).toBe(input.records.length);
        expect(header.lastOffset).toBe((input.baseOffset ?? 0) + input.records.length - 1);
        expect(header.producerId).toBe(input.producerId);
        expect(header.producerEpoch).toBe(input.producerEpoch);
        expect(header.baseSequence).toBe(input.baseSequence);
        expect(header.sizeBytes).toBe(bytes.byteLength);
        const timestamps = input.records.map((r) => r.timestamp as number);
        expect(header.firstTimestamp).toBe(timestamps[0]);
        expect(header.maxTimestamp).toBe(Math.max(...timestamps));
        records.forEach((r, i) => {
          const want = input.records[i] as RecordInput;
          expect(r.offset).toBe((input.baseOffset ?? 0) + i);
          expect(r.timestamp).toBe(want.timestamp);
          expect(r.key === null ? null : Buffer.from(r.key)).toEqual(want.key == null ? null : Buffer.from(want.key));
          expect(r.value === null ? null : Buffer.from(r.value)).toEqual(
            want.value === null ? null : Buffer.from(want.value),
          );
          expect(r.headers.map((h) => [h.key, h.value === null ? null : Buffer.from(h.value)])).toEqual(
            (want.headers ?? []).map((h) => [h.key, h.value === null ? null : Buffer.from(h.value)]),
          );
        });
        expect(readBatchHeader(bytes)).toEqual(header);
      }),
      fcParams,
    );
  });

  it('detects any single bit flip under the CRC and any truncation (fast-check)', () => {
    fc.assert(
      fc.property(batchArb, codecArb, fc.nat(), fc.nat(7), fc.nat(), (input, compression, bytePick, bit, cutPick) => {
        const bytes = encodeRecordBatch(input, { compression });
        // Flip one bit anywhere except the base offset (deliberately outside the CRC).
        const flippable = bytes.byteLength - 8;
        let pos = bytePick % flippable;
        if (pos >= headerLayout.baseOffset) pos += 8;
        const flipped = Buffer.from(bytes);
        flipped[pos] = (flipped[pos] as number) ^ (1 << bit);
        const flipCode = errorCode(() => decodeRecordBatch(flipped));
        expect(flipCode).not.toBe('OK');
        expect(errorCode(() => verifyBatch(flipped))).not.toBe('OK');
        if (pos >= headerLayout.crc) expect(flipCode).toBe('BAD_CRC');
        // Any proper prefix is refused.
        const cut = cutPick % bytes.byteLength;
        expect(errorCode(() => decodeRecordBatch(bytes.subarray(0, cut)))).not.toBe('OK');
        expect(errorCode(() => verifyBatch(bytes.subarray(0, cut)))).not.toBe('OK');
      }),
      fcParams,
    );
  });

  it('never crashes or hangs on arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (junk, magic) => {
        const bytes = Buffer.from(junk);
        if (magic && bytes.byteLength > 1) {
          bytes[0] = 0xb5;
          bytes[1] = 1;
        }
        for (const fn of [decodeRecordBatch, verifyBatch, readBatchHeader]) {
          try {
            fn(bytes);
          } catch (error: unknown) {
            expect(error).toBeInstanceOf(RecordBatchError);
          }
        }
      }),
      fcParams,
    );
  });

  it('decodes structurally broken records behind a valid CRC as CORRUPT_RECORD', () => {
    const bytes = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('hello'), timestamp: 5 }] });
    const broken = Buffer.from(bytes);
    broken[batchHeaderBytes] = 0x7f; // record length far beyond the batch
    broken.writeUInt32BE(computeBatchCrc(broken), headerLayout.crc);
    expect(errorCode(() => decodeRecordBatch(broken))).toBe('CORRUPT_RECORD');
    expect(errorCode(() => verifyBatch(broken))).toBe('OK');
  });

  it('refuses a gzip block that would decompress beyond the bound (no bomb)', () => {
    const small = encodeRecordBatch(
      { records: [{ value: Buffer.from('x') }] },
      { compression: 'gzip', timestampMs: 1 },
    );
    const bomb = gzipSync(Buffer.alloc(decompressedBytesMax + 1024));
    const batch = Buffer.concat([small.subarray(0, batchHeaderBytes), bomb]);
    batch.writeUInt32BE(batch.byteLength - headerLayout.crc, headerLayout.batchLength);
    batch.writeUInt32BE(computeBatchCrc(batch), headerLayout.crc);
    expect(errorCode(() => verifyBatch(batch))).toBe('OK');
    expect(errorCode(() => decodeRecordBatch(batch))).toBe('CORRUPT_RECORD');
  });

  it('stamps the base offset in place without breaking the CRC', () => {
    const bytes = encodeRecordBatch(
      { records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] },
      { timestampMs: 10 },
    );
    stampBaseOffset(bytes, 2 ** 40 + 7);
    const { header, records } = decodeRecordBatch(bytes);
    expect(header.baseOffset).toBe(2 ** 40 + 7);
    expect(records.map((r) => r.offset)).toEqual([2 ** 40 + 7, 2 ** 40 + 8]);
    expect(records[0]?.key).toBeNull();
  });

  it('keeps record values as views of the batch buffer (no copy)', () => {
    const bytes = encodeRecordBatch({ records: [{ value: Buffer.alloc(100, 1) }] }, { timestampMs: 1 });
    const value = decodeRecordBatch(bytes).records[0]?.value;
    expect(value?.buffer).toBe(bytes.buffer);
  });

  it('refuses bad input with typed errors', () => {
    expect(errorCode(() => encodeRecordBatch({ records: [] }))).toBe('INVALID_INPUT');
    expect(errorCode(() => encodeRecordBatch({ records: [{ value: null }] }, { compression: 'zstd' }))).toBe(
      'UNSUPPORTED_CODEC',
    );
    expect(errorCode(() => encodeRecordBatch({ producerEpoch: 1 << 20, records: [{ value: null }] }))).toBe(
      'INVALID_INPUT',
    );
    const bytes = encodeRecordBatch({ records: [{ value: null }] }, { timestampMs: 1 });
    expect(errorCode(() => decodeRecordBatch(Buffer.from([0x01, 0x02])))).toBe('BAD_MAGIC');
    const v2 = Buffer.from(bytes);
    v2[1] = 2;
    expect(errorCode(() => decodeRecordBatch(v2))).toBe('UNSUPPORTED_VERSION');
    expect(errorCode(() => decodeRecordBatch(Buffer.concat([bytes, Buffer.alloc(1)])))).toBe('BAD_LENGTH');
    // A codec this build lacks, behind a valid CRC.
    const lz4 = Buffer.from(bytes);
    lz4.writeUInt16BE(3, headerLayout.attributes);
    lz4.writeUInt32BE(computeBatchCrc(lz4), headerLayout.crc);
    expect(errorCode(() => decodeRecordBatch(lz4))).toBe('UNSUPPORTED_CODEC');
  });
});
