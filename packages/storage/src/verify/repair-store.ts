/**
 * `repairStore`: rebuilds what the store derives from its entries — the term runs and the
 * offset index — for every group of a closed data dir, and clears leftovers (entries below a
 * snapshot, keys of groups whose deletion a crash interrupted). It never changes an entry:
 * what it cannot fix (a corrupt batch, a missing entry, a term going backwards) it reports, for
 * the operator to re-replicate this broker's copy from its peers.
 */
import { EntryType } from '@streambus/raft';
import type { GroupId } from '@streambus/raft';
import { isRecordBatch, readBatchHeader, RecordBatchError } from '@streambus/proto';
import { decodeEntryValue, decodeSnapshotMeta, encodeBatchLocation, encodeTerm } from '../codec.js';
import type { BatchLocation } from '../codec.js';
import { progressEntriesEvery } from '../constants.js';
import { groupRangeEnd, indexRange, KeyKind, keyGroup, keyIndex, kindRange, makeKey } from '../keys.js';
import { openDb } from '../open-db.js';
import type { Db } from '../open-db.js';
import type { VerifyProblem, VerifyProgress } from './verify-store.js';
import { groupKeyKinds, groupsWithKeys, verifyStore } from './verify-store.js';

export interface RepairOptions {
  readonly onProgress?: (progress: VerifyProgress) => void;
}

export interface RepairReport {
  readonly groups: number;
  /** Groups whose term runs and offset index were rewritten. */
  readonly groupsRebuilt: number;
  readonly orphanGroupsCleared: number;
  /** Problems left after the repair (from a verification run afterwards): they need re-replication. */
  readonly remaining: readonly VerifyProblem[];
  readonly remainingCount: number;
}

/** Operations written per LevelDB batch while rebuilding. */
const repairOpsPerBatch = 10_000;

/** Repairs a closed data dir (see the module comment); then verifies it and reports what is left. */
export async function repairStore(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
  const db = await openDb(dir, false);
  let groupsRebuilt = 0;
  let orphans = 0;
  const ids: GroupId[] = [];
  try {
    for await (const key of db.keys(kindRange(KeyKind.groupMeta))) ids.push(keyGroup(key));
    const known = new Set(ids);
    for (let i = 0; i < ids.length; i++) {
      const g = ids[i] as GroupId;
      if (
        await rebuildGroup(db, g, (entriesChecked) =>
          options.onProgress?.({ groupsDone: i, groupsTotal: ids.length, entriesChecked }),
        )
      )
        groupsRebuilt++;
      options.onProgress?.({ groupsDone: i + 1, groupsTotal: ids.length, entriesChecked: 0 });
    }
    for (const g of await orphanGroups(db, known)) {
      for (const kind of groupKeyKinds) {
        await db.clear({ gte: makeKey(kind, g, 0), lte: groupRangeEnd(kind, g) });
      }
      orphans++;
    }
  } finally {
    await db.close();
  }
  const after = await verifyStore(dir);
  return {
    groups: ids.length,
    groupsRebuilt,
    orphanGroupsCleared: orphans,
    remaining: after.problems,
    remainingCount: after.problemCount,
  };
}

async function orphanGroups(db: Db, known: ReadonlySet<GroupId>): Promise<GroupId[]> {
  const found = new Set<GroupId>();
  for (const kind of groupKeyKinds) for (const g of await groupsWithKeys(db, kind)) if (!known.has(g)) found.add(g);
  return [...found];
}

/**
 * Rewrites one group's term runs and offset index from its entries. Returns false (touching
 * nothing) when the entries themselves are broken in a way only re-replication fixes.
 */
async function rebuildGroup(db: Db, g: GroupId, progress: (entriesChecked: number) => void): Promise<boolean> {
  const snapValue = await db.get(makeKey(KeyKind.snapshotMeta, g, 0));
  const snap = snapValue === undefined ? null : decodeSnapshotMeta(snapValue);
  if (snap === null) return false;
  const firstIndex = snap.index + 1;
  // Pass 1: check that the entries can carry runs (contiguous, decodable, terms not decreasing).
  const runs: [number, number][] = [];
  let expected = firstIndex;
  let prevTerm = snap.term;
  let entries = 0;
  for await (const [key, value] of db.iterator(indexRange(KeyKind.entry, g, firstIndex, Infinity))) {
    const index = keyIndex(key);
    const entry = decodeEntryValue(index, value);
    if (index !== expected || entry === null || entry.term < prevTerm) return false;
    if (index === firstIndex || entry.term !== prevTerm) runs.push([index, entry.term]);
    prevTerm = entry.term;
    expected = index + 1;
    if (++entries % progressEntriesEvery === 0) progress(entries);
  }
  // Pass 2: rewrite. Stale keys below the snapshot go too.
  for (const kind of [KeyKind.termRun, KeyKind.offsetIndex] as const) {
    await db.clear({ gte: makeKey(kind, g, 0), lte: groupRangeEnd(kind, g) });
  }
  await db.clear(indexRange(KeyKind.entry, g, 0, firstIndex));
  let batch = db.batch();
  for (const [index, term] of runs) batch.put(makeKey(KeyKind.termRun, g, index), encodeTerm(term));
  let last: BatchLocation | null = null;
  for await (const [key, value] of db.iterator(indexRange(KeyKind.entry, g, firstIndex, Infinity))) {
    const index = keyIndex(key);
    const entry = decodeEntryValue(index, value);
    if (entry === null || entry.type !== EntryType.normal || !isRecordBatch(entry.data)) continue;
    let loc: BatchLocation;
    try {
      // Indexed even when its CRC fails, so that a fetch reaching it gets a CorruptBatchError
      // instead of silently skipping its offsets.
      const h = readBatchHeader(entry.data);
      loc = {
        raftIndex: index,
        baseOffset: h.baseOffset,
        lastOffset: h.lastOffset,
        maxTimestamp: h.maxTimestamp,
        bytes: h.sizeBytes,
      };
    } catch (error: unknown) {
      if (error instanceof RecordBatchError) continue;
      throw error;
    }
    if (last !== null && loc.baseOffset <= last.lastOffset) continue;
    batch.put(makeKey(KeyKind.offsetIndex, g, index), encodeBatchLocation(loc));
    last = loc;
    if (batch.length >= repairOpsPerBatch) {
      await batch.write({ sync: true });
      batch = db.batch();
    }
  }
  await batch.write({ sync: true });
  return true;
}
