/**
 * Stored record batches as the offset index knows them, read back from LevelDB and checked: what
 * the partition reader (`readBatches`) and the scrubber share. A batch read from disk is served
 * only after its CRC32C holds and its offsets agree with the offset index.
 */
import type { GroupId } from '@streambus/raft';
import { verifyBatch, RecordBatchError } from '@streambus/proto';
import { decodeEntryValue } from '../codec.js';
import type { BatchLocation } from '../codec.js';
import { readBatchesMax } from '../constants.js';
import { CorruptBatchError } from '../errors.js';
import { KeyKind, makeKey } from '../keys.js';
import type { GroupLog } from '../log/group-log.js';
import type { Db } from '../open-db.js';

/** Batches picked from the offset index, their bytes, and the position after the last one. */
export interface PickedBatches {
  readonly picked: BatchLocation[];
  readonly bytes: number;
  readonly pos: number;
}

/**
 * The batches of the offset index from position `from` on, up to raft index `indexMaxInclusive`,
 * about `bytesMax` bytes (at least one) and `readBatchesMax` batches; `pos` is where it stopped.
 */
export function pickBatches(log: GroupLog, from: number, indexMaxInclusive: number, bytesMax: number): PickedBatches {
  const picked: BatchLocation[] = [];
  let bytes = 0;
  let pos = from;
  for (; pos < log.offsets.count && picked.length < readBatchesMax; pos++) {
    const loc = log.offsets.at(pos);
    if (loc.raftIndex > indexMaxInclusive || (picked.length > 0 && bytes + loc.bytes > bytesMax)) break;
    bytes += loc.bytes;
    picked.push(loc);
  }
  return { picked, bytes, pos };
}

/**
 * The stored entry values of `locs` (undefined where an entry is gone: compacted or truncated
 * meanwhile). fillCache off: large batch values would evict the block index from LevelDB's small
 * cache.
 */
export function readEntryValues(
  db: Db,
  groupId: GroupId,
  locs: readonly BatchLocation[],
): Promise<(Buffer | undefined)[]> {
  return db.getMany(
    locs.map((loc) => makeKey(KeyKind.entry, groupId, loc.raftIndex)),
    { fillCache: false },
  );
}

/** The batch bytes of a stored entry value, CRC-verified and matched against the offset index. */
export function checkedBatch(groupId: GroupId, loc: BatchLocation, value: Buffer): Uint8Array {
  const entry = decodeEntryValue(loc.raftIndex, value);
  if (entry === null) throw new CorruptBatchError(groupId, loc.raftIndex, loc.baseOffset, 'entry value is malformed');
  try {
    const header = verifyBatch(entry.data);
    if (header.baseOffset !== loc.baseOffset || header.lastOffset !== loc.lastOffset) {
      throw new CorruptBatchError(
        groupId,
        loc.raftIndex,
        loc.baseOffset,
        `offsets [${header.baseOffset}, ${header.lastOffset}] disagree with the index`,
      );
    }
  } catch (error: unknown) {
    if (error instanceof RecordBatchError)
      throw new CorruptBatchError(groupId, loc.raftIndex, loc.baseOffset, error.message);
    throw error;
  }
  return entry.data;
}
