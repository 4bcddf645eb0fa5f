import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns, propertySeeds, withReplay } from './test-harness.js';
import { rangeAssignor, uniformAssignor, type AssignmentInput, type AssignmentMember } from './assignors.js';
import { partitionCount, partitionsOf, type TopicPartitionSet } from './partition-set.js';

// Randomized with a fixed seed (so CI runs the same cases every time); a failure prints its seed
// and the command that replays it. FC_SEED=<seed> replays one, FC_SEED=random explores, FC_RUNS=<n>
// runs longer.
const file = 'src/groups/assignors.test.ts';
const [seed = 1] = propertySeeds([1]);
console.log(`assignors: seed ${seed}`);
const fcParams = { numRuns: propertyRuns(200), seed } as const;

function member(memberId: string, topics: string[], instanceId = ''): AssignmentMember {
  return { memberId, instanceId, subscribedTopics: new Set(topics) };
}

function loads(assignment: Map<string, TopicPartitionSet>): number[] {
  return [...assignment.values()].map(partitionCount);
}

/** Every partition of a subscribed topic is given to exactly one subscriber of it. */
function expectComplete(input: AssignmentInput, assignment: Map<string, TopicPartitionSet>): void {
  const seen = new Map<string, string>();
  for (const [memberId, set] of assignment) {
    const subscriber = input.members.find((m) => m.memberId === memberId);
    expect(subscriber).toBeDefined();
    for (const [topic, partition] of partitionsOf(set)) {
      expect(subscriber?.subscribedTopics.has(topic)).toBe(true);
      expect(partition).toBeLessThan(input.partitionCounts.get(topic) as number);
      const key = `${topic}/${partition}`;
      expect(seen.has(key)).toBe(false);
      seen.set(key, memberId);
    }
  }
  for (const [topic, count] of input.partitionCounts) {
    const subscribed = input.members.some((m) => m.subscribedTopics.has(topic));
    for (let partition = 0; partition < count; partition++) {
      expect(seen.has(`${topic}/${partition}`)).toBe(subscribed);
    }
  }
  expect([...assignment.keys()].sort()).toEqual(input.members.map((m) => m.memberId).sort());
}

function moved(before: Map<string, TopicPartitionSet>, after: Map<string, TopicPartitionSet>): number {
  const owner = new Map<string, string>();
  for (const [memberId, set] of before) for (const [t, p] of partitionsOf(set)) owner.set(`${t}/${p}`, memberId);
  let count = 0;
  for (const [memberId, set] of after) {
    for (const [t, p] of partitionsOf(set)) {
      const previous = owner.get(`${t}/${p}`);
      if (previous !== undefined && previous !== memberId) count++;
    }
  }
  return count;
}

describe('uniform assignor', () => {
  it('spreads 6 partitions over 3 members 2 each, and a 4th member takes 1: one move', () => {
    const counts = new Map([['t', 6]]);
    const three = [member('a', ['t']), member('b', ['t']), member('c', ['t'])];
    const first = uniformAssignor({ members: three, partitionCounts: counts, previousTarget: new Map() });
    expect(loads(first)).toEqual([2, 2, 2]);
    const four = [...three, member('d', ['t'])];
    const second = uniformAssignor({ members: four, partitionCounts: counts, previousTarget: first });
    expect(loads(second).sort()).toEqual([1, 1, 2, 2]);
    expect(moved(first, second)).toBe(1);
    expectComplete({ members: four, partitionCounts: counts, previousTarget: first }, second);
  });

  it('keeps a removed member out and moves only its partitions', () => {
    const counts = new Map([['t', 6]]);
    const three = [member('a', ['t']), member('b', ['t']), member('c', ['t'])];
    const first = uniformAssignor({ members: three, partitionCounts: counts, previousTarget: new Map() });
    const two = three.slice(0, 2);
    const second = uniformAssignor({ members: two, partitionCounts: counts, previousTarget: first });
    expect(loads(second)).toEqual([3, 3]);
    // Only c's two partitions change hands; a and b keep theirs.
    expect(moved(first, second)).toBe(2);
    for (const id of ['a', 'b']) {
      for (const [t, p] of partitionsOf(first.get(id) as TopicPartitionSet))
        expect(second.get(id)?.get(t)).toContain(p);
    }
  });

  it('balances when subscriptions differ: a topic only one member wants goes to it', () => {
    const counts = new Map([
      ['x', 4],
      ['y', 4],
    ]);
    const members = [member('a', ['x', 'y']), member('b', ['x'])];
    const result = uniformAssignor({ members, partitionCounts: counts, previousTarget: new Map() });
    expectComplete({ members, partitionCounts: counts, previousTarget: new Map() }, result);
    expect(result.get('b')?.get('x')?.length).toBe(4);
    expect(result.get('a')?.get('y')?.length).toBe(4);
  });

  it('is complete, balanced within one for equal subscriptions, deterministic, and sticky', () => {
    withReplay(file, seed, () =>
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.stringMatching(/^[a-z]{1,3}$/), { minLength: 1, maxLength: 8 }),
          fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 3 }),
          fc.uniqueArray(fc.stringMatching(/^[a-z]{1,3}$/), { minLength: 1, maxLength: 8 }),
          (ids, topicSizes, laterIds) => {
            const counts = new Map(topicSizes.map((size, index) => [`t${index}`, size] as const));
            const topics = [...counts.keys()];
            const members = ids.map((id) => member(id, topics));
            const input = { members, partitionCounts: counts, previousTarget: new Map() };
            const first = uniformAssignor(input);
            expectComplete(input, first);
            const sizes = loads(first);
            expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
            expect(uniformAssignor(input)).toEqual(first);
            // Same members again: nothing moves.
            expect(moved(first, uniformAssignor({ ...input, previousTarget: first }))).toBe(0);
            // Another membership: still balanced, and a kept member keeps up to its fair share.
            const later = laterIds.map((id) => member(id, topics));
            const second = uniformAssignor({ members: later, partitionCounts: counts, previousTarget: first });
            expectComplete({ members: later, partitionCounts: counts, previousTarget: first }, second);
            const laterSizes = loads(second);
            expect(Math.max(...laterSizes) - Math.min(...laterSizes)).toBeLessThanOrEqual(1);
            const total = topicSizes.reduce((a, b) => a + b, 0);
            const floor = Math.floor(total / later.length);
            for (const m of later) {
              const before = first.get(m.memberId);
              if (before === undefined) continue;
              let kept = 0;
              for (const [t, p] of partitionsOf(before))
                if (second.get(m.memberId)?.get(t)?.includes(p) === true) kept++;
              expect(kept).toBeGreaterThanOrEqual(Math.min(partitionCount(before), floor));
            }
          },
        ),
        fcParams,
      ),
    );
  });

  it('is complete for any subscriptions, and no move is left that would even the loads', () => {
    withReplay(file, seed, () =>
      fc.assert(
        fc.property(
          fc.array(fc.subarray(['t0', 't1', 't2', 't3']), { minLength: 1, maxLength: 6 }),
          fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 4, maxLength: 4 }),
          (subscriptions, sizes) => {
            const counts = new Map(sizes.map((size, index) => [`t${index}`, size] as const));
            const members = subscriptions.map((topics, index) => member(`m${index}`, topics));
            const input = { members, partitionCounts: counts, previousTarget: new Map() };
            const result = uniformAssignor(input);
            expectComplete(input, result);
            for (const from of members) {
              const fromLoad = partitionCount(result.get(from.memberId) as TopicPartitionSet);
              for (const [topic] of partitionsOf(result.get(from.memberId) as TopicPartitionSet)) {
                for (const to of members) {
                  if (to === from || !to.subscribedTopics.has(topic)) continue;
                  const toLoad = partitionCount(result.get(to.memberId) as TopicPartitionSet);
                  expect(toLoad + 1).toBeGreaterThanOrEqual(fromLoad);
                }
              }
            }
          },
        ),
        fcParams,
      ),
    );
  });
});

describe('range assignor', () => {
  it("gives contiguous ranges per topic, the first members one more (Kafka's range)", () => {
    const counts = new Map([
      ['a', 7],
      ['b', 3],
    ]);
    const members = [member('m2', ['a', 'b']), member('m1', ['a', 'b']), member('m3', ['a'])];
    const result = rangeAssignor({ members, partitionCounts: counts, previousTarget: new Map() });
    expect(result.get('m1')?.get('a')).toEqual([0, 1, 2]);
    expect(result.get('m2')?.get('a')).toEqual([3, 4]);
    expect(result.get('m3')?.get('a')).toEqual([5, 6]);
    expect(result.get('m1')?.get('b')).toEqual([0, 1]);
    expect(result.get('m2')?.get('b')).toEqual([2]);
    expect(result.get('m3')?.get('b')).toBeUndefined();
    expectComplete({ members, partitionCounts: counts, previousTarget: new Map() }, result);
  });

  it('co-partitions: the same member gets the same partitions of equally sized topics', () => {
    const counts = new Map([
      ['orders', 4],
      ['payments', 4],
    ]);
    const members = [member('x', ['orders', 'payments']), member('y', ['orders', 'payments'])];
    const result = rangeAssignor({ members, partitionCounts: counts, previousTarget: new Map() });
    for (const m of members)
      expect(result.get(m.memberId)?.get('orders')).toEqual(result.get(m.memberId)?.get('payments'));
  });

  it('orders static members by instance id, so a new member id keeps the place', () => {
    const counts = new Map([['t', 4]]);
    const before = rangeAssignor({
      members: [member('z-old', ['t'], 'pod-0'), member('b', ['t'], 'pod-1')],
      partitionCounts: counts,
      previousTarget: new Map(),
    });
    const after = rangeAssignor({
      members: [member('a-new', ['t'], 'pod-0'), member('b', ['t'], 'pod-1')],
      partitionCounts: counts,
      previousTarget: before,
    });
    expect(after.get('a-new')).toEqual(before.get('z-old'));
    expect(after.get('b')).toEqual(before.get('b'));
  });

  it('is complete for any subscriptions', () => {
    withReplay(file, seed, () =>
      fc.assert(
        fc.property(
          fc.array(fc.subarray(['t0', 't1', 't2']), { minLength: 1, maxLength: 6 }),
          fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 3, maxLength: 3 }),
          (subscriptions, sizes) => {
            const counts = new Map(sizes.map((size, index) => [`t${index}`, size] as const));
            const members = subscriptions.map((topics, index) => member(`m${index}`, topics));
            const input = { members, partitionCounts: counts, previousTarget: new Map() };
            expectComplete(input, rangeAssignor(input));
          },
        ),
        fcParams,
      ),
    );
  });
});
