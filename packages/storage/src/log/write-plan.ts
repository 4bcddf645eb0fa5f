/**
 * The write path's planners: pure functions from a group's log as it is in memory and what is to
 * be written to the puts and deletes of the LevelDB write batch (in batch order), and the changes
 * to make to the log in memory once that batch is on disk. They read the log and never change it
 * nor touch the database: `LevelRaftStore` adds the writes of every group to its one batch, writes
 * it, then applies the plans. Keys are those of keys.ts, values those of codec.ts.
 */
import { assert, EntryType } from '@streambus/raft';
import type { Entry, GroupId, GroupWrite, HardState, Snapshot } from '@streambus/raft';
import { isRecordBatch, readBatchHeader, RecordBatchError } from '@streambus/proto';
import { encodeBatchLocation, encodeGroupMeta, encodeHardState, encodeSnapshotMeta, encodeTerm } from '../codec.js';
import type { BatchLocation } from '../codec.js';
import { KeyKind, makeKey } from '../keys.js';
import type { GroupLog } from './group-log.js';
import type { TermRun } from './term-runs.js';

/** One put or delete of a write batch. */
export type KeyWrite =
  | { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer }
  | { readonly type: 'del'; readonly key: Buffer };

/** What the planners read of a group's log. */
export type PlannedLog = Pick<
  GroupLog,
  'groupId' | 'hard' | 'snap' | 'last' | 'runs' | 'offsets' | 'offsetFloor' | 'repairIndex' | 'term'
>;

/** Where a snapshot's records end, decoded by the application (LevelRaftStoreOptions.snapshotNextOffset). */
export type SnapshotNextOffset = (groupId: GroupId, data: Uint8Array) => number | null;

/** A leader's snapshot replacing the whole log, entries above its index included. */
export interface SnapshotInstallPlan {
  readonly writes: readonly KeyWrite[];
  readonly snapshot: Snapshot;
  /** The group's offset floor once the snapshot is installed. */
  readonly offsetFloor: number;
  /** Keys of the group below this index are garbage once the install is written: range-deleted afterwards. */
  readonly clearBelowIndex: number;
}

/** A conflicting suffix dropped: entries from `fromIndex` on, with their offsets and term runs. */
export interface TruncationPlan {
  readonly writes: readonly KeyWrite[];
  readonly fromIndex: number;
  /** Offset index positions [0, batchesKept) stay. */
  readonly batchesKept: number;
}

/** Entries appended, with the term runs they start and the record batches the offset index takes. */
export interface AppendPlan {
  /** Term runs and offset index puts; the entries' own values are put by the store, last. */
  readonly writes: readonly KeyWrite[];
  readonly entries: readonly Entry[];
  readonly runs: readonly TermRun[];
  readonly batches: readonly BatchLocation[];
  /** Record batches whose offsets do not follow the previous ones: stored, but not indexed. */
  readonly unindexed: readonly BatchLocation[];
}

/** The group meta rewritten with the offset floor and repair index it holds from now on. */
export interface GroupMetaPlan {
  readonly writes: readonly KeyWrite[];
  readonly repairIndex: number;
}

export interface HardStatePlan {
  readonly writes: readonly KeyWrite[];
  readonly hardState: HardState;
}

/** One group's part of a `persist`; a part is null when the write does not touch it. */
export interface GroupWritePlan {
  readonly groupId: GroupId;
  readonly install: SnapshotInstallPlan | null;
  readonly truncation: TruncationPlan | null;
  readonly append: AppendPlan | null;
  readonly meta: GroupMetaPlan | null;
  readonly hardState: HardStatePlan | null;
}

/** The discard of a corrupt suffix for repair (see `LevelRaftStore.discardFrom`). */
export interface DiscardPlan {
  readonly writes: readonly KeyWrite[];
  readonly hardState: HardState;
  readonly repairIndex: number;
}

/** The log that a write's entries go on top of: the current one, or the snapshot the write installs. */
export interface LogBase {
  readonly snapIndex: number;
  readonly snapTerm: number;
  readonly last: number;
  /** Offset index positions [0, batchesKept) are kept. */
  readonly batchesKept: number;
  /** Term runs kept (a truncation drops those from its index on). */
  readonly runs: readonly TermRun[];
}

// ------------------------------------------------------------------ persist

/** Plans one group's write of a `persist`: snapshot install, then truncation and append, then metadata. */
export function planGroupWrite(
  log: PlannedLog,
  write: GroupWrite,
  snapshotNextOffset: SnapshotNextOffset | undefined,
): GroupWritePlan {
  const snapshot = write.snapshot;
  const install =
    snapshot === null
      ? null
      : planSnapshotInstall(log, snapshot, snapshotNextOffset?.(log.groupId, snapshot.data) ?? null);
  const base = snapshot === null ? currentBase(log) : installedBase(snapshot);
  const entries = write.entries;
  const first = entries[0];
  if (first !== undefined) checkAppendAt(base, first.index);
  const truncation = first === undefined ? null : planTruncation(log, base, first.index);
  const append =
    first === undefined ? null : planAppend(log, base, truncation?.batchesKept ?? base.batchesKept, entries);
  const lastAfter = first === undefined ? base.last : first.index + entries.length - 1;
  const meta = planGroupMeta(log, install?.offsetFloor ?? null, lastAfter);
  const hardState = write.hardState === null ? null : planHardState(log.groupId, write.hardState);
  return { groupId: log.groupId, install, truncation, append, meta, hardState };
}

/** The plan's puts and deletes in batch order (the entries' values not among them). */
export function writesOf(plan: GroupWritePlan): KeyWrite[] {
  const writes: KeyWrite[] = [];
  for (const part of [plan.install, plan.truncation, plan.append, plan.meta, plan.hardState]) {
    // One by one, not push(...): a long truncated suffix would exceed the call's argument limit.
    if (part !== null) for (const write of part.writes) writes.push(write);
  }
  return writes;
}

/**
 * The snapshot's metadata and data, deletes of every entry and offset index entry above its index,
 * and of every term run: the whole log is replaced. Keys at or below its index are garbage once
 * the snapshot is written and are range-deleted afterwards (`clearBelowIndex`), outside the batch.
 */
export function planSnapshotInstall(
  log: PlannedLog,
  snapshot: Snapshot,
  nextOffset: number | null,
): SnapshotInstallPlan {
  const index = snapshot.metadata.index;
  assert(index >= log.snap.metadata.index, 'an installed snapshot does not go backwards');
  const g = log.groupId;
  const writes = [
    put(KeyKind.snapshotMeta, g, 0, encodeSnapshotMeta(snapshot.metadata)),
    put(KeyKind.snapshotData, g, 0, bufferView(snapshot.data)),
    ...entryDeletes(g, index + 1, log.last),
    ...batchDeletes(log, log.offsets.findRaftIndex(index + 1), log.offsets.count),
    ...runDeletes(g, log.runs.runs, 0),
  ];
  const offsetFloor = Math.max(offsetFloorAfterDrop(log, index), nextOffset ?? 0);
  return { writes, snapshot, offsetFloor, clearBelowIndex: index + 1 };
}

/** Entries from `fromIndex` replace the log's from there on: the suffix's keys go. Null when nothing follows. */
export function planTruncation(log: PlannedLog, base: LogBase, fromIndex: number): TruncationPlan | null {
  if (fromIndex > base.last) return null;
  const pos = log.offsets.findRaftIndex(fromIndex);
  const writes = [
    ...entryDeletes(log.groupId, fromIndex, base.last),
    ...batchDeletes(log, pos, base.batchesKept),
    ...runDeletes(log.groupId, base.runs, fromIndex),
  ];
  return { writes, fromIndex, batchesKept: Math.min(base.batchesKept, pos) };
}

/** Entries appended after the kept log: the term runs they start and their offset index entries. */
export function planAppend(log: PlannedLog, base: LogBase, batchesKept: number, entries: readonly Entry[]): AppendPlan {
  const first = entries[0] as Entry;
  checkContiguous(entries);
  const prevTerm = first.index - 1 === base.snapIndex ? base.snapTerm : log.runs.termAt(first.index - 1);
  const runs = planTermRuns(entries, prevTerm, first.index === base.snapIndex + 1);
  const lastBatch = batchesKept > 0 ? log.offsets.at(batchesKept - 1) : null;
  const { indexed, unindexed } = planBatchIndex(entries, lastBatch);
  return { writes: appendWrites(log.groupId, runs, indexed), entries, runs, batches: indexed, unindexed };
}

/**
 * The term runs `entries` start after a log ending in `prevTerm`: one where the term changes, and
 * one at the first entry when `firstStartsRun` (it follows the snapshot: no run covers it yet).
 */
export function planTermRuns(entries: readonly Entry[], prevTerm: number, firstStartsRun: boolean): TermRun[] {
  const runs: TermRun[] = [];
  let term = prevTerm;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry;
    if (entry.term === term && !(i === 0 && firstStartsRun)) continue;
    assert(entry.term >= term, 'terms never decrease along the log');
    runs.push({ startIndex: entry.index, term: entry.term });
    term = entry.term;
  }
  return runs;
}

/**
 * The record batches of `entries` the offset index takes after `lastBatch`: those whose offsets
 * follow the previous batch's. One that overlaps them is stored but not indexed (it is never
 * served by offset; the caller warns).
 */
export function planBatchIndex(
  entries: readonly Entry[],
  lastBatch: BatchLocation | null,
): { indexed: BatchLocation[]; unindexed: BatchLocation[] } {
  const indexed: BatchLocation[] = [];
  const unindexed: BatchLocation[] = [];
  let last = lastBatch;
  for (const entry of entries) {
    const loc = batchLocation(entry);
    if (loc === null) continue;
    if (last !== null && loc.baseOffset <= last.lastOffset) {
      unindexed.push(loc);
      continue;
    }
    indexed.push(loc);
    last = loc;
  }
  return { indexed, unindexed };
}

/** Term run and offset index puts in index order (a run before the batch at the same index), so that the write batch reads in log order. */
export function appendWrites(
  groupId: GroupId,
  runs: readonly TermRun[],
  batches: readonly BatchLocation[],
): KeyWrite[] {
  const writes: KeyWrite[] = [];
  let r = 0;
  let b = 0;
  while (r < runs.length || b < batches.length) {
    const run = runs[r];
    const loc = batches[b];
    if (run !== undefined && (loc === undefined || run.startIndex <= loc.raftIndex)) {
      writes.push(put(KeyKind.termRun, groupId, run.startIndex, encodeTerm(run.term)));
      r++;
    } else {
      const next = loc as BatchLocation;
      writes.push(put(KeyKind.offsetIndex, groupId, next.raftIndex, encodeBatchLocation(next)));
      b++;
    }
  }
  return writes;
}

/**
 * The group meta, rewritten when a snapshot install moved the offset floor (`offsetFloor`) or
 * the log has grown back to its repair index (`lastAfter`: its last index once written), which
 * then clears. Null when neither happened.
 */
export function planGroupMeta(log: PlannedLog, offsetFloor: number | null, lastAfter: number): GroupMetaPlan | null {
  const repaired = log.repairIndex !== 0 && lastAfter >= log.repairIndex;
  if (offsetFloor === null && !repaired) return null;
  const repairIndex = repaired ? 0 : log.repairIndex;
  const value = encodeGroupMeta({ offsetFloor: offsetFloor ?? log.offsetFloor, repairIndex });
  return { writes: [put(KeyKind.groupMeta, log.groupId, 0, value)], repairIndex };
}

export function planHardState(groupId: GroupId, hardState: HardState): HardStatePlan {
  return { writes: [put(KeyKind.hardState, groupId, 0, encodeHardState(hardState))], hardState };
}

/** The keys of a group created by `openGroup`, written by the first persist after it. */
export function planCreate(log: PlannedLog): KeyWrite[] {
  const g = log.groupId;
  return [
    put(KeyKind.groupMeta, g, 0, encodeGroupMeta({ offsetFloor: 0, repairIndex: log.repairIndex })),
    put(KeyKind.snapshotMeta, g, 0, encodeSnapshotMeta(log.snap.metadata)),
    put(KeyKind.snapshotData, g, 0, Buffer.from(log.snap.data)),
    put(KeyKind.hardState, g, 0, encodeHardState(log.hard)),
  ];
}

// ------------------------------------------------------------------ compaction and repair

/**
 * Compaction to `snapshot` (within the log): its metadata and data, the term run covering the
 * index after it made to start there, and the offset floor past the batches it covers. The keys
 * below are range-deleted afterwards, outside the batch.
 */
export function planCompaction(log: PlannedLog, snapshot: Snapshot): KeyWrite[] {
  const index = snapshot.metadata.index;
  assert(index <= log.last, 'compaction within the log');
  assert(log.term(index) === snapshot.metadata.term, 'compaction snapshot term matches the log');
  const g = log.groupId;
  const writes = [
    put(KeyKind.snapshotMeta, g, 0, encodeSnapshotMeta(snapshot.metadata)),
    put(KeyKind.snapshotData, g, 0, bufferView(snapshot.data)),
  ];
  // The run covering index + 1 must start there once the runs below are gone.
  if (index < log.last) writes.push(put(KeyKind.termRun, g, index + 1, encodeTerm(log.term(index + 1))));
  writes.push(
    put(
      KeyKind.groupMeta,
      g,
      0,
      encodeGroupMeta({ offsetFloor: offsetFloorAfterDrop(log, index), repairIndex: log.repairIndex }),
    ),
  );
  return writes;
}

/**
 * Drops entries [fromIndex, last] with their offsets and term runs, lowers the commit index below
 * them (term and vote stay) and records the old last index as the repair index. Key by key, so
 * that the whole repair is one atomic write.
 */
export function planDiscard(log: PlannedLog, fromIndex: number): DiscardPlan {
  assert(fromIndex > log.snap.metadata.index, 'the dropped suffix lies above the snapshot');
  const truncation = planTruncation(log, currentBase(log), fromIndex);
  assert(truncation !== null, 'the dropped suffix lies within the log');
  const hardState: HardState = { ...log.hard, commit: Math.min(log.hard.commit, fromIndex - 1) };
  const repairIndex = Math.max(log.repairIndex, log.last);
  const writes = [
    ...truncation.writes,
    put(KeyKind.hardState, log.groupId, 0, encodeHardState(hardState)),
    put(KeyKind.groupMeta, log.groupId, 0, encodeGroupMeta({ offsetFloor: log.offsetFloor, repairIndex })),
  ];
  return { writes, hardState, repairIndex };
}

// ------------------------------------------------------------------ leaves

/** The offset index entry of a record batch entry, or null for other payloads. */
export function batchLocation(entry: Entry): BatchLocation | null {
  if (entry.type !== EntryType.normal || !isRecordBatch(entry.data)) return null;
  try {
    const h = readBatchHeader(entry.data);
    return {
      raftIndex: entry.index,
      baseOffset: h.baseOffset,
      lastOffset: h.lastOffset,
      maxTimestamp: h.maxTimestamp,
      bytes: h.sizeBytes,
    };
  } catch (error: unknown) {
    if (error instanceof RecordBatchError) return null;
    throw error;
  }
}

/** The offset after the batches at or below raft index `index`, which a compaction or install to it drops. */
export function offsetFloorAfterDrop(log: PlannedLog, index: number): number {
  const dropPos = log.offsets.findRaftIndex(index + 1);
  if (dropPos === 0) return log.offsetFloor;
  return Math.max(log.offsetFloor, log.offsets.lastOffsetAt(dropPos - 1) + 1);
}

export function currentBase(log: PlannedLog): LogBase {
  const { index, term } = log.snap.metadata;
  return { snapIndex: index, snapTerm: term, last: log.last, batchesKept: log.offsets.count, runs: log.runs.runs };
}

export function installedBase(snapshot: Snapshot): LogBase {
  const { index, term } = snapshot.metadata;
  return { snapIndex: index, snapTerm: term, last: index, batchesKept: 0, runs: [] };
}

function checkAppendAt(base: LogBase, firstIndex: number): void {
  assert(firstIndex > base.snapIndex, 'entries are appended above the snapshot');
  assert(firstIndex <= base.last + 1, 'entries leave no gap in the log');
}

function checkContiguous(entries: readonly Entry[]): void {
  const firstIndex = (entries[0] as Entry).index;
  for (let i = 1; i < entries.length; i++)
    assert((entries[i] as Entry).index === firstIndex + i, 'entries are contiguous');
}

function entryDeletes(groupId: GroupId, fromIndex: number, toIndexInclusive: number): KeyWrite[] {
  const writes: KeyWrite[] = [];
  for (let index = fromIndex; index <= toIndexInclusive; index++) writes.push(del(KeyKind.entry, groupId, index));
  return writes;
}

/** Deletes of the offset index entries at positions [fromPos, toPos). */
function batchDeletes(log: PlannedLog, fromPos: number, toPos: number): KeyWrite[] {
  const writes: KeyWrite[] = [];
  for (let i = fromPos; i < toPos; i++) writes.push(del(KeyKind.offsetIndex, log.groupId, log.offsets.raftIndexAt(i)));
  return writes;
}

/** Deletes of the runs starting at or after `fromIndex`. */
function runDeletes(groupId: GroupId, runs: readonly TermRun[], fromIndex: number): KeyWrite[] {
  return runs.filter((run) => run.startIndex >= fromIndex).map((run) => del(KeyKind.termRun, groupId, run.startIndex));
}

function put(kind: KeyKind, groupId: GroupId, index: number, value: Buffer): KeyWrite {
  return { type: 'put', key: makeKey(kind, groupId, index), value };
}

function del(kind: KeyKind, groupId: GroupId, index: number): KeyWrite {
  return { type: 'del', key: makeKey(kind, groupId, index) };
}

/** The bytes of `data` as a Buffer, without copying them. */
function bufferView(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
