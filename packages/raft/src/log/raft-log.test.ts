import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../testing/memory-storage.js';
import { EntryType } from '../types.js';
import type { Entry } from '../types.js';
import { RaftLog } from './raft-log.js';

/**
 * The raft log (unstable + stable storage) against a deliberately dumb reference: one array of
 * entries by index, with a first index below which everything was compacted.
 */
class ReferenceLog {
  /** entries[i] is the entry at index i; entries[first - 1] is the snapshot point. */
  entries: Entry[] = [{ index: 0, term: 0, type: EntryType.normal, data: new Uint8Array(0) }];
  first = 1;
  committed = 0;
  applied = 0;

  last(): number {
    return this.entries.length - 1;
  }

  term(index: number): number | undefined {
    if (index < this.first - 1 || index > this.last()) return undefined;
    return this.entries[index]?.term;
  }
}

type Op =
  | { kind: 'leaderAppend'; count: number; termBump: number; size: number }
  | {
      kind: 'followerAppend';
      prevBack: number;
      termMatches: boolean;
      count: number;
      termBump: number;
      commitBack: number;
    }
  | { kind: 'persistBegin' }
  | { kind: 'persistEnd' }
  | { kind: 'commit'; back: number }
  | { kind: 'apply' }
  | { kind: 'compact'; back: number }
  | { kind: 'probe'; index: number; term: number; bytesMax: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('leaderAppend' as const),
    count: fc.integer({ min: 1, max: 4 }),
    termBump: fc.integer({ min: 0, max: 1 }),
    size: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({
    kind: fc.constant('followerAppend' as const),
    prevBack: fc.integer({ min: -1, max: 8 }),
    termMatches: fc.boolean(),
    count: fc.integer({ min: 0, max: 4 }),
    termBump: fc.integer({ min: 0, max: 2 }),
    commitBack: fc.integer({ min: 0, max: 6 }),
  }),
  fc.constant({ kind: 'persistBegin' as const }),
  fc.constant({ kind: 'persistEnd' as const }),
  fc.record({ kind: fc.constant('commit' as const), back: fc.integer({ min: 0, max: 5 }) }),
  fc.constant({ kind: 'apply' as const }),
  fc.record({ kind: fc.constant('compact' as const), back: fc.integer({ min: 0, max: 5 }) }),
  fc.record({
    kind: fc.constant('probe' as const),
    index: fc.integer({ min: 0, max: 40 }),
    term: fc.integer({ min: 0, max: 12 }),
    bytesMax: fc.integer({ min: 0, max: 12 }),
  }),
);

class Harness {
  readonly ref = new ReferenceLog();
  readonly storage = new MemoryStorage();
  readonly log = new RaftLog(this.storage, 0);
  /** Entries handed to "the host" and being persisted (between ready and advance). */
  inFlight: readonly Entry[] | null = null;
  term = 1;

  run(op: Op): void {
    switch (op.kind) {
      case 'leaderAppend':
        return this.leaderAppend(op.count, op.termBump, op.size);
      case 'followerAppend':
        return this.followerAppend(op);
      case 'persistBegin':
        if (this.inFlight !== null) return;
        this.inFlight = this.log.unstableEntries();
        this.storage.append(this.inFlight);
        return;
      case 'persistEnd': {
        const last = this.inFlight?.[this.inFlight.length - 1];
        this.inFlight = null;
        if (last !== undefined) this.log.stableTo(last.index, last.term);
        return;
      }
      case 'commit': {
        const to = Math.max(this.ref.committed, this.ref.last() - op.back);
        this.log.commitTo(to);
        this.ref.committed = to;
        return;
      }
      case 'apply':
        return this.apply();
      case 'compact':
        return this.compact(op.back);
      case 'probe':
        return this.probe(op.index, op.term, op.bytesMax);
    }
  }

  private newEntries(from: number, count: number, term: number, size: number): Entry[] {
    return Array.from({ length: count }, (_, i) => ({
      index: from + i,
      term,
      type: EntryType.normal,
      data: new Uint8Array(size + ((from + i) % 3)),
    }));
  }

  private leaderAppend(count: number, termBump: number, size: number): void {
    this.term = Math.max(this.term, this.ref.term(this.ref.last()) ?? 0) + termBump;
    const entries = this.newEntries(this.ref.last() + 1, count, this.term, size);
    expect(this.log.append(entries)).toBe(this.ref.last() + count);
    this.ref.entries.push(...entries);
  }

  private followerAppend(op: Extract<Op, { kind: 'followerAppend' }>): void {
    const ref = this.ref;
    const prev = Math.max(0, ref.last() - op.prevBack);
    const actual = ref.term(prev);
    const prevTerm = op.termMatches && actual !== undefined ? actual : (actual ?? 0) + 7;
    this.term += op.termBump;
    const entries = this.newEntries(prev + 1, op.count, Math.max(this.term, prevTerm), 1);
    const commit = Math.max(0, ref.last() + op.count - op.commitBack);
    if (actual !== prevTerm) {
      expect(this.log.maybeAppend(prev, prevTerm, commit, entries)).toBeUndefined();
      return;
    }
    const conflict = entries.find((e) => ref.term(e.index) !== e.term);
    // A leader never sends entries conflicting with committed ones; the log asserts it.
    if (conflict !== undefined && conflict.index <= ref.committed) return;
    expect(this.log.maybeAppend(prev, prevTerm, commit, entries)).toBe(prev + entries.length);
    if (conflict !== undefined) {
      ref.entries.length = conflict.index;
      ref.entries.push(...entries.slice(conflict.index - prev - 1));
    }
    ref.committed = Math.max(ref.committed, Math.min(commit, prev + entries.length));
  }

  private apply(): void {
    const expected = this.ref.entries.slice(this.ref.applied + 1, this.ref.committed + 1);
    const got = this.log.nextCommittedEntries(Number.MAX_SAFE_INTEGER);
    expect(got.map((e) => [e.index, e.term])).toEqual(expected.map((e) => [e.index, e.term]));
    this.log.appliedTo(this.ref.committed);
    this.ref.applied = this.ref.committed;
  }

  private compact(back: number): void {
    const stableLast = Math.min(this.storage.lastIndex(), this.log.lastStableIndex());
    const to = Math.min(this.ref.applied, stableLast) - back;
    if (to < this.ref.first || this.inFlight !== null) return;
    const term = this.ref.term(to);
    if (term === undefined) return;
    this.storage.compact({
      metadata: {
        index: to,
        term,
        confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
      data: new Uint8Array(0),
    });
    this.ref.first = to + 1;
  }

  private probe(index: number, term: number, bytesMax: number): void {
    const ref = this.ref;
    // findConflictByTerm by brute force.
    let at = Math.min(index, ref.last());
    while (at >= ref.first - 1 && (ref.term(at) ?? 0) > term) at--;
    const expected = at < ref.first - 1 ? { index: at, term: 0 } : { index: at, term: ref.term(at) };
    expect(this.log.findConflictByTerm(index, term)).toEqual(expected);
    // slice with a byte bound: the longest prefix within bytesMax, at least one entry.
    const lo = Math.max(ref.first, Math.min(index, ref.last()));
    const hi = ref.last() + 1;
    if (lo >= hi) return;
    const all = ref.entries.slice(lo, hi);
    const expectedSlice = all.slice(0, prefixLength(all, bytesMax));
    expect(this.log.slice(lo, hi, bytesMax).map((e) => [e.index, e.term])).toEqual(
      expectedSlice.map((e) => [e.index, e.term]),
    );
  }

  check(): void {
    const ref = this.ref;
    expect(this.log.lastIndex()).toBe(ref.last());
    expect(this.log.firstIndex()).toBe(ref.first);
    expect(this.log.committed).toBe(ref.committed);
    for (let index = Math.max(0, ref.first - 3); index <= ref.last() + 2; index++)
      expect(this.log.term(index)).toBe(ref.term(index));
    const all = this.log.slice(ref.first, ref.last() + 1, Number.MAX_SAFE_INTEGER);
    expect(all.map((e) => [e.index, e.term])).toEqual(ref.entries.slice(ref.first).map((e) => [e.index, e.term]));
  }
}

function prefixLength(entries: readonly Entry[], bytesMax: number): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    bytes += (entries[i] as Entry).data.byteLength;
    if (i > 0 && bytes > bytesMax) return i;
  }
  return entries.length;
}

describe('RaftLog (property, against a reference array)', () => {
  it('agrees on terms, bounds, slices, commit and conflicts under random operations', () => {
    const seed = Number(process.env.RAFT_LOG_SEED ?? Date.now() % 1_000_000);
    console.log(
      `raft-log property seed ${seed}; replay: RAFT_LOG_SEED=${seed} npx vitest run src/log/raft-log.test.ts`,
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const harness = new Harness();
        for (const op of ops) {
          harness.run(op);
          harness.check();
        }
      }),
      { seed, numRuns: 500 },
    );
  });

  it('keeps entries handed out unchanged when the unstable tail is rewritten (copy-on-write)', () => {
    const log = new RaftLog(new MemoryStorage(), 0);
    const e = (index: number, term: number): Entry => ({
      index,
      term,
      type: EntryType.normal,
      data: new Uint8Array(0),
    });
    log.append([e(1, 1), e(2, 1), e(3, 1)]);
    const handed = log.unstableEntries();
    log.append([e(4, 1)]);
    expect(log.maybeAppend(1, 1, 0, [e(2, 2)])).toBe(2);
    expect(handed.map((x) => [x.index, x.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(log.unstableEntries().map((x) => [x.index, x.term])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });
});
