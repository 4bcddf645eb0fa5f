/**
 * Consumer groups against the fake cluster's FAKE coordinator (src/testing/fake-group-coordinator.ts:
 * round-robin, revoke before assign, epochs, offsets). What these prove is the SDK's side: joining,
 * reconciling inside poll (revoke first, callbacks, positions from committed offsets), commits,
 * fencing, coordinator moves and leaving. The broker's coordinator is tested in packages/broker
 * and on real processes (test-cluster/test/consumer-groups.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@streambus/proto';
import {
  Admin,
  ClientClosedError,
  Consumer,
  FencedMemberEpochError,
  IllegalStateError,
  InvalidConfigError,
  NonEmptyGroupError,
  GroupIdNotFoundError,
  GroupMaxSizeReachedError,
  Producer,
  type ConsumerOptions,
  type ConsumerRecord,
  type TopicPartition,
} from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { expectNoUnhandledRejections } from './helpers.js';

const names = (list: readonly TopicPartition[]): string[] => list.map((tp) => `${tp.topic}/${tp.partition}`).sort();

describe('Consumer in a group (fake coordinator)', () => {
  let cluster: FakeStreamBusCluster;
  let producer: Producer;
  const consumers: Consumer[] = [];
  expectNoUnhandledRejections();

  function consumer(options: Partial<ConsumerOptions> = {}): Consumer {
    const c = new Consumer({
      bootstrapServers: cluster.bootstrapServers,
      groupId: 'g',
      retryBackoffMs: 5,
      retryBackoffMsMax: 20,
      fetchMaxWaitMs: 50,
      autoOffsetReset: 'earliest',
      ...options,
    });
    consumers.push(c);
    return c;
  }

  async function produce(topic: string, partitions: number, perPartition: number, prefix = 'v'): Promise<void> {
    const sends: Promise<unknown>[] = [];
    for (let partition = 0; partition < partitions; partition++)
      for (let i = 0; i < perPartition; i++)
        sends.push(producer.send({ topic, partition, value: `${prefix}${partition}-${i}` }));
    await Promise.all(sends);
  }

  /** Polls every consumer in turn until `done` says so (or the deadline), collecting records per consumer. */
  async function pollAll(
    list: readonly Consumer[],
    done: (seen: ConsumerRecord[][]) => boolean,
    timeoutMs = 10_000,
  ): Promise<ConsumerRecord[][]> {
    const seen: ConsumerRecord[][] = list.map(() => []);
    const deadline = Date.now() + timeoutMs;
    while (!done(seen) && Date.now() < deadline) {
      const polled = await Promise.all(list.map((c) => c.poll(20)));
      polled.forEach((records, i) => (seen[i] as ConsumerRecord[]).push(...records));
    }
    return seen;
  }

  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 2, groupHeartbeatIntervalMs: 20 });
    cluster.createTopic('t', 4);
    producer = new Producer({ bootstrapServers: cluster.bootstrapServers, lingerMs: 1 });
  });
  afterEach(async () => {
    for (const c of consumers.splice(0)) await c.close({ timeoutMs: 1_000 });
    await producer.close({ timeoutMs: 1_000 });
    await cluster.stop();
  });

  it('one member gets every partition, reads from the start, commits, and a new member resumes there', async () => {
    await produce('t', 4, 5);
    const assigned: string[][] = [];
    const a = consumer({ onPartitionsAssigned: (tps) => void assigned.push(names(tps)) });
    a.subscribe(['t']);
    const [records] = await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 20);
    expect(records).toHaveLength(20);
    expect(assigned).toEqual([['t/0', 't/1', 't/2', 't/3']]);
    expect(names(a.assignment())).toEqual(['t/0', 't/1', 't/2', 't/3']);
    await a.commit();
    const committed = await a.committed([0, 1, 2, 3].map((partition) => ({ topic: 't', partition })));
    expect(committed.map((c) => c.offset)).toEqual([5, 5, 5, 5]);
    await a.close();
    expect(cluster.groups.ownership('g').size).toBe(0);
    await produce('t', 4, 1, 'more');
    const b = consumer();
    b.subscribe(['t']);
    const [later] = await pollAll([b], (seen) => (seen[0]?.length ?? 0) >= 4);
    expect(later?.map((r) => r.offset)).toEqual([5, 5, 5, 5]);
  });

  it('a second member: the first revokes (commit, callback) before the second is assigned; no partition twice', async () => {
    await produce('t', 4, 10);
    const events: string[] = [];
    const a = consumer({
      onPartitionsAssigned: (tps) => void events.push(`a+ ${names(tps).join(',')}`),
      onPartitionsRevoked: (tps) => void events.push(`a- ${names(tps).join(',')}`),
    });
    a.subscribe(['t']);
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 40);
    const b = consumer({ onPartitionsAssigned: (tps) => void events.push(`b+ ${names(tps).join(',')}`) });
    b.subscribe(['t']);
    await pollAll([a, b], () => a.assignment().length === 2 && b.assignment().length === 2);
    expect(a.assignment().length + b.assignment().length).toBe(4);
    const overlap = a.assignment().filter((tp) => names(b.assignment()).includes(`${tp.topic}/${tp.partition}`));
    expect(overlap).toEqual([]);
    // a revoked before b got anything; a's positions were committed on the way.
    expect(events[0]).toBe('a+ t/0,t/1,t/2,t/3');
    expect(events[1]?.startsWith('a- ')).toBe(true);
    expect(events[2]?.startsWith('b+ ')).toBe(true);
    for (const tp of b.assignment()) expect(cluster.groups.committedOffset('g', tp.topic, tp.partition)).toBe(10);
    // b starts at the committed offsets: nothing is read twice.
    await produce('t', 4, 1, 'new');
    const seen = await pollAll([a, b], (s) => (s[0]?.length ?? 0) + (s[1]?.length ?? 0) >= 4);
    expect(seen.flat().map((r) => r.offset)).toEqual([10, 10, 10, 10]);
  });

  it('a member that leaves hands its partitions over; the other resumes at its commits', async () => {
    await produce('t', 4, 3);
    const a = consumer();
    const b = consumer();
    a.subscribe(['t']);
    b.subscribe(['t']);
    await pollAll([a, b], (seen) => (seen[0]?.length ?? 0) + (seen[1]?.length ?? 0) >= 12);
    expect(a.assignment().length + b.assignment().length).toBe(4);
    await b.close();
    await pollAll([a], () => a.assignment().length === 4);
    await produce('t', 4, 1, 'after');
    const [records] = await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 4);
    expect(records?.map((r) => r.offset)).toEqual([3, 3, 3, 3]);
  });

  it('a fenced member loses its partitions (callback, no commit) and joins again', async () => {
    await produce('t', 4, 2);
    const lost: string[][] = [];
    const a = consumer({ enableAutoCommit: false, onPartitionsLost: (tps) => void lost.push(names(tps)) });
    a.subscribe(['t']);
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 8);
    const memberId = a.memberId();
    expect(cluster.groups.expireMember('g', memberId)).toBe(true);
    // Nothing was committed: after the rejoin every partition starts over from the reset policy.
    const [again] = await pollAll([a], (seen) => lost.length > 0 && (seen[0]?.length ?? 0) >= 8);
    expect(lost).toEqual([['t/0', 't/1', 't/2', 't/3']]);
    expect(a.memberId()).not.toBe(memberId);
    expect(cluster.groups.committedOffset('g', 't', 0)).toBe(-1);
    expect(again).toHaveLength(8);
  });

  it('a commit retried after the member lost its partitions sends nothing (another member may own them)', async () => {
    await produce('t', 4, 2);
    const a = consumer({ enableAutoCommit: false });
    a.subscribe(['t']);
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 8);
    const load = { kind: 'error', code: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS } as const;
    cluster.failCalls('OffsetCommit', load, load, load, load, load, load);
    const commit = a.commit();
    expect(cluster.groups.expireMember('g', a.memberId())).toBe(true);
    // The background heartbeat hears UNKNOWN_MEMBER_ID while the commit backs off: the retry stops.
    await expect(commit).rejects.toBeInstanceOf(FencedMemberEpochError);
    expect(cluster.groups.committedOffset('g', 't', 0)).toBe(-1);
  });

  it('follows the coordinator: NOT_COORDINATOR with a hint, load in progress, broker errors', async () => {
    await produce('t', 4, 1);
    cluster.failCalls(
      'ConsumerGroupHeartbeat',
      { kind: 'error', code: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS },
      { kind: 'error', code: ErrorCode.BROKER_NOT_AVAILABLE },
    );
    const a = consumer();
    a.subscribe(['t']);
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 4);
    cluster.moveGroupCoordinator(2);
    await produce('t', 4, 1, 'b');
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 4);
    await a.commit();
    expect(cluster.groups.committedOffset('g', 't', 0)).toBe(2);
  });

  it('NOT_COORDINATOR without a hint: FindCoordinator again; COORDINATOR_NOT_AVAILABLE on find: backoff', async () => {
    await cluster.stop();
    cluster = await FakeStreamBusCluster.start({ brokers: 2, groupHeartbeatIntervalMs: 20, leaderHints: false });
    cluster.createTopic('t', 4);
    await producer.close({ timeoutMs: 1_000 });
    producer = new Producer({ bootstrapServers: cluster.bootstrapServers, lingerMs: 1 });
    await produce('t', 4, 1);
    cluster.failCalls('FindCoordinator', { kind: 'error', code: ErrorCode.COORDINATOR_NOT_AVAILABLE });
    const a = consumer();
    a.subscribe(['t']);
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 4);
    const finds = cluster.callsOf('FindCoordinator');
    cluster.moveGroupCoordinator(2);
    await produce('t', 4, 1, 'b');
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 4);
    // The commit is answered NOT_COORDINATOR (no hint) by broker 1, finds broker 2 and lands there.
    await a.commit();
    expect(cluster.callsOf('FindCoordinator')).toBeGreaterThan(finds);
    expect(cluster.groups.committedOffset('g', 't', 3)).toBe(2);
  });

  it('pause and seek in onPartitionsAssigned, resume later; subscribe and assign exclude each other', async () => {
    await produce('t', 4, 3);
    const a: Consumer = consumer({
      onPartitionsAssigned: () => {
        a.pause([{ topic: 't', partition: 0 }]);
        a.seek({ topic: 't', partition: 1 }, 1);
      },
    });
    expect(() => a.assign([{ topic: 't', partition: 0 }])).not.toThrow();
    expect(() => a.subscribe(['t'])).toThrow(IllegalStateError);
    a.assign([]);
    a.subscribe(['t']);
    expect(() => a.assign([{ topic: 't', partition: 0 }])).toThrow(IllegalStateError);
    const [records] = await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 8);
    expect(records?.some((r) => r.partition === 0)).toBe(false);
    expect(records?.filter((r) => r.partition === 1).map((r) => r.offset)).toEqual([1, 2]);
    expect(a.paused()).toEqual([{ topic: 't', partition: 0 }]);
    a.resume([{ topic: 't', partition: 0 }]);
    const [more] = await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 3);
    expect(more?.map((r) => `${r.partition}@${r.offset}`)).toEqual(['0@0', '0@1', '0@2']);
    expect(() => new Consumer({ bootstrapServers: ['a:1'], groupId: 'bad id' })).toThrow(InvalidConfigError);
    expect(() => new Consumer({ bootstrapServers: ['a:1'] }).subscribe(['t'])).toThrow(InvalidConfigError);
  });

  it('a membership error that is not retriable is thrown by poll; commitAsync reports to its callback', async () => {
    cluster.failCalls('ConsumerGroupHeartbeat', { kind: 'error', code: ErrorCode.GROUP_MAX_SIZE_REACHED });
    const a = consumer();
    a.subscribe(['t']);
    await expect(pollAll([a], () => false, 2_000)).rejects.toBeInstanceOf(GroupMaxSizeReachedError);
    const b = consumer({ groupId: 'other' });
    b.assign([{ topic: 't', partition: 0 }]);
    b.seek({ topic: 't', partition: 0 }, 0);
    const outcome = await new Promise<Error | undefined>((resolve) => b.commitAsync(undefined, resolve));
    // A consumer that only assigns commits as an admin tool: accepted while the group has no members.
    expect(outcome).toBeUndefined();
    expect(cluster.groups.committedOffset('other', 't', 0)).toBe(0);
  });

  it('no successful heartbeat for sessionTimeoutMs: the partitions are lost, then the member joins again', async () => {
    await produce('t', 4, 1);
    const lost: string[][] = [];
    const a = consumer({ sessionTimeoutMs: 300, onPartitionsLost: (tps) => void lost.push(names(tps)) });
    a.subscribe(['t']);
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 4);
    const memberId = a.memberId();
    cluster.failCalls(
      'ConsumerGroupHeartbeat',
      ...Array.from({ length: 30 }, () => ({ kind: 'error' as const, code: ErrorCode.BROKER_NOT_AVAILABLE })),
    );
    await pollAll([a], () => lost.length > 0, 5_000);
    expect(lost).toEqual([['t/0', 't/1', 't/2', 't/3']]);
    // The coordinator's own session timeout removes the silent member; then the partitions are free.
    cluster.groups.expireMember('g', memberId);
    await pollAll([a], () => a.assignment().length === 4, 5_000);
    expect(a.assignment()).toHaveLength(4);
  });

  it('a static member leaves with epoch -2 on close', async () => {
    const a = consumer({ groupInstanceId: 'pod-0' });
    a.subscribe(['t']);
    await pollAll([a], () => a.assignment().length === 4);
    const memberId = a.memberId();
    await a.close();
    expect(cluster.groups.leaves).toEqual([{ groupId: 'g', memberId, memberEpoch: -2 }]);
    expect(cluster.groups.ownership('g').size).toBe(0);
  });

  it('onPartitionsRevoked may commit by hand while the consumer closes', async () => {
    await produce('t', 4, 2);
    const a: Consumer = consumer({
      enableAutoCommit: false,
      onPartitionsRevoked: async (tps) => {
        await a.commit(tps.map((tp) => ({ ...tp, offset: 1 })));
      },
    });
    a.subscribe(['t']);
    await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 8);
    await a.close();
    expect([0, 1, 2, 3].map((p) => cluster.groups.committedOffset('g', 't', p))).toEqual([1, 1, 1, 1]);
    await expect(a.commit()).rejects.toBeInstanceOf(ClientClosedError);
  });

  it('subscribes by pattern', async () => {
    cluster.createTopic('orders-eu', 1);
    cluster.createTopic('orders-us', 1);
    await producer.send({ topic: 'orders-eu', value: 'x' });
    await producer.send({ topic: 'orders-us', value: 'y' });
    const a = consumer();
    a.subscribe(/orders-.*/);
    const [records] = await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 2);
    expect(records?.map((r) => r.topic).sort()).toEqual(['orders-eu', 'orders-us']);
  });

  it('Admin: list, describe with lag, reset offsets (plan, execute, refused with members), delete', async () => {
    await produce('t', 4, 5);
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers, retryBackoffMs: 5 });
    try {
      const a = consumer({ enableAutoCommit: false });
      a.subscribe(['t']);
      await pollAll([a], (seen) => (seen[0]?.length ?? 0) >= 20);
      await a.commit([{ topic: 't', partition: 0, offset: 2 }]);
      expect(await admin.listGroups()).toEqual([{ groupId: 'g', state: 'stable', memberCount: 1, coordinatorId: 1 }]);
      const described = await admin.describeGroup('g');
      expect(described.members).toHaveLength(1);
      expect(described.partitions.map((p) => [p.partition, p.committedOffset, p.logEndOffset, p.lag])).toEqual([
        [0, 2, 5, 3],
        [1, -1, 5, 5],
        [2, -1, 5, 5],
        [3, -1, 5, 5],
      ]);
      expect(described.partitions.every((p) => p.memberId === a.memberId())).toBe(true);
      const plan = await admin.resetOffsets('g', 't', 'latest');
      expect(plan.executed).toBe(false);
      expect(plan.memberCount).toBe(1);
      expect(plan.partitions.map((p) => [p.currentOffset, p.newOffset])).toEqual([
        [2, 5],
        [-1, 5],
        [-1, 5],
        [-1, 5],
      ]);
      await expect(admin.resetOffsets('g', 't', 'earliest', { execute: true })).rejects.toBeInstanceOf(
        NonEmptyGroupError,
      );
      await expect(admin.deleteGroups(['g'])).rejects.toBeInstanceOf(NonEmptyGroupError);
      await a.close();
      const applied = await admin.resetOffsets('g', 't', { offset: 4 }, { execute: true });
      expect(applied.partitions.map((p) => p.newOffset)).toEqual([4, 4, 4, 4]);
      expect((await admin.fetchOffsets('g')).map((o) => o.offset)).toEqual([4, 4, 4, 4]);
      expect((await admin.describeGroup('g')).partitions.map((p) => p.lag)).toEqual([1, 1, 1, 1]);
      await admin.deleteGroups(['g']);
      await expect(admin.describeGroup('g')).rejects.toBeInstanceOf(GroupIdNotFoundError);
    } finally {
      await admin.close();
    }
  });
});
