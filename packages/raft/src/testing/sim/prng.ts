/**
 * A small seeded pseudo-random generator (mulberry32) for the simulator. Never Math.random:
 * one seed must replay one run exactly, on any machine.
 */
import { assert } from '../../errors.js';

export class Prng {
  private state: number;

  constructor(seed: number) {
    assert(Number.isInteger(seed), 'prng seed is an integer');
    // Scramble the seed so that neighbouring seeds start far apart.
    this.state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }

  /** The next 32-bit unsigned value. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0, 'prng bound is a positive integer');
    return Math.floor(this.next() * bound);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    assert(hi >= lo, 'prng range is ordered');
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'prng picks from a non-empty array');
    const item = items[this.int(items.length)];
    assert(item !== undefined, 'prng picked an element');
    return item;
  }

  /** A new generator whose stream depends on this one's seed and `salt` only. */
  fork(salt: number): Prng {
    return new Prng((this.nextUint32() ^ Math.imul(salt + 1, 0x27d4eb2d)) | 0);
  }

  /** Shuffles a copy of `items` (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const a = out[i] as T;
      out[i] = out[j] as T;
      out[j] = a;
    }
    return out;
  }
}
