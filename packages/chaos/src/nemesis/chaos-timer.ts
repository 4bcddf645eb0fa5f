/**
 * A broker's Raft host timer under the nemesis: while paused its ticks are swallowed (the host
 * stops electing, heartbeating and timing out, like a process in a long GC pause or SIGSTOP);
 * its clock can run ahead or behind the others (skew) and jump.
 */
import { realTimer } from '@streambus/raft';
import type { HostTimer, TimerHandle } from '@streambus/raft';

export class ChaosTimer implements HostTimer {
  private paused = false;
  private offsetMs = 0;

  now(): number {
    return realTimer.now() + this.offsetMs;
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    return realTimer.setInterval(() => {
      if (!this.paused) callback();
    }, intervalMs);
  }

  clearInterval(handle: TimerHandle): void {
    realTimer.clearInterval(handle);
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
}
