import { describe, expect, it } from 'vitest';
import type { ControllerCommand } from '../../src/controller/commands.js';
import {
  partitionsPerTopicMax,
  producerIdBlockSizeMax,
  replicationFactorMax,
  topicsMax,
} from '../../src/controller/constants.js';
import { planAddPartitions, planCreateTopic } from '../../src/controller/plan.js';
import { ControllerState } from '../../src/controller/state.js';
import type { ControllerEvent } from '../../src/controller/state.js';
import { checkTopicName } from '../../src/controller/validation.js';
import { clusterOf, expectFailure, expectOk, register } from './helpers.js';

function create(
  name: string,
  assignments: number[][],
  configs: { key: string; value: string }[] = [],
): ControllerCommand {
  return { type: 'createTopic', name, replicationFactor: assignments[0]?.length ?? 0, configs, assignments };
}

describe('ControllerState brokers', () => {
  it('registers a broker unfenced, refreshes it, and keeps a fenced flag across re-registration', () => {
    const state = new ControllerState();
    const events: ControllerEvent[] = [];
    expect(expectOk(state.apply(register(1, 'az-1', 100), events)).changed).toBe(true);
    expect(state.broker(1)).toEqual({
      id: 1,
      host: 'broker-1',
      port: 9092,
      adminAddress: 'broker-1:8080',
      rack: 'az-1',
      fenced: false,
      registeredAtMs: 100,
      lastHeartbeatMs: 100,
    });
    expect(events.map((e) => e.type)).toEqual(['brokerRegistered']);

    expect(expectOk(state.apply(register(1, 'az-1', 100), events)).changed).toBe(false);
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 1, fenced: true }, events));
    expectOk(state.apply(register(1, 'az-2', 200), events));
    expect(state.broker(1)).toMatchObject({ rack: 'az-2', fenced: true, registeredAtMs: 100, lastHeartbeatMs: 200 });
    expect(state.liveBrokers()).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['brokerRegistered', 'brokerFencedChanged', 'brokerRegistered']);
  });

  it('never moves a heartbeat back, and rejects unknown or invalid brokers', () => {
    const state = clusterOf(1);
    expect(expectOk(state.apply({ type: 'brokerHeartbeat', brokerId: 1, nowMs: 5000 })).changed).toBe(true);
    expect(expectOk(state.apply({ type: 'brokerHeartbeat', brokerId: 1, nowMs: 4000 })).changed).toBe(false);
    expect(state.broker(1)?.lastHeartbeatMs).toBe(5000);
    expectFailure(state.apply({ type: 'brokerHeartbeat', brokerId: 9, nowMs: 1 }), 'UNKNOWN_BROKER');
    expectFailure(state.apply({ type: 'setBrokerFenced', brokerId: 9, fenced: true }), 'UNKNOWN_BROKER');
    expectFailure(state.apply(register(0)), 'INVALID_BROKER');
    expectFailure(state.apply({ ...register(2), port: 0 } as ControllerCommand), 'INVALID_BROKER');
    expectFailure(state.apply({ ...register(2), host: '' } as ControllerCommand), 'INVALID_BROKER');
    expectFailure(state.apply(register(2, '')), 'INVALID_BROKER');
    expect(state.brokers().map((b) => b.id)).toEqual([1]);
  });
});

describe('ControllerState topics', () => {
  it('creates a topic with fresh group ids and a topic id; a retry is TOPIC_ALREADY_EXISTS, not a throw', () => {
    const state = clusterOf(3);
    const events: ControllerEvent[] = [];
    const result = expectOk(
      state.apply(
        create(
          'orders',
          [
            [1, 2],
            [2, 3],
            [3, 1],
          ],
          [{ key: 'retention.ms', value: '1000' }],
        ),
        events,
      ),
    );
    expect(result.detail).toEqual({ kind: 'topicCreated', topicId: 1, groupIds: [1, 2, 3] });
    expect(state.topic('orders')).toEqual({
      name: 'orders',
      topicId: 1,
      replicationFactor: 2,
      configs: [{ key: 'retention.ms', value: '1000' }],
      groupIds: [1, 2, 3],
    });
    expect(state.partitionOf('orders', 1)).toEqual({
      topic: 'orders',
      partition: 1,
      groupId: 2,
      replicas: [2, 3],
      initialReplicas: [2, 3],
      leader: null,
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'topicCreated',
      partitions: [{ groupId: 1 }, { groupId: 2 }, { groupId: 3 }],
    });

    expectFailure(state.apply(create('orders', [[1, 2]])), 'TOPIC_ALREADY_EXISTS');
    expect(state.nextGroupId).toBe(4);
    expect(state.partitionCount).toBe(3);
  });

  it('never reuses group or topic ids after a delete', () => {
    const state = clusterOf(2);
    expectOk(state.apply(create('a', [[1], [2]])));
    const events: ControllerEvent[] = [];
    expectOk(state.apply({ type: 'deleteTopic', name: 'a' }, events));
    expect(events[0]).toMatchObject({ type: 'topicDeleted', topic: { name: 'a', groupIds: [1, 2] } });
    expect(state.partition(1)).toBeUndefined();
    expectFailure(state.apply({ type: 'deleteTopic', name: 'a' }), 'UNKNOWN_TOPIC');
    expect(expectOk(state.apply(create('a', [[2]]))).detail).toEqual({
      kind: 'topicCreated',
      topicId: 2,
      groupIds: [3],
    });
    state.checkInvariants();
  });

  it('validates names by Kafka rules', () => {
    for (const name of ['', '.', '..', 'a b', 'ü', 'x'.repeat(250), 'a/b'])
      expect(checkTopicName(name)?.code).toBe('INVALID_TOPIC_NAME');
    for (const name of ['a', '...', 'A-z_0.9', 'x'.repeat(249)]) expect(checkTopicName(name)).toBeNull();
    const state = clusterOf(1);
    expectFailure(state.apply(create('bad name', [[1]])), 'INVALID_TOPIC_NAME');
  });

  it('validates partitions, replication factor, assignments and configs', () => {
    const state = clusterOf(3);
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 3, fenced: true }));
    expectFailure(
      state.apply({ type: 'createTopic', name: 't', replicationFactor: 1, configs: [], assignments: [] }),
      'INVALID_PARTITIONS',
    );
    expectFailure(
      state.apply({ type: 'createTopic', name: 't', replicationFactor: 0, configs: [], assignments: [[]] }),
      'INVALID_REPLICATION_FACTOR',
    );
    const tooMany = replicationFactorMax + 1;
    expectFailure(
      state.apply({ type: 'createTopic', name: 't', replicationFactor: tooMany, configs: [], assignments: [[1]] }),
      'INVALID_REPLICATION_FACTOR',
    );
    // Three registered, one fenced: RF 3 is more than the live brokers.
    expectFailure(state.apply(create('t', [[1, 2, 3]])), 'INVALID_REPLICATION_FACTOR');
    expectFailure(state.apply(create('t', [[1, 3]])), 'INVALID_REPLICA_ASSIGNMENT');
    expectFailure(state.apply(create('t', [[1, 1]])), 'INVALID_REPLICA_ASSIGNMENT');
    expectFailure(
      state.apply({ type: 'createTopic', name: 't', replicationFactor: 2, configs: [], assignments: [[1, 2], [1]] }),
      'INVALID_REPLICA_ASSIGNMENT',
    );
    expectFailure(state.apply(create('t', [[1, 9]])), 'INVALID_REPLICA_ASSIGNMENT');
    expectFailure(
      state.apply(
        create(
          't',
          [[1]],
          [
            { key: 'a', value: '1' },
            { key: 'a', value: '2' },
          ],
        ),
      ),
      'INVALID_CONFIG',
    );
    expectFailure(state.apply(create('t', [[1]], [{ key: 'bad key', value: '1' }])), 'INVALID_CONFIG');
    expectFailure(state.apply(create('t', [[1]], [{ key: 'k', value: 'v'.repeat(5000) }])), 'INVALID_CONFIG');
    const assignments = Array.from({ length: partitionsPerTopicMax + 1 }, () => [1]);
    expectFailure(
      state.apply({ type: 'createTopic', name: 't', replicationFactor: 1, configs: [], assignments }),
      'INVALID_PARTITIONS',
    );
    expect(state.topicCount).toBe(0);
    expect(state.nextGroupId).toBe(1);
  });

  it('stops at the topic limit', () => {
    const state = clusterOf(1);
    for (let i = 0; i < topicsMax; i++) expectOk(state.apply(create(`t${i}`, [[1]])));
    expectFailure(state.apply(create('one-more', [[1]])), 'TOPIC_LIMIT_REACHED');
    expectOk(state.apply({ type: 'deleteTopic', name: 't0' }));
    expectOk(state.apply(create('one-more', [[1]])));
  });

  it('updates configs: set, remove, no-op, conflicts', () => {
    const state = clusterOf(1);
    expectOk(
      state.apply(
        create(
          't',
          [[1]],
          [
            { key: 'b', value: '1' },
            { key: 'a', value: '2' },
          ],
        ),
      ),
    );
    expect(state.topic('t')?.configs).toEqual([
      { key: 'a', value: '2' },
      { key: 'b', value: '1' },
    ]);
    const events: ControllerEvent[] = [];
    expect(
      expectOk(
        state.apply({ type: 'updateTopicConfig', name: 't', set: [{ key: 'c', value: '3' }], remove: ['a'] }, events),
      ).changed,
    ).toBe(true);
    expect(state.topic('t')?.configs).toEqual([
      { key: 'b', value: '1' },
      { key: 'c', value: '3' },
    ]);
    expect(events[0]).toMatchObject({
      type: 'topicConfigChanged',
      previous: { configs: [{ key: 'a' }, { key: 'b' }] },
    });
    expect(
      expectOk(state.apply({ type: 'updateTopicConfig', name: 't', set: [{ key: 'c', value: '3' }], remove: ['zz'] }))
        .changed,
    ).toBe(false);
    expectFailure(
      state.apply({ type: 'updateTopicConfig', name: 't', set: [{ key: 'c', value: '4' }], remove: ['c'] }),
      'INVALID_CONFIG',
    );
    expectFailure(state.apply({ type: 'updateTopicConfig', name: 'nope', set: [], remove: [] }), 'UNKNOWN_TOPIC');
  });

  it('adds partitions with the topic replication factor', () => {
    const state = clusterOf(3);
    expectOk(state.apply(create('t', [[1, 2]])));
    const events: ControllerEvent[] = [];
    expect(
      expectOk(
        state.apply(
          {
            type: 'addPartitions',
            name: 't',
            assignments: [
              [2, 3],
              [3, 1],
            ],
          },
          events,
        ),
      ).detail,
    ).toEqual({ kind: 'partitionsAdded', groupIds: [2, 3] });
    expect(state.partitionsOf('t').map((p) => [p.partition, p.groupId])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(events[0]).toMatchObject({ type: 'partitionsAdded', partitions: [{ partition: 1 }, { partition: 2 }] });
    expectFailure(state.apply({ type: 'addPartitions', name: 't', assignments: [[1]] }), 'INVALID_REPLICA_ASSIGNMENT');
    expectFailure(state.apply({ type: 'addPartitions', name: 't', assignments: [] }), 'INVALID_PARTITIONS');
    expectFailure(state.apply({ type: 'addPartitions', name: 'x', assignments: [[1, 2]] }), 'UNKNOWN_TOPIC');
  });

  it('reassigns all or nothing; kept replicas may be fenced, new ones must be live', () => {
    const state = clusterOf(4);
    expectOk(
      state.apply(
        create('t', [
          [1, 2],
          [2, 3],
        ]),
      ),
    );
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 2, fenced: true }));
    const events: ControllerEvent[] = [];
    expect(
      expectOk(
        state.apply(
          { type: 'reassignPartitions', name: 't', reassignments: [{ partition: 0, replicas: [2, 4] }] },
          events,
        ),
      ).changed,
    ).toBe(true);
    expect(events).toEqual([
      { type: 'assignmentChanged', partition: state.partitionOf('t', 0), previousReplicas: [1, 2] },
    ]);
    // The Raft group's bootstrap voters stay what they were: joiners replay the log from them.
    expect(state.partitionOf('t', 0)?.initialReplicas).toEqual([1, 2]);
    expectOk(
      state.apply({ type: 'reassignPartitions', name: 't', reassignments: [{ partition: 0, replicas: [4, 3] }] }),
    );
    expect(state.partitionOf('t', 0)).toMatchObject({ replicas: [4, 3], initialReplicas: [1, 2] });
    expectFailure(
      state.apply({
        type: 'reassignPartitions',
        name: 't',
        reassignments: [
          { partition: 1, replicas: [3, 4] },
          { partition: 0, replicas: [2, 5] },
        ],
      }),
      'INVALID_REPLICA_ASSIGNMENT',
    );
    expect(state.partitionOf('t', 1)?.replicas).toEqual([2, 3]);
    expect(
      expectOk(
        state.apply({ type: 'reassignPartitions', name: 't', reassignments: [{ partition: 1, replicas: [2, 3] }] }),
      ).changed,
    ).toBe(false);
    expectFailure(
      state.apply({ type: 'reassignPartitions', name: 't', reassignments: [{ partition: 5, replicas: [1] }] }),
      'INVALID_PARTITIONS',
    );
    expectFailure(
      state.apply({
        type: 'reassignPartitions',
        name: 't',
        reassignments: [
          { partition: 1, replicas: [1] },
          { partition: 1, replicas: [3] },
        ],
      }),
      'INVALID_REQUEST',
    );
    expectFailure(state.apply({ type: 'reassignPartitions', name: 't', reassignments: [] }), 'INVALID_REQUEST');
    expectFailure(
      state.apply({ type: 'reassignPartitions', name: 't', reassignments: [{ partition: 1, replicas: [] }] }),
      'INVALID_REPLICA_ASSIGNMENT',
    );
  });
});

describe('ControllerState partition reports', () => {
  it('records leader, term, ISR and high watermark; ignores stale and confused reports', () => {
    const state = clusterOf(3);
    expectOk(state.apply(create('t', [[1, 2, 3]])));
    const report = (
      leaderId: number,
      term: number,
      isr: number[],
      highWatermark: number,
      groupId = 1,
    ): ControllerCommand => ({
      type: 'reportPartitions',
      reports: [{ groupId, leaderId, term, isr, highWatermark }],
    });
    const events: ControllerEvent[] = [];
    expect(expectOk(state.apply(report(1, 2, [1, 2, 3], 10), events)).detail).toEqual({
      kind: 'reports',
      accepted: 1,
      ignored: 0,
    });
    expect(state.partition(1)?.leader).toEqual({ leaderId: 1, term: 2, isr: [1, 2, 3], highWatermark: 10 });
    expect(events).toMatchObject([{ type: 'leaderChanged', previousLeaderId: 0 }]);

    const ignored = (command: ControllerCommand): void => {
      expect(expectOk(state.apply(command)).detail).toEqual({ kind: 'reports', accepted: 0, ignored: 1 });
    };
    ignored(report(2, 1, [2], 50)); // older term
    ignored(report(2, 2, [2], 50)); // a second leader in term 2
    ignored(report(1, 2, [1], 9)); // the high watermark went back within a term
    ignored(report(1, 3, [2], 11)); // the leader is not in its ISR
    ignored(report(1, 3, [1, 1], 11)); // ISR names a broker twice
    ignored(report(9, 3, [9], 11)); // unknown broker
    ignored(report(1, 3, [1], 11, 99)); // unknown group
    ignored(report(1, 0, [1], 11)); // no term
    expect(state.partition(1)?.leader?.highWatermark).toBe(10);

    events.length = 0;
    expectOk(state.apply(report(2, 3, [2, 3], 12), events));
    expect(events).toMatchObject([
      { type: 'leaderChanged', previousLeaderId: 1, partition: { leader: { leaderId: 2 } } },
    ]);
    // A new term may report a lower high watermark than the old leader did (not yet known committed).
    expectOk(state.apply(report(3, 4, [3], 5)));
    expect(state.partition(1)?.leader).toEqual({ leaderId: 3, term: 4, isr: [3], highWatermark: 5 });
  });
});

describe('ControllerState producer ids', () => {
  it('hands out disjoint blocks and refuses bad requests', () => {
    const state = clusterOf(2);
    expect(expectOk(state.apply({ type: 'allocateProducerIds', brokerId: 1, count: 1000 })).detail).toEqual({
      kind: 'producerIds',
      firstProducerId: 1,
      count: 1000,
    });
    expect(expectOk(state.apply({ type: 'allocateProducerIds', brokerId: 2, count: 10 })).detail).toEqual({
      kind: 'producerIds',
      firstProducerId: 1001,
      count: 10,
    });
    expect(state.nextProducerId).toBe(1011);
    expectFailure(state.apply({ type: 'allocateProducerIds', brokerId: 3, count: 10 }), 'UNKNOWN_BROKER');
    expectFailure(state.apply({ type: 'allocateProducerIds', brokerId: 1, count: 0 }), 'INVALID_REQUEST');
    expectFailure(
      state.apply({ type: 'allocateProducerIds', brokerId: 1, count: producerIdBlockSizeMax + 1 }),
      'INVALID_REQUEST',
    );
    expect(state.nextProducerId).toBe(1011);
  });
});

describe('planners', () => {
  it('plan a create that apply accepts, with a balanced placement over live brokers', () => {
    const state = clusterOf(4);
    expectOk(state.apply({ type: 'setBrokerFenced', brokerId: 4, fenced: true }));
    const plan = planCreateTopic(state, { name: 'orders', partitions: 6, replicationFactor: 3, configs: [] });
    if (!plan.ok) throw new Error(plan.message);
    expect(plan.command.assignments.flat().includes(4)).toBe(false);
    expectOk(state.apply(plan.command));
    const grow = planAddPartitions(state, 'orders', 9);
    if (!grow.ok) throw new Error(grow.message);
    expect(grow.command.assignments).toHaveLength(3);
    expectOk(state.apply(grow.command));
    const leaders = new Map<number, number>();
    for (const p of state.partitionsOf('orders'))
      leaders.set(p.replicas[0] as number, (leaders.get(p.replicas[0] as number) ?? 0) + 1);
    expect([...leaders.values()]).toEqual([3, 3, 3]);
  });

  it('report validation failures without building a command', () => {
    const state = clusterOf(2);
    const plan = planCreateTopic(state, { name: 'orders', partitions: 3, replicationFactor: 3, configs: [] });
    expect(plan).toMatchObject({ ok: false, code: 'INVALID_REPLICATION_FACTOR' });
    expect(planCreateTopic(state, { name: '..', partitions: 3, replicationFactor: 1, configs: [] })).toMatchObject({
      ok: false,
      code: 'INVALID_TOPIC_NAME',
    });
    expect(planAddPartitions(state, 'nope', 3)).toMatchObject({ ok: false, code: 'UNKNOWN_TOPIC' });
  });
});
