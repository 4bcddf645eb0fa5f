/**
 * What a client knows of each broker address's reachability: an address whose connection or
 * call failed is skipped by `'any'` calls (metadata, admin, producer ids) until its backoff has
 * passed, so one dead, paused or unreachable broker costs one failed attempt, not one per call.
 * Kafka's clients do the same per node (reconnect.backoff.ms, doubling up to its maximum).
 */
import { addressesTrackedMax } from '../constants.js';

interface AddressState {
  /** Failures in a row since the last success. */
  failures: number;
  /** Before this time (ms since the epoch) the address is only used when no other is. */
  retryAtMs: number;
  /** What the last failure was, for the error of an operation that runs out of brokers. */
  lastError: string;
}

/** Per-address failure backoff. Pure bookkeeping: the caller says what failed and when. */
export class BrokerHealth {
  private readonly states = new Map<string, AddressState>();

  constructor(private readonly backoffMs: (attempt: number) => number) {}

  /** Records a failed connection or call to `address`. */
  failed(address: string, error: string, nowMs: number): void {
    let state = this.states.get(address);
    if (state === undefined) {
      if (this.states.size >= addressesTrackedMax) this.states.delete(this.states.keys().next().value as string);
      state = { failures: 0, retryAtMs: 0, lastError: '' };
      this.states.set(address, state);
    }
    state.retryAtMs = nowMs + this.backoffMs(state.failures);
    state.failures++;
    state.lastError = error;
  }

  /** Records a call to `address` that was answered: the address is healthy again. */
  succeeded(address: string): void {
    this.states.delete(address);
  }

  /** True while `address` is backing off after a failure. */
  isBackingOff(address: string, nowMs: number): boolean {
    const state = this.states.get(address);
    return state !== undefined && state.retryAtMs > nowMs;
  }

  /**
   * `candidates` in the order to try them: round-robin from `start`, those not backing off
   * first, then those backing off, the one whose backoff ends first ahead.
   */
  order(candidates: readonly string[], start: number, nowMs: number): string[] {
    const rotated = candidates.map((_, i) => candidates[(start + i) % candidates.length] as string);
    const retryAt = (address: string): number => Math.max(nowMs, this.states.get(address)?.retryAtMs ?? 0);
    // A stable sort keeps the rotation among addresses that are equally available.
    return rotated.sort((a, b) => retryAt(a) - retryAt(b));
  }

  /** The last failure of `address`, or undefined while it is healthy. */
  lastError(address: string): string | undefined {
    return this.states.get(address)?.lastError;
  }
}
