import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@streambus/proto';
import type { DescribedGroup } from '@streambus/proto';
import { EditableTopics, ShardUnderTest, TestMember, heartbeatRequest, observable } from './test-harness.js';

const group = 'orders-app';

function setup(partitions = 6): { harness: ShardUnderTest; topics: EditableTopics } {
  const topics = new EditableTopics().set('orders', partitions);
  return { harness: new ShardUnderTest(topics), topics };
}

/** Heartbeats every member (time moving by the heartbeat interval) until the group is stable. */
function converge(harness: ShardUnderTest, members: readonly TestMember[], roundsMax = 10): number {
  for (let round = 1; round <= roundsMax; round++) {
    harness.nowMs += harness.config.heartbeatIntervalMs;
    for (const member of members) member.heartbeat();
    harness.tick();
    if (harness.shard.describeGroup(group).state === 'stable') return round;
  }
  throw new Error(`not stable after ${roundsMax} rounds: ${JSON.stringify(harness.shard.describeGroup(group))}`);
}

function assignedOf(described: DescribedGroup): Map<string, string[]> {
  return new Map(
    described.members.map((m) => [
      m.memberId,
      m.assignment.flatMap((tp) => tp.partitions.map((p) => `${tp.topic}-${p}`)),
    ]),
  );
}

function expectEveryPartitionOnce(described: DescribedGroup, partitions: number): void {
  const all = [...assignedOf(described).values()].flat().sort();
  expect(all).toEqual(Array.from({ length: partitions }, (_, p) => `orders-${p}`).sort());
}

function expectReplayEqual(harness: ShardUnderTest): void {
  expect(observable(harness.replayed(), [group])).toEqual(observable(harness.shard, [group]));
  expect(observable(harness.replayed(harness.shard.checkpointRecords()), [group])).toEqual(
    observable(harness.shard, [group]),
  );
}

describe('group coordinator shard: scenarios', () => {
  it('joins 3 members to 6 partitions: 2 each, the group stable at epoch 3', () => {
    const { harness } = setup();
    const members = [0, 1, 2].map(() => new TestMember(harness, group, ['orders']));
    for (const member of members) member.heartbeat();
    converge(harness, members);
    const described = harness.shard.describeGroup(group);
    expect(described.state).toBe('stable');
    expect(described.groupEpoch).toBe(3);
    expect(described.assignmentEpoch).toBe(3);
    expect(described.assignor).toBe('uniform');
    for (const partitions of assignedOf(described).values()) expect(partitions).toHaveLength(2);
    expectEveryPartitionOnce(described, 6);
    for (const member of members) expect(member.memberEpoch).toBe(3);
    expectReplayEqual(harness);
  });

  it("a partition moving from A to B is not in B's assignment until A reported releasing it", () => {
    const { harness } = setup(2);
    const a = new TestMember(harness, group, ['orders']);
    a.heartbeat();
    expect([...(a.owned.get('orders') ?? [])]).toEqual([0, 1]);
    const b = new TestMember(harness, group, ['orders']);
    const joined = b.heartbeat();
    // B's target has a partition, but A holds both: B gets none yet, at the new epoch.
    expect(joined.assignment?.topicPartitions).toEqual([]);
    expect(joined.memberEpoch).toBe(2);
    expect(harness.shard.describeGroup(group).state).toBe('reconciling');
    const bTarget = harness.shard.describeGroup(group).members.find((m) => m.memberId === b.memberId);
    expect(bTarget?.targetAssignment[0]?.partitions).toHaveLength(1);
    const moving = bTarget?.targetAssignment[0]?.partitions[0] as number;
    // A is told to keep one partition; it stays at epoch 1 until it reports the smaller set.
    const asked = a.heartbeat();
    expect(asked.memberEpoch).toBe(1);
    expect(asked.assignment?.topicPartitions).toEqual([{ topic: 'orders', partitions: [1 - moving] }]);
    expect(harness.shard.holderOf(group, 'orders', moving)).toBe(a.memberId);
    // B asks again before A reported: still nothing.
    expect(b.heartbeat().assignment?.topicPartitions ?? []).toEqual([]);
    expect(harness.shard.isAssigned(group, b.memberId, 'orders', moving)).toBe(false);
    // A reports: it moves to epoch 2 and the partition is free.
    expect(a.heartbeat().memberEpoch).toBe(2);
    expect(harness.shard.holderOf(group, 'orders', moving)).toBeUndefined();
    expect(b.heartbeat().assignment?.topicPartitions).toEqual([{ topic: 'orders', partitions: [moving] }]);
    expect(harness.shard.holderOf(group, 'orders', moving)).toBe(b.memberId);
    b.heartbeat();
    expect(harness.shard.describeGroup(group).state).toBe('stable');
    expectReplayEqual(harness);
  });

  it('keeps a partition held while the owner still reports it, even after being asked to revoke', () => {
    const { harness } = setup(2);
    const a = new TestMember(harness, group, ['orders']);
    a.heartbeat();
    const b = new TestMember(harness, group, ['orders']);
    b.heartbeat();
    const both = { topicPartitions: [{ topic: 'orders', partitions: [0, 1] }] };
    // A's answer asking it to revoke is lost; it heartbeats again with both partitions.
    harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: 1 });
    const again = harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: 1, owned: both });
    expect(again.memberEpoch).toBe(1);
    expect(again.assignment?.topicPartitions[0]?.partitions).toHaveLength(1);
    expect(b.heartbeat().assignment?.topicPartitions ?? []).toEqual([]);
    expect(harness.shard.describeGroup(group).state).toBe('reconciling');
  });

  it('answers with the assignment only on a join, an epoch change, or when it differs from what the member says it owns', () => {
    const { harness } = setup(2);
    const both = { topicPartitions: [{ topic: 'orders', partitions: [0, 1] }] };
    const joined = harness.heartbeat({ groupId: group, subscribedTopics: { names: ['orders'] } });
    expect(joined.assignment).toEqual(both);
    const a = joined.memberId;
    // It reports what it was given, or nothing (unchanged): nothing to tell it.
    expect(harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1, owned: both }).assignment).toBeNull();
    expect(harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1 }).assignment).toBeNull();
    // It says it owns less than it was given (it lost track): it is told again.
    const less = { topicPartitions: [{ topic: 'orders', partitions: [0] }] };
    expect(harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1, owned: less }).assignment).toEqual(both);
    // B joins: A must give one up (same epoch, a smaller assignment), then moves to epoch 2.
    const b = harness.heartbeat({ groupId: group, subscribedTopics: { names: ['orders'] } });
    expect(b.assignment).toEqual({ topicPartitions: [] });
    const revoke = harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1 });
    expect(revoke.memberEpoch).toBe(1);
    const kept = revoke.assignment as { topicPartitions: { topic: string; partitions: number[] }[] };
    expect(kept.topicPartitions[0]?.partitions).toHaveLength(1);
    // Still reporting both: it is told again what it may keep.
    expect(harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1, owned: both }).assignment).toEqual(kept);
    expect(harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1 }).assignment).toBeNull();
    // It reports the smaller set: a new epoch, so the assignment comes with it, though unchanged.
    const moved = harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1, owned: kept });
    expect(moved.memberEpoch).toBe(2);
    expect(moved.assignment).toEqual(kept);
    // That answer is lost: it retries from epoch 1 with what it owns, and hears the epoch again.
    const retried = harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 1, owned: kept });
    expect(retried.memberEpoch).toBe(2);
    expect(retried.assignment).toEqual(kept);
    expect(harness.heartbeat({ groupId: group, memberId: a, memberEpoch: 2, owned: kept }).assignment).toBeNull();
    // B's partition is free now: it changed, so B hears it, once.
    const given = harness.heartbeat({ groupId: group, memberId: b.memberId, memberEpoch: 2 });
    expect(given.assignment?.topicPartitions[0]?.partitions).toHaveLength(1);
    expect(
      harness.heartbeat({ groupId: group, memberId: b.memberId, memberEpoch: 2, owned: given.assignment ?? null })
        .assignment,
    ).toBeNull();
    expect(harness.shard.describeGroup(group).state).toBe('stable');
    expectReplayEqual(harness);
  });

  it('one member leaves cleanly: its partitions go to the others at once', () => {
    const { harness } = setup();
    const members = [0, 1, 2].map(() => new TestMember(harness, group, ['orders']));
    for (const member of members) member.heartbeat();
    converge(harness, members);
    const leaving = members[2] as TestMember;
    const leftId = leaving.memberId;
    const response = leaving.leave(-1);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.memberEpoch).toBe(-1);
    const types = harness.log.slice(-6).map((r) => r.type);
    expect(types.slice(0, 3)).toEqual(['current-tombstone', 'target-tombstone', 'member-tombstone']);
    const described = harness.shard.describeGroup(group);
    expect(described.groupEpoch).toBe(4);
    expect(described.members.map((m) => m.memberId)).not.toContain(leftId);
    converge(harness, members.slice(0, 2));
    const after = harness.shard.describeGroup(group);
    for (const partitions of assignedOf(after).values()) expect(partitions).toHaveLength(3);
    expectEveryPartitionOnce(after, 6);
    // A leave of a member that is gone: nothing to do.
    expect(harness.heartbeat({ groupId: group, memberId: leftId, memberEpoch: -1 }).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    expectReplayEqual(harness);
  });

  it('a member that stops heartbeating is removed after the session timeout; its commits are refused', () => {
    const { harness } = setup();
    const members = [0, 1, 2].map(() => new TestMember(harness, group, ['orders']));
    for (const member of members) member.heartbeat();
    converge(harness, members);
    const silent = members[0] as TestMember;
    const epoch = silent.memberEpoch;
    const commit = (memberId: string, memberEpoch: number) =>
      harness.shard.commitOffsets(
        {
          groupId: group,
          memberId,
          memberEpoch,
          partitions: [{ topic: 'orders', partition: 0, offset: 5, metadata: '' }],
        },
        harness.nowMs,
      );
    const accepted = commit(silent.memberId, epoch);
    expect(accepted.response.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    harness.append(accepted.records);
    // The others keep heartbeating; the silent one does not.
    for (let step = 0; step < 12; step++) {
      harness.nowMs += 100;
      members[1]?.heartbeat();
      members[2]?.heartbeat();
      harness.tick();
    }
    const described = harness.shard.describeGroup(group);
    expect(described.members.map((m) => m.memberId)).not.toContain(silent.memberId);
    expect(commit(silent.memberId, epoch).response.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // The zombie's next heartbeat: unknown, so it drops its partitions and rejoins.
    silent.heartbeat();
    expect(silent.lastError).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(silent.owned.size).toBe(0);
    converge(harness, members);
    expectEveryPartitionOnce(harness.shard.describeGroup(group), 6);
    expect(
      harness.shard.fetchOffsets({ groupId: group, partitions: [{ topic: 'orders', partitions: [0, 1] }] }).partitions,
    ).toEqual([
      {
        topic: 'orders',
        partition: 0,
        committedOffset: 5,
        metadata: '',
        commitTimestampMs:
          accepted.records.length > 0 ? (accepted.records[0] as { commitTimestampMs: number }).commitTimestampMs : -1,
      },
      { topic: 'orders', partition: 1, committedOffset: -1, metadata: '', commitTimestampMs: 0 },
    ]);
    expectReplayEqual(harness);
  });

  it('fences commits by epoch: older is stale, newer is fenced, admin commits need an empty group', () => {
    const { harness } = setup();
    const a = new TestMember(harness, group, ['orders']);
    a.heartbeat();
    const b = new TestMember(harness, group, ['orders']);
    b.heartbeat();
    converge(harness, [a, b]);
    const commit = (memberId: string, memberEpoch: number, partition = 0, offset = 1, metadata = '') =>
      harness.shard.commitOffsets(
        { groupId: group, memberId, memberEpoch, partitions: [{ topic: 'orders', partition, offset, metadata }] },
        harness.nowMs,
      ).response.partitions[0]?.errorCode;
    expect(commit(a.memberId, a.memberEpoch - 1)).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(commit(a.memberId, a.memberEpoch + 1)).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    expect(commit('nobody', 1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(commit('', -1)).toBe(ErrorCode.NON_EMPTY_GROUP);
    expect(commit(a.memberId, a.memberEpoch, 0, -1)).toBe(ErrorCode.INVALID_COMMIT_OFFSET);
    expect(commit(a.memberId, a.memberEpoch, 6)).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(commit(a.memberId, a.memberEpoch, 0, 1, 'x'.repeat(4097))).toBe(ErrorCode.OFFSET_METADATA_TOO_LARGE);
    expect(commit(a.memberId, a.memberEpoch, 0, 1, 'x'.repeat(4096))).toBe(ErrorCode.NONE);
    // Per partition: one bad partition does not refuse the others.
    const mixed = harness.shard.commitOffsets(
      {
        groupId: group,
        memberId: a.memberId,
        memberEpoch: a.memberEpoch,
        partitions: [
          { topic: 'orders', partition: 1, offset: 9, metadata: 'm' },
          { topic: 'nope', partition: 0, offset: 9, metadata: '' },
        ],
      },
      harness.nowMs,
    );
    expect(mixed.response.partitions.map((p) => p.errorCode)).toEqual([
      ErrorCode.NONE,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ]);
    expect(mixed.records).toHaveLength(1);
    // An admin commit to a group nobody has joined creates it.
    const admin = harness.shard.commitOffsets(
      {
        groupId: 'other',
        memberId: '',
        memberEpoch: -1,
        partitions: [{ topic: 'orders', partition: 0, offset: 3, metadata: '' }],
      },
      harness.nowMs,
    );
    expect(admin.response.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(admin.records.map((r) => r.type)).toEqual(['group', 'offset']);
    expect(harness.shard.describeGroup('other').state).toBe('empty');
  });

  it('a static member restarts (-2, then epoch 0 with a new member id) without a rebalance', () => {
    const { harness } = setup();
    const members = [
      new TestMember(harness, group, ['orders'], 'pod-0'),
      new TestMember(harness, group, ['orders'], 'pod-1'),
      new TestMember(harness, group, ['orders'], 'pod-2'),
    ];
    for (const member of members) member.heartbeat();
    converge(harness, members);
    const before = harness.shard.describeGroup(group);
    const pod0 = members[0] as TestMember;
    const oldId = pod0.memberId;
    const oldAssignment = before.members.find((m) => m.memberId === oldId)?.assignment;
    expect(pod0.leave(-2).memberEpoch).toBe(-2);
    // While it is away, its partitions stay reserved: the others do not get them.
    for (let round = 0; round < 3; round++) {
      harness.nowMs += 100;
      for (const member of members.slice(1)) member.heartbeat();
      harness.tick();
    }
    expect(harness.shard.describeGroup(group).groupEpoch).toBe(before.groupEpoch);
    expect(harness.shard.describeGroup(group).state).toBe('reconciling');
    expect(assignedOf(harness.shard.describeGroup(group)).get(oldId)).toHaveLength(2);
    // A second instance with the same id while the first is live is refused.
    const other = harness.heartbeat({
      groupId: group,
      memberId: '',
      memberEpoch: 0,
      instanceId: 'pod-1',
      subscribedTopics: { names: ['orders'] },
    });
    expect(other.errorCode).toBe(ErrorCode.UNRELEASED_INSTANCE_ID);
    pod0.restart();
    const back = pod0.heartbeat();
    expect(back.errorCode).toBe(ErrorCode.NONE);
    expect(back.memberId).not.toBe(oldId);
    expect(back.memberEpoch).toBe(before.groupEpoch);
    expect(back.assignment?.topicPartitions).toEqual(oldAssignment);
    const after = harness.shard.describeGroup(group);
    expect(after.groupEpoch).toBe(before.groupEpoch);
    expect(after.state).toBe('stable');
    expect(after.members.map((m) => m.memberId)).not.toContain(oldId);
    // The old member id is gone: its heartbeat is unknown.
    expect(
      harness.heartbeat({ groupId: group, memberId: oldId, memberEpoch: back.memberEpoch, instanceId: 'pod-0' })
        .errorCode,
    ).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expectReplayEqual(harness);
  });

  it('a static member away longer than its session is removed and its partitions move', () => {
    const { harness } = setup();
    const members = [
      new TestMember(harness, group, ['orders'], 'pod-0'),
      new TestMember(harness, group, ['orders'], 'pod-1'),
    ];
    for (const member of members) member.heartbeat();
    converge(harness, members);
    (members[0] as TestMember).leave(-2);
    for (let step = 0; step < 15; step++) {
      harness.nowMs += 100;
      members[1]?.heartbeat();
      harness.tick();
    }
    const described = harness.shard.describeGroup(group);
    expect(described.members).toHaveLength(1);
    expectEveryPartitionOnce(described, 6);
  });

  it('removes a member that does not revoke within its rebalance timeout', () => {
    const { harness } = setup(2);
    const a = new TestMember(harness, group, ['orders']);
    a.heartbeat();
    const b = new TestMember(harness, group, ['orders']);
    b.heartbeat();
    // A is asked to revoke but never reports (its heartbeats carry no owned set).
    harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: a.memberEpoch });
    for (let step = 0; step < 6; step++) {
      harness.nowMs += 100;
      harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: a.memberEpoch });
      b.heartbeat();
      harness.tick();
    }
    const described = harness.shard.describeGroup(group);
    expect(described.members.map((m) => m.memberId)).toEqual([b.memberId]);
    b.heartbeat();
    expectEveryPartitionOnce(harness.shard.describeGroup(group), 2);
  });

  it('accepts the previous epoch when the answer that bumped it was lost', () => {
    const { harness } = setup(2);
    const a = new TestMember(harness, group, ['orders']);
    a.heartbeat();
    const b = new TestMember(harness, group, ['orders']);
    b.heartbeat();
    a.heartbeat(); // asked to revoke one
    const epoch = a.memberEpoch;
    const owned = {
      topicPartitions: [...a.owned].map(([topic, partitions]) => ({ topic, partitions: [...partitions] })),
    };
    const bumped = harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: epoch, owned });
    expect(bumped.memberEpoch).toBe(epoch + 1);
    // That answer is lost: A asks again with its old epoch and what it owns.
    const again = harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: epoch, owned });
    expect(again.errorCode).toBe(ErrorCode.NONE);
    expect(again.memberEpoch).toBe(epoch + 1);
    // Without owned, or with an epoch that was never the member's: fenced.
    expect(harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: epoch }).errorCode).toBe(
      ErrorCode.FENCED_MEMBER_EPOCH,
    );
    expect(harness.heartbeat({ groupId: group, memberId: a.memberId, memberEpoch: epoch + 5 }).errorCode).toBe(
      ErrorCode.FENCED_MEMBER_EPOCH,
    );
  });

  it('answers bad heartbeats with typed errors and no records', () => {
    const { harness } = setup();
    const bad = (fields: Parameters<typeof heartbeatRequest>[0]) => {
      const result = harness.shard.heartbeat(heartbeatRequest(fields), 'h', 0);
      expect(result.records).toEqual([]);
      return result.response.errorCode;
    };
    const subscribed = { subscribedTopics: { names: ['orders'] } };
    expect(bad({ groupId: '', ...subscribed })).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(bad({ groupId: 'a b', ...subscribed })).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(bad({ groupId: 'g'.repeat(250), ...subscribed })).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(bad({ groupId: group })).toBe(ErrorCode.INVALID_REQUEST); // no subscription on join
    expect(bad({ groupId: group, memberId: 'm'.repeat(65), ...subscribed })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, instanceId: 'bad id', ...subscribed })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, memberEpoch: -3, memberId: 'x', ...subscribed })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, memberEpoch: 3, ...subscribed })).toBe(ErrorCode.INVALID_REQUEST); // no member id
    expect(bad({ groupId: group, rebalanceTimeoutMs: 300_001, ...subscribed })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, rebalanceTimeoutMs: -1, ...subscribed })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, serverAssignor: 'sticky', ...subscribed })).toBe(ErrorCode.UNSUPPORTED_ASSIGNOR);
    expect(bad({ groupId: group, subscribedTopicRegex: { pattern: '(' } })).toBe(ErrorCode.INVALID_REQUEST);
    // Lookaround is JS, not RE2.
    expect(bad({ groupId: group, subscribedTopicRegex: { pattern: '(?=a).*' } })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, subscribedTopicRegex: { pattern: 'a'.repeat(1001) } })).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(bad({ groupId: group, subscribedTopics: { names: Array.from({ length: 1001 }, (_, i) => `t${i}`) } })).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(bad({ groupId: group, memberId: 'm\ud800', ...subscribed })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, subscribedTopicRegex: { pattern: 'a\udc00' } })).toBe(ErrorCode.INVALID_REQUEST);
    expect(bad({ groupId: group, memberId: 'ghost', memberEpoch: 4 })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(bad({ groupId: group, memberId: 'ghost', memberEpoch: -2 })).toBe(ErrorCode.INVALID_REQUEST); // no instance id
    expect(harness.shard.groupCount()).toBe(0);
  });

  it('keeps free text that UTF-8 cannot carry the same live and replayed', () => {
    const { harness } = setup();
    const member = new TestMember(harness, group, ['orders']);
    harness.heartbeat({
      groupId: group,
      memberId: 'lone',
      subscribedTopics: { names: ['orders'] },
      clientId: 'c\ud800',
    });
    member.heartbeat();
    const committed = harness.shard.commitOffsets(
      {
        groupId: group,
        memberId: member.memberId,
        memberEpoch: member.memberEpoch,
        partitions: [{ topic: 'orders', partition: 0, offset: 1, metadata: 'x\udfff' }],
      },
      harness.nowMs,
    );
    harness.append(committed.records);
    expect(harness.shard.fetchOffsets({ groupId: group, partitions: [] }).partitions[0]?.metadata).toBe('x\ufffd');
    expect(harness.shard.describeGroup(group).members.find((m) => m.memberId === 'lone')?.clientId).toBe('c\ufffd');
    expectReplayEqual(harness);
  });

  it('matches patterns as RE2 does: whole names, in linear time even for patterns that make JS backtrack', () => {
    const { harness, topics } = setup(1);
    topics.set('a'.repeat(200), 1).set('audit-eu', 1).set('xaudit-eu', 1);
    const started = performance.now();
    const slow = new TestMember(harness, group, [], '', '(a*)*b');
    const audit = new TestMember(harness, group, [], '', 'audit-.*');
    slow.heartbeat();
    audit.heartbeat();
    converge(harness, [slow, audit]);
    expect(performance.now() - started).toBeLessThan(1000);
    const described = harness.shard.describeGroup(group);
    expect(described.members.find((m) => m.memberId === audit.memberId)?.assignment).toEqual([
      { topic: 'audit-eu', partitions: [0] },
    ]);
    expect(described.members.find((m) => m.memberId === slow.memberId)?.assignment).toEqual([]);
  });

  it('refuses a member beyond groups.max_size', () => {
    const topics = new EditableTopics().set('orders', 6);
    const harness = new ShardUnderTest(topics, { ...new ShardUnderTest(topics).config, groupMembersMax: 2 });
    const members = [0, 1, 2].map(() => new TestMember(harness, group, ['orders']));
    expect(members.map((m) => m.heartbeat().errorCode)).toEqual([
      ErrorCode.NONE,
      ErrorCode.NONE,
      ErrorCode.GROUP_MAX_SIZE_REACHED,
    ]);
  });

  it('follows topic metadata: partitions added, a matching topic created, a topic deleted', () => {
    const { harness, topics } = setup(2);
    const members = [
      new TestMember(harness, group, ['orders'], '', 'audit-.*'),
      new TestMember(harness, group, ['orders'], '', 'audit-.*'),
    ];
    for (const member of members) member.heartbeat();
    converge(harness, members);
    const epoch = harness.shard.describeGroup(group).groupEpoch;
    expect(harness.tick()).toEqual([]);
    topics.set('orders', 4);
    topics.set('audit-eu', 2);
    topics.set('__internal', 3);
    converge(harness, members);
    const described = harness.shard.describeGroup(group);
    expect(described.groupEpoch).toBe(epoch + 1);
    const all = [...assignedOf(described).values()].flat().sort();
    expect(all).toEqual(['audit-eu-0', 'audit-eu-1', 'orders-0', 'orders-1', 'orders-2', 'orders-3']);
    topics.delete('audit-eu');
    converge(harness, members);
    expect([...assignedOf(harness.shard.describeGroup(group)).values()].flat().sort()).toEqual([
      'orders-0',
      'orders-1',
      'orders-2',
      'orders-3',
    ]);
    expectReplayEqual(harness);
  });

  it('a subscription change bumps the epoch and moves the member to its new target', () => {
    const { harness, topics } = setup(2);
    topics.set('payments', 2);
    const a = new TestMember(harness, group, ['orders']);
    const b = new TestMember(harness, group, ['orders']);
    a.heartbeat();
    b.heartbeat();
    converge(harness, [a, b]);
    const epoch = harness.shard.describeGroup(group).groupEpoch;
    const changed = harness.heartbeat({
      groupId: group,
      memberId: b.memberId,
      memberEpoch: b.memberEpoch,
      subscribedTopics: { names: ['payments'] },
      owned: { topicPartitions: [...b.owned].map(([topic, partitions]) => ({ topic, partitions: [...partitions] })) },
    });
    expect(changed.errorCode).toBe(ErrorCode.NONE);
    const described = harness.shard.describeGroup(group);
    expect(described.groupEpoch).toBe(epoch + 1);
    const bDescribed = described.members.find((m) => m.memberId === b.memberId);
    expect(bDescribed?.subscribedTopicNames).toEqual(['payments']);
    expect(bDescribed?.targetAssignment).toEqual([{ topic: 'payments', partitions: [0, 1] }]);
    // B must first give up its orders partition: it stays at its epoch until it reports that.
    expect(changed.memberEpoch).toBe(epoch);
    expect(changed.assignment?.topicPartitions).toEqual([]);
    b.owned = new Map();
    for (let round = 0; round < 3; round++) {
      harness.nowMs += 100;
      b.heartbeat();
      a.heartbeat();
    }
    const after = harness.shard.describeGroup(group);
    expect(after.state).toBe('stable');
    expect(after.members.find((m) => m.memberId === a.memberId)?.assignment).toEqual([
      { topic: 'orders', partitions: [0, 1] },
    ]);
    expectReplayEqual(harness);
  });

  it('uses the assignor the members name', () => {
    const { harness } = setup(4);
    const members = [0, 1].map(() => new TestMember(harness, group, ['orders'], '', '', 'range'));
    for (const member of members) member.heartbeat();
    converge(harness, members);
    const described = harness.shard.describeGroup(group);
    expect(described.assignor).toBe('range');
    expect(described.members.map((m) => m.assignment)).toEqual([
      [{ topic: 'orders', partitions: [0, 1] }],
      [{ topic: 'orders', partitions: [2, 3] }],
    ]);
  });

  it('lists, describes and deletes groups; an empty group expires after the retention', () => {
    const { harness } = setup();
    const member = new TestMember(harness, group, ['orders']);
    member.heartbeat();
    member.heartbeat();
    expect(harness.shard.listGroups([])).toEqual([
      { groupId: group, state: 'stable', memberCount: 1, coordinatorId: 0 },
    ]);
    expect(harness.shard.listGroups(['empty'])).toEqual([]);
    expect(
      harness.shard.deleteGroups([group, 'missing', 'bad id'], harness.nowMs).response.map((g) => g.errorCode),
    ).toEqual([ErrorCode.NON_EMPTY_GROUP, ErrorCode.GROUP_ID_NOT_FOUND, ErrorCode.INVALID_GROUP_ID]);
    expect(harness.shard.describeGroup('missing').errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    const committed = harness.shard.commitOffsets(
      {
        groupId: group,
        memberId: member.memberId,
        memberEpoch: member.memberEpoch,
        partitions: [{ topic: 'orders', partition: 2, offset: 7, metadata: '' }],
      },
      harness.nowMs,
    );
    harness.append(committed.records);
    member.leave(-1);
    expect(harness.shard.listGroups(['empty']).map((g) => g.groupId)).toEqual([group]);
    // Not yet: empty for less than the retention.
    harness.nowMs += 9_000;
    expect(harness.tick()).toEqual([]);
    harness.nowMs += 1_000;
    const expired = harness.tick();
    expect(expired.map((r) => r.type)).toEqual(['offset-tombstone', 'group-tombstone']);
    expect(harness.shard.groupCount()).toBe(0);
    expect(harness.shard.fetchOffsets({ groupId: group, partitions: [] }).partitions).toEqual([]);
    expectReplayEqual(harness);
    // An admin-created group is deleted on request.
    const admin = harness.shard.commitOffsets(
      {
        groupId: 'tool',
        memberId: '',
        memberEpoch: -1,
        partitions: [{ topic: 'orders', partition: 0, offset: 1, metadata: '' }],
      },
      harness.nowMs,
    );
    harness.append(admin.records);
    const deleted = harness.shard.deleteGroups(['tool'], harness.nowMs);
    expect(deleted.response[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(deleted.records.map((r) => r.type)).toEqual(['offset-tombstone', 'group-tombstone']);
    expect([...harness.shard.committedOffsets()]).toEqual([]);
  });

  it('a coordinator rebuilt from the log re-arms sessions at load', () => {
    const { harness } = setup();
    const member = new TestMember(harness, group, ['orders']);
    member.heartbeat();
    harness.nowMs += 5_000; // long past the session, but this coordinator is new
    const replayed = harness.replayed();
    expect(replayed.tick(harness.nowMs)).toEqual([]);
    expect(replayed.tick(harness.nowMs + 1_000).map((r) => r.type)).toContain('member-tombstone');
  });
});
