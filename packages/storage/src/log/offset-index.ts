/**
 * One group's offset index in memory: the record batches of its log, in order, as parallel
 * typed arrays (40 bytes per batch), so that a fetch from any offset finds its batch by binary
 * search. Rebuilt at open from the offsetIndex keys; prefixes are dropped by compaction and
 * retention, suffixes by conflict truncation. Memory is 40 bytes per retained batch.
 */
import { assert } from '@streambus/raft';
import type { BatchLocation } from '../codec.js';

const initialCapacity = 16;

export class OffsetIndex {
  private raftIndexes: Float64Array = new Float64Array(initialCapacity);
  private baseOffsets: Float64Array = new Float64Array(initialCapacity);
  private lastOffsets: Float64Array = new Float64Array(initialCapacity);
  /** Running maximum of the batches' max timestamps: non-decreasing, so searchable. */
  private timestampMaxSoFar: Float64Array = new Float64Array(initialCapacity);
  private byteCounts: Float64Array = new Float64Array(initialCapacity);
  private head = 0;
  private tail = 0;
  private bytesTotal = 0;

  get count(): number {
    return this.tail - this.head;
  }

  get bytes(): number {
    return this.bytesTotal;
  }

  /** The batch at position `i` (0 = oldest kept). */
  at(i: number): BatchLocation {
    assert(i >= 0 && i < this.count, 'offset index position in range');
    const p = this.head + i;
    return {
      raftIndex: this.raftIndexes[p] as number,
      baseOffset: this.baseOffsets[p] as number,
      lastOffset: this.lastOffsets[p] as number,
      maxTimestamp: this.timestampMaxSoFar[p] as number,
      bytes: this.byteCounts[p] as number,
    };
  }

  raftIndexAt(i: number): number {
    return this.raftIndexes[this.head + i] as number;
  }

  bytesAt(i: number): number {
    return this.byteCounts[this.head + i] as number;
  }

  lastOffsetAt(i: number): number {
    return this.lastOffsets[this.head + i] as number;
  }

  first(): BatchLocation | null {
    return this.count === 0 ? null : this.at(0);
  }

  last(): BatchLocation | null {
    return this.count === 0 ? null : this.at(this.count - 1);
  }

  /** True when a batch starting at `baseOffset` at `raftIndex` may follow the last one. */
  accepts(raftIndex: number, baseOffset: number): boolean {
    const last = this.last();
    return last === null || (raftIndex > last.raftIndex && baseOffset > last.lastOffset);
  }

  append(loc: BatchLocation): void {
    assert(this.accepts(loc.raftIndex, loc.baseOffset), 'offset index appends in order');
    if (this.tail === this.raftIndexes.length) this.grow();
    const t = this.tail;
    const prevMax = this.count === 0 ? -Infinity : (this.timestampMaxSoFar[t - 1] as number);
    this.raftIndexes[t] = loc.raftIndex;
    this.baseOffsets[t] = loc.baseOffset;
    this.lastOffsets[t] = loc.lastOffset;
    this.timestampMaxSoFar[t] = Math.max(prevMax, loc.maxTimestamp);
    this.byteCounts[t] = loc.bytes;
    this.bytesTotal += loc.bytes;
    this.tail++;
  }

  /** Position of the first batch with lastOffset >= offset (count when none). */
  findOffset(offset: number): number {
    return this.lowerBound(this.lastOffsets, offset);
  }

  /** Position of the first batch with raftIndex >= index (count when none). */
  findRaftIndex(index: number): number {
    return this.lowerBound(this.raftIndexes, index);
  }

  /** Position of the first batch holding a timestamp >= timestampMs (count when none). */
  findTimestamp(timestampMs: number): number {
    return this.lowerBound(this.timestampMaxSoFar, timestampMs);
  }

  /** Drops batches at raft index >= index; returns how many. */
  truncateFrom(index: number): number {
    const pos = this.findRaftIndex(index);
    const dropped = this.count - pos;
    for (let p = this.head + pos; p < this.tail; p++) this.bytesTotal -= this.byteCounts[p] as number;
    this.tail = this.head + pos;
    return dropped;
  }

  /** Drops batches at raft index <= index; returns the last one dropped, if any. */
  dropThrough(index: number): BatchLocation | null {
    const pos = this.findRaftIndex(index + 1);
    if (pos === 0) return null;
    const lastDropped = this.at(pos - 1);
    for (let p = this.head; p < this.head + pos; p++) this.bytesTotal -= this.byteCounts[p] as number;
    this.head += pos;
    if (this.head > initialCapacity && this.head * 2 > this.raftIndexes.length) this.shift();
    return lastDropped;
  }

  clear(): void {
    this.head = 0;
    this.tail = 0;
    this.bytesTotal = 0;
  }

  private lowerBound(array: Float64Array, value: number): number {
    let lo = this.head;
    let hi = this.tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((array[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo - this.head;
  }

  private grow(): void {
    const live = this.count;
    const capacity = Math.max(initialCapacity, live * 2);
    this.resize(capacity);
  }

  private shift(): void {
    this.resize(Math.max(initialCapacity, this.raftIndexes.length));
  }

  private resize(capacity: number): void {
    const copy = (a: Float64Array): Float64Array => {
      const b = new Float64Array(capacity);
      b.set(a.subarray(this.head, this.tail));
      return b;
    };
    this.raftIndexes = copy(this.raftIndexes);
    this.baseOffsets = copy(this.baseOffsets);
    this.lastOffsets = copy(this.lastOffsets);
    this.timestampMaxSoFar = copy(this.timestampMaxSoFar);
    this.byteCounts = copy(this.byteCounts);
    this.tail -= this.head;
    this.head = 0;
  }
}
