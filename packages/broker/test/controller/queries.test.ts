import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ControllerCommand } from '../../src/controller/commands.js';
import {
  brokersToFence,
  clusterLoad,
  offlinePartitions,
  preferredLeaderElections,
  underReplicated,
} from '../../src/controller/placement.js';
import { planCreateTopic, planMoveReplicasOff } from '../../src/controller/plan.js';
import { clusterOf, expectOk } from './helpers.js';
import { fcOptions } from './seed.js';

const file = 'test/controller/queries.test.ts';

function report(groupId: number, leaderId: number, term: number, isr: number[]): ControllerCommand {
  return { type: 'reportPartitions', reports: [{ groupId, leaderId, term, isr, highWatermark: 0 }] };
}

describe('cluster queries', () => {
  it('finds partitions to hand back to their preferred leader once it is live and in sync', () => {
    const state = clusterOf(3);
    expectOk(
      state.apply({
        type: 'createTopic',
        name: 't',
        replicationFactor: 3,
        configs: [],
        assignments: [
          [1, 2, 3],
          [2, 3, 1],
          [3, 1, 2],
        ],
      }),
    );
    // Broker 1 went away: broker 2 leads group 1 in term 2, ISR without broker 1.
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 1, fenced: true }));
    expectOk(state.apply(report(1, 2, 2, [2, 3])));
    expectOk(state.apply(report(2, 2, 1, [2, 3])));
    expectOk(state.apply(report(3, 3, 1, [2, 3])));
    expect(preferredLeaderElections(state)).toEqual([]);
    expect(underReplicated(state).map((p) => p.groupId)).toEqual([1, 2, 3]);
    expect(offlinePartitions(state)).toEqual([]);

    // It is back and caught up, but still fenced: no move yet.
    expectOk(state.apply(report(1, 2, 2, [1, 2, 3])));
    expect(preferredLeaderElections(state)).toEqual([]);
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 1, fenced: false }));
    expect(preferredLeaderElections(state)).toEqual([
      { partition: state.partition(1), currentLeaderId: 2, preferredLeaderId: 1 },
    ]);
    expect(underReplicated(state).map((p) => p.groupId)).toEqual([2, 3]);

    // Leadership moved back.
    expectOk(state.apply(report(1, 1, 3, [1, 2, 3])));
    expect(preferredLeaderElections(state)).toEqual([]);
  });

  it('counts a partition offline until its leader reports, and when the leader is fenced', () => {
    const state = clusterOf(2);
    expectOk(
      state.apply({ type: 'createTopic', name: 't', replicationFactor: 1, configs: [], assignments: [[1], [2]] }),
    );
    expect(offlinePartitions(state).map((p) => p.groupId)).toEqual([1, 2]);
    expect(underReplicated(state)).toEqual([]);
    expectOk(state.apply(report(1, 1, 1, [1])));
    expectOk(state.apply(report(2, 2, 1, [2])));
    expect(offlinePartitions(state)).toEqual([]);
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 2, fenced: true }));
    expect(offlinePartitions(state).map((p) => p.groupId)).toEqual([2]);
  });

  it('names unfenced brokers whose heartbeat is older than the session timeout', () => {
    const state = clusterOf(3);
    expectOk(state.apply({ type: 'brokerHeartbeat', brokerId: 1, nowMs: 10_000 }));
    expectOk(state.apply({ type: 'brokerHeartbeat', brokerId: 2, nowMs: 4_000 }));
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 3, fenced: true }));
    expect(brokersToFence(state, 10_000, 6_000)).toEqual([]);
    expect(brokersToFence(state, 10_001, 6_000)).toEqual([2]);
  });

  it('keeps the cluster balanced when topics are planned and applied one after another', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.record({ partitions: fc.integer({ min: 1, max: 60 }), rf: fc.integer({ min: 1, max: 3 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        (brokerCount, topics) => {
          const state = clusterOf(brokerCount, ['az-1', 'az-2', 'az-3']);
          for (const [i, topic] of topics.entries()) {
            const plan = planCreateTopic(state, {
              name: `t${i}`,
              partitions: topic.partitions,
              replicationFactor: Math.min(topic.rf, brokerCount),
              configs: [],
            });
            if (!plan.ok) throw new Error(plan.message);
            expectOk(state.apply(plan.command));
            const load = [...clusterLoad(state).values()];
            expect(
              Math.max(...load.map((l) => l.replicas)) - Math.min(...load.map((l) => l.replicas)),
            ).toBeLessThanOrEqual(1);
            expect(
              Math.max(...load.map((l) => l.leaders)) - Math.min(...load.map((l) => l.leaders)),
            ).toBeLessThanOrEqual(1);
          }
          state.checkInvariants();
        },
      ),
      fcOptions(file, 60),
    );
  });
});

describe('planMoveReplicasOff', () => {
  it('moves every replica off a broker, keeping replicas per broker within two', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 3 }),
        (brokerCount, partitions, rf) => {
          const state = clusterOf(brokerCount, ['az-1', 'az-2']);
          const replicationFactor = Math.min(rf, brokerCount - 1);
          const plan = planCreateTopic(state, { name: 't', partitions, replicationFactor, configs: [] });
          if (!plan.ok) throw new Error(plan.message);
          expectOk(state.apply(plan.command));
          expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 1, fenced: true }));
          const move = planMoveReplicasOff(state, 1);
          if ('ok' in move) throw new Error(move.message);
          expect(move.stuck).toEqual([]);
          for (const command of move.commands) expectOk(state.apply(command));
          for (const p of state.partitions()) {
            expect(p.replicas).not.toContain(1);
            expect(p.replicas).toHaveLength(replicationFactor);
          }
          const load = [...clusterLoad(state).values()];
          // Greedy, partition by partition: best effort, not the within-one of assignReplicas.
          expect(
            Math.max(...load.map((l) => l.replicas)) - Math.min(...load.map((l) => l.replicas)),
          ).toBeLessThanOrEqual(2);
        },
      ),
      fcOptions(file, 100),
    );
  });

  it('reports partitions it cannot move and unknown brokers', () => {
    const state = clusterOf(2);
    expectOk(state.apply({ type: 'createTopic', name: 't', replicationFactor: 2, configs: [], assignments: [[1, 2]] }));
    const move = planMoveReplicasOff(state, 1);
    if ('ok' in move) throw new Error(move.message);
    expect(move.commands).toEqual([]);
    expect(move.stuck.map((p) => p.groupId)).toEqual([1]);
    expect(planMoveReplicasOff(state, 7)).toMatchObject({ ok: false, code: 'UNKNOWN_BROKER' });
  });
});
