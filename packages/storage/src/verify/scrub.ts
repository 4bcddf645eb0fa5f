/**
 * Scrubbing: background verification of a live group's stored record batches. It reads them
 * from LevelDB itself, never the tail cache (the point is the bytes on disk), in bounded passes
 * the broker spreads over time, and checks every CRC. It stays CRC-only on purpose (unlike
 * `verifyStore`): a corrupt copy is repaired from the leader, which cannot fix a batch written
 * malformed.
 */
import type { BatchLocation } from '../codec.js';
import { CorruptBatchError } from '../errors.js';
import type { GroupLog } from '../log/group-log.js';
import type { Db } from '../open-db.js';
import { checkedBatch, pickBatches, readEntryValues } from '../read/stored-batch.js';

/** One pass of `LevelRaftStore.scrub`. */
export interface ScrubResult {
  /** The raft index the next pass starts at; 0 when this pass reached the end of the range. */
  readonly nextIndex: number;
  /** The first corrupt batch found in this pass, or null. */
  readonly corrupt: CorruptBatchError | null;
  /** Bytes read and checked. */
  readonly bytes: number;
}

/**
 * One pass over the stored batches of `log` from raft index `fromIndex` up to
 * `indexMaxInclusive` and about `bytesMax` bytes, checking every CRC. Returns where the next pass
 * continues (0 when it reached the end) and the first corrupt batch found, if any.
 */
export async function scrubBatches(
  db: Db,
  log: GroupLog,
  fromIndex: number,
  indexMaxInclusive: number,
  bytesMax: number,
): Promise<ScrubResult> {
  const { picked, bytes, pos } = pickBatches(log, log.offsets.findRaftIndex(fromIndex), indexMaxInclusive, bytesMax);
  const nextIndex = nextScrubIndex(log, picked, pos, indexMaxInclusive);
  if (picked.length === 0) return { nextIndex, corrupt: null, bytes: 0 };
  const values = await readEntryValues(db, log.groupId, picked);
  for (let i = 0; i < picked.length; i++) {
    const value = values[i];
    if (value === undefined) break; // compacted or truncated meanwhile
    try {
      checkedBatch(log.groupId, picked[i] as BatchLocation, value);
    } catch (error) {
      if (error instanceof CorruptBatchError) return { nextIndex, corrupt: error, bytes };
      throw error;
    }
  }
  return { nextIndex, corrupt: null, bytes };
}

/** Where the pass after one that picked `picked` and stopped at offset index position `pos` starts; 0 at the end. */
function nextScrubIndex(
  log: GroupLog,
  picked: readonly BatchLocation[],
  pos: number,
  indexMaxInclusive: number,
): number {
  const lastPicked = picked[picked.length - 1];
  const done = pos >= log.offsets.count || log.offsets.at(pos).raftIndex > indexMaxInclusive;
  return done || lastPicked === undefined ? 0 : lastPicked.raftIndex + 1;
}
