import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configFromConfState, confStateFromConfig } from '../tracker/tracker.js';
import type { TrackerConfig } from '../tracker/tracker.js';
import { ConfChangeTransition, ConfChangeType } from '../types.js';
import type { ConfChange, ConfChangeSingle, ConfState } from '../types.js';
import { applyChange } from './changer.js';

const cs = (
  voters: number[],
  learners: number[] = [],
  votersOutgoing: number[] = [],
  learnersNext: number[] = [],
  autoLeave = false,
): ConfState => ({
  voters,
  learners,
  votersOutgoing,
  learnersNext,
  autoLeave,
});
const cc = (transition: ConfChangeTransition, ...changes: ConfChangeSingle[]): ConfChange => ({
  transition,
  changes,
  context: new Uint8Array(0),
});
const voter = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.addVoter, nodeId });
const learner = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.addLearner, nodeId });
const remove = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.removeNode, nodeId });

function apply(from: ConfState, change: ConfChange): ConfState | string {
  const result = applyChange(configFromConfState(from), change);
  return result.ok ? confStateFromConfig(result.config) : result.reason;
}

describe('conf change rules', () => {
  it('simple changes: one voter at a time', () => {
    expect(apply(cs([1, 2, 3]), cc(ConfChangeTransition.auto, voter(4)))).toEqual(cs([1, 2, 3, 4]));
    expect(apply(cs([1, 2, 3]), cc(ConfChangeTransition.auto, learner(4)))).toEqual(cs([1, 2, 3], [4]));
    expect(apply(cs([1, 2, 3], [4]), cc(ConfChangeTransition.auto, voter(4)))).toEqual(cs([1, 2, 3, 4]));
    expect(apply(cs([1, 2, 3]), cc(ConfChangeTransition.auto, learner(3)))).toEqual(cs([1, 2], [3]));
    expect(apply(cs([1]), cc(ConfChangeTransition.auto, remove(1)))).toMatch(/every voter/);
  });

  it('several changes with transition auto go through a joint config with auto-leave', () => {
    expect(apply(cs([1, 2, 3]), cc(ConfChangeTransition.auto, voter(4), remove(3)))).toEqual(
      cs([1, 2, 4], [], [1, 2, 3], [], true),
    );
  });

  it('joint: enter, demote into learnersNext, leave', () => {
    const joint = apply(cs([1, 2, 3]), cc(ConfChangeTransition.jointExplicit, learner(3), voter(4)));
    expect(joint).toEqual(cs([1, 2, 4], [], [1, 2, 3], [3], false));
    expect(apply(joint as ConfState, cc(ConfChangeTransition.auto, voter(5)))).toMatch(/joint/);
    expect(apply(joint as ConfState, cc(ConfChangeTransition.jointImplicit, voter(5)))).toMatch(/already/);
    expect(apply(joint as ConfState, cc(ConfChangeTransition.auto))).toEqual(cs([1, 2, 4], [3]));
    expect(apply(cs([1, 2, 3]), cc(ConfChangeTransition.auto))).toMatch(/not in a joint/);
  });

  it('needs a known base membership', () => {
    expect(apply(cs([]), cc(ConfChangeTransition.auto, voter(1)))).toMatch(/no voters known/);
  });
});

function invariantsHold(config: TrackerConfig): void {
  for (const id of config.learners) {
    expect(config.voters.has(id)).toBe(false);
    expect(config.votersOutgoing.has(id)).toBe(false);
  }
  for (const id of config.learnersNext) {
    expect(config.votersOutgoing.has(id)).toBe(true);
    expect(config.voters.has(id)).toBe(false);
  }
  expect(config.voters.size).toBeGreaterThan(0);
  if (config.votersOutgoing.size === 0) {
    expect(config.learnersNext.size).toBe(0);
    expect(config.autoLeave).toBe(false);
  }
}

describe('conf change (property)', () => {
  const single = fc.record({
    type: fc.constantFrom(ConfChangeType.addVoter, ConfChangeType.addLearner, ConfChangeType.removeNode),
    nodeId: fc.integer({ min: 1, max: 6 }),
  });
  const change = fc.record({
    transition: fc.constantFrom(
      ConfChangeTransition.auto,
      ConfChangeTransition.jointImplicit,
      ConfChangeTransition.jointExplicit,
    ),
    changes: fc.array(single, { maxLength: 4 }),
    context: fc.constant(new Uint8Array(0)),
  });

  it('every accepted change keeps the membership invariants; a simple change moves at most one voter', () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 20 }), (changes) => {
        let config = configFromConfState(cs([1, 2, 3]));
        for (const next of changes) {
          const result = applyChange(config, next);
          if (!result.ok) continue;
          invariantsHold(result.config);
          const simple =
            config.votersOutgoing.size === 0 && result.config.votersOutgoing.size === 0 && next.changes.length > 0;
          if (simple) {
            const diff =
              [...config.voters].filter((id) => !result.config.voters.has(id)).length +
              [...result.config.voters].filter((id) => !config.voters.has(id)).length;
            expect(diff).toBeLessThanOrEqual(1);
          }
          config = result.config;
        }
      }),
      { numRuns: 300 },
    );
  });
});
