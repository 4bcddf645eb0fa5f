import { describe, expect, it } from 'vitest';
import {
  CompactedError,
  EntriesPendingError,
  GroupNotFoundError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from '../errors.js';
import { EntryType } from '../types.js';
import type { Entry, Snapshot } from '../types.js';
import { MemoryRaftStore, MemoryStorage } from './memory-storage.js';

function entry(index: number, term: number, bytes = 1): Entry {
  return { index, term, type: EntryType.normal, data: new Uint8Array(bytes) };
}

function snapshotAt(index: number, term: number): Snapshot {
  const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  return { metadata: { index, term, confState }, data: new Uint8Array([index]) };
}

/**
 * A follower holding entries 1..6 (2..6 of an old term 2) installs a snapshot at index 3 of term
 * 5 with one write: what its log looks like afterwards.
 */
function snapshotInstallKeeps(storage: MemoryStorage): {
  firstIndex: number;
  lastIndex: number;
  snapshotTerm: number;
  above: string;
} {
  storage.write({
    hardState: null,
    entries: [entry(1, 1), entry(2, 2), entry(3, 2), entry(4, 2), entry(5, 2), entry(6, 2)],
    snapshot: null,
  });
  storage.write({ hardState: null, entries: [], snapshot: snapshotAt(3, 5) });
  let above: string;
  try {
    above = `term ${storage.term(4)}`;
  } catch (error) {
    above = error instanceof UnavailableError ? 'unavailable' : String(error);
  }
  return { firstIndex: storage.firstIndex(), lastIndex: storage.lastIndex(), snapshotTerm: storage.term(3), above };
}

/** The wrong reading of the contract, for the test above: keeps the entries above the snapshot. */
class PrefixOnlyStorage extends MemoryStorage {
  override applySnapshot(snapshot: Snapshot): void {
    const kept =
      this.lastIndex() > snapshot.metadata.index
        ? this.entries(snapshot.metadata.index + 1, this.lastIndex() + 1, Number.MAX_SAFE_INTEGER)
        : [];
    super.applySnapshot(snapshot);
    this.append(kept);
  }
}

describe('MemoryStorage', () => {
  it('starts empty at index 0 with the bootstrap membership', () => {
    const storage = MemoryStorage.withVoters([1, 2]);
    expect(storage.firstIndex()).toBe(1);
    expect(storage.lastIndex()).toBe(0);
    expect(storage.term(0)).toBe(0);
    expect(storage.initialState().confState.voters).toEqual([1, 2]);
    expect(storage.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
  });

  it('appends, truncates a conflicting suffix and answers terms', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
    storage.append([entry(3, 3), entry(4, 3)]);
    expect(storage.lastIndex()).toBe(4);
    expect([1, 2, 3, 4].map((i) => storage.term(i))).toEqual([1, 1, 3, 3]);
    expect(() => storage.term(5)).toThrow(UnavailableError);
    expect(() => storage.append([entry(6, 3)])).toThrow(/gap/);
  });

  it('returns entries in [lo, hi) bounded by bytes, at least one', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1, 10), entry(2, 1, 10), entry(3, 1, 10)]);
    expect(storage.entries(1, 4, 25).map((e) => e.index)).toEqual([1, 2]);
    expect(storage.entries(1, 4, 1).map((e) => e.index)).toEqual([1]);
    expect(storage.entries(2, 2, 100)).toEqual([]);
    expect(() => storage.entries(1, 5, 100)).toThrow(UnavailableError);
  });

  it('compacts up to a snapshot and reports compaction', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
    storage.compact(snapshotAt(2, 1));
    expect(storage.firstIndex()).toBe(3);
    expect(storage.lastIndex()).toBe(3);
    expect(storage.term(2)).toBe(1);
    expect(() => storage.term(1)).toThrow(CompactedError);
    expect(() => storage.entries(2, 3, 100)).toThrow(CompactedError);
    expect(storage.entries(3, 4, 100).map((e) => e.term)).toEqual([2]);
    expect(storage.snapshot().metadata.index).toBe(2);
  });

  it('replaces the log with an installed snapshot', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1)]);
    storage.applySnapshot(snapshotAt(10, 4));
    expect(storage.firstIndex()).toBe(11);
    expect(storage.lastIndex()).toBe(10);
    expect(storage.term(10)).toBe(4);
    expect(storage.initialState().confState.voters).toEqual([1, 2, 3]);
  });

  it('a snapshot install discards the stored suffix beyond its index (GroupWrite.snapshot)', () => {
    expect(snapshotInstallKeeps(new MemoryStorage())).toEqual({
      firstIndex: 4,
      lastIndex: 3,
      snapshotTerm: 5,
      above: 'unavailable',
    });
    // A store that followed the old wording ("replaces the log up to and including its index")
    // keeps the divergent entries 4..6 of term 2: the check above tells it apart.
    expect(snapshotInstallKeeps(new PrefixOnlyStorage())).not.toEqual({
      firstIndex: 4,
      lastIndex: 3,
      snapshotTerm: 5,
      above: 'unavailable',
    });
  });

  it('offers knobs for pending entries and unavailable snapshots', () => {
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1)]);
    storage.makePendingBelow(2);
    expect(() => storage.entries(1, 3, 100)).toThrow(EntriesPendingError);
    expect(storage.entries(1, 3, 100)).toHaveLength(2);
    storage.snapshotUnavailable = true;
    expect(() => storage.snapshot()).toThrow(SnapshotTemporarilyUnavailableError);
  });
});

describe('MemoryRaftStore', () => {
  it('opens groups with a bootstrap membership and persists writes in order', async () => {
    const store = new MemoryRaftStore();
    const a = store.openGroup(1, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
    store.openGroup(2, null);
    expect(store.openGroup(1, null)).toBe(a);
    expect(store.groupIds()).toEqual([1, 2]);
    await store.persist(
      [
        { groupId: 1, hardState: { term: 1, vote: 1, commit: 0 }, entries: [entry(1, 1)], snapshot: null },
        { groupId: 2, hardState: null, entries: [entry(6, 2)], snapshot: snapshotAt(5, 2) },
      ],
      true,
    );
    expect(a.lastIndex()).toBe(1);
    expect(a.initialState().hardState.term).toBe(1);
    const b = store.group(2);
    expect(b.firstIndex()).toBe(6);
    expect(b.lastIndex()).toBe(6);
    expect(store.syncCalls).toBe(1);
  });

  it('fails a batch naming an unknown group before writing anything', async () => {
    const store = new MemoryRaftStore();
    const a = store.openGroup(1, null);
    const writes = [
      { groupId: 1, hardState: null, entries: [entry(1, 1)], snapshot: null },
      { groupId: 9, hardState: null, entries: [entry(1, 1)], snapshot: null },
    ];
    await expect(store.persist(writes, false)).rejects.toThrow(GroupNotFoundError);
    expect(a.lastIndex()).toBe(0);
  });

  it('compacts and deletes groups', async () => {
    const store = new MemoryRaftStore();
    const a = store.openGroup(1, null);
    a.append([entry(1, 1), entry(2, 1)]);
    await store.compact(1, snapshotAt(1, 1));
    expect(a.firstIndex()).toBe(2);
    await store.deleteGroup(1);
    expect(store.groupIds()).toEqual([]);
  });
});
