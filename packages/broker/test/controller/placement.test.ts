import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignReplicas } from '../../src/controller/placement.js';
import type { BrokerLoad, PlacementBroker } from '../../src/controller/placement.js';
import { fcOptions } from './seed.js';

const file = 'test/controller/placement.test.ts';

function spread(counts: Map<number, number>): number {
  const values = [...counts.values()];
  return Math.max(...values) - Math.min(...values);
}

/** Adds `assignments` to `load` and returns per-broker replica and leader counts. */
function addLoad(
  load: Map<number, { replicas: number; leaders: number }>,
  assignments: readonly (readonly number[])[],
): void {
  for (const replicas of assignments) {
    for (const [i, id] of replicas.entries()) {
      const entry = load.get(id);
      if (entry === undefined) throw new Error(`replica on unknown broker ${id}`);
      entry.replicas++;
      if (i === 0) entry.leaders++;
    }
  }
}

const clusterArb = fc
  .record({
    brokerCount: fc.integer({ min: 1, max: 9 }),
    rackCount: fc.integer({ min: 0, max: 4 }),
    idGap: fc.integer({ min: 1, max: 5 }),
  })
  .chain(({ brokerCount, rackCount, idGap }) =>
    fc.record({
      brokers: fc.constant(
        Array.from({ length: brokerCount }, (_, i): PlacementBroker => ({
          id: 1 + i * idGap,
          rack: rackCount === 0 ? null : `rack-${i % rackCount}`,
        })),
      ),
      topics: fc.array(
        fc.record({
          partitions: fc.integer({ min: 1, max: 200 }),
          replicationFactor: fc.integer({ min: 1, max: Math.min(3, brokerCount) }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
    }),
  );

describe('assignReplicas', () => {
  it('keeps replicas and leaders per broker within one, with no broker twice in a partition, topic after topic', () => {
    fc.assert(
      fc.property(clusterArb, ({ brokers, topics }) => {
        const load = new Map(brokers.map((b) => [b.id, { replicas: 0, leaders: 0 }]));
        for (const { partitions, replicationFactor } of topics) {
          const assignments = assignReplicas(brokers, partitions, replicationFactor, load);
          expect(assignments).toHaveLength(partitions);
          for (const replicas of assignments) {
            expect(replicas).toHaveLength(replicationFactor);
            expect(new Set(replicas).size).toBe(replicationFactor);
          }
          addLoad(load, assignments);
          expect(spread(new Map([...load].map(([id, l]) => [id, l.replicas])))).toBeLessThanOrEqual(1);
          expect(spread(new Map([...load].map(([id, l]) => [id, l.leaders])))).toBeLessThanOrEqual(1);
        }
      }),
      fcOptions(file, 100),
    );
  });

  it('is deterministic: the same input gives the same placement', () => {
    fc.assert(
      fc.property(clusterArb, ({ brokers, topics }) => {
        const first = topics.map((t) => assignReplicas(brokers, t.partitions, t.replicationFactor));
        const shuffled = [...brokers].reverse();
        const second = topics.map((t) => assignReplicas(shuffled, t.partitions, t.replicationFactor));
        expect(second).toEqual(first);
      }),
      fcOptions(file, 50),
    );
  });

  it('puts the replicas of a partition on both racks of a two-rack cluster', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 4 }),
        (perRack, topicSizes) => {
          const brokers = Array.from({ length: 2 * perRack }, (_, i): PlacementBroker => ({
            id: i + 1,
            rack: `az-${i % 2}`,
          }));
          const rackOf = new Map(brokers.map((b) => [b.id, b.rack]));
          const load = new Map(brokers.map((b) => [b.id, { replicas: 0, leaders: 0 }]));
          for (const partitions of topicSizes) {
            const assignments = assignReplicas(brokers, partitions, 2, load);
            for (const replicas of assignments) expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(2);
            addLoad(load, assignments);
          }
        },
      ),
      fcOptions(file, 100),
    );
  });

  it('puts the replicas of an RF 3 partition on three racks of a three-rack cluster', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 4 }),
        (perRack, topicSizes) => {
          const brokers = Array.from({ length: 3 * perRack }, (_, i): PlacementBroker => ({
            id: i + 1,
            rack: `az-${i % 3}`,
          }));
          const rackOf = new Map(brokers.map((b) => [b.id, b.rack]));
          const load = new Map(brokers.map((b) => [b.id, { replicas: 0, leaders: 0 }]));
          for (const partitions of topicSizes) {
            const assignments = assignReplicas(brokers, partitions, 3, load);
            for (const replicas of assignments) expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(3);
            addLoad(load, assignments);
          }
        },
      ),
      fcOptions(file, 100),
    );
  });

  it('spreads the followers of each leader over several brokers, so a failure spreads its leaderships', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 9 }), fc.integer({ min: 3, max: 6 }), (brokerCount, rounds) => {
        // RF 2 is the worst case: one follower per partition.
        const brokers = Array.from({ length: brokerCount }, (_, i): PlacementBroker => ({ id: i + 1, rack: null }));
        const assignments = assignReplicas(brokers, rounds * brokerCount, 2);
        for (const broker of brokers) {
          const followers = new Set(assignments.filter((r) => r[0] === broker.id).map((r) => r[1]));
          expect(followers.size).toBeGreaterThanOrEqual(2);
        }
      }),
      fcOptions(file, 100),
    );
  });

  it('places a first topic on 3 brokers with RF 3 with every broker leading 2 of 6', () => {
    const brokers = [1, 2, 3].map((id) => ({ id, rack: null }));
    const assignments = assignReplicas(brokers, 6, 3);
    expect(assignments.map((replicas) => replicas[0])).toEqual([1, 2, 3, 1, 2, 3]);
    for (const replicas of assignments) expect([...replicas].sort()).toEqual([1, 2, 3]);
  });

  it('fills a newly added broker first', () => {
    const brokers = [1, 2, 3, 4].map((id) => ({ id, rack: null }));
    const load = new Map<number, BrokerLoad>([
      [1, { replicas: 6, leaders: 2 }],
      [2, { replicas: 6, leaders: 2 }],
      [3, { replicas: 6, leaders: 2 }],
    ]);
    const assignments = assignReplicas(brokers, 2, 3, load);
    expect(assignments.every((replicas) => replicas.includes(4))).toBe(true);
    expect(assignments[0]?.[0]).toBe(4);
  });
});
