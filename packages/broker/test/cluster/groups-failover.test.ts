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

  it('cuts an offsets partition below a checkpoint on every replica once it outgrows it; a new coordinator loads the same offsets from the cut log', async () => {
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
    // The followers find the checkpoint's marker in their logs and cut theirs too (every 5 s); a
    // replica that became leader meanwhile cuts its own when it loads.
    const cutAt = coordinatorBroker.replica(offsetsGroupId).logStartOffset();
    const replicas = cluster.running().filter((broker) => broker.host.hasGroup(offsetsGroupId));
    expect(replicas).toHaveLength(3);
    await until(
      `every replica cut (${cutAt})`,
      () => replicas.every((broker) => broker.replica(offsetsGroupId).logStartOffset() >= cutAt),
      15_000,
      () => replicas.map((broker) => `${broker.nodeId}: ${broker.replica(offsetsGroupId).logStartOffset()}`).join(', '),
    );
    const followers = replicas.filter((broker) => broker !== leader());
    // Leadership moves: the new coordinator loads from its own log, cut like the leader's.
    const oldTerm = coordinatorBroker.coordinators.partition(target)?.term ?? 0;
    const reloaded = (): Broker | undefined =>
      cluster.running().find((broker) => {
        const coordinator = broker.coordinators.partition(target);
        return coordinator !== undefined && coordinator.status === 'active' && coordinator.term > oldTerm;
      });
    const deadline = Date.now() + 20_000;
    while (reloaded() === undefined && Date.now() < deadline) {
      const current = leader();
      const to = followers.find((broker) => broker !== current);
      try {
        if (current !== undefined && to !== undefined && current.nodeId !== to.nodeId)
          current.host.transferLeadership(offsetsGroupId, to.nodeId);
      } catch {
        // Leadership moved meanwhile (the preferred-leader check): look again.
      }
      await sleep(200);
    }
    const newCoordinator = reloaded();
    expect(newCoordinator).toBeDefined();
    expect(newCoordinator?.coordinators.partition(target)?.logRecords).toBeLessThan(records / 2);
    for (const group of groups) {
      const committed = await clients.committed(group);
      expect(committed.size).toBe(widePartitions);
      for (const offset of committed.values()) expect(offset).toBe(rounds);
    }
  });
});
