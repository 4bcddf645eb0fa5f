/** The tail cache's budget across groups: eviction in append order, oldest first, whatever the group. */
import { describe, expect, it } from 'vitest';
import { batchEntry } from '../testing/index.js';
import { groupLogOf } from '../testing/group-log.js';
import { TailCache } from './tail-cache.js';

const entry = (index: number): ReturnType<typeof batchEntry> =>
  batchEntry({ index, term: 1, baseOffset: 2 * (index - 1) });
const entryBytes = entry(1).data.byteLength;

describe('TailCache', () => {
  it('evicts the oldest appends across groups until the bytes fit, leaving the newest cached', () => {
    const cache = new TailCache(3 * entryBytes);
    const a = groupLogOf([], { groupId: 1 });
    const b = groupLogOf([], { groupId: 2 });
    cache.append(a, [entry(1)]);
    cache.append(b, [entry(1)]);
    cache.append(a, [entry(2)]);
    cache.append(b, [entry(2)]);
    expect(cache.bytes).toBe(4 * entryBytes);
    cache.evict();
    // a's first append went first: a keeps entry 2, b both of its entries.
    expect(cache.bytes).toBe(3 * entryBytes);
    expect([a.cachedEntry(1), a.cachedEntry(2)?.index]).toEqual([undefined, 2]);
    expect([b.cachedEntries, a.cachedEntries]).toEqual([2, 1]);
  });

  it('counts what a group drops itself, so that eviction is not asked to free it again', () => {
    const cache = new TailCache(2 * entryBytes);
    const a = groupLogOf([], { groupId: 1 });
    cache.append(a, [entry(1), entry(2)]);
    cache.release(a.truncateFrom(2));
    expect(cache.bytes).toBe(entryBytes);
    cache.append(a, [entry(2)]);
    cache.evict();
    expect([cache.bytes, a.cachedEntries]).toEqual([2 * entryBytes, 2]);
  });

  it('evicts everything under a zero budget', () => {
    const cache = new TailCache(0);
    const a = groupLogOf([], { groupId: 1 });
    cache.append(a, [entry(1)]);
    cache.evict();
    expect([cache.bytes, a.cachedEntries, a.cacheBytes]).toEqual([0, 0, 0]);
  });
});
