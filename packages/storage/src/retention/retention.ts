/**
 * Retention by age and bytes, planned over a partition's offset index in memory: which prefix of
 * whole batches is due, and the snapshot that replaces it. `LevelRaftStore.applyRetention` writes
 * that snapshot as a compaction; nothing here touches the database.
 */
import type { ConfState, Snapshot } from '@streambus/raft';
import type { GroupLog } from '../log/group-log.js';
import type { OffsetIndex } from '../log/offset-index.js';

export interface RetentionPolicy {
  /** Delete batches whose records are all older than now - ageMsMax. */
  readonly ageMsMax?: number;
  /** Delete the oldest batches while the partition holds more record-batch bytes than this. */
  readonly bytesMax?: number;
  /**
   * Delete every batch whose records all lie below this offset (a compacted topic's checkpoint:
   * the records from here on rebuild the partition's state alone).
   */
  readonly offsetBelow?: number;
  readonly now: number;
  /** The group's applied index: nothing above it is ever deleted. */
  readonly appliedIndex: number;
  /**
   * Membership as of any index up to `appliedIndex`, for the snapshot (default: the current
   * snapshot's): the snapshot is cut below the applied index, and conf changes between the two
   * must replay on top of it. When it answers undefined for the cut, nothing is deleted this time.
   */
  readonly confStateAt?: (index: number) => ConfState | undefined;
}

export interface RetentionResult {
  /** The snapshot index the log was compacted to, or null when nothing was due. */
  readonly snapshotIndex: number | null;
  readonly batchesDeleted: number;
  readonly bytesDeleted: number;
  readonly earliestOffset: number;
}

/** A retention cut: the snapshot to compact to and what it deletes. */
export interface RetentionCut {
  readonly snapshot: Snapshot;
  readonly batchesDeleted: number;
  readonly bytesDeleted: number;
}

/** What retention reads of a group's log. */
export type RetainedLog = Pick<GroupLog, 'last' | 'offsets' | 'snap' | 'term'>;

/**
 * The cut retention makes in `log` under `policy`, with `partitionState` as the snapshot's data,
 * or null when nothing is due (or the membership at the cut is unknown). The cut is the raft
 * index just below the first batch kept, or the applied index when every batch goes.
 */
export function planRetention(
  log: RetainedLog,
  policy: RetentionPolicy,
  partitionState: Uint8Array,
): RetentionCut | null {
  const applied = Math.min(policy.appliedIndex, log.last);
  const drop = batchesAtOrBelow(log.offsets, batchesDue(log.offsets, policy), applied);
  if (drop === 0) return null;
  const offsets = log.offsets;
  const cut = drop < offsets.count ? Math.min(applied, offsets.raftIndexAt(drop) - 1) : applied;
  const confState = policy.confStateAt === undefined ? log.snap.metadata.confState : policy.confStateAt(cut);
  if (confState === undefined) return null;
  const snapshot: Snapshot = { metadata: { index: cut, term: log.term(cut), confState }, data: partitionState };
  return { snapshot, batchesDeleted: drop, bytesDeleted: prefixBytes(offsets, drop) };
}

/** How many of the oldest batches the policy's age, bytes or offset make due (the largest count). */
export function batchesDue(
  offsets: OffsetIndex,
  policy: Pick<RetentionPolicy, 'ageMsMax' | 'bytesMax' | 'offsetBelow' | 'now'>,
): number {
  const byAge = policy.ageMsMax === undefined ? 0 : batchesOlderThan(offsets, policy.now - policy.ageMsMax);
  const byBytes = policy.bytesMax === undefined ? 0 : batchesBeyondBytes(offsets, policy.bytesMax);
  const byOffset = policy.offsetBelow === undefined ? 0 : offsets.findOffset(policy.offsetBelow);
  return Math.max(byAge, byBytes, byOffset);
}

/** The oldest batches whose records are all older than `cutoffMs`. */
function batchesOlderThan(offsets: OffsetIndex, cutoffMs: number): number {
  // The running max timestamp makes "every record up to here is older" a prefix test.
  return Math.min(offsets.findTimestamp(cutoffMs), offsets.count);
}

/** The oldest batches to drop so that at most `bytesMax` bytes of batches stay. */
function batchesBeyondBytes(offsets: OffsetIndex, bytesMax: number): number {
  let bytes = offsets.bytes;
  let n = 0;
  while (n < offsets.count && bytes > bytesMax) bytes -= offsets.bytesAt(n++);
  return n;
}

/** `drop` lowered until the last batch dropped is at or below raft index `indexMaxInclusive`. */
function batchesAtOrBelow(offsets: OffsetIndex, drop: number, indexMaxInclusive: number): number {
  let n = drop;
  while (n > 0 && offsets.raftIndexAt(n - 1) > indexMaxInclusive) n--;
  return n;
}

function prefixBytes(offsets: OffsetIndex, count: number): number {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += offsets.bytesAt(i);
  return bytes;
}
