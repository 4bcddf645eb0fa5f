/**
 * `verifyStore`: walks every entry of every group of a store (open, or a closed data dir) and
 * checks every record batch (its CRC, and its records as a partition leader validates them before
 * appending: what a consumer must be able to decode), the continuity of raft indexes, terms and
 * offsets, and the agreement of the offset index and term runs with the entries. Problems are
 * reported precisely (group, raft index, offset, what); nothing is modified.
 * `streambus wal verify DIR` calls it.
 */
import { EntryType } from '@streambus/raft';
import type { GroupId } from '@streambus/raft';
import { isRecordBatch, readBatchHeader, RecordBatchError, validateRecordBatch } from '@streambus/proto';
import type { RecordBatchErrorCode, RecordBatchHeader } from '@streambus/proto';
import {
  decodeBatchLocation,
  decodeEntryValue,
  decodeGroupMeta,
  decodeHardState,
  decodeSnapshotMeta,
  decodeTerm,
} from '../codec.js';
import type { BatchLocation } from '../codec.js';
import { groupIdMax, progressEntriesEvery, verifyProblemsMax } from '../constants.js';
import { groupRangeEnd, indexRange, KeyKind, keyGroup, keyIndex, kindRange, makeKey } from '../keys.js';
import type { LevelRaftStore } from '../log/level-raft-store.js';
import { openDb } from '../open-db.js';
import type { Db } from '../open-db.js';

export type VerifyProblemKind =
  | 'MISSING_METADATA'
  | 'CORRUPT_METADATA'
  | 'INDEX_GAP'
  | 'CORRUPT_ENTRY'
  | 'TERM_DECREASE'
  | 'TERM_RUN_MISMATCH'
  /** Damaged bytes: a bad CRC or frame. Another replica's copy is likely sound (re-replicate). */
  | 'BAD_BATCH'
  /**
   * The CRC holds but the header or records are malformed (a producer wrote them so, before
   * leaders validated every record): every replica holds the same bytes, and consumers fail on them.
   */
  | 'BAD_RECORDS'
  | 'OFFSET_GAP'
  | 'OFFSET_OVERLAP'
  | 'OFFSET_INDEX_MISSING'
  | 'OFFSET_INDEX_MISMATCH'
  | 'OFFSET_INDEX_DANGLING';

export interface VerifyProblem {
  readonly groupId: GroupId;
  /** The raft index concerned, or null for group-level problems. */
  readonly index: number | null;
  /** The record offset concerned (a batch's base offset), when known. */
  readonly offset: number | null;
  readonly kind: VerifyProblemKind;
  readonly message: string;
}

export interface VerifyProgress {
  readonly groupsDone: number;
  readonly groupsTotal: number;
  readonly entriesChecked: number;
}

export interface VerifyOptions {
  readonly onProgress?: (progress: VerifyProgress) => void;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly groups: number;
  readonly entries: number;
  readonly batches: number;
  readonly records: number;
  readonly batchBytes: number;
  /** Entries below a group's snapshot left by an interrupted compaction (harmless; cleared at open). */
  readonly staleEntries: number;
  /** Groups with keys but no group meta: left by a deleteGroup a crash interrupted (harmless; cleared when the id is created again). */
  readonly orphanGroups: readonly GroupId[];
  /** The first `verifyProblemsMax` problems, in walk order. */
  readonly problems: readonly VerifyProblem[];
  readonly problemCount: number;
}

class Walk {
  groups = 0;
  entries = 0;
  batches = 0;
  records = 0;
  batchBytes = 0;
  staleEntries = 0;
  problemCount = 0;
  readonly problems: VerifyProblem[] = [];

  problem(
    groupId: GroupId,
    index: number | null,
    offset: number | null,
    kind: VerifyProblemKind,
    message: string,
  ): void {
    this.problemCount++;
    if (this.problems.length < verifyProblemsMax) this.problems.push({ groupId, index, offset, kind, message });
  }
}

/** Every kind of key a group owns besides its meta key. */
export const groupKeyKinds = [
  KeyKind.entry,
  KeyKind.offsetIndex,
  KeyKind.termRun,
  KeyKind.hardState,
  KeyKind.snapshotMeta,
  KeyKind.snapshotData,
] as const;

/** Verifies a store: an open `LevelRaftStore`, or the path of a closed data directory. */
export async function verifyStore(target: string | LevelRaftStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const owned = typeof target === 'string';
  const db = owned ? await openDb(target, false) : target.db;
  try {
    const walk = new Walk();
    const ids: GroupId[] = [];
    for await (const key of db.keys(kindRange(KeyKind.groupMeta))) ids.push(keyGroup(key));
    for (const groupId of ids) {
      await verifyGroup(db, groupId, walk, (entriesChecked) =>
        options.onProgress?.({ groupsDone: walk.groups, groupsTotal: ids.length, entriesChecked }),
      );
      walk.groups++;
      options.onProgress?.({ groupsDone: walk.groups, groupsTotal: ids.length, entriesChecked: walk.entries });
    }
    const known = new Set(ids);
    const orphans = new Set<GroupId>();
    for (const kind of groupKeyKinds) {
      for (const g of await groupsWithKeys(db, kind)) if (!known.has(g)) orphans.add(g);
    }
    return {
      orphanGroups: [...orphans].sort((a, b) => a - b),
      ok: walk.problemCount === 0,
      groups: walk.groups,
      entries: walk.entries,
      batches: walk.batches,
      records: walk.records,
      batchBytes: walk.batchBytes,
      staleEntries: walk.staleEntries,
      problems: walk.problems,
      problemCount: walk.problemCount,
    };
  } finally {
    if (owned) await db.close();
  }
}

async function verifyGroup(db: Db, g: GroupId, walk: Walk, progress: (entriesChecked: number) => void): Promise<void> {
  const metaValue = await db.get(makeKey(KeyKind.groupMeta, g, 0));
  const hardValue = await db.get(makeKey(KeyKind.hardState, g, 0));
  const snapValue = await db.get(makeKey(KeyKind.snapshotMeta, g, 0));
  if (hardValue === undefined) walk.problem(g, null, null, 'MISSING_METADATA', 'hard state is missing');
  else if (decodeHardState(hardValue) === null)
    walk.problem(g, null, null, 'CORRUPT_METADATA', 'hard state does not decode');
  const meta = metaValue === undefined ? null : decodeGroupMeta(metaValue);
  if (meta === null) walk.problem(g, null, null, 'CORRUPT_METADATA', 'group meta does not decode');
  if (snapValue === undefined) {
    walk.problem(g, null, null, 'MISSING_METADATA', 'snapshot metadata is missing; entries not checked');
    return;
  }
  const snap = decodeSnapshotMeta(snapValue);
  if (snap === null) {
    walk.problem(g, null, null, 'CORRUPT_METADATA', 'snapshot metadata does not decode; entries not checked');
    return;
  }
  const firstIndex = snap.index + 1;
  const runs = new Map<number, number>();
  for await (const [key, value] of db.iterator(indexRange(KeyKind.termRun, g, firstIndex, Infinity))) {
    const term = decodeTerm(value);
    if (term === null) walk.problem(g, keyIndex(key), null, 'CORRUPT_METADATA', 'term run does not decode');
    else runs.set(keyIndex(key), term);
  }
  const locations = new Map<number, BatchLocation>();
  for await (const [key, value] of db.iterator(indexRange(KeyKind.offsetIndex, g, firstIndex, Infinity))) {
    const loc = decodeBatchLocation(keyIndex(key), value);
    if (loc === null) walk.problem(g, keyIndex(key), null, 'CORRUPT_METADATA', 'offset index entry does not decode');
    else locations.set(loc.raftIndex, loc);
  }

  let expectedIndex = firstIndex;
  let prevTerm = snap.term;
  // The first batch is not held to the group's offset floor: after a leader's snapshot is
  // installed, the offsets it covered are unknown here (they live in the partition state).
  let prevLastOffset: number | null = null;
  for await (const [key, value] of db.iterator(indexRange(KeyKind.entry, g, 0, Infinity))) {
    const index = keyIndex(key);
    if (index < firstIndex) {
      walk.staleEntries++;
      continue;
    }
    walk.entries++;
    if (walk.entries % progressEntriesEvery === 0) progress(walk.entries);
    if (index !== expectedIndex)
      walk.problem(
        g,
        index,
        null,
        'INDEX_GAP',
        `raft index ${index} follows ${expectedIndex - 1}: entries [${expectedIndex}, ${index}) are missing`,
      );
    expectedIndex = index + 1;
    const entry = decodeEntryValue(index, value);
    if (entry === null) {
      walk.problem(g, index, null, 'CORRUPT_ENTRY', `entry value of ${value.byteLength} bytes does not decode`);
      continue;
    }
    if (entry.term < prevTerm)
      walk.problem(g, index, null, 'TERM_DECREASE', `term ${entry.term} after term ${prevTerm}`);
    const runTerm = runs.get(index);
    const startsRun = index === firstIndex || entry.term !== prevTerm;
    if (startsRun && runTerm !== entry.term)
      walk.problem(
        g,
        index,
        null,
        'TERM_RUN_MISMATCH',
        `term ${entry.term} starts here but the term runs say ${runTerm ?? 'nothing'}`,
      );
    else if (!startsRun && runTerm !== undefined && runTerm !== entry.term)
      walk.problem(g, index, null, 'TERM_RUN_MISMATCH', `term run says ${runTerm}, entry has ${entry.term}`);
    prevTerm = Math.max(prevTerm, entry.term);
    const loc = locations.get(index);
    locations.delete(index);
    if (entry.type !== EntryType.normal || !isRecordBatch(entry.data)) {
      if (loc !== undefined)
        walk.problem(
          g,
          index,
          loc.baseOffset,
          'OFFSET_INDEX_DANGLING',
          'the offset index points at an entry that is not a record batch',
        );
      continue;
    }
    prevLastOffset = checkBatch(g, index, entry.data, loc, prevLastOffset, walk);
  }
  for (const loc of locations.values()) {
    walk.problem(
      g,
      loc.raftIndex,
      loc.baseOffset,
      'OFFSET_INDEX_DANGLING',
      'the offset index points at a missing entry',
    );
  }
}

/** Codes that validation throws only once the CRC held: the bytes are as their writer made them. */
const writtenMalformed: ReadonlySet<RecordBatchErrorCode> = new Set<RecordBatchErrorCode>([
  'CORRUPT_RECORD',
  'UNSUPPORTED_CODEC',
]);

/** Checks one stored batch; returns the last offset to continue from. */
function checkBatch(
  g: GroupId,
  index: number,
  data: Uint8Array,
  loc: BatchLocation | undefined,
  prevLastOffset: number | null,
  walk: Walk,
): number | null {
  walk.batches++;
  walk.batchBytes += data.byteLength;
  let offset: number | null = loc?.baseOffset ?? null;
  try {
    offset = readBatchHeader(data).baseOffset;
  } catch {
    // reported below with the verification error
  }
  let header: RecordBatchHeader;
  try {
    header = validateRecordBatch(data);
  } catch (error: unknown) {
    if (!(error instanceof RecordBatchError)) throw error;
    if (!writtenMalformed.has(error.code)) {
      walk.problem(g, index, offset, 'BAD_BATCH', `${error.code}: ${error.message}`);
      return loc?.lastOffset ?? prevLastOffset;
    }
    walk.problem(g, index, offset, 'BAD_RECORDS', `${error.code}: ${error.message}`);
    try {
      // The offsets still count when the header reads: a bad record does not hide a gap.
      header = readBatchHeader(data);
    } catch {
      return loc?.lastOffset ?? prevLastOffset;
    }
  }
  walk.records += header.recordCount;
  if (prevLastOffset !== null && header.baseOffset > prevLastOffset + 1) {
    walk.problem(
      g,
      index,
      header.baseOffset,
      'OFFSET_GAP',
      `offsets [${prevLastOffset + 1}, ${header.baseOffset}) are missing`,
    );
  } else if (prevLastOffset !== null && header.baseOffset <= prevLastOffset) {
    walk.problem(
      g,
      index,
      header.baseOffset,
      'OFFSET_OVERLAP',
      `base offset ${header.baseOffset} is not above the previous last offset ${prevLastOffset}`,
    );
  }
  if (loc === undefined)
    walk.problem(g, index, header.baseOffset, 'OFFSET_INDEX_MISSING', 'the offset index has no entry for this batch');
  else if (
    loc.baseOffset !== header.baseOffset ||
    loc.lastOffset !== header.lastOffset ||
    loc.bytes !== header.sizeBytes
  ) {
    walk.problem(
      g,
      index,
      header.baseOffset,
      'OFFSET_INDEX_MISMATCH',
      `index says [${loc.baseOffset}, ${loc.lastOffset}] ${loc.bytes} B, batch is [${header.baseOffset}, ${header.lastOffset}] ${header.sizeBytes} B`,
    );
  }
  return header.lastOffset;
}

/** The groups having keys of `kind`, found by seeking from group to group (one seek per group). */
export async function groupsWithKeys(db: Db, kind: KeyKind): Promise<GroupId[]> {
  const groups: GroupId[] = [];
  let from = makeKey(kind, 0, 0);
  const end = groupRangeEnd(kind, groupIdMax);
  for (;;) {
    let next: GroupId | null = null;
    for await (const key of db.keys({ gte: from, lte: end, limit: 1 })) next = keyGroup(key);
    if (next === null) return groups;
    groups.push(next);
    if (next === groupIdMax) return groups;
    from = makeKey(kind, next + 1, 0);
  }
}
