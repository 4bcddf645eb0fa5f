/** Retention's plan on logs built in memory: which prefix is due, where the cut goes, what the snapshot says. No database. */
import { describe, expect, it } from 'vitest';
import type { ConfState, Entry } from '@streambus/raft';
import { batchEntry, plainEntry } from '../testing/index.js';
import { groupLogOf, testVoters } from '../testing/group-log.js';
import { batchesDue, planRetention } from './retention.js';

/** Batches 1..10 of term 1, batch i holding offsets [2(i - 1), 2(i - 1) + 1] written at i seconds. */
function tenBatches(): Entry[] {
  return Array.from({ length: 10 }, (_, i) =>
    batchEntry({ index: i + 1, term: 1, baseOffset: 2 * i, timestampMs: (i + 1) * 1000 }),
  );
}

const state = Buffer.from('partition state');
const batchBytes = tenBatches()[0]!.data.byteLength;

describe('planRetention', () => {
  it('cuts by bytes just below the first batch kept, with the partition state as the snapshot', () => {
    const log = groupLogOf(tenBatches());
    const cut = planRetention(log, { bytesMax: 7 * batchBytes, now: 0, appliedIndex: 10 }, state);
    expect(cut).toMatchObject({ batchesDeleted: 3, bytesDeleted: 3 * batchBytes });
    expect(cut?.snapshot).toEqual({ metadata: { index: 3, term: 1, confState: testVoters }, data: state });
  });

  it('cuts by age, never above the applied index', () => {
    const log = groupLogOf(tenBatches());
    // Batches 1..7 hold only records older than 8 s; the applied index allows 5 of them.
    const cut = planRetention(log, { ageMsMax: 2_000, now: 10_000, appliedIndex: 5 }, state);
    expect(cut).toMatchObject({ batchesDeleted: 5, snapshot: { metadata: { index: 5 } } });
  });

  it('takes whichever of age and bytes deletes more', () => {
    const log = groupLogOf(tenBatches());
    const cut = planRetention(log, { ageMsMax: 5_000, bytesMax: 8 * batchBytes, now: 10_000, appliedIndex: 10 }, state);
    expect(cut).toMatchObject({ batchesDeleted: 4, snapshot: { metadata: { index: 4 } } });
  });

  it('cuts below an offset: every batch whose records all lie below it goes, the one holding it stays', () => {
    const log = groupLogOf(tenBatches());
    // Batch i (1-based) holds offsets 2(i - 1) and 2(i - 1) + 1: offset 7 is in batch 4.
    const cut = planRetention(log, { offsetBelow: 7, now: 0, appliedIndex: 10 }, state);
    expect(cut).toMatchObject({ batchesDeleted: 3, bytesDeleted: 3 * batchBytes });
    expect(cut?.snapshot.metadata.index).toBe(3);
    expect(planRetention(log, { offsetBelow: 6, now: 0, appliedIndex: 10 }, state)?.batchesDeleted).toBe(3);
    expect(planRetention(log, { offsetBelow: 0, now: 0, appliedIndex: 10 }, state)).toBeNull();
    expect(planRetention(log, { offsetBelow: 1, now: 0, appliedIndex: 10 }, state)).toBeNull();
    // Never above the applied index, whatever the offset asks.
    expect(planRetention(log, { offsetBelow: 100, now: 0, appliedIndex: 4 }, state)?.batchesDeleted).toBe(4);
  });

  it('is null when nothing is due', () => {
    const log = groupLogOf(tenBatches());
    expect(planRetention(log, { ageMsMax: 100_000, now: 10_000, appliedIndex: 10 }, state)).toBeNull();
    expect(planRetention(log, { bytesMax: 10 * batchBytes, now: 0, appliedIndex: 10 }, state)).toBeNull();
    expect(planRetention(log, { now: 0, appliedIndex: 10 }, state)).toBeNull();
    expect(planRetention(log, { bytesMax: 0, now: 0, appliedIndex: 0 }, state)).toBeNull();
  });

  it('cuts at the applied index when every batch goes (never past the log end)', () => {
    const log = groupLogOf(tenBatches());
    expect(planRetention(log, { bytesMax: 0, now: 0, appliedIndex: 10 }, state)?.snapshot.metadata.index).toBe(10);
    expect(planRetention(log, { bytesMax: 0, now: 0, appliedIndex: 99 }, state)?.snapshot.metadata.index).toBe(10);
  });

  it('keeps entries that are not batches with the batch after them: the cut is just below the first batch kept', () => {
    const entries = [
      ...tenBatches().slice(0, 3),
      plainEntry(4, 2),
      batchEntry({ index: 5, term: 2, baseOffset: 6 }),
      batchEntry({ index: 6, term: 2, baseOffset: 8 }),
    ];
    const cut = planRetention(groupLogOf(entries), { bytesMax: 2 * batchBytes, now: 0, appliedIndex: 6 }, state);
    expect(cut?.snapshot.metadata).toMatchObject({ index: 4, term: 2 });
    expect(cut?.batchesDeleted).toBe(3);
  });

  it('asks for the membership at the cut, and deletes nothing when it is not known', () => {
    const log = groupLogOf(tenBatches());
    const asked: number[] = [];
    const learner: ConfState = { ...testVoters, learners: [4] };
    const confStateAt = (index: number): ConfState => {
      asked.push(index);
      return learner;
    };
    const cut = planRetention(log, { bytesMax: 7 * batchBytes, now: 0, appliedIndex: 10, confStateAt }, state);
    expect(asked).toEqual([3]);
    expect(cut?.snapshot.metadata.confState).toBe(learner);
    expect(
      planRetention(log, { bytesMax: 7 * batchBytes, now: 0, appliedIndex: 10, confStateAt: () => undefined }, state),
    ).toBeNull();
  });
});

describe('batchesDue', () => {
  it('counts the oldest batches due by age (all records older) and by bytes (beyond the budget)', () => {
    const offsets = groupLogOf(tenBatches()).offsets;
    expect(batchesDue(offsets, { now: 0 })).toBe(0);
    expect(batchesDue(offsets, { ageMsMax: 0, now: 3_500 })).toBe(3);
    expect(batchesDue(offsets, { ageMsMax: 0, now: 1_000_000 })).toBe(10);
    expect(batchesDue(offsets, { bytesMax: 9 * batchBytes + 1, now: 0 })).toBe(1);
  });
});
