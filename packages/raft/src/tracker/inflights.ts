/**
 * The append messages in flight to one follower (replicate state): a ring of the last index and
 * byte size each carried. Full when either bound is reached; freed as the follower acknowledges.
 */
import { assert } from '../errors.js';

export class Inflights {
  private readonly lastIndexes: number[] = [];
  private readonly sizesBytes: number[] = [];
  private start = 0;
  private countMessages = 0;
  private totalBytes = 0;

  constructor(
    readonly messagesMax: number,
    readonly bytesMax: number,
  ) {
    assert(messagesMax > 0, 'inflight messages bound is positive');
  }

  get count(): number {
    return this.countMessages;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  full(): boolean {
    return this.countMessages >= this.messagesMax || this.totalBytes >= this.bytesMax;
  }

  /** Records an append whose last entry is `lastIndex`; indexes must increase. */
  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'no add to full inflights');
    const slot = (this.start + this.countMessages) % this.messagesMax;
    const previous =
      this.countMessages === 0 ? undefined : this.lastIndexes[(slot + this.messagesMax - 1) % this.messagesMax];
    assert(previous === undefined || previous < lastIndex, 'inflight indexes increase');
    this.lastIndexes[slot] = lastIndex;
    this.sizesBytes[slot] = bytes;
    this.countMessages++;
    this.totalBytes += bytes;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.countMessages > 0) {
      const last = this.lastIndexes[this.start];
      assert(last !== undefined, 'inflight slot filled');
      if (last > index) break;
      this.totalBytes -= this.sizesBytes[this.start] ?? 0;
      this.start = (this.start + 1) % this.messagesMax;
      this.countMessages--;
    }
    if (this.countMessages === 0) this.start = 0;
  }

  /** Frees the oldest message in flight. */
  freeFirstOne(): void {
    const first = this.lastIndexes[this.start];
    if (this.countMessages > 0 && first !== undefined) this.freeLE(first);
  }

  reset(): void {
    this.start = 0;
    this.countMessages = 0;
    this.totalBytes = 0;
  }
}
