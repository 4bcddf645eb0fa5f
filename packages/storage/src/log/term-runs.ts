/**
 * The term of every index of one group's log as runs of equal terms: a few numbers per leader
 * change, whatever the log's length. Covers [firstIndex, lastIndex]; the snapshot answers
 * firstIndex - 1.
 */
import { assert } from '@streambus/raft';

export interface TermRun {
  readonly startIndex: number;
  readonly term: number;
}

export class TermRuns {
  private starts: number[] = [];
  private terms: number[] = [];

  get runs(): readonly TermRun[] {
    return this.starts.map((startIndex, i) => ({ startIndex, term: this.terms[i] as number }));
  }

  /** The term at `index`, which the caller knows is in [first start, last index]. */
  termAt(index: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    assert(hi >= 0, 'term runs cover the log');
    assert(index >= (this.starts[0] as number), 'index within the term runs');
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.starts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.terms[lo] as number;
  }

  lastTerm(): number | undefined {
    return this.terms[this.terms.length - 1];
  }

  /** Starts a run at `index` (the caller checked the term changed); runs must be increasing. */
  push(index: number, term: number): void {
    const lastStart = this.starts[this.starts.length - 1];
    assert(lastStart === undefined || index > lastStart, 'term runs start in increasing index order');
    const lastTerm = this.lastTerm();
    assert(lastTerm === undefined || term >= lastTerm, 'terms never decrease along the log');
    this.starts.push(index);
    this.terms.push(term);
  }

  /** Drops runs starting at or after `index` (conflict truncation); returns their start indexes. */
  truncateFrom(index: number): number[] {
    let keep = this.starts.length;
    while (keep > 0 && (this.starts[keep - 1] as number) >= index) keep--;
    const dropped = this.starts.slice(keep);
    this.starts.length = keep;
    this.terms.length = keep;
    return dropped;
  }

  /**
   * Makes the runs start at `first` (after compaction to first - 1): drops runs wholly below it
   * and moves the start of the run covering it. Returns dropped starts and the new first run.
   */
  dropBelow(first: number): { dropped: number[]; moved: TermRun | null } {
    let cut = 0;
    while (cut < this.starts.length && (this.starts[cut] as number) < first) cut++;
    // Runs [0, cut) start below `first`; the last of them may still cover `first`.
    const dropped = this.starts.slice(0, cut);
    let moved: TermRun | null = null;
    const nextStart = this.starts[cut];
    if (cut > 0 && (nextStart === undefined || nextStart > first)) {
      moved = { startIndex: first, term: this.terms[cut - 1] as number };
    }
    this.starts.splice(0, cut);
    this.terms.splice(0, cut);
    if (moved !== null) {
      this.starts.unshift(moved.startIndex);
      this.terms.unshift(moved.term);
    }
    return { dropped, moved };
  }

  clear(): void {
    this.starts = [];
    this.terms = [];
  }
}
