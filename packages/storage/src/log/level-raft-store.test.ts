import { readdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { CompactedError, EntriesPendingError, EntryType, GroupNotFoundError, UnavailableError } from '@streambus/raft';
import type { ConfState, Entry, GroupWrite, HardState } from '@streambus/raft';
import { decodeRecordBatch } from '@streambus/proto';
import {
  CorruptBatchError,
  InvalidStoreConfigError,
  OffsetOutOfRangeError,
  StoreLockedError,
  StoreNotFoundError,
} from '../errors.js';
import { KeyKind, makeKey } from '../keys.js';
import { verifyStore } from '../verify/verify-store.js';
import { batchEntry, openTempStore, plainEntry } from '../testing/index.js';
import type { TempStore } from '../testing/index.js';
import { LevelRaftStore } from './level-raft-store.js';
import type { LevelRaftStoreOptions } from './level-raft-store.js';

const voters: ConfState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const temps: TempStore[] = [];

async function temp(options: LevelRaftStoreOptions = {}): Promise<TempStore> {
  const t = await openTempStore(options);
  temps.push(t);
  return t;
}

afterEach(async () => {
  for (const t of temps.splice(0)) await t.cleanup();
});

function write(groupId: number, entries: Entry[], hardState: HardState | null = null): GroupWrite {
  return { groupId, entries, hardState, snapshot: null };
}

/** Batches of 2 records each: entry i (from `from`) holds offsets [2(i-1), 2(i-1)+1]. */
function batches(
  from: number,
  to: number,
  term: number,
  extra: Partial<{ valueBytes: number; timestampMs: number }> = {},
): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++)
    out.push(batchEntry({ index, term, baseOffset: 2 * (index - 1), ...extra }));
  return out;
}

/** Flips one bit near the end (inside the records) of the stored entry `index` of `groupId`, in a closed store; returns the new value. */
async function flipStoredByte(dir: string, groupId: number, index: number): Promise<Buffer> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  const key = makeKey(KeyKind.entry, groupId, index);
  const value = Buffer.from((await db.get(key))!);
  value[value.byteLength - 3] = (value[value.byteLength - 3] as number) ^ 0x10;
  await db.put(key, value);
  await db.close();
  return value;
}

function terms(entries: readonly Entry[]): number[] {
  return entries.map((e) => e.term);
}

describe('LevelRaftStore', () => {
  it('appends, answers from memory and restores exactly after reopen', async () => {
    const t = await temp();
    const log = t.store.openGroup(7, voters);
    expect(log.firstIndex()).toBe(1);
    expect(log.lastIndex()).toBe(0);
    await t.store.persist([write(7, [...batches(1, 3, 1), plainEntry(4, 2)], { term: 2, vote: 3, commit: 3 })], true);
    expect(log.lastIndex()).toBe(4);
    expect(log.term(0)).toBe(0);
    expect(log.term(3)).toBe(1);
    expect(log.term(4)).toBe(2);
    expect(terms(log.entries(1, 5, Infinity))).toEqual([1, 1, 1, 2]);
    expect(() => log.term(5)).toThrow(UnavailableError);
    expect(() => log.entries(1, 6, Infinity)).toThrow(UnavailableError);

    const store = await t.reopen();
    expect(store.groupIds()).toEqual([7]);
    const again = store.openGroup(7, null);
    expect(again.initialState()).toEqual({ hardState: { term: 2, vote: 3, commit: 3 }, confState: voters });
    expect(again.firstIndex()).toBe(1);
    expect(again.lastIndex()).toBe(4);
    expect(again.term(4)).toBe(2);
    expect(again.term(2)).toBe(1);
    // After a reopen the tail cache is empty: entries load asynchronously.
    const loaded = new Promise<number>((resolve) => store.onEntriesLoaded(resolve));
    expect(() => again.entries(1, 5, Infinity)).toThrow(EntriesPendingError);
    expect(await loaded).toBe(7);
    const entries = again.entries(1, 5, Infinity);
    expect(terms(entries)).toEqual([1, 1, 1, 2]);
    expect(Buffer.from(entries[0]?.data ?? []).equals(Buffer.from(batches(1, 1, 1)[0]?.data ?? []))).toBe(true);
    expect(entries[3]?.data.byteLength).toBe(0);
  });

  it('group-commits many groups in one persist and refuses unknown groups', async () => {
    const t = await temp();
    const ids = Array.from({ length: 50 }, (_, i) => i * 1000 + 1);
    for (const id of ids) t.store.openGroup(id, voters);
    await t.store.persist(
      ids.map((id) => write(id, batches(1, 2, 1), { term: 1, vote: 0, commit: 2 })),
      true,
    );
    expect(t.store.stats().persistCount).toBe(1);
    await expect(t.store.persist([write(999_999, batches(1, 1, 1))], true)).rejects.toBeInstanceOf(GroupNotFoundError);
    const progress: number[] = [];
    const store = await t.reopen({ onOpenProgress: (p) => progress.push(p.groupsLoaded) });
    expect(progress).toEqual([50]);
    expect([...store.groupIds()].sort((a, b) => a - b)).toEqual(ids);
    for (const id of ids) {
      expect(store.openGroup(id, null).lastIndex()).toBe(2);
      expect(store.latestOffset(id)).toBe(4);
    }
  });

  it('truncates a conflicting suffix, in memory, in the offset index and on disk', async () => {
    const t = await temp();
    const log = t.store.openGroup(1, voters);
    await t.store.persist([write(1, batches(1, 10, 1))], true);
    expect(t.store.latestOffset(1)).toBe(20);
    // A new leader of term 2 overwrites from index 6 with three entries.
    await t.store.persist([write(1, batches(6, 8, 2))], true);
    expect(log.lastIndex()).toBe(8);
    expect(terms(log.entries(4, 9, Infinity))).toEqual([1, 1, 2, 2, 2]);
    expect(t.store.latestOffset(1)).toBe(16);
    const store = await t.reopen();
    const again = store.openGroup(1, null);
    expect(again.lastIndex()).toBe(8);
    expect(again.term(5)).toBe(1);
    expect(again.term(6)).toBe(2);
    expect(store.latestOffset(1)).toBe(16);
    const report = await verifyStore(store);
    expect(report.problems).toEqual([]);
    expect(report.entries).toBe(8);
  });

  it('compacts a prefix: snapshot recorded, entries below gone, terms kept', async () => {
    const t = await temp();
    const log = t.store.openGroup(2, voters);
    await t.store.persist([write(2, [...batches(1, 4, 1), ...batches(5, 8, 3)])], true);
    await t.store.compact(2, { metadata: { index: 6, term: 3, confState: voters }, data: Buffer.from('state@6') });
    expect(log.firstIndex()).toBe(7);
    expect(log.term(6)).toBe(3);
    expect(log.term(7)).toBe(3);
    expect(() => log.term(5)).toThrow(CompactedError);
    expect(() => log.entries(6, 8, Infinity)).toThrow(CompactedError);
    expect(Buffer.from(log.snapshot().data).toString()).toBe('state@6');
    expect(t.store.earliestOffset(2)).toBe(12);
    const store = await t.reopen();
    const again = store.openGroup(2, null);
    expect(again.firstIndex()).toBe(7);
    expect(again.lastIndex()).toBe(8);
    expect(again.term(6)).toBe(3);
    expect(again.term(8)).toBe(3);
    expect(Buffer.from(again.snapshot().data).toString()).toBe('state@6');
    expect(store.earliestOffset(2)).toBe(12);
    const keys: number[] = [];
    for await (const key of store.db.keys({ gte: makeKey(KeyKind.entry, 2, 0), lt: makeKey(KeyKind.entry, 3, 0) }))
      keys.push(key.readUInt32BE(9));
    expect(keys).toEqual([7, 8]);
    expect((await verifyStore(store)).ok).toBe(true);
  });

  it('installs a snapshot from a leader, replacing the whole log', async () => {
    const t = await temp();
    const log = t.store.openGroup(3, voters);
    await t.store.persist([write(3, batches(1, 5, 1))], true);
    const snapshot = { metadata: { index: 20, term: 4, confState: voters }, data: Buffer.from('leader-state') };
    await t.store.persist(
      [
        {
          groupId: 3,
          hardState: { term: 4, vote: 0, commit: 20 },
          snapshot,
          entries: [batchEntry({ index: 21, term: 4, baseOffset: 40 })],
        },
      ],
      true,
    );
    expect(log.firstIndex()).toBe(21);
    expect(log.lastIndex()).toBe(21);
    expect(log.term(20)).toBe(4);
    expect(t.store.earliestOffset(3)).toBe(40);
    const store = await t.reopen();
    const again = store.openGroup(3, null);
    expect([again.firstIndex(), again.lastIndex(), again.term(20), again.term(21)]).toEqual([21, 21, 4, 4]);
    expect(again.initialState().hardState.commit).toBe(20);
    expect((await verifyStore(store)).ok).toBe(true);
  });

  it('installs a snapshot below the log end, dropping the suffix above its index (GroupWrite.snapshot replaces the whole log)', async () => {
    const t = await temp();
    const log = t.store.openGroup(10, voters);
    // Entries 1..8 of term 1 (offsets 0..15); the leader's snapshot at index 5 is of term 2, so
    // entries 6..8 are not the leader's and must not survive the install.
    await t.store.persist([write(10, batches(1, 8, 1), { term: 1, vote: 1, commit: 4 })], true);
    const snapshot = { metadata: { index: 5, term: 2, confState: voters }, data: Buffer.from('leader@5') };
    await t.store.persist([{ groupId: 10, hardState: { term: 2, vote: 0, commit: 5 }, snapshot, entries: [] }], true);
    const expectReplaced = async (store: LevelRaftStore): Promise<void> => {
      const g = store.group(10);
      expect([g.firstIndex(), g.lastIndex(), g.term(5)]).toEqual([6, 5, 2]);
      expect(() => g.term(6)).toThrow(UnavailableError);
      expect(() => g.entries(6, 7, Infinity)).toThrow(UnavailableError);
      expect(Buffer.from(g.snapshot().data).toString()).toBe('leader@5');
      expect(store.stats().groups.find((s) => s.groupId === 10)).toMatchObject({
        entryCount: 0,
        batchCount: 0,
        batchBytes: 0,
        cachedEntries: 0,
      });
      // The offsets of the dropped batches are gone with them: the log ends after entry 5's batch.
      expect([store.earliestOffset(10), store.latestOffset(10)]).toEqual([10, 10]);
      expect(await store.readBatches(10, 10, Infinity, 8)).toEqual([]);
      await expect(store.readBatches(10, 12, Infinity, 8)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
      // On disk: no entry, offset index entry or term run of the group above the snapshot.
      for (const kind of [KeyKind.entry, KeyKind.offsetIndex, KeyKind.termRun]) {
        const above: number[] = [];
        for await (const key of store.db.keys({ gte: makeKey(kind, 10, 6), lt: makeKey(kind, 11, 0) }))
          above.push(key.readUInt32BE(9));
        expect(above).toEqual([]);
      }
      expect((await verifyStore(store)).ok).toBe(true);
    };
    await expectReplaced(t.store);
    expect(log.lastIndex()).toBe(5);
    const store = await t.reopen();
    await expectReplaced(store);
    // The log continues from the snapshot with the leader's entries.
    await store.persist([write(10, batches(6, 7, 2), { term: 2, vote: 0, commit: 7 })], true);
    const again = store.group(10);
    expect([again.firstIndex(), again.lastIndex(), again.term(6), again.term(7)]).toEqual([6, 7, 2, 2]);
    expect((await store.readBatches(10, 10, Infinity, 7)).map((b) => b.raftIndex)).toEqual([6, 7]);
  });

  it('takes the offsets of a snapshot that replaced a log with no batches of its own from the application', async () => {
    // A new or far-behind follower gets a retention snapshot covering offsets [0, 40): before any
    // later batch arrives its earliest and next offsets must be 40, not 0.
    const options: LevelRaftStoreOptions = {
      snapshotNextOffset: (_groupId, data) => (data.byteLength === 0 ? null : Number(Buffer.from(data).toString())),
    };
    const t = await temp(options);
    t.store.openGroup(6, voters);
    const snapshot = { metadata: { index: 20, term: 4, confState: voters }, data: Buffer.from('40') };
    await t.store.persist([{ groupId: 6, hardState: { term: 4, vote: 0, commit: 20 }, snapshot, entries: [] }], true);
    expect([t.store.earliestOffset(6), t.store.latestOffset(6)]).toEqual([40, 40]);
    expect(await t.store.readBatches(6, 40, Infinity, 20)).toEqual([]);
    const store = await t.reopen();
    store.openGroup(6, null);
    expect([store.earliestOffset(6), store.latestOffset(6)]).toEqual([40, 40]);
    await store.persist([write(6, [batchEntry({ index: 21, term: 4, baseOffset: 40 })])], true);
    expect([store.earliestOffset(6), store.latestOffset(6)]).toEqual([40, 42]);
  });

  it('bounds the tail cache across groups and loads evicted entries asynchronously', async () => {
    const t = await temp({ tailCacheBytesMax: 4096 });
    const a = t.store.openGroup(1, voters);
    const b = t.store.openGroup(2, voters);
    for (let i = 0; i < 10; i++) {
      const index = i + 1;
      await t.store.persist(
        [
          write(1, batches(index, index, 1, { valueBytes: 200 })),
          write(2, batches(index, index, 1, { valueBytes: 200 })),
        ],
        true,
      );
    }
    const stats = t.store.stats();
    expect(stats.cacheBytes).toBeLessThanOrEqual(4096);
    expect(stats.cacheBytes).toBeGreaterThan(0);
    // The newest entries are served from memory...
    expect(a.entries(10, 11, Infinity)).toHaveLength(1);
    // ...the oldest were evicted: pending, then served after the load.
    const loaded: number[] = [];
    t.store.onEntriesLoaded((id) => loaded.push(id));
    expect(() => b.entries(1, 11, Infinity)).toThrow(EntriesPendingError);
    await new Promise<void>((resolve) => {
      const poll = (): void => (loaded.includes(2) ? resolve() : void setTimeout(poll, 5));
      poll();
    });
    const entries = b.entries(1, 11, Infinity);
    expect(entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(b.entries(1, 11, 1).map((e) => e.index)).toEqual([1]);
    expect(t.store.stats().loadWindowBytes).toBeGreaterThan(0);

    // Two readers at different positions (say, two lagging followers) both make progress: the
    // group keeps several load windows instead of one they would steal from each other. Entries
    // of 1 MiB, so that one window (4 MiB of read-ahead) cannot hold both positions.
    await t.store.persist([write(1, batches(11, 22, 1, { valueBytes: 1 << 19 }))], true);
    const store = await t.reopen({ tailCacheBytesMax: 0 });
    const log = store.openGroup(1, null);
    let got = new Set<number>();
    for (let round = 0; round < 300 && got.size < 2; round++) {
      got = new Set<number>(); // both in the same round: neither evicted the other's window
      for (const lo of [12, 20]) {
        try {
          log.entries(lo, lo + 1, Infinity);
          got.add(lo);
        } catch (error: unknown) {
          if (!(error instanceof EntriesPendingError)) throw error;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect([...got].sort((x, y) => x - y)).toEqual([12, 20]);
  });

  it('reads committed batches by offset, never past the high watermark, from cache and from disk', async () => {
    const t = await temp();
    t.store.openGroup(5, voters);
    // Offsets 0..19 in entries 1..10, with a no-op at 11 and more batches 12..13 (offsets 20..23).
    const later = [
      batchEntry({ index: 12, term: 2, baseOffset: 20, timestampMs: 2_000 }),
      batchEntry({ index: 13, term: 2, baseOffset: 22, timestampMs: 3_000 }),
    ];
    await t.store.persist(
      [write(5, [...batches(1, 10, 1, { timestampMs: 1_000 }), plainEntry(11, 2), ...later])],
      true,
    );
    const hw = 12; // commit index
    const all = await t.store.readBatches(5, 0, Infinity, hw);
    expect(all.map((b) => b.raftIndex)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
    expect(all.every((b) => b.fromCache)).toBe(true);
    const mid = await t.store.readBatches(5, 7, 1, hw);
    expect(mid.map((b) => [b.raftIndex, b.baseOffset, b.lastOffset])).toEqual([[4, 6, 7]]);
    expect(decodeRecordBatch(mid[0]?.data ?? new Uint8Array()).records.map((r) => r.offset)).toEqual([6, 7]);
    expect(await t.store.readBatches(5, 22, Infinity, hw)).toEqual([]);
    expect(t.store.latestOffset(5, hw)).toBe(22);
    expect(t.store.latestOffset(5)).toBe(24);
    await expect(t.store.readBatches(5, 23, Infinity, hw)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect(t.store.offsetForTimestamp(5, 1_500, hw)).toBe(20);
    expect(t.store.offsetForTimestamp(5, 500, hw)).toBe(0);
    expect(t.store.offsetForTimestamp(5, 2_500, hw)).toBeNull();
    expect(t.store.offsetForTimestamp(5, 2_500)).toBe(22);

    const store = await t.reopen();
    const fromDisk = await store.readBatches(5, 3, 2 * all[0]!.data.byteLength, hw);
    expect(fromDisk.map((b) => b.raftIndex)).toEqual([2, 3]);
    expect(fromDisk.every((b) => !b.fromCache)).toBe(true);
    expect(Buffer.from(fromDisk[0]!.data).equals(Buffer.from(all[1]!.data))).toBe(true);
    expect(store.earliestOffset(5)).toBe(0);
    expect(store.latestOffset(5, 13)).toBe(24);
  });

  it('applies retention by bytes and by age at whole-batch boundaries, never above the applied index', async () => {
    const t = await temp();
    const log = t.store.openGroup(9, voters);
    const entries: Entry[] = [];
    for (let i = 1; i <= 10; i++)
      entries.push(batchEntry({ index: i, term: 1, baseOffset: 2 * (i - 1), timestampMs: i * 1000 }));
    await t.store.persist([write(9, entries)], true);
    const batchBytes = entries[0]!.data.byteLength;
    expect(t.store.stats().groups[0]?.batchBytes).toBe(10 * batchBytes);

    // Bytes: keep at most 7 batches' worth; the applied index allows it.
    const bytesCut = await t.store.applyRetention(
      9,
      { bytesMax: 7 * batchBytes, now: 0, appliedIndex: 10 },
      Buffer.from('p1'),
    );
    expect(bytesCut).toMatchObject({
      snapshotIndex: 3,
      batchesDeleted: 3,
      bytesDeleted: 3 * batchBytes,
      earliestOffset: 6,
    });
    expect(log.firstIndex()).toBe(4);
    expect(Buffer.from(log.snapshot().data).toString()).toBe('p1');

    // Age: everything older than 8 s is due, but only up to the applied index 5.
    const ageCut = await t.store.applyRetention(
      9,
      { ageMsMax: 2_000, now: 10_000, appliedIndex: 5 },
      Buffer.from('p2'),
    );
    expect(ageCut).toMatchObject({ snapshotIndex: 5, batchesDeleted: 2, earliestOffset: 10 });
    const none = await t.store.applyRetention(
      9,
      { ageMsMax: 100_000, now: 10_000, appliedIndex: 10 },
      Buffer.from('p3'),
    );
    expect(none.snapshotIndex).toBeNull();

    const stats = t.store.stats();
    expect(stats.groups[0]).toMatchObject({
      groupId: 9,
      firstIndex: 6,
      lastIndex: 10,
      entryCount: 5,
      batchCount: 5,
      batchBytes: 5 * batchBytes,
      earliestOffset: 10,
      nextOffset: 20,
    });
    expect(stats).toMatchObject({ groupCount: 1, entryCount: 5, batchCount: 5 });
    await expect(t.store.readBatches(9, 9, Infinity, 10)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    const store = await t.reopen();
    expect(store.earliestOffset(9)).toBe(10);
    expect((await store.readBatches(9, 10, Infinity, 10)).map((b) => b.raftIndex)).toEqual([6, 7, 8, 9, 10]);
    // Everything retained away: the offsets survive in the group meta.
    await store.applyRetention(9, { bytesMax: 0, now: 0, appliedIndex: 10 }, Buffer.from('p4'));
    expect([store.earliestOffset(9), store.latestOffset(9)]).toEqual([20, 20]);
    const reopened = await t.reopen();
    expect([reopened.earliestOffset(9), reopened.latestOffset(9)]).toEqual([20, 20]);
    expect(await reopened.readBatches(9, 20, Infinity, 10)).toEqual([]);
  });

  it('finds a flipped byte with verifyStore and never serves the corrupt batch', async () => {
    const t = await temp();
    t.store.openGroup(4, voters);
    await t.store.persist([write(4, batches(1, 6, 1))], true);
    await t.store.close();
    // Flip one byte inside the records of the batch at raft index 4 (offsets 6..7).
    const value = await flipStoredByte(t.dir, 4, 4);

    const progress: number[] = [];
    const report = await verifyStore(t.dir, { onProgress: (p) => progress.push(p.groupsDone) });
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ groupId: 4, index: 4, offset: 6, kind: 'BAD_BATCH' });
    expect(report.problems[0]?.message).toContain('BAD_CRC');
    expect(progress).toEqual([1]);

    const store = await t.reopen();
    const before = await store.readBatches(4, 0, 2 * (value.byteLength - 9), 6);
    expect(before.map((b) => b.raftIndex)).toEqual([1, 2]);
    const error = await store.readBatches(4, 6, Infinity, 6).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptBatchError);
    expect(error).toMatchObject({ code: 'CORRUPT_BATCH', groupId: 4, index: 4, offset: 6 });
    // A read that reaches the corrupt batch stops before it: the intact batches come back, the
    // corrupt one never does, and a read starting at it fails.
    const upTo = await store.readBatches(4, 2, Infinity, 6);
    expect(upTo.map((b) => b.raftIndex)).toEqual([2, 3]);
    expect(upTo.every((b) => b.lastOffset < 6)).toBe(true);
  });

  it('scrubs stored batches from disk, then drops the corrupt suffix for repair (kept across a reopen until re-replicated)', async () => {
    const t = await temp();
    t.store.openGroup(5, voters);
    await t.store.persist([write(5, batches(1, 6, 1), { term: 1, vote: 2, commit: 6 })], true);
    await t.store.close();
    await flipStoredByte(t.dir, 5, 4);

    let store = await t.reopen();
    // Small passes: the scrub walks the log and finds the batch at index 4.
    const first = await store.scrub(5, 1, 6, 1);
    expect(first).toMatchObject({ nextIndex: 2, corrupt: null });
    let pass = first;
    while (pass.corrupt === null && pass.nextIndex !== 0) pass = await store.scrub(5, pass.nextIndex, 6, 1);
    expect(pass.corrupt).toMatchObject({ code: 'CORRUPT_BATCH', index: 4, offset: 6 });
    // Scrubbing stops at the given index: nothing above 3 is read.
    expect((await store.scrub(5, 1, 3, Infinity)).corrupt).toBeNull();

    await store.discardFrom(5, 4);
    let log = store.openGroup(5, null);
    expect(log.lastIndex()).toBe(3);
    expect(log.initialState()).toEqual({
      hardState: { term: 1, vote: 2, commit: 3 },
      confState: voters,
      repairIndex: 6,
    });
    expect(store.latestOffset(5)).toBe(6);
    store = await t.reopen();
    log = store.openGroup(5, null);
    expect(log.initialState()).toEqual({
      hardState: { term: 1, vote: 2, commit: 3 },
      confState: voters,
      repairIndex: 6,
    });
    expect((await verifyStore(store)).ok).toBe(true);

    // Re-replicated up to index 5: still repairing. At 6: repaired, and that is durable.
    await store.persist([write(5, batches(4, 5, 1))], true);
    expect(log.initialState().repairIndex).toBe(6);
    await store.persist([write(5, batches(6, 6, 1), { term: 1, vote: 2, commit: 6 })], true);
    expect(log.initialState()).toEqual({ hardState: { term: 1, vote: 2, commit: 6 }, confState: voters });
    store = await t.reopen();
    expect(store.openGroup(5, null).initialState()).toEqual({
      hardState: { term: 1, vote: 2, commit: 6 },
      confState: voters,
    });
    expect((await store.readBatches(5, 0, Infinity, 6)).map((b) => b.raftIndex)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await store.scrub(5, 1, 6, Infinity)).corrupt).toBeNull();
  });

  it('creates a joining group with repairIndex 1 (no votes until it holds an entry), kept across a reopen', async () => {
    const t = await temp();
    const log = t.store.openGroup(8, voters, { joining: true });
    expect(log.initialState()).toEqual({
      hardState: { term: 0, vote: 0, commit: 0 },
      confState: voters,
      repairIndex: 1,
    });
    await t.store.persist([], true);
    let store = await t.reopen();
    expect(store.openGroup(8, null).initialState().repairIndex).toBe(1);
    await store.persist([write(8, batches(1, 1, 2), { term: 2, vote: 1, commit: 0 })], true);
    store = await t.reopen();
    expect(store.openGroup(8, null).initialState()).toEqual({
      hardState: { term: 2, vote: 1, commit: 0 },
      confState: voters,
    });
    // An existing group ignores the option.
    expect(store.openGroup(8, null, { joining: true }).initialState().repairIndex).toBeUndefined();
  });

  it('deletes a group and lets the id be created again from scratch', async () => {
    const t = await temp();
    t.store.openGroup(11, voters);
    t.store.openGroup(12, voters);
    await t.store.persist([write(11, batches(1, 3, 1)), write(12, batches(1, 3, 1))], true);
    await t.store.deleteGroup(11);
    expect(t.store.groupIds()).toEqual([12]);
    const fresh = t.store.openGroup(11, null);
    expect(fresh.lastIndex()).toBe(0);
    await t.store.persist([], true);
    const store = await t.reopen();
    expect([...store.groupIds()].sort()).toEqual([11, 12]);
    expect(store.openGroup(11, null).lastIndex()).toBe(0);
    expect(store.openGroup(12, null).lastIndex()).toBe(3);
    expect((await verifyStore(store)).ok).toBe(true);

    // A deleteGroup interrupted after its first step (the meta key) leaves an orphan: reported,
    // harmless, and cleared when the id is created again.
    await store.persist([write(12, batches(4, 5, 1))], true);
    await store.close();
    const db = new ClassicLevel<Buffer, Buffer>(t.dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.del(makeKey(KeyKind.groupMeta, 12, 0));
    await db.close();
    const report = await verifyStore(t.dir);
    expect(report).toMatchObject({ ok: true, orphanGroups: [12], groups: 1 });
    const after = await t.reopen();
    expect(after.groupIds()).toEqual([11]);
    expect(after.openGroup(12, null).lastIndex()).toBe(0);
    await after.persist([], true);
    expect(after.openGroup(12, null).lastIndex()).toBe(0);
    expect(await verifyStore(after)).toMatchObject({ ok: true, orphanGroups: [], groups: 2, entries: 0 });
  });

  it('never lets a pending range delete of a deleted group touch the group re-created with its id', async () => {
    const t = await temp();
    t.store.openGroup(21, voters);
    await t.store.persist([write(21, batches(1, 200, 1))], true);
    // The compaction's range delete of [1, 150] runs in the background...
    await t.store.compact(21, { metadata: { index: 150, term: 1, confState: voters }, data: Buffer.alloc(0) });
    // ...while the group is deleted and re-created with fresh entries at the same indexes.
    await t.store.deleteGroup(21);
    t.store.openGroup(21, voters);
    await t.store.persist([write(21, batches(1, 5, 7))], true);
    const store = await t.reopen();
    const log = store.openGroup(21, null);
    expect([log.firstIndex(), log.lastIndex(), log.term(5)]).toEqual([1, 5, 7]);
    expect((await store.readBatches(21, 0, Infinity, 5)).map((b) => b.raftIndex)).toEqual([1, 2, 3, 4, 5]);
    expect((await verifyStore(store)).ok).toBe(true);
  });

  it('periodic policy: acknowledges without fsync and reports each timed sync', async () => {
    const t = await temp({ walSync: 'periodic', walSyncIntervalMs: 5 });
    t.store.openGroup(1, voters);
    const synced: number[] = [];
    t.store.onSync((count) => synced.push(count));
    await t.store.persist([write(1, batches(1, 1, 1))], true);
    await t.store.persist([write(1, batches(2, 2, 1))], true);
    await new Promise<void>((resolve) => {
      const poll = (): void => (synced.includes(2) ? resolve() : void setTimeout(poll, 2));
      poll();
    });
    expect(t.store.stats().syncCount).toBeGreaterThanOrEqual(1);
    await t.store.syncNow();
    expect(synced[synced.length - 1]).toBe(2);
  });

  it('none policy never syncs; always syncs only when asked to', async () => {
    const none = await temp({ walSync: 'none' });
    none.store.openGroup(1, voters);
    await none.store.persist([write(1, batches(1, 1, 1))], true);
    expect(none.store.stats().syncCount).toBe(0);
    const always = await temp();
    always.store.openGroup(1, voters);
    await always.store.persist([write(1, batches(1, 1, 1))], true);
    await always.store.persist([write(1, [], { term: 1, vote: 1, commit: 1 })], false);
    expect(always.store.stats()).toMatchObject({ persistCount: 2, syncCount: 1 });
    expect(always.store.openGroup(1, null).initialState().hardState).toEqual({ term: 1, vote: 1, commit: 1 });
  });

  it('counts the records after a raft index (how far a follower that matched it is behind)', async () => {
    const t = await temp();
    t.store.openGroup(1, voters);
    await t.store.persist([write(1, batches(1, 5, 1))], true);
    expect(t.store.recordsAfter(1, 5)).toBe(0);
    expect(t.store.recordsAfter(1, 3)).toBe(4);
    expect(t.store.recordsAfter(1, 0)).toBe(10);
  });

  it('times every sync for the metrics, and only syncs', async () => {
    const durations: number[] = [];
    const t = await temp({ onSyncMs: (ms) => durations.push(ms) });
    t.store.openGroup(1, voters);
    await t.store.persist([write(1, batches(1, 1, 1))], true);
    await t.store.persist([write(1, [], { term: 1, vote: 1, commit: 1 })], false);
    await t.store.syncNow();
    expect(durations).toHaveLength(2);
    expect(durations.every((ms) => ms >= 0)).toBe(true);
  });

  it('reports its footprint; the write buffer size decides when the memtable becomes a table file', async () => {
    const fill = async (t: TempStore): Promise<void> => {
      t.store.openGroup(1, voters);
      for (let index = 1; index <= 64; index += 8)
        await t.store.persist([write(1, batches(index, index + 7, 1, { valueBytes: 4096 }))], true);
    };
    const tables = async (dir: string): Promise<number> =>
      (await readdir(dir)).filter((name) => name.endsWith('.ldb')).length;
    const small = await temp({ writeBufferBytes: 64 * 1024 });
    await fill(small);
    const large = await temp();
    await fill(large);
    // The small one's memtable is written out in the background: wait for it, within a deadline.
    const deadlineMs = Date.now() + 10_000;
    while ((await tables(small.dir)) === 0 && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 20));
    expect(await tables(small.dir)).toBeGreaterThan(0);
    expect(await tables(large.dir)).toBe(0);
    const footprint = await large.store.footprint();
    expect(footprint.walBytes).toBeGreaterThan(64 * 2 * 4096);
    expect(footprint.diskBytes).toBeGreaterThanOrEqual(footprint.walBytes);
    expect(footprint.memtableBytes).toBeGreaterThan(64 * 2 * 4096);
  });

  it('refuses a data dir in use, a missing one and bad options with typed errors', async () => {
    const t = await temp();
    await expect(verifyStore(t.dir)).rejects.toBeInstanceOf(StoreLockedError);
    await expect(LevelRaftStore.open(t.dir)).rejects.toBeInstanceOf(StoreLockedError);
    await expect(verifyStore(`${t.dir}-missing`)).rejects.toBeInstanceOf(StoreNotFoundError);
    await expect(
      LevelRaftStore.open(`${t.dir}-x`, { walSync: 'periodic', walSyncIntervalMs: 0 }),
    ).rejects.toBeInstanceOf(InvalidStoreConfigError);
  });

  it('keeps conf change entries and their type', async () => {
    const t = await temp();
    const log = t.store.openGroup(1, voters);
    await t.store.persist(
      [write(1, [{ index: 1, term: 1, type: EntryType.confChange, data: Buffer.from([1, 2, 3]) }])],
      true,
    );
    const store = await t.reopen();
    const again = store.openGroup(1, null);
    await new Promise<void>((resolve) => {
      store.onEntriesLoaded(() => resolve());
      try {
        again.entries(1, 2, Infinity);
        resolve();
      } catch (e: unknown) {
        if (!(e instanceof EntriesPendingError)) throw e;
      }
    });
    expect(again.entries(1, 2, Infinity)[0]).toMatchObject({ index: 1, term: 1, type: EntryType.confChange });
    void log;
  });
});
