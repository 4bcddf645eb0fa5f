import { afterEach, beforeEach, expect } from 'vitest';

/** Collects unhandled rejections during each test and fails the test if any happened. */
export function expectNoUnhandledRejections(): { seen: unknown[] } {
  const state = { seen: [] as unknown[] };
  const handler = (reason: unknown): void => {
    state.seen.push(reason);
  };
  beforeEach(() => {
    state.seen.length = 0;
    process.on('unhandledRejection', handler);
  });
  afterEach(async () => {
    // Let pending microtasks and timers that might reject run first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.off('unhandledRejection', handler);
    expect(state.seen).toEqual([]);
  });
  return state;
}

/** A seeded PRNG (mulberry32) for deterministic jitter and sticky choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
