/**
 * Value encodings of the store (big-endian). Entry values are built once into one buffer each;
 * everything else is small metadata.
 */
import { assert, EntryType } from '@streambus/raft';
import type { ConfState, Entry, HardState, SnapshotMetadata } from '@streambus/raft';
import { entryValueHeaderBytes } from './constants.js';

const two32 = 0x1_0000_0000;

export function writeU64(buf: Buffer, pos: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / two32), pos);
  buf.writeUInt32BE(value % two32, pos + 4);
}

export function readU64(buf: Buffer, pos: number): number {
  return buf.readUInt32BE(pos) * two32 + buf.readUInt32BE(pos + 4);
}

/** [term u64][type u8][data]: the data (a record batch, as proposed) is copied exactly once. */
export function encodeEntryValue(entry: Entry): Buffer {
  const value = Buffer.allocUnsafe(entryValueHeaderBytes + entry.data.byteLength);
  writeU64(value, 0, entry.term);
  value[8] = entry.type;
  value.set(entry.data, entryValueHeaderBytes);
  return value;
}

/**
 * Writes [term][type][data] into `scratch` (which must be large enough) and returns the view of
 * it: for writers whose sink copies the value at once (a LevelDB WriteBatch does).
 */
export function encodeEntryValueInto(scratch: Buffer, entry: Entry): Buffer {
  const bytes = entryValueHeaderBytes + entry.data.byteLength;
  assert(scratch.byteLength >= bytes, 'scratch buffer holds the entry value');
  writeU64(scratch, 0, entry.term);
  scratch[8] = entry.type;
  scratch.set(entry.data, entryValueHeaderBytes);
  return scratch.subarray(0, bytes);
}

/** Decodes a stored entry; `data` is a view of `value`. Null when the value is malformed. */
export function decodeEntryValue(index: number, value: Buffer): Entry | null {
  if (value.byteLength < entryValueHeaderBytes) return null;
  const type = value[8];
  if (type !== EntryType.normal && type !== EntryType.confChange) return null;
  return { term: readU64(value, 0), index, type, data: value.subarray(entryValueHeaderBytes) };
}

export function encodeHardState(hardState: HardState): Buffer {
  const value = Buffer.allocUnsafe(20);
  writeU64(value, 0, hardState.term);
  value.writeUInt32BE(hardState.vote, 8);
  writeU64(value, 12, hardState.commit);
  return value;
}

export function decodeHardState(value: Buffer): HardState | null {
  if (value.byteLength !== 20) return null;
  return { term: readU64(value, 0), vote: value.readUInt32BE(8), commit: readU64(value, 12) };
}

export function encodeTerm(term: number): Buffer {
  const value = Buffer.allocUnsafe(8);
  writeU64(value, 0, term);
  return value;
}

export function decodeTerm(value: Buffer): number | null {
  return value.byteLength === 8 ? readU64(value, 0) : null;
}

function idListBytes(ids: readonly number[]): number {
  return 4 + 4 * ids.length;
}

export function encodeSnapshotMeta(meta: SnapshotMetadata): Buffer {
  const c = meta.confState;
  const lists = [c.voters, c.learners, c.votersOutgoing, c.learnersNext];
  const value = Buffer.allocUnsafe(17 + lists.reduce((n, ids) => n + idListBytes(ids), 0));
  writeU64(value, 0, meta.index);
  writeU64(value, 8, meta.term);
  value[16] = c.autoLeave ? 1 : 0;
  let pos = 17;
  for (const ids of lists) {
    value.writeUInt32BE(ids.length, pos);
    pos += 4;
    for (const id of ids) {
      value.writeUInt32BE(id, pos);
      pos += 4;
    }
  }
  assert(pos === value.byteLength, 'snapshot metadata fills its buffer');
  return value;
}

export function decodeSnapshotMeta(value: Buffer): SnapshotMetadata | null {
  if (value.byteLength < 17) return null;
  const lists: number[][] = [];
  let pos = 17;
  for (let l = 0; l < 4; l++) {
    if (pos + 4 > value.byteLength) return null;
    const count = value.readUInt32BE(pos);
    pos += 4;
    if (pos + 4 * count > value.byteLength) return null;
    const ids: number[] = [];
    for (let i = 0; i < count; i++, pos += 4) ids.push(value.readUInt32BE(pos));
    lists.push(ids);
  }
  if (pos !== value.byteLength) return null;
  const confState: ConfState = {
    voters: lists[0] ?? [],
    learners: lists[1] ?? [],
    votersOutgoing: lists[2] ?? [],
    learnersNext: lists[3] ?? [],
    autoLeave: value[16] === 1,
  };
  return { index: readU64(value, 0), term: readU64(value, 8), confState };
}

/** What the offset index knows of one record batch. */
export interface BatchLocation {
  readonly raftIndex: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly bytes: number;
}

export function encodeBatchLocation(loc: BatchLocation): Buffer {
  const value = Buffer.allocUnsafe(24);
  writeU64(value, 0, loc.baseOffset);
  value.writeUInt32BE(loc.lastOffset - loc.baseOffset, 8);
  value.writeDoubleBE(loc.maxTimestamp, 12);
  value.writeUInt32BE(loc.bytes, 20);
  return value;
}

export function decodeBatchLocation(raftIndex: number, value: Buffer): BatchLocation | null {
  if (value.byteLength !== 24) return null;
  const baseOffset = readU64(value, 0);
  return {
    raftIndex,
    baseOffset,
    lastOffset: baseOffset + value.readUInt32BE(8),
    maxTimestamp: value.readDoubleBE(12),
    bytes: value.readUInt32BE(20),
  };
}

export interface GroupMeta {
  /** The offset after the last batch ever dropped by compaction or retention (0 if none). */
  readonly offsetFloor: number;
  /** Non-zero while a repaired log catches up: the last index it held before (see InitialState). */
  readonly repairIndex: number;
}

/** Version 1: [1][offsetFloor u64]; version 2 adds [repairIndex u64]. */
export function encodeGroupMeta(meta: GroupMeta): Buffer {
  const value = Buffer.allocUnsafe(17);
  value[0] = 2;
  writeU64(value, 1, meta.offsetFloor);
  writeU64(value, 9, meta.repairIndex);
  return value;
}

export function decodeGroupMeta(value: Buffer): GroupMeta | null {
  if (value.byteLength === 9 && value[0] === 1) return { offsetFloor: readU64(value, 1), repairIndex: 0 };
  if (value.byteLength !== 17 || value[0] !== 2) return null;
  return { offsetFloor: readU64(value, 1), repairIndex: readU64(value, 9) };
}
