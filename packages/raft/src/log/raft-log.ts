/**
 * The node's view of its log: stable storage plus the unstable tail, with the commit and applied
 * indexes. Invariant: applied <= committed <= lastIndex().
 */
import { assert, CompactedError, UnavailableError } from '../errors.js';
import type { LogStorage } from '../storage.js';
import type { Entry, Snapshot } from '../types.js';
import { Unstable } from './unstable.js';

export interface ConflictHint {
  readonly index: number;
  readonly term: number;
}

export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(
    readonly storage: LogStorage,
    applied: number,
  ) {
    const first = storage.firstIndex();
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = Math.max(first - 1, storage.initialState().hardState.commit);
    assert(this.committed <= storage.lastIndex(), 'stored commit is within the stored log');
    this.applied = Math.max(first - 1, Math.min(applied, this.committed));
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The highest index known persisted and still part of the log. */
  lastStableIndex(): number {
    if (this.unstable.snapshot !== null) return 0;
    return this.unstable.offset - 1;
  }

  /** The term at `index`, or undefined when it is compacted or beyond the log. */
  term(index: number): number | undefined {
    const fromUnstable = this.unstable.maybeTerm(index);
    if (fromUnstable !== undefined) return fromUnstable;
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return undefined;
      throw error;
    }
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, 'the last entry has a term');
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a candidate's log at (lastIndex, lastTerm) is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Appends new entries (leader); returns the last index. */
  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index - 1 >= this.committed, 'no append below commit');
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * Follower side of an append after (index, logTerm): returns the last new index, or undefined
   * when the logs do not match at `index`. Moves commit to min(commit, last new index).
   */
  maybeAppend(index: number, logTerm: number, commit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, 'a conflicting entry is never committed');
      const firstEntry = entries[0];
      assert(firstEntry !== undefined, 'a conflict has entries');
      this.append(conflict === firstEntry.index ? entries : entries.slice(conflict - firstEntry.index));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** The first index whose term differs from ours (or which is new), 0 when all are present. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (with that term): where our log may agree
   * with one whose entry at `index` has term `term`. Used for fast backtracking on both sides.
   */
  findConflictByTerm(index: number, term: number): ConflictHint {
    let at = Math.min(index, this.lastIndex());
    for (;;) {
      const ourTerm = this.term(at);
      if (ourTerm === undefined) return { index: at, term: 0 };
      if (ourTerm <= term) return { index: at, term: ourTerm };
      at--;
    }
  }

  commitTo(commit: number): void {
    if (commit <= this.committed) return;
    assert(commit <= this.lastIndex(), 'commit within the log (was it truncated or lost?)');
    this.committed = commit;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed, 'apply only committed entries');
    assert(index >= this.applied, 'applied never goes back');
    this.applied = index;
  }

  /**
   * Entries [lo, hi) up to `bytesMax` of data (at least one when lo < hi), from storage then the
   * unstable tail. Throws CompactedError below the log and EntriesPendingError when storage must
   * load them first.
   */
  slice(lo: number, hi: number, bytesMax: number): readonly Entry[] {
    assert(lo <= hi, 'slice range is ordered');
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    assert(hi <= this.lastIndex() + 1, 'slice within the log');
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    if (lo >= offset) return limitBytes(this.unstable.slice(lo, hi), bytesMax);
    const stored = this.storage.entries(lo, Math.min(hi, offset), bytesMax);
    if (hi <= offset || stored.length < Math.min(hi, offset) - lo) return stored;
    const storedBytes = dataBytes(stored);
    if (storedBytes >= bytesMax) return stored;
    const tail = limitBytes(this.unstable.slice(offset, hi), bytesMax - storedBytes, false);
    return tail.length === 0 ? stored : [...stored, ...tail];
  }

  /** Entries to persist next. */
  unstableEntries(): readonly Entry[] {
    return this.unstable.all();
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applied && this.applied + 1 >= this.firstIndex();
  }

  /** Committed entries after `applied`, at most `bytesMax` (at least one). */
  nextCommittedEntries(bytesMax: number): readonly Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(this.applied + 1, this.committed + 1, bytesMax);
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** Replaces the log by a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** The snapshot to send or hand out: the unstable one if any, else the stored one. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }
}

export function dataBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += entry.data.byteLength;
  return bytes;
}

/** The longest prefix within `bytesMax`, at least one entry unless `atLeastOne` is false. */
function limitBytes(entries: readonly Entry[], bytesMax: number, atLeastOne = true): readonly Entry[] {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    bytes += (entries[i] as Entry).data.byteLength;
    if (bytes > bytesMax && (i > 0 || !atLeastOne)) return entries.slice(0, i);
  }
  return entries;
}
