/**
 * What the leader knows of one member's log and how it replicates to it (etcd's Progress):
 *  - probe: one append at a time until the follower's match is found (after a reject or restart);
 *  - replicate: appends pipelined optimistically, bounded by the inflight window;
 *  - snapshot: an InstallSnapshot is under way; no appends until the follower has it.
 */
import { assert } from '../errors.js';
import type { Snapshot } from '../types.js';
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append was sent and we wait for its answer (or a heartbeat answer). */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /**
   * Lease reads: the leader's tick count when it SENT the newest heartbeat this member
   * acknowledged (0: none this term). Not when the answer arrived: the member restarted its
   * election timer when the heartbeat reached it, which may have been long before its answer
   * came back; only the send time bounds that from below.
   */
  leaseAckTick = 0;
  /** The commit index carried by the last append or heartbeat sent (quiescence). */
  sentCommit = 0;
  /** Snapshot state: the index of the snapshot being sent. */
  pendingSnapshotIndex = 0;
  /** Snapshot state: the snapshot being sent in chunks and how many bytes the follower has. */
  snapshot: Snapshot | null = null;
  snapshotOffsetBytes = 0;
  /** Snapshot state: ticks since the follower last acknowledged a chunk (resend when long). */
  snapshotIdleTicks = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    inflightMessagesMax: number,
    inflightBytesMax: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.snapshot = null;
    this.snapshotOffsetBytes = 0;
    this.snapshotIdleTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's index.
    const snapshotIndex = this.state === 'snapshot' ? this.pendingSnapshotIndex : 0;
    this.resetState('probe');
    this.next = Math.max(this.match + 1, snapshotIndex + 1);
  }

  /**
   * The follower lost acknowledged entries (it dropped a corrupt suffix) and now holds the log up
   * to `lastIndex` only: match goes back with it, and replication restarts with a probe there.
   */
  becomeProbeAfterLoss(lastIndex: number): void {
    this.match = Math.min(this.match, lastIndex);
    this.resetState('probe');
    this.next = lastIndex + 1;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.resetState('snapshot');
    this.pendingSnapshotIndex = snapshot.metadata.index;
    this.snapshot = snapshot;
  }

  /** Records an acknowledged index; false when it is stale. */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) {
      if (this.next <= index) this.next = index + 1;
      return false;
    }
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append sent with `count` entries ending at `lastIndex` and `bytes` of data. */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      return;
    }
    assert(this.state === 'probe', 'appends are not sent in snapshot state');
    this.probeSent = true;
  }

  /**
   * Handles a reject of the append after `rejected`, with `matchHint` the leader's estimate of
   * the last index both logs may share. False when the reject is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflights.full();
    return true;
  }
}
