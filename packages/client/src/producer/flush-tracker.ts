/**
 * What `flush()` waits for: records are counted per flush epoch when they enter the producer and
 * uncounted when they settle (acknowledged or failed); a flush started in epoch E resolves once
 * every record of epochs <= E has settled. Records sent after the flush began do not hold it.
 */
import { assert } from '../assert.js';

export class FlushTracker {
  /** Unsettled records per flush epoch (epochs in increasing insertion order). */
  private readonly unsettledByEpoch = new Map<number, number>();
  private epoch = 0;
  private waiters: { epoch: number; resolve: () => void }[] = [];

  /** Counts a record entering now; returns its epoch, to hand back to `settled`. */
  entered(): number {
    const epoch = this.epoch;
    this.unsettledByEpoch.set(epoch, (this.unsettledByEpoch.get(epoch) ?? 0) + 1);
    return epoch;
  }

  /** Uncounts a record of `epoch`; wakes the flushes it was the last to hold. */
  settled(epoch: number): void {
    const left = (this.unsettledByEpoch.get(epoch) ?? 0) - 1;
    assert(left >= 0, 'a record settles once');
    if (left > 0) {
      this.unsettledByEpoch.set(epoch, left);
      return;
    }
    this.unsettledByEpoch.delete(epoch);
    if (this.waiters.length === 0) return;
    const waiting: { epoch: number; resolve: () => void }[] = [];
    for (const waiter of this.waiters) {
      if (this.settledThrough(waiter.epoch)) waiter.resolve();
      else waiting.push(waiter);
    }
    this.waiters = waiting;
  }

  /** Starts a flush: the records counted so far are the ones it waits for. */
  begin(): number {
    return this.epoch++;
  }

  /** Resolves once every record of epochs <= `epoch` has settled. */
  wait(epoch: number): Promise<void> {
    if (this.settledThrough(epoch)) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push({ epoch, resolve }));
  }

  /** True when every record counted in epochs <= `epoch` has settled. */
  private settledThrough(epoch: number): boolean {
    for (const pendingEpoch of this.unsettledByEpoch.keys()) return pendingEpoch > epoch;
    return true;
  }
}
