/**
 * The simulator's virtual clock: a priority queue of events ordered by (virtual time, insertion
 * order). Ties run in insertion order, so a run depends on the seed only.
 */
import { assert } from '../../errors.js';

interface Scheduled<T> {
  readonly atMs: number;
  readonly sequence: number;
  readonly event: T;
}

export class EventQueue<T> {
  private readonly heap: Scheduled<T>[] = [];
  private sequence = 0;
  private currentMs = 0;

  /** Virtual milliseconds since the start of the run. */
  nowMs(): number {
    return this.currentMs;
  }

  size(): number {
    return this.heap.length;
  }

  /** Schedules `event` to run `delayMs` from now (0 runs after everything already due now). */
  schedule(delayMs: number, event: T): void {
    assert(delayMs >= 0, 'events are never scheduled in the past');
    this.push({ atMs: this.currentMs + delayMs, sequence: this.sequence++, event });
  }

  /** The time of the next event, or null when the queue is empty. */
  peekMs(): number | null {
    const top = this.heap[0];
    return top === undefined ? null : top.atMs;
  }

  /** Removes the next event and moves the clock to its time. */
  pop(): T | null {
    const top = this.heap[0];
    if (top === undefined) return null;
    const last = this.heap.pop();
    assert(last !== undefined, 'heap is non-empty');
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    assert(top.atMs >= this.currentMs, 'virtual time never goes backwards');
    this.currentMs = top.atMs;
    return top.event;
  }

  private less(a: Scheduled<T>, b: Scheduled<T>): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.sequence < b.sequence);
  }

  private push(item: Scheduled<T>): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Scheduled<T>;
      if (!this.less(item, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const item = heap[start] as Scheduled<T>;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      let child = left;
      if (right < heap.length && this.less(heap[right] as Scheduled<T>, heap[left] as Scheduled<T>)) child = right;
      const c = heap[child] as Scheduled<T>;
      if (!this.less(c, item)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = item;
  }
}
