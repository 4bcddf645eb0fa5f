import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import type { Entry } from '@streambus/raft';
import { encodeBatchLocation, encodeHardState, encodeTerm } from '../codec.js';
import { CorruptBatchError } from '../errors.js';
import { KeyKind, makeKey } from '../keys.js';
import { batchEntry, openTempStore, plainEntry } from '../testing/index.js';
import { repairStore } from './repair-store.js';
import { verifyStore } from './verify-store.js';

describe('repairStore', () => {
  it('rebuilds term runs and the offset index, clears leftovers, and reports what only re-replication fixes', async () => {
    const t = await openTempStore();
    try {
      const a: Entry[] = [];
      const b: Entry[] = [];
      for (let i = 1; i <= 8; i++) {
        a.push(batchEntry({ index: i, term: 1 + (i >> 2), baseOffset: 2 * (i - 1) }));
        b.push(
          i === 3
            ? plainEntry(i, 1)
            : batchEntry({ index: i, term: i < 5 ? 1 : 2, baseOffset: 2 * (i < 3 ? i - 1 : i - 2) }),
        );
      }
      t.store.openGroup(1, null);
      t.store.openGroup(2, null);
      await t.store.persist(
        [
          { groupId: 1, entries: a, hardState: null, snapshot: null },
          { groupId: 2, entries: b, hardState: null, snapshot: null },
        ],
        true,
      );
      await t.store.compact(1, {
        metadata: { index: 2, term: 1, confState: t.store.openGroup(1, null).snapshot().metadata.confState },
        data: Buffer.from('s'),
      });
      await t.store.close();

      const db = new ClassicLevel<Buffer, Buffer>(t.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.del(makeKey(KeyKind.offsetIndex, 1, 3));
      await db.put(
        makeKey(KeyKind.offsetIndex, 1, 5),
        encodeBatchLocation({ raftIndex: 5, baseOffset: 99, lastOffset: 100, maxTimestamp: 0, bytes: 1 }),
      );
      await db.del(makeKey(KeyKind.termRun, 2, 5));
      await db.put(makeKey(KeyKind.termRun, 2, 7), encodeTerm(9));
      await db.put(makeKey(KeyKind.entry, 1, 1), Buffer.from(a[0]!.data)); // stale, below the snapshot
      await db.put(makeKey(KeyKind.entry, 77, 1), Buffer.alloc(20)); // orphan group
      await db.put(makeKey(KeyKind.hardState, 77, 0), encodeHardState({ term: 1, vote: 0, commit: 0 }));
      const key = makeKey(KeyKind.entry, 2, 6);
      const value = Buffer.from((await db.get(key))!);
      value[value.byteLength - 1] = (value[value.byteLength - 1] as number) ^ 1; // a corrupt batch
      await db.put(key, value);
      await db.close();

      const before = await verifyStore(t.dir);
      expect(before.orphanGroups).toEqual([77]);
      expect(before.staleEntries).toBe(1);
      expect(new Set(before.problems.map((p) => p.kind))).toEqual(
        new Set(['OFFSET_INDEX_MISSING', 'OFFSET_INDEX_MISMATCH', 'TERM_RUN_MISMATCH', 'BAD_BATCH']),
      );

      const progress: number[] = [];
      const report = await repairStore(t.dir, { onProgress: (p) => progress.push(p.groupsDone) });
      expect(report).toMatchObject({ groups: 2, groupsRebuilt: 2, orphanGroupsCleared: 1, remainingCount: 1 });
      expect(report.remaining[0]).toMatchObject({ groupId: 2, index: 6, offset: 8, kind: 'BAD_BATCH' });
      expect(progress).toContain(2);
      const after = await verifyStore(t.dir);
      expect(after).toMatchObject({ orphanGroups: [], staleEntries: 0, problemCount: 1 });

      const store = await t.reopen();
      expect(store.openGroup(2, null).term(7)).toBe(2);
      expect((await store.readBatches(1, 4, Infinity, 8)).map((x) => x.raftIndex)).toEqual([3, 4, 5, 6, 7, 8]);
      expect((await store.readBatches(2, 0, 1, 8)).map((x) => x.raftIndex)).toEqual([1]);
      await expect(store.readBatches(2, 8, Infinity, 8)).rejects.toBeInstanceOf(CorruptBatchError);
    } finally {
      await t.cleanup();
    }
  });
});
