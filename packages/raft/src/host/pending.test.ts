import { describe, expect, it } from 'vitest';
import { EntryType } from '../types.js';
import type { Entry } from '../types.js';
import type { ProposalReceipt } from '../node-api.js';
import { ProposalQueue } from './pending.js';

function entries(lo: number, hi: number, term: number): Entry[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => ({
    index: lo + i,
    term,
    type: EntryType.normal,
    data: new Uint8Array(0),
  }));
}

interface Outcome {
  readonly ok: ProposalReceipt[];
  readonly failed: string[];
}

function track(queue: ProposalQueue, index: number, lastIndex: number, term: number, outcome: Outcome): void {
  queue.push({
    index,
    lastIndex,
    term,
    resolve: (receipt) => outcome.ok.push(receipt),
    reject: (error) => outcome.failed.push(`${index}:${error.message}`),
  });
}

describe('ProposalQueue', () => {
  it('resolves a batch only once its last entry is seen with its term', () => {
    const queue = new ProposalQueue();
    const outcome: Outcome = { ok: [], failed: [] };
    track(queue, 1, 3, 2, outcome);
    track(queue, 4, 4, 2, outcome);
    queue.settle(entries(1, 2, 2));
    expect(outcome.ok).toEqual([]);
    queue.settle(entries(3, 4, 2));
    expect(outcome.ok).toEqual([
      { index: 1, term: 2 },
      { index: 4, term: 2 },
    ]);
    expect(queue.size).toBe(0);
  });

  it('rejects proposals whose position another term took', () => {
    const queue = new ProposalQueue();
    const outcome: Outcome = { ok: [], failed: [] };
    track(queue, 5, 6, 2, outcome);
    track(queue, 7, 9, 2, outcome);
    queue.settle(entries(5, 7, 3));
    expect(outcome.ok).toEqual([]);
    expect(outcome.failed.map((text) => text.split(':')[0])).toEqual(['5', '7']);
    expect(outcome.failed.every((text) => text.includes('superseded'))).toBe(true);
  });

  it('rejects older proposals at or above the index a later term proposes at', () => {
    const queue = new ProposalQueue();
    const outcome: Outcome = { ok: [], failed: [] };
    track(queue, 3, 3, 1, outcome);
    track(queue, 4, 6, 1, outcome);
    track(queue, 5, 5, 2, outcome);
    expect(outcome.failed.map((text) => text.split(':')[0])).toEqual(['4']);
    queue.settle(entries(3, 5, 1).map((entry) => (entry.index === 5 ? { ...entry, term: 2 } : entry)));
    expect(outcome.ok).toEqual([
      { index: 3, term: 1 },
      { index: 5, term: 2 },
    ]);
  });

  it('rejects what a snapshot covered, and everything on rejectAll', () => {
    const queue = new ProposalQueue();
    const outcome: Outcome = { ok: [], failed: [] };
    track(queue, 1, 1, 1, outcome);
    track(queue, 2, 4, 1, outcome);
    track(queue, 5, 5, 1, outcome);
    queue.rejectThrough(4, () => new Error('snap'));
    expect(outcome.failed).toEqual(['1:snap', '2:snap']);
    queue.rejectAll(new Error('stopped'));
    expect(outcome.failed).toEqual(['1:snap', '2:snap', '5:stopped']);
    expect(queue.size).toBe(0);
  });
});
