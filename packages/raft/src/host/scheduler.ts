/**
 * How a host schedules its own loop turns, injected beside its `HostTimer` so that the simulator
 * runs real hosts in virtual time: a turn it schedules becomes an event of the simulator's clock,
 * and one seed replays the interleaving of every host's turns, frames and persists.
 */

export interface HostScheduler {
  /**
   * Runs `callback` once, soon, on a fresh stack: after the current callback and the microtasks it
   * queued, so that a burst of messages and proposals arriving meanwhile joins one loop turn (the
   * group commit). Never re-entrant; a callback that throws crashes the process (real scheduler).
   */
  setImmediate(callback: () => void): void;
}

/** The runtime's `setImmediate`: what every production host uses. */
export const realScheduler: HostScheduler = {
  setImmediate(callback) {
    setImmediate(callback);
  },
};
