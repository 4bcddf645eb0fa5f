/**
 * The part of the log not yet on stable storage: maybe a snapshot (received from the leader)
 * and entries from `offset` on. Invariant: entries[i].index === offset + i, and when a snapshot
 * is held, offset === snapshot index + 1. The entries array is handed out by reference (to
 * Readies and messages) and copied on the next write after that (copy-on-write), so appends in
 * between cost O(1) and no handed-out array ever changes.
 */
import { assert } from '../errors.js';
import type { Entry, Snapshot } from '../types.js';

export class Unstable {
  snapshot: Snapshot | null = null;
  private list: Entry[] = [];
  /** The current array was handed out: copy before the next write. */
  private shared = false;
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  get length(): number {
    return this.list.length;
  }

  /** Every unstable entry, by reference: the caller must not mutate it. */
  all(): readonly Entry[] {
    this.shared = true;
    return this.list;
  }

  private writable(): Entry[] {
    if (this.shared) {
      this.list = this.list.slice();
      this.shared = false;
    }
    return this.list;
  }

  /** The index of the first entry if only a snapshot makes it known. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.list.length > 0) return this.offset + this.list.length - 1;
    return this.snapshot === null ? undefined : this.snapshot.metadata.index;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || index > last) return undefined;
    return this.list[index - this.offset]?.term;
  }

  /** Entries up to (index, term) reached stable storage; ignored if they were replaced since. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    if (this.maybeTerm(index) !== term) return;
    this.list = this.list.slice(index + 1 - this.offset);
    this.shared = false;
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.list = [];
    this.shared = false;
    this.snapshot = snapshot;
  }

  /** Appends `entries`, replacing any unstable suffix from entries[0].index on. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    assert(this.snapshot === null || after > this.snapshot.metadata.index, 'no append below an unstable snapshot');
    if (after <= this.offset || this.list.length === 0) {
      assert(after <= this.offset + this.list.length, 'unstable append leaves no gap');
      // Replaces every unstable entry (and maybe stable ones: the host truncates storage). The
      // caller's array is adopted by reference, copied only if written to later.
      this.offset = after;
      this.list = entries as Entry[];
      this.shared = true;
      return;
    }
    assert(after <= this.offset + this.list.length, 'unstable append leaves no gap');
    const list = this.writable();
    list.length = after - this.offset;
    for (const entry of entries) list.push(entry);
  }

  /** Entries [lo, hi), all within the unstable part. */
  slice(lo: number, hi: number): readonly Entry[] {
    assert(lo >= this.offset, 'unstable slice starts at or after offset');
    assert(hi <= this.offset + this.list.length, 'unstable slice ends within entries');
    if (lo === this.offset && hi === this.offset + this.list.length) return this.all();
    return this.list.slice(lo - this.offset, hi - this.offset);
  }
}
