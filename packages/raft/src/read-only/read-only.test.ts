import { describe, expect, it } from 'vitest';
import { decodeReadRound, encodeReadRound, ReadOnly } from './read-only.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('ReadOnly', () => {
  it('keeps equal contexts of two requesters apart and drops a retry of one requester', () => {
    const reads = new ReadOnly(16);
    reads.add(5, bytes('1'), 2);
    reads.add(5, bytes('1'), 3);
    reads.add(5, bytes('1'), 2);
    expect(reads.size).toBe(2);
    expect(decodeReadRound(reads.lastContext() ?? new Uint8Array(0))).toBe(2);
  });

  it('an acknowledged round confirms every request numbered up to it', () => {
    const reads = new ReadOnly(16);
    reads.add(5, bytes('a'), 2);
    reads.add(6, bytes('b'), 3);
    reads.add(7, bytes('c'), 1);
    expect(reads.recvAck(2, 2)).toBe(true);
    expect(reads.recvAck(2, 1)).toBe(true);
    expect(reads.ackedRound(2)).toBe(2);
    expect(reads.recvAck(3, 9)).toBe(false);
    expect(reads.recvAck(3, 0)).toBe(false);
    expect(reads.advance(2).map((r) => [r.index, r.from])).toEqual([
      [5, 2],
      [6, 3],
    ]);
    expect(reads.size).toBe(1);
    // Answered requests are no longer retries; rounds keep counting up across clear().
    reads.add(5, bytes('a'), 2);
    reads.clear();
    expect(reads.ackedRound(2)).toBeUndefined();
    reads.add(8, bytes('d'), 2);
    expect(decodeReadRound(reads.lastContext() ?? new Uint8Array(0))).toBe(5);
  });

  it('round contexts are 8 bytes, big-endian; other lengths name no round', () => {
    expect(decodeReadRound(encodeReadRound(2 ** 40 + 7))).toBe(2 ** 40 + 7);
    expect(decodeReadRound(bytes('short'))).toBe(0);
    expect(() => encodeReadRound(0)).toThrow();
  });
});
