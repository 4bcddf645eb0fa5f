/** A `HostTimer` whose time moves only when a test says so. Test-only. */
import { assert } from '../errors.js';
import type { HostTimer, TimerHandle } from '../host/timer.js';

interface Interval {
  readonly id: number;
  readonly callback: () => void;
  readonly intervalMs: number;
  dueMs: number;
}

export class ManualTimer implements HostTimer {
  private nowMs = 0;
  private nextId = 1;
  private readonly intervals = new Map<number, Interval>();

  now(): number {
    return this.nowMs;
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    assert(intervalMs > 0, 'interval is positive');
    const id = this.nextId++;
    this.intervals.set(id, { id, callback, intervalMs, dueMs: this.nowMs + intervalMs });
    return id;
  }

  clearInterval(handle: TimerHandle): void {
    this.intervals.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing due intervals in time order (ties by creation order). */
  advance(ms: number): void {
    assert(ms >= 0, 'time does not go backwards');
    const endMs = this.nowMs + ms;
    for (;;) {
      let next: Interval | undefined;
      for (const interval of this.intervals.values()) {
        if (interval.dueMs <= endMs && (next === undefined || interval.dueMs < next.dueMs)) next = interval;
      }
      if (next === undefined) break;
      this.nowMs = next.dueMs;
      next.dueMs += next.intervalMs;
      next.callback();
    }
    this.nowMs = endMs;
  }

  /** Number of live intervals (a stopped host leaves none). */
  intervalCount(): number {
    return this.intervals.size;
  }
}
