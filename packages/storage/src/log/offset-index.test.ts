import { describe, expect, it } from 'vitest';
import { OffsetIndex } from './offset-index.js';
import { TermRuns } from './term-runs.js';

describe('OffsetIndex', () => {
  function filled(count: number): OffsetIndex {
    const index = new OffsetIndex();
    // Batch i sits at raft index 2i+1, holds offsets [10i, 10i+9], max timestamp 100i (with a dip).
    for (let i = 0; i < count; i++)
      index.append({
        raftIndex: 2 * i + 1,
        baseOffset: 10 * i,
        lastOffset: 10 * i + 9,
        maxTimestamp: i === 5 ? 0 : 100 * i,
        bytes: 1000 + i,
      });
    return index;
  }

  it('finds the batch holding an offset, a raft index or a timestamp by binary search', () => {
    const index = filled(100);
    expect(index.count).toBe(100);
    expect(index.at(index.findOffset(0)).baseOffset).toBe(0);
    expect(index.at(index.findOffset(457)).baseOffset).toBe(450);
    expect(index.findOffset(1000)).toBe(100);
    expect(index.at(index.findRaftIndex(10)).raftIndex).toBe(11);
    // Timestamps use the running maximum: the dip at batch 5 does not make it "newer".
    expect(index.findTimestamp(450)).toBe(6);
    expect(index.findTimestamp(400)).toBe(4);
    expect(index.findTimestamp(1e9)).toBe(100);
    expect(index.bytes).toBe(100 * 1000 + (99 * 100) / 2);
  });

  it('truncates suffixes and drops prefixes, keeping byte totals and growing past its capacity', () => {
    const index = filled(100);
    expect(index.truncateFrom(51)).toBe(75);
    expect(index.count).toBe(25);
    expect(index.last()?.raftIndex).toBe(49);
    const dropped = index.dropThrough(20);
    expect(dropped?.raftIndex).toBe(19);
    expect(index.first()?.raftIndex).toBe(21);
    expect(index.count).toBe(15);
    let bytes = 0;
    for (let i = 0; i < index.count; i++) bytes += index.bytesAt(i);
    expect(index.bytes).toBe(bytes);
    expect(index.accepts(50, 245)).toBe(false);
    expect(index.accepts(51, 250)).toBe(true);
    for (let i = 25; i < 5000; i++)
      index.append({
        raftIndex: 2 * i + 1,
        baseOffset: 10 * i,
        lastOffset: 10 * i + 9,
        maxTimestamp: 100 * i,
        bytes: 1,
      });
    expect(index.dropThrough(9000)?.raftIndex).toBe(8999);
    expect(index.first()?.baseOffset).toBe(45000);
    expect(index.at(index.findOffset(45678)).baseOffset).toBe(45670);
  });
});

describe('TermRuns', () => {
  it('answers terms, truncates and moves its start on compaction', () => {
    const runs = new TermRuns();
    runs.push(1, 1);
    runs.push(5, 2);
    runs.push(9, 4);
    expect([1, 4, 5, 8, 9, 100].map((i) => runs.termAt(i))).toEqual([1, 1, 2, 2, 4, 4]);
    expect(runs.truncateFrom(6)).toEqual([9]);
    expect(runs.termAt(100)).toBe(2);
    expect(runs.dropBelow(7)).toEqual({ dropped: [1, 5], moved: { startIndex: 7, term: 2 } });
    expect(runs.runs).toEqual([{ startIndex: 7, term: 2 }]);
    expect(() => runs.push(7, 3)).toThrow(/increasing/);
    expect(() => runs.push(8, 1)).toThrow(/never decrease/);
  });
});
