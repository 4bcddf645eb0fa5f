/**
 * A broker's Raft host timer under the nemesis: while paused its ticks are swallowed (the host
 * stops electing, heartbeating and timing out, like a process in a long GC pause or SIGSTOP); its
 * clock can jump, and it can run fast or slow against the other brokers (rate skew: a broker at
 * rate 2 ticks twice as often, so its election and heartbeat timeouts are half as long in real
 * time). The host reads `now()` only for metrics today; the rate is what exercises timeouts.
 */
import { assert, realTimer } from '@streambus/raft';
import type { HostTimer, TimerHandle } from '@streambus/raft';

interface Interval {
  readonly callback: () => void;
  readonly intervalMs: number;
  handle: TimerHandle;
}

export class ChaosTimer implements HostTimer {
  private paused = false;
  private offsetMs = 0;
  private rateFactor = 1;
  private readonly intervals = new Set<Interval>();

  now(): number {
    return realTimer.now() + this.offsetMs;
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    const interval: Interval = { callback, intervalMs, handle: undefined };
    interval.handle = this.schedule(interval);
    this.intervals.add(interval);
    return interval;
  }

  clearInterval(handle: TimerHandle): void {
    const interval = handle as Interval;
    realTimer.clearInterval(interval.handle);
    this.intervals.delete(interval);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Moves this broker's clock by `deltaMs` (positive: a jump forward). */
  jump(deltaMs: number): void {
    this.offsetMs += deltaMs;
  }

  get skewMs(): number {
    return this.offsetMs;
  }

  /** Runs this broker's ticks `factor` times as fast as real time (1: normal). */
  setRate(factor: number): void {
    assert(factor > 0 && Number.isFinite(factor), 'clock rate is positive');
    this.rateFactor = factor;
    for (const interval of this.intervals) {
      realTimer.clearInterval(interval.handle);
      interval.handle = this.schedule(interval);
    }
  }

  get rate(): number {
    return this.rateFactor;
  }

  private schedule(interval: Interval): TimerHandle {
    return realTimer.setInterval(
      () => {
        if (!this.paused) interval.callback();
      },
      Math.max(1, Math.round(interval.intervalMs / this.rateFactor)),
    );
  }
}
