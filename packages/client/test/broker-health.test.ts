import { describe, expect, it } from 'vitest';
import { BrokerHealth } from '../src/cluster/broker-health.js';

describe('BrokerHealth', () => {
  const health = (): BrokerHealth => new BrokerHealth((attempt) => 100 * 2 ** attempt);

  it('orders candidates round-robin, those backing off last, the soonest back first', () => {
    const h = health();
    const all = ['a:1', 'b:1', 'c:1'];
    expect(h.order(all, 0, 1_000)).toEqual(['a:1', 'b:1', 'c:1']);
    expect(h.order(all, 1, 1_000)).toEqual(['b:1', 'c:1', 'a:1']);
    h.failed('b:1', 'refused', 1_000); // back at 1100
    h.failed('a:1', 'refused', 1_000);
    h.failed('a:1', 'refused', 1_000); // second failure: back at 1200
    expect(h.order(all, 0, 1_050)).toEqual(['c:1', 'b:1', 'a:1']);
    expect(h.isBackingOff('a:1', 1_150)).toBe(true);
    expect(h.order(all, 0, 1_150)).toEqual(['b:1', 'c:1', 'a:1']);
    expect(h.lastError('a:1')).toBe('refused');
  });

  it('forgets an address once a call to it succeeds', () => {
    const h = health();
    h.failed('a:1', 'timeout', 0);
    expect(h.isBackingOff('a:1', 50)).toBe(true);
    h.succeeded('a:1');
    expect(h.isBackingOff('a:1', 50)).toBe(false);
    expect(h.lastError('a:1')).toBeUndefined();
  });
});
