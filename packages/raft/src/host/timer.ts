/**
 * The host's only source of time, injected so that tests and the simulator drive a host
 * deterministically (see `ManualTimer` in the testing subpath).
 */

/** An opaque handle returned by `setInterval`. */
export type TimerHandle = unknown;

export interface HostTimer {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `callback` every `intervalMs` until cleared. */
  setInterval(callback: () => void, intervalMs: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** Real time: `performance.now()` and the runtime's interval timers (unref'd: they never keep a process alive). */
export const realTimer: HostTimer = {
  now: () => performance.now(),
  setInterval(callback, intervalMs) {
    const handle = setInterval(callback, intervalMs);
    handle.unref();
    return handle;
  },
  clearInterval(handle) {
    clearInterval(handle as ReturnType<typeof setInterval>);
  },
};
