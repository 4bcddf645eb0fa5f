import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inflights } from './inflights.js';

describe('Inflights (property, against an array)', () => {
  it('frees acknowledged messages in order and is full at either bound', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        step: fc.integer({ min: 1, max: 5 }),
        bytes: fc.integer({ min: 0, max: 10 }),
      }),
      fc.record({ kind: fc.constant('free' as const), back: fc.integer({ min: -2, max: 10 }) }),
      fc.constant({ kind: 'freeFirst' as const }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(op, { maxLength: 60 }),
        (messagesMax, bytesMax, ops) => {
          const inflights = new Inflights(messagesMax, bytesMax);
          let reference: { index: number; bytes: number }[] = [];
          let last = 0;
          for (const o of ops) {
            const bytes = reference.reduce((sum, m) => sum + m.bytes, 0);
            const full = reference.length >= messagesMax || bytes >= bytesMax;
            expect(inflights.full()).toBe(full);
            if (o.kind === 'add') {
              if (full) continue;
              last += o.step;
              inflights.add(last, o.bytes);
              reference.push({ index: last, bytes: o.bytes });
            } else if (o.kind === 'free') {
              const upTo = last - o.back;
              inflights.freeLE(upTo);
              reference = reference.filter((m) => m.index > upTo);
            } else {
              inflights.freeFirstOne();
              reference = reference.slice(1);
            }
            expect(inflights.count).toBe(reference.length);
            expect(inflights.bytes).toBe(reference.reduce((sum, m) => sum + m.bytes, 0));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
