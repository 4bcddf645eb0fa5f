/**
 * The partition reader: committed record batches by offset, for fetches. Batches are served as
 * stored (never re-encoded): from the tail cache while the log still holds them in memory, else
 * from LevelDB, CRC-checked.
 */
import type { GroupId } from '@streambus/raft';
import type { BatchLocation } from '../codec.js';
import { CorruptBatchError, OffsetOutOfRangeError } from '../errors.js';
import type { GroupLog } from '../log/group-log.js';
import type { Db } from '../open-db.js';
import { checkedBatch, pickBatches, readEntryValues } from './stored-batch.js';

/** A committed record batch, as stored (never re-encoded). */
export interface StoredBatch {
  readonly raftIndex: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** The batch bytes: the entry's data as proposed. */
  readonly data: Uint8Array;
  /** True when served from the tail cache, false when read (and CRC-checked) from LevelDB. */
  readonly fromCache: boolean;
}

/**
 * Committed record batches from `fromOffset`: the batch holding it first, then the following
 * ones, up to `bytesMax` (at least one batch) and never past raft index `indexMaxInclusive`
 * (the commit index: the high watermark). From the tail cache when present, else LevelDB;
 * every batch read from LevelDB is CRC-checked: a corrupt one ends the read (the intact batches
 * before it are returned) and raises CorruptBatchError when it is the first.
 * Throws OffsetOutOfRangeError below the earliest offset or above the next one; returns [] at
 * the next offset.
 */
export async function readBatches(
  db: Db,
  log: GroupLog,
  fromOffset: number,
  bytesMax: number,
  indexMaxInclusive: number,
): Promise<StoredBatch[]> {
  checkOffsetInRange(log, fromOffset, indexMaxInclusive);
  const { picked } = pickBatches(log, log.offsets.findOffset(fromOffset), indexMaxInclusive, bytesMax);
  const { served, misses } = serveFromCache(log, picked);
  if (misses.length === 0) return served;
  return serveFromDisk(db, log.groupId, misses, served);
}

function checkOffsetInRange(log: GroupLog, fromOffset: number, indexMaxInclusive: number): void {
  const earliest = log.earliestOffset();
  const next = log.nextOffset(indexMaxInclusive);
  if (fromOffset < earliest || fromOffset > Math.max(next, earliest))
    throw new OffsetOutOfRangeError(log.groupId, fromOffset, earliest, next);
}

/** The picked batches the tail cache holds, up to the first it does not: from there on, disk. */
function serveFromCache(
  log: GroupLog,
  picked: readonly BatchLocation[],
): { served: StoredBatch[]; misses: BatchLocation[] } {
  const served: StoredBatch[] = [];
  const misses: BatchLocation[] = [];
  for (const loc of picked) {
    const cached = misses.length === 0 ? log.cachedEntry(loc.raftIndex) : undefined;
    if (cached !== undefined)
      served.push({
        raftIndex: loc.raftIndex,
        baseOffset: loc.baseOffset,
        lastOffset: loc.lastOffset,
        data: cached.data,
        fromCache: true,
      });
    else misses.push(loc);
  }
  return { served, misses };
}

/** Appends `misses` read from LevelDB to `served`, stopping at a batch gone or corrupt. */
async function serveFromDisk(
  db: Db,
  groupId: GroupId,
  misses: readonly BatchLocation[],
  served: StoredBatch[],
): Promise<StoredBatch[]> {
  const values = await readEntryValues(db, groupId, misses);
  for (let i = 0; i < misses.length; i++) {
    const loc = misses[i] as BatchLocation;
    const value = values[i];
    if (value === undefined) break; // compacted meanwhile: serve what precedes it
    let data: Uint8Array;
    try {
      data = checkedBatch(groupId, loc, value);
    } catch (error) {
      // Serve the intact batches before a corrupt one; the next read starting at it fails.
      if (error instanceof CorruptBatchError && served.length > 0) break;
      throw error;
    }
    served.push({
      raftIndex: loc.raftIndex,
      baseOffset: loc.baseOffset,
      lastOffset: loc.lastOffset,
      data,
      fromCache: false,
    });
  }
  return served;
}
