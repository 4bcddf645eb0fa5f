/**
 * Group coordinators across leadership changes on real brokers: the coordinator killed in the
 * middle of a member's commits (no acknowledged commit lost or going backward, the member still
 * there on the new coordinator), and compaction of an offsets partition (the log cut below a
 * checkpoint, the state rebuilt from the cut log by a new load).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '@streambus/proto';
import { Role } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactionSlackRecords } from '../../src/coordinator/constants.js';
import { offsetsPartitionFor, offsetsTopicName } from '../../src/coordinator/internal-topics.js';
import type { Broker } from '../../src/server/broker.js';
import { InProcessCluster } from '../../src/testing/index.js';
import { GroupClients, call } from './group-helpers.js';

const topic = 'events';
const wide = 'wide';
const widePartitions = 10;

async function until(what: string, check: () => boolean, waitMs = 20_000, state?: () => string): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${state === undefined ? '' : `: ${state()}`}`);
    await sleep(20);
  }
}

describe('group coordinators across leadership changes', () => {
  let cluster: InProcessCluster;
  let clients: GroupClients;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3 });
    clients = new GroupClients(cluster);
    await cluster.waitReady(30_000);
    const created = await clients.get(1).CreateTopics(
      {
        topics: [
          { name: topic, partitions: 1, replicationFactor: 3, configs: {} },
          { name: wide, partitions: widePartitions, replicationFactor: 1, configs: {} },
        ],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics.map((t) => t.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  });

  afterAll(async () => {
    clients?.close();
    await cluster?.close();
  });

  it('loses no acknowledged commit when the coordinator is killed mid-commit; the new one has the member', async () => {
    const group = 'failover';
    const member = await clients.join(group, [topic]);
    const oldCoordinator = await clients.coordinator(group);
    let acknowledged = -1;
    let attempted = -1;
    let killed: Promise<void> | null = null;
    const started = Date.now();
    for (let offset = 1; offset <= 60; offset++) {
      if (offset === 20) killed = cluster.killBroker(oldCoordinator);
      attempted = offset;
      const code = await clients.commit({
        groupId: group,
        memberId: member.memberId,
        memberEpoch: member.memberEpoch,
        partitions: [{ topic, partition: 0, offset, metadata: '' }],
      });
      expect(code).toBe(ErrorCode.NONE);
      acknowledged = offset;
      // Every acknowledged commit is there, and none goes backward, wherever the coordinator is now.
      if (offset % 10 === 0) expect((await clients.committed(group)).get(`${topic}/0`)).toBe(offset);
    }
    await killed;
    const newCoordinator = await clients.coordinator(group);
    expect(newCoordinator).not.toBe(oldCoordinator);
    const committed = (await clients.committed(group)).get(`${topic}/0`)!;
    expect(committed).toBeGreaterThanOrEqual(acknowledged);
    expect(committed).toBeLessThanOrEqual(attempted);
    const described = await clients.get(newCoordinator).DescribeGroups({ groupIds: [group] }, call);
    expect(described.groups[0]?.members.map((m) => m.memberId)).toEqual([member.memberId]);
    const heartbeat = await clients.heartbeat({
      groupId: group,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
    });
    expect(heartbeat.errorCode).toBe(ErrorCode.NONE);
    console.log(
      `failover: 60 commits through a coordinator kill in ${Date.now() - started} ms; committed ${committed}`,
    );
    await cluster.startBroker(oldCoordinator);
    await cluster.waitReady(30_000);
  });

  it('cuts an offsets partition below a checkpoint once it outgrows it; a reload from the cut has the same offsets', async () => {
    // Groups that live in one partition, so that their commits grow one log.
    const target = offsetsPartitionFor('compact-0', 3);
    const groups: string[] = [];
    for (let i = 0; groups.length < 8; i++)
      if (offsetsPartitionFor(`compact-${i}`, 3) === target) groups.push(`compact-${i}`);
    const rounds = Math.ceil((compactionSlackRecords + 2_000) / (groups.length * widePartitions));
    const started = Date.now();
    await Promise.all(
      groups.map(async (group) => {
        for (let round = 1; round <= rounds; round++) {
          const code = await clients.commit({
            groupId: group,
            memberId: '',
            memberEpoch: -1,
            partitions: Array.from({ length: widePartitions }, (_, partition) => ({
              topic: wide,
              partition,
              offset: round,
              metadata: '',
            })),
          });
          expect(code).toBe(ErrorCode.NONE);
        }
      }),
    );
    const records = rounds * groups.length * widePartitions;
    console.log(`compaction: ${records} offset records committed in ${Date.now() - started} ms`);
    const offsetsGroupId = cluster.broker(1).controller.state.partitionOf(offsetsTopicName, target)!.groupId;
    const leader = (): Broker | undefined =>
      cluster.running().find((broker) => broker.host.roleOf(offsetsGroupId) === Role.leader);
    const coordinatorBroker = leader()!;
    await until('the checkpoint and the cut', () => coordinatorBroker.replica(offsetsGroupId).logStartOffset() > 0);
    expect(coordinatorBroker.coordinators.partition(target)?.logRecords).toBeLessThan(records / 2);
    // The followers find the checkpoint's marker in their logs and cut theirs too (every 5 s).
    const cutAt = coordinatorBroker.replica(offsetsGroupId).logStartOffset();
    const followers = cluster
      .running()
      .filter((broker) => broker !== coordinatorBroker && broker.host.hasGroup(offsetsGroupId));
    expect(followers).toHaveLength(2);
    await until(
      `the followers cut too (${cutAt})`,
      () => followers.every((broker) => broker.replica(offsetsGroupId).logStartOffset() === cutAt),
      15_000,
      () =>
        followers.map((broker) => `${broker.nodeId}: ${broker.replica(offsetsGroupId).logStartOffset()}`).join(', '),
    );

    // Leadership away and back: the coordinator loads again from its own (cut) log.
    const other = cluster
      .running()
      .find((broker) => broker !== coordinatorBroker && broker.host.hasGroup(offsetsGroupId))!;
    coordinatorBroker.host.transferLeadership(offsetsGroupId, other.nodeId);
    await until('leadership moved away', () => other.host.roleOf(offsetsGroupId) === Role.leader);
    other.host.transferLeadership(offsetsGroupId, coordinatorBroker.nodeId);
    await until('leadership back', () => coordinatorBroker.host.roleOf(offsetsGroupId) === Role.leader);
    await until('reloaded', () => coordinatorBroker.coordinators.partition(target)?.status === 'active');
    expect(coordinatorBroker.coordinators.partition(target)?.logRecords).toBeLessThan(records / 2);
    for (const group of groups) {
      const committed = await clients.committed(group);
      expect(committed.size).toBe(widePartitions);
      for (const offset of committed.values()) expect(offset).toBe(rounds);
    }
  });
});
