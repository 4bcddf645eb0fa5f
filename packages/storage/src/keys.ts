/**
 * The key layout: `[kind u8][group u32][index u64]`, big-endian, so that one group's keys of one
 * kind form a contiguous range that iterates in index order. Per-group singletons use index 0.
 */
import { assert } from '@streambus/raft';
import { keyBytes } from './constants.js';

export const KeyKind = {
  /** [0][0][0]: the store's layout version. */
  storeMeta: 0,
  /**
   * A log entry: [term u64][type u8][data]. Entries sort before every other kind written per
   * persist, on purpose: a LevelDB table written from the memtable then spans [new entries,
   * metadata], which overlaps no older entry, so compaction never rewrites the log's bulk.
   */
  entry: 1,
  /** A record batch carried by the entry at `index`: [baseOffset u64][lastOffsetDelta u32][maxTimestamp f64][bytes u32]. */
  offsetIndex: 2,
  /** A run of equal terms starting at `index`: [term u64]. */
  termRun: 3,
  /** HardState: [term u64][vote u32][commit u64]. */
  hardState: 4,
  /** The group exists: [version u8][offsetFloor u64]. */
  groupMeta: 5,
  /** The latest snapshot's metadata: index, term, ConfState. */
  snapshotMeta: 6,
  /** The latest snapshot's data (for a partition: its small state). */
  snapshotData: 7,
  /** Target of the tiny synced write the `periodic` policy uses to force an fsync. */
  syncMarker: 8,
} as const;
export type KeyKind = (typeof KeyKind)[keyof typeof KeyKind];

const two32 = 0x1_0000_0000;

export function makeKey(kind: KeyKind, groupId: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(keyBytes);
  key[0] = kind;
  key.writeUInt32BE(groupId, 1);
  key.writeUInt32BE(Math.floor(index / two32), 5);
  key.writeUInt32BE(index % two32, 9);
  return key;
}

/** The key after every key of (kind, group): an exclusive upper bound for ranges. */
export function groupRangeEnd(kind: KeyKind, groupId: number): Buffer {
  const key = Buffer.alloc(keyBytes, 0xff);
  key[0] = kind;
  key.writeUInt32BE(groupId, 1);
  return key;
}

export function keyGroup(key: Uint8Array): number {
  assert(key.byteLength === keyBytes, 'key has the fixed size');
  return (
    (key[1] as number) * 0x100_0000 + (((key[2] as number) << 16) | ((key[3] as number) << 8) | (key[4] as number))
  );
}

export function keyIndex(key: Uint8Array): number {
  assert(key.byteLength === keyBytes, 'key has the fixed size');
  const hi =
    (key[5] as number) * 0x100_0000 + (((key[6] as number) << 16) | ((key[7] as number) << 8) | (key[8] as number));
  const lo =
    (key[9] as number) * 0x100_0000 + (((key[10] as number) << 16) | ((key[11] as number) << 8) | (key[12] as number));
  return hi * two32 + lo;
}

/** Range options covering every key of (kind, group) with index in [lo, hi). */
export function indexRange(kind: KeyKind, groupId: number, lo: number, hi: number): { gte: Buffer; lt: Buffer } {
  return {
    gte: makeKey(kind, groupId, lo),
    lt: hi === Infinity ? groupRangeEnd(kind, groupId) : makeKey(kind, groupId, hi),
  };
}

/** Range options covering every key of `kind`, all groups. */
export function kindRange(kind: KeyKind): { gte: Buffer; lte: Buffer } {
  return { gte: makeKey(kind, 0, 0), lte: groupRangeEnd(kind, 0xffff_ffff) };
}
