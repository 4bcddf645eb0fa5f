/**
 * Proposals of one group waiting for their outcome, in log order. A proposal of entries
 * [index, lastIndex] in `term` succeeded iff the entry at `lastIndex` has `term` when it is
 * written (waitFor 'persist') or applied (waitFor 'commit'): by the Log Matching property the
 * entries before it then match too.
 */
import { assert, ProposalDroppedError } from '../errors.js';
import type { RaftError } from '../errors.js';
import type { ProposalReceipt } from '../node-api.js';
import type { Entry } from '../types.js';

export interface PendingProposal {
  readonly index: number;
  readonly lastIndex: number;
  readonly term: number;
  readonly resolve: (receipt: ProposalReceipt) => void;
  readonly reject: (error: Error) => void;
}

/** Entries of a term at a log position now held by another term: they will never commit. */
export function supersededError(): ProposalDroppedError {
  return new ProposalDroppedError('superseded: the log position was taken by another leader; retry');
}

/** Compacts the array once this many settled proposals sit before its head. */
const headCompactionMin = 1024;

export class ProposalQueue {
  private items: PendingProposal[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /**
   * Adds a proposal. A new leader term appends after its own log, so every pending proposal at or
   * above `proposal.index` lost its log position to another term: those are rejected.
   */
  push(proposal: PendingProposal): void {
    while (this.size > 0) {
      const last = this.items[this.items.length - 1];
      assert(last !== undefined, 'queue tail in range');
      if (last.lastIndex < proposal.index) break;
      assert(last.term < proposal.term, 'a log position is proposed twice only in a later term');
      this.items.pop();
      last.reject(supersededError());
    }
    this.items.push(proposal);
  }

  /**
   * Settles proposals against `entries` (contiguous, ascending) now written or applied. A proposal
   * whose entries all lie in `entries` resolves or is superseded; one reaching past them is
   * superseded early if the overlap already shows another term.
   */
  settle(entries: readonly Entry[]): void {
    const first = entries[0];
    const lastEntry = entries[entries.length - 1];
    if (first === undefined || lastEntry === undefined) return;
    const lo = first.index;
    const hi = lastEntry.index;
    while (this.head < this.items.length) {
      const proposal = this.items[this.head];
      assert(proposal !== undefined, 'queue head in range');
      if (proposal.index > hi) break;
      const probe = Math.min(proposal.lastIndex, hi);
      if (probe < lo) {
        // Its entries went by without being seen here (replaced by a snapshot): outcome unknown.
        this.shift().reject(new ProposalDroppedError('outcome unknown: the log was replaced by a snapshot; retry'));
        continue;
      }
      const entry = entries[probe - lo];
      assert(entry !== undefined && entry.index === probe, 'entries are contiguous');
      if (entry.term !== proposal.term) {
        this.shift().reject(supersededError());
      } else if (proposal.lastIndex <= hi) {
        this.shift().resolve({ index: proposal.index, term: proposal.term });
      } else {
        break;
      }
    }
    this.compactHead();
  }

  /** Rejects proposals whose entries end at or below `index` (covered by an installed snapshot). */
  rejectThrough(index: number, error: () => Error): void {
    while (this.head < this.items.length) {
      const proposal = this.items[this.head];
      assert(proposal !== undefined, 'queue head in range');
      if (proposal.lastIndex > index) break;
      this.shift().reject(error());
    }
    this.compactHead();
  }

  rejectAll(error: RaftError | Error): void {
    const items = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    for (const proposal of items) proposal.reject(error);
  }

  private shift(): PendingProposal {
    const proposal = this.items[this.head];
    assert(proposal !== undefined, 'shift from a non-empty queue');
    this.head++;
    return proposal;
  }

  private compactHead(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= headCompactionMin && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
