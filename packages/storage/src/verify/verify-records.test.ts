/**
 * verifyStore checks records, not only CRCs: a batch whose CRC holds but whose records a consumer
 * cannot decode (stored before leaders validated records) is reported as BAD_RECORDS at its group,
 * raft index and offset, and the offsets after it are still checked.
 */
import { computeBatchCrc, encodeRecordBatch } from '@streambus/proto';
import { EntryType } from '@streambus/raft';
import type { Entry } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import { batchEntry, openTempStore } from '../testing/index.js';
import { verifyStore } from './verify-store.js';

/** A batch at `baseOffset` of two records whose second one says offset delta 0, behind a valid CRC. */
function malformedEntry(index: number, baseOffset: number): Entry {
  const data = encodeRecordBatch(
    {
      baseOffset,
      records: [
        { key: null, value: Buffer.from('a') },
        { key: null, value: Buffer.from('b') },
      ],
    },
    { timestampMs: 1_700_000_000_000 },
  );
  // Record 0 is 8 bytes (length varint, attributes, timestamp delta, offset delta, key, value "a",
  // header count); record 1's offset delta is its 4th byte.
  const secondOffsetDelta = 58 + 8 + 3;
  expect(data[secondOffsetDelta]).toBe(2);
  data[secondOffsetDelta] = 0;
  data.writeUInt32BE(computeBatchCrc(data), 14);
  return { index, term: 1, type: EntryType.normal, data };
}

describe('verifyStore on malformed records', () => {
  it('reports a batch with a valid CRC and malformed records as BAD_RECORDS, with group, index and offset', async () => {
    const t = await openTempStore();
    try {
      t.store.openGroup(5, null);
      const entries = [
        batchEntry({ index: 1, term: 1, baseOffset: 0 }),
        malformedEntry(2, 2),
        batchEntry({ index: 3, term: 1, baseOffset: 4 }),
        batchEntry({ index: 4, term: 1, baseOffset: 7 }),
      ];
      await t.store.persist([{ groupId: 5, entries, hardState: null, snapshot: null }], true);
      await t.store.close();
      const report = await verifyStore(t.dir);
      expect(report.ok).toBe(false);
      expect(report.batches).toBe(4);
      expect(report.problems.map((p) => [p.groupId, p.index, p.offset, p.kind])).toEqual([
        [5, 2, 2, 'BAD_RECORDS'],
        // The header still reads, so the gap after the malformed batch is found as well.
        [5, 4, 7, 'OFFSET_GAP'],
      ]);
      expect(report.problems[0]?.message).toContain('CORRUPT_RECORD');
      expect(report.problems[0]?.message).toContain('record 1');
      expect(report.problems[0]?.message).toContain('offset delta 0');
    } finally {
      await t.cleanup();
    }
  });
});
