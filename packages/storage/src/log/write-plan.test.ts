/**
 * The write path's planners, one by one, on logs built in memory: which keys each writes or
 * deletes (in batch order) and what it leaves to apply in memory. No database.
 */
import { describe, expect, it } from 'vitest';
import { AssertionError, EntryType } from '@streambus/raft';
import type { Entry, GroupWrite, Snapshot } from '@streambus/raft';
import { decodeBatchLocation, decodeGroupMeta, decodeHardState, decodeSnapshotMeta, decodeTerm } from '../codec.js';
import { KeyKind, keyGroup, keyIndex } from '../keys.js';
import { batchEntry, plainEntry } from '../testing/index.js';
import { groupLogOf, testVoters } from '../testing/group-log.js';
import {
  appendWrites,
  batchLocation,
  currentBase,
  offsetFloorAfterDrop,
  planBatchIndex,
  planCompaction,
  planCreate,
  planDiscard,
  planGroupMeta,
  planGroupWrite,
  planSnapshotInstall,
  planTermRuns,
  planTruncation,
  writesOf,
} from './write-plan.js';
import type { KeyWrite } from './write-plan.js';

const kindNames = new Map<number, string>(Object.entries(KeyKind).map(([name, kind]) => [kind, name]));

/** `put entry 5`, `del termRun 4`, ...: the writes as a transcript (every key of group 1). */
function described(writes: readonly KeyWrite[]): string[] {
  return writes.map((w) => {
    expect(keyGroup(w.key)).toBe(1);
    return `${w.type} ${kindNames.get(w.key[0] as number) ?? '?'} ${keyIndex(w.key)}`;
  });
}

function valueOf(writes: readonly KeyWrite[], kind: number, index: number): Buffer {
  const write = writes.find((w) => w.key[0] === kind && keyIndex(w.key) === index);
  if (write?.type !== 'put') throw new Error(`no put of kind ${kind} at ${index}`);
  return write.value;
}

/** A record batch at `index` holding offsets [2(index - 1), 2(index - 1) + 1], unless `baseOffset` says otherwise. */
function bat(index: number, term: number, baseOffset = 2 * (index - 1)): Entry {
  return batchEntry({ index, term, baseOffset });
}

function snapshotAt(index: number, term: number, data = Buffer.from('state')): Snapshot {
  return { metadata: { index, term, confState: testVoters }, data };
}

/** Entries 1..6: batches at 1, 2 (term 1), a no-op at 3 (term 1), batches at 4, 5, 6 (term 2). Runs start at 1 and 4. */
function sixEntries(): Entry[] {
  return [bat(1, 1), bat(2, 1), plainEntry(3, 1), bat(4, 2), bat(5, 2), bat(6, 2)];
}

function write(entries: Entry[], extra: Partial<GroupWrite> = {}): GroupWrite {
  return { groupId: 1, entries, hardState: null, snapshot: null, ...extra };
}

describe('batchLocation', () => {
  it('indexes a record batch entry and nothing else', () => {
    expect(batchLocation(bat(3, 1))).toMatchObject({ raftIndex: 3, baseOffset: 4, lastOffset: 5 });
    expect(batchLocation(plainEntry(3, 1))).toBeNull();
    expect(batchLocation({ ...bat(3, 1), type: EntryType.confChange })).toBeNull();
  });
});

describe('planTermRuns', () => {
  const entries = [bat(4, 2), bat(5, 2), bat(6, 3), bat(7, 3), bat(8, 5)];

  it('starts a run where the term changes', () => {
    expect(planTermRuns(entries, 2, false)).toEqual([
      { startIndex: 6, term: 3 },
      { startIndex: 8, term: 5 },
    ]);
  });

  it('starts one at the first entry too when it follows the snapshot', () => {
    expect(planTermRuns(entries, 2, true).map((r) => r.startIndex)).toEqual([4, 6, 8]);
  });

  it('refuses a term that goes backwards', () => {
    expect(() => planTermRuns([bat(4, 1)], 2, false)).toThrow(AssertionError);
    expect(() => planTermRuns([bat(4, 3), bat(5, 2)], 2, false)).toThrow(AssertionError);
  });
});

describe('planBatchIndex', () => {
  const entries = [bat(1, 1), plainEntry(2, 1), bat(3, 1, 2), bat(4, 1, 2), bat(5, 1, 4)];

  it('indexes record batches in offset order, skips other entries, leaves an overlapping batch unindexed', () => {
    const { indexed, unindexed } = planBatchIndex(entries, null);
    expect(indexed.map((l) => l.raftIndex)).toEqual([1, 3, 5]);
    expect(unindexed.map((l) => [l.raftIndex, l.baseOffset])).toEqual([[4, 2]]);
  });

  it('continues after the last batch kept', () => {
    const lastBatch = batchLocation(bat(9, 1, 0));
    const { indexed, unindexed } = planBatchIndex(entries, lastBatch);
    expect(indexed.map((l) => l.raftIndex)).toEqual([3, 5]);
    expect(unindexed.map((l) => l.raftIndex)).toEqual([1, 4]);
  });
});

describe('appendWrites', () => {
  it('puts term runs and offset index entries in index order, the run first at an index', () => {
    const batches = [bat(4, 2), bat(5, 2), bat(6, 3)].map((e) => batchLocation(e)!);
    const writes = appendWrites(
      1,
      [
        { startIndex: 4, term: 2 },
        { startIndex: 6, term: 3 },
      ],
      batches,
    );
    expect(described(writes)).toEqual([
      'put termRun 4',
      'put offsetIndex 4',
      'put offsetIndex 5',
      'put termRun 6',
      'put offsetIndex 6',
    ]);
    expect(decodeTerm(valueOf(writes, KeyKind.termRun, 6))).toBe(3);
    expect(decodeBatchLocation(5, valueOf(writes, KeyKind.offsetIndex, 5))).toEqual(batches[1]);
  });
});

describe('planTruncation', () => {
  const log = groupLogOf(sixEntries());

  it('is null when the entries follow the log', () => {
    expect(planTruncation(log, currentBase(log), 7)).toBeNull();
  });

  it('deletes the suffix: its entries, offset index entries and the term runs starting in it', () => {
    const plan = planTruncation(log, currentBase(log), 4);
    expect(described(plan!.writes)).toEqual([
      'del entry 4',
      'del entry 5',
      'del entry 6',
      'del offsetIndex 4',
      'del offsetIndex 5',
      'del offsetIndex 6',
      'del termRun 4',
    ]);
    expect(plan).toMatchObject({ fromIndex: 4, batchesKept: 2 });
  });

  it('keeps a run that starts below the cut (it still covers the kept entries)', () => {
    const plan = planTruncation(log, currentBase(log), 5);
    expect(described(plan!.writes)).toEqual(['del entry 5', 'del entry 6', 'del offsetIndex 5', 'del offsetIndex 6']);
    expect(plan?.batchesKept).toBe(3);
  });
});

describe('planSnapshotInstall', () => {
  const log = groupLogOf(sixEntries());

  it('replaces the whole log: a suffix above the snapshot index is deleted with its offsets, and every term run goes', () => {
    const snapshot = snapshotAt(4, 3);
    const plan = planSnapshotInstall(log, snapshot, null);
    expect(described(plan.writes)).toEqual([
      'put snapshotMeta 0',
      'put snapshotData 0',
      'del entry 5',
      'del entry 6',
      'del offsetIndex 5',
      'del offsetIndex 6',
      'del termRun 1',
      'del termRun 4',
    ]);
    expect(decodeSnapshotMeta(valueOf(plan.writes, KeyKind.snapshotMeta, 0))).toEqual(snapshot.metadata);
    // The data goes into the batch as it is: a view, not a copy.
    const data = valueOf(plan.writes, KeyKind.snapshotData, 0);
    expect(data.buffer).toBe(snapshot.data.buffer);
    expect(data.byteOffset).toBe(snapshot.data.byteOffset);
    // Keys at or below the index are range-deleted after the batch; the floor passes the batches up to 4 (offsets 0..7).
    expect(plan).toMatchObject({ snapshot, offsetFloor: 8, clearBelowIndex: 5 });
  });

  it("past the log end deletes no entry, and takes the application's next offset when it is higher", () => {
    const plan = planSnapshotInstall(log, snapshotAt(20, 4), 40);
    expect(described(plan.writes)).toEqual([
      'put snapshotMeta 0',
      'put snapshotData 0',
      'del termRun 1',
      'del termRun 4',
    ]);
    expect(plan).toMatchObject({ offsetFloor: 40, clearBelowIndex: 21 });
    expect(planSnapshotInstall(log, snapshotAt(20, 4), 3).offsetFloor).toBe(12);
  });

  it("refuses a snapshot older than the log's", () => {
    const compacted = groupLogOf([bat(11, 2)], { snapshot: snapshotAt(10, 2) });
    expect(() => planSnapshotInstall(compacted, snapshotAt(9, 2), null)).toThrow(AssertionError);
  });
});

describe('offsetFloorAfterDrop', () => {
  it('passes the batches at or below the index, never going below the floor', () => {
    const log = groupLogOf(sixEntries());
    expect(offsetFloorAfterDrop(log, 0)).toBe(0);
    expect(offsetFloorAfterDrop(log, 3)).toBe(4);
    expect(offsetFloorAfterDrop(log, 6)).toBe(12);
    expect(offsetFloorAfterDrop(groupLogOf(sixEntries(), { offsetFloor: 50 }), 3)).toBe(50);
  });
});

describe('planGroupMeta', () => {
  it('is null unless an install moved the floor or the log grew back to its repair index', () => {
    expect(planGroupMeta(groupLogOf([]), null, 5)).toBeNull();
    expect(planGroupMeta(groupLogOf([], { repairIndex: 6 }), null, 5)).toBeNull();
  });

  it('writes the new floor, keeping a repair index not yet reached', () => {
    const plan = planGroupMeta(groupLogOf([], { repairIndex: 6 }), 40, 5);
    expect(decodeGroupMeta(valueOf(plan!.writes, KeyKind.groupMeta, 0))).toEqual({ offsetFloor: 40, repairIndex: 6 });
    expect(plan?.repairIndex).toBe(6);
  });

  it('clears the repair index once the log is that long again, keeping the floor', () => {
    const plan = planGroupMeta(groupLogOf([], { repairIndex: 6, offsetFloor: 3 }), null, 6);
    expect(decodeGroupMeta(valueOf(plan!.writes, KeyKind.groupMeta, 0))).toEqual({ offsetFloor: 3, repairIndex: 0 });
    expect(plan?.repairIndex).toBe(0);
  });
});

describe('planGroupWrite', () => {
  it("overwrites a conflicting suffix: truncation, then the new entries' runs and batches, then the hard state", () => {
    const log = groupLogOf(sixEntries());
    const entries = [bat(5, 3), bat(6, 3), bat(7, 3)];
    const hardState = { term: 3, vote: 2, commit: 4 };
    const plan = planGroupWrite(log, write(entries, { hardState }), undefined);
    expect(described(writesOf(plan))).toEqual([
      'del entry 5',
      'del entry 6',
      'del offsetIndex 5',
      'del offsetIndex 6',
      'put termRun 5',
      'put offsetIndex 5',
      'put offsetIndex 6',
      'put offsetIndex 7',
      'put hardState 0',
    ]);
    expect(plan.truncation?.fromIndex).toBe(5);
    expect(plan.append?.entries).toBe(entries);
    expect(plan.append?.runs).toEqual([{ startIndex: 5, term: 3 }]);
    expect(plan.append?.batches.map((l) => l.raftIndex)).toEqual([5, 6, 7]);
    expect([plan.install, plan.meta]).toEqual([null, null]);
    expect(decodeHardState(valueOf(writesOf(plan), KeyKind.hardState, 0))).toEqual(hardState);
    expect(plan.hardState?.hardState).toBe(hardState);
  });

  it('installs a snapshot below the log end and appends after it: the old suffix goes, the new entries start a run', () => {
    const log = groupLogOf(sixEntries());
    const plan = planGroupWrite(log, write([bat(5, 3)], { snapshot: snapshotAt(4, 3) }), undefined);
    expect(described(writesOf(plan))).toEqual([
      'put snapshotMeta 0',
      'put snapshotData 0',
      'del entry 5',
      'del entry 6',
      'del offsetIndex 5',
      'del offsetIndex 6',
      'del termRun 1',
      'del termRun 4',
      'put termRun 5',
      'put offsetIndex 5',
      'put groupMeta 0',
    ]);
    // No truncation of its own: the install already dropped what the entries replace.
    expect(plan.truncation).toBeNull();
    expect(decodeGroupMeta(valueOf(writesOf(plan), KeyKind.groupMeta, 0))).toEqual({ offsetFloor: 8, repairIndex: 0 });
  });

  it('installs a snapshot past the log end with the offsets the application decodes from it', () => {
    const log = groupLogOf(sixEntries());
    const snapshot = snapshotAt(20, 4, Buffer.from('40'));
    const plan = planGroupWrite(log, write([bat(21, 4, 40)], { snapshot }), (_groupId, data) =>
      Number(Buffer.from(data).toString()),
    );
    expect(described(writesOf(plan))).toEqual([
      'put snapshotMeta 0',
      'put snapshotData 0',
      'del termRun 1',
      'del termRun 4',
      'put termRun 21',
      'put offsetIndex 21',
      'put groupMeta 0',
    ]);
    expect(plan.install).toMatchObject({ offsetFloor: 40, clearBelowIndex: 21 });
    expect(plan.meta?.repairIndex).toBe(0);
  });

  it('writes only the hard state when there is nothing else', () => {
    const plan = planGroupWrite(
      groupLogOf(sixEntries()),
      write([], { hardState: { term: 2, vote: 1, commit: 6 } }),
      undefined,
    );
    expect(described(writesOf(plan))).toEqual(['put hardState 0']);
    expect([plan.install, plan.truncation, plan.append, plan.meta]).toEqual([null, null, null, null]);
  });

  it('clears the repair index with the write that brings the log back to it', () => {
    const plan = planGroupWrite(groupLogOf(sixEntries(), { repairIndex: 7 }), write([bat(7, 2)]), undefined);
    expect(described(writesOf(plan))).toEqual(['put offsetIndex 7', 'put groupMeta 0']);
    expect(plan.meta?.repairIndex).toBe(0);
  });

  it('plans the truncation of a long suffix (no argument-count limit on the way)', () => {
    const long = Array.from({ length: 200_000 }, (_, i) => plainEntry(i + 1, 1));
    const writes = writesOf(planGroupWrite(groupLogOf(long), write([plainEntry(2, 2)]), undefined));
    expect(writes).toHaveLength(199_999 + 1);
    expect(described([writes[0]!, writes[writes.length - 1]!])).toEqual(['del entry 2', 'put termRun 2']);
  });

  it('refuses entries that leave a gap, or that are not above the snapshot', () => {
    expect(() => planGroupWrite(groupLogOf(sixEntries()), write([bat(8, 2)]), undefined)).toThrow(AssertionError);
    expect(() =>
      planGroupWrite(groupLogOf(sixEntries()), write([bat(20, 4)], { snapshot: snapshotAt(20, 4) }), undefined),
    ).toThrow(AssertionError);
    expect(() => planGroupWrite(groupLogOf(sixEntries()), write([bat(7, 2), bat(9, 2)]), undefined)).toThrow(
      AssertionError,
    );
  });
});

describe('planCompaction', () => {
  const log = groupLogOf(sixEntries(), { repairIndex: 9 });

  it('records the snapshot, starts the run covering the next index there, and moves the floor past the batches covered', () => {
    const writes = planCompaction(log, snapshotAt(4, 2));
    expect(described(writes)).toEqual(['put snapshotMeta 0', 'put snapshotData 0', 'put termRun 5', 'put groupMeta 0']);
    expect(decodeTerm(valueOf(writes, KeyKind.termRun, 5))).toBe(2);
    expect(decodeGroupMeta(valueOf(writes, KeyKind.groupMeta, 0))).toEqual({ offsetFloor: 8, repairIndex: 9 });
  });

  it('starts no run when it covers the whole log', () => {
    expect(described(planCompaction(log, snapshotAt(6, 2)))).toEqual([
      'put snapshotMeta 0',
      'put snapshotData 0',
      'put groupMeta 0',
    ]);
  });

  it('refuses a snapshot beyond the log or with another term', () => {
    expect(() => planCompaction(log, snapshotAt(7, 2))).toThrow(AssertionError);
    expect(() => planCompaction(log, snapshotAt(4, 1))).toThrow(AssertionError);
  });
});

describe('planDiscard', () => {
  const log = groupLogOf(sixEntries(), { hard: { term: 2, vote: 1, commit: 6 } });

  it('drops the suffix key by key, lowers the commit index below it and records the old last index', () => {
    const plan = planDiscard(log, 4);
    expect(described(plan.writes)).toEqual([
      'del entry 4',
      'del entry 5',
      'del entry 6',
      'del offsetIndex 4',
      'del offsetIndex 5',
      'del offsetIndex 6',
      'del termRun 4',
      'put hardState 0',
      'put groupMeta 0',
    ]);
    expect(plan).toMatchObject({ hardState: { term: 2, vote: 1, commit: 3 }, repairIndex: 6 });
    expect(decodeGroupMeta(valueOf(plan.writes, KeyKind.groupMeta, 0))).toEqual({ offsetFloor: 0, repairIndex: 6 });
  });

  it('keeps a higher repair index from an earlier discard', () => {
    expect(planDiscard(groupLogOf(sixEntries(), { repairIndex: 9 }), 5).repairIndex).toBe(9);
  });

  it('refuses a suffix outside the log', () => {
    expect(() => planDiscard(log, 7)).toThrow(AssertionError);
    expect(() => planDiscard(groupLogOf([bat(11, 2)], { snapshot: snapshotAt(10, 2) }), 10)).toThrow(AssertionError);
  });
});

describe('planCreate', () => {
  it('writes the group meta, snapshot and hard state of a new group', () => {
    const log = groupLogOf([], { repairIndex: 1, hard: { term: 0, vote: 0, commit: 0 } });
    const writes = planCreate(log);
    expect(described(writes)).toEqual([
      'put groupMeta 0',
      'put snapshotMeta 0',
      'put snapshotData 0',
      'put hardState 0',
    ]);
    expect(decodeGroupMeta(valueOf(writes, KeyKind.groupMeta, 0))).toEqual({ offsetFloor: 0, repairIndex: 1 });
    expect(decodeSnapshotMeta(valueOf(writes, KeyKind.snapshotMeta, 0))).toEqual(log.snap.metadata);
  });
});
