/**
 * One host incarnation's time in the host simulator: its `HostTimer` (interval ticks at the
 * machine's own clock rate) and its `HostScheduler` (a loop turn is an event of the simulator's
 * clock at the current virtual time, after everything already due). A crash kills the clock:
 * nothing it scheduled runs any more, as nothing of a dead process does.
 */
import { assert } from '../../errors.js';
import type { HostScheduler } from '../../host/scheduler.js';
import type { HostTimer, TimerHandle } from '../../host/timer.js';

/** What a host's clock asks of the simulator: run `run` after `delayMs` of virtual time. */
export type SimClockPost = (delayMs: number, kind: 'tick' | 'turn', run: () => void) => void;

export class SimHostClock implements HostTimer, HostScheduler {
  private alive = true;
  private nextId = 1;
  private readonly intervals = new Set<number>();

  constructor(
    private readonly post: SimClockPost,
    /** Virtual time now, in ms. */
    private readonly virtualNowMs: () => number,
    /** Virtual ms per local ms: this machine's clock runs slow (> 1) or fast (< 1). */
    private readonly periodScale: number,
  ) {
    assert(periodScale > 0, 'a clock runs forward');
  }

  now(): number {
    return this.virtualNowMs() / this.periodScale;
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    assert(intervalMs > 0, 'interval is positive');
    const id = this.nextId++;
    this.intervals.add(id);
    const periodMs = intervalMs * this.periodScale;
    const fire = (): void => {
      if (!this.alive || !this.intervals.has(id)) return;
      this.post(periodMs, 'tick', fire);
      callback();
    };
    this.post(periodMs, 'tick', fire);
    return id;
  }

  clearInterval(handle: TimerHandle): void {
    this.intervals.delete(handle as number);
  }

  setImmediate(callback: () => void): void {
    if (!this.alive) return;
    this.post(0, 'turn', () => {
      if (this.alive) callback();
    });
  }

  /** The process died: nothing scheduled runs. */
  kill(): void {
    this.alive = false;
    this.intervals.clear();
  }
}
