import { describe, expect, it } from 'vitest';
import { RecordBatchError } from './errors.js';
import { decodeRecordBatch, encodeRecordBatch, splitRecordBatches } from './record-batch.js';

describe('splitRecordBatches', () => {
  const one = encodeRecordBatch({ records: [{ value: Buffer.from('a') }] });
  const two = encodeRecordBatch({ records: [{ value: Buffer.from('bb') }, { value: Buffer.from('cc') }] });

  it('splits batches laid end to end into views, leaving a partial trailing batch out', () => {
    const joined = Buffer.concat([one, two, two.subarray(0, 20)]);
    const { batches, restBytes } = splitRecordBatches(joined);
    expect(batches.map((batch) => decodeRecordBatch(batch).records.length)).toEqual([1, 2]);
    expect(restBytes).toBe(20);
    expect(batches[0]!.buffer).toBe(joined.buffer);
    expect(splitRecordBatches(new Uint8Array(0))).toEqual({ batches: [], restBytes: 0 });
  });

  it('refuses bytes that do not start a batch', () => {
    expect(() => splitRecordBatches(Buffer.concat([one, Buffer.alloc(20, 7)]))).toThrow(RecordBatchError);
  });
});
