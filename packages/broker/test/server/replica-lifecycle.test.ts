import { Role } from '@streambus/raft';
import type { GroupId } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import type { ControllerEvent, ControllerState, PartitionInfo } from '../../src/controller/state.js';
import { controllerGroupId } from '../../src/controller/constants.js';
import { removedReplicaGraceMs } from '../../src/server/constants.js';
import type { ReconfigureTarget } from '../../src/server/reconfigurer.js';
import { confState, ReplicaLifecycle } from '../../src/server/replica-lifecycle.js';
import { expectOk } from '../controller/helpers.js';
import { controllerStateWith, FakeHost, settle, silentLogger } from './fakes.js';

class FakeReplica {
  topic = '';
  partition = -1;
  closed = false;
  constructor(readonly groupId: GroupId) {}
  close(): void {
    this.closed = true;
  }
}

function setUp(state: ControllerState = controllerStateWith(3, []), selfId = 1) {
  const host = new FakeHost(selfId);
  const deleted: GroupId[] = [];
  const dropped: GroupId[] = [];
  const forgotten: GroupId[] = [];
  const runs: ReconfigureTarget[][] = [];
  const repairing = new Set<GroupId>();
  let caughtUp = true;
  let nowMs = 0;
  const lifecycle = new ReplicaLifecycle<FakeReplica>({
    nodeId: selfId,
    host,
    store: { deleteGroup: async (groupId) => void deleted.push(groupId) },
    controllerState: () => state,
    controllerCaughtUp: () => caughtUp,
    createReplica: (groupId) => new FakeReplica(groupId),
    isRepairing: (groupId) => repairing.has(groupId),
    reconfigurer: { run: (targets) => void runs.push([...targets]), forget: (groupId) => void forgotten.push(groupId) },
    onDropped: (groupId) => void dropped.push(groupId),
    logger: silentLogger,
    nowMs: () => nowMs,
  });
  return {
    host,
    state,
    lifecycle,
    deleted,
    dropped,
    forgotten,
    runs,
    repairing,
    behind: () => (caughtUp = false),
    advance: (ms: number) => (nowMs += ms),
  };
}

function partition(overrides: Partial<PartitionInfo> = {}): PartitionInfo {
  return {
    topic: 't',
    partition: 0,
    groupId: 7,
    replicas: [1, 2, 3],
    initialReplicas: [1, 2, 3],
    leader: null,
    ...overrides,
  };
}

function created(partitions: PartitionInfo[]): ControllerEvent {
  return { type: 'topicCreated', topic: { name: 't' } as never, partitions };
}

describe('ReplicaLifecycle: groups follow the controller', () => {
  it('creates the group of a new partition assigned here with its initial voters, labels its replica, and the preferred leader campaigns', () => {
    const t = setUp();
    t.lifecycle.onControllerEvent(
      created([
        partition(),
        partition({ partition: 1, groupId: 8, replicas: [2, 1, 3] }),
        partition({ partition: 2, groupId: 9, replicas: [2, 3, 4], initialReplicas: [2, 3, 4] }),
      ]),
    );
    expect(t.host.created).toEqual([
      { groupId: 7, bootstrap: confState([1, 2, 3]), joining: false },
      { groupId: 8, bootstrap: confState([1, 2, 3]), joining: false },
    ]);
    expect(t.host.campaigns).toEqual([7]);
    expect([...t.lifecycle.replicas.values()].map((replica) => `${replica.topic}/${replica.partition}`)).toEqual([
      't/0',
      't/1',
    ]);
  });

  it('a replica a reassignment added, or one of a partition that already ran, joins (it votes only once it heard a leader)', () => {
    const t = setUp();
    t.lifecycle.ensure(partition({ replicas: [2, 3, 1], initialReplicas: [2, 3, 4] }));
    t.lifecycle.ensure(partition({ groupId: 8, leader: { leaderId: 2, term: 3, isr: [2, 3], highWatermark: 0 } }));
    expect(t.host.created.map((create) => [create.groupId, create.joining])).toEqual([
      [7, true],
      [8, true],
    ]);
    expect(t.host.created[0]?.bootstrap).toEqual(confState([2, 3, 4]));
    expect(t.host.campaigns).toEqual([]);
  });

  it('creates nothing for a group under repair, once stopped, or twice', () => {
    const t = setUp();
    t.repairing.add(7);
    t.lifecycle.ensure(partition());
    t.repairing.clear();
    t.lifecycle.ensure(partition());
    t.lifecycle.ensure(partition());
    t.lifecycle.stop();
    t.lifecycle.ensure(partition({ groupId: 8 }));
    expect(t.host.created.map((create) => create.groupId)).toEqual([7]);
  });

  it("a deleted topic's group is closed, forgotten, and removed from the host and the store", async () => {
    const t = setUp();
    t.lifecycle.ensure(partition());
    const replica = t.lifecycle.replica(7);
    t.lifecycle.onControllerEvent({ type: 'topicDeleted', topic: { name: 't' } as never, partitions: [partition()] });
    await settle();
    expect(replica.closed).toBe(true);
    expect(t.lifecycle.replicas.has(7)).toBe(false);
    expect(t.dropped).toEqual([7]);
    expect(t.forgotten).toEqual([7]);
    expect(t.host.removed).toEqual([7]);
    expect(t.deleted).toEqual([7]);
  });

  it('a repair gets a fresh replica object', () => {
    const t = setUp();
    t.lifecycle.ensure(partition());
    const before = t.lifecycle.replica(7);
    t.lifecycle.reset(7);
    expect(before.closed).toBe(true);
    expect(t.lifecycle.replica(7)).not.toBe(before);
    expect(t.lifecycle.replica(7).topic).toBe('');
  });
});

describe('ReplicaLifecycle: reconcile', () => {
  it('creates what is missing and removes groups whose partition is gone, once the controller is caught up', async () => {
    const state = controllerStateWith(3, [{ name: 'kept', partitions: 1, replicationFactor: 3 }]);
    const t = setUp(state);
    t.host.groups.set(controllerGroupId, { voters: [1, 2, 3] });
    t.host.groups.set(99, { voters: [1, 2, 3] });
    t.behind();
    t.lifecycle.reconcile();
    expect(t.host.created).toEqual([]);
    const caughtUp = setUp(state);
    caughtUp.host.groups.set(controllerGroupId, { voters: [1, 2, 3] });
    caughtUp.host.groups.set(99, { voters: [1, 2, 3] });
    caughtUp.lifecycle.reconcile();
    await settle();
    expect(caughtUp.host.created.map((create) => create.groupId)).toEqual([state.partitionOf('kept', 0)?.groupId]);
    expect(caughtUp.host.removed).toEqual([99]);
  });

  it('a replica moved away is removed once its own membership lacks it, or after the leader reported an ISR without it for removedReplicaGraceMs', async () => {
    const state = controllerStateWith(4, [{ name: 'moved', partitions: 2, replicationFactor: 3 }]);
    const [first, second] = state.partitionsOf('moved');
    if (first === undefined || second === undefined) throw new Error('two partitions');
    // Broker `self` is a replica of both partitions; each moves to the three other brokers.
    const self = first.replicas.find((id) => second.replicas.includes(id)) as number;
    const others = (info: PartitionInfo): number[] =>
      [1, 2, 3, 4]
        .filter((id) => id !== self)
        .slice(0, 3)
        .sort((a, b) => (info.replicas.includes(a) ? 0 : 1) - (info.replicas.includes(b) ? 0 : 1));
    for (const info of [first, second])
      expectOk(
        state.apply({
          type: 'reassignPartitions',
          name: 'moved',
          reassignments: [{ partition: info.partition, replicas: others(info) }],
        }),
      );
    const t = setUp(state, self);
    t.host.groups.set(first.groupId, { voters: others(first) });
    const leader = others(second)[0] as number;
    t.host.groups.set(second.groupId, { voters: [self, ...others(second)], leaderId: leader });
    t.lifecycle.reconcile();
    await settle();
    expect(t.host.removed).toEqual([first.groupId]);
    const report = {
      groupId: second.groupId,
      leaderId: leader,
      term: 5,
      isr: [...others(second)].sort(),
      highWatermark: 0,
    };
    expectOk(state.apply({ type: 'reportPartitions', reports: [report] }));
    t.lifecycle.reconcile();
    t.advance(removedReplicaGraceMs - 1);
    t.lifecycle.reconcile();
    await settle();
    expect(t.host.removed).toEqual([first.groupId]);
    t.advance(1);
    t.lifecycle.reconcile();
    await settle();
    expect(t.host.removed).toEqual([first.groupId, second.groupId]);
  });
});

describe('ReplicaLifecycle: reconfigure', () => {
  it("hands the reconfigurer the groups this broker leads with the controller's replicas, once the controller is caught up", () => {
    const state = controllerStateWith(3, [{ name: 't', partitions: 2, replicationFactor: 3 }]);
    const [led, followed] = state.partitionsOf('t');
    if (led === undefined || followed === undefined) throw new Error('two partitions');
    const t = setUp(state);
    t.host.groups.set(controllerGroupId, { voters: [1, 2, 3], role: Role.leader });
    t.host.groups.set(led.groupId, { voters: [1, 2, 3], role: Role.leader });
    t.host.groups.set(followed.groupId, { voters: [1, 2, 3], role: Role.follower, leaderId: 2 });
    t.lifecycle.reconfigure();
    expect(t.runs).toEqual([[{ groupId: led.groupId, replicas: led.replicas }]]);
    t.behind();
    t.lifecycle.reconfigure();
    expect(t.runs).toHaveLength(1);
  });
});
