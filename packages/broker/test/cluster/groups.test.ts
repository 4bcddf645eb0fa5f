/**
 * Consumer groups on real brokers (issue 11): __consumer_offsets created at start and refused to
 * users, FindCoordinator from any broker, join / heartbeat / commit / fetch through the raw gRPC
 * client on the coordinator and NOT_COORDINATOR elsewhere, and the lag and unconsumed record age
 * gauges of the coordinator.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Acks, ErrorCode, encodeRecordBatch } from '@streambus/proto';
import { Role } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetsPartitionFor, offsetsTopicName } from '../../src/coordinator/internal-topics.js';
import { InProcessCluster } from '../../src/testing/index.js';
import { GroupClients, call } from './group-helpers.js';

const topic = 'orders';

describe('consumer groups on a cluster', () => {
  let cluster: InProcessCluster;
  let clients: GroupClients;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3, metrics: true });
    clients = new GroupClients(cluster);
    await cluster.waitReady(30_000);
    const created = await clients.get(1).CreateTopics(
      {
        topics: [{ name: topic, partitions: 2, replicationFactor: 3, configs: {} }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  });

  afterAll(async () => {
    clients?.close();
    await cluster?.close();
  });

  it('creates __consumer_offsets at start: the configured partitions, 3 replicas each, listed by Metadata', async () => {
    await clients.coordinator('any-group');
    const state = cluster.broker(1).controller.state;
    const partitions = state.partitionsOf(offsetsTopicName);
    expect(partitions).toHaveLength(3);
    for (const info of partitions) expect(info.replicas).toHaveLength(3);
    const metadata = await clients.get(2).Metadata({ topics: [offsetsTopicName], brokersOnly: false }, call);
    expect(metadata.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(metadata.topics[0]?.partitions).toHaveLength(3);
  });

  it('refuses internal topics to users: create, delete, produce', async () => {
    const created = await clients.get(1).CreateTopics(
      {
        topics: [{ name: '__mine', partitions: 1, replicationFactor: 1, configs: {} }],
        timeoutMs: 5_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(created.topics[0]?.errorMessage).toMatch(/internal/);
    const deleted = await clients.get(1).DeleteTopics({ topics: [offsetsTopicName], timeoutMs: 5_000 }, call);
    expect(deleted.topics[0]?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    for (const id of cluster.ids()) {
      const produced = await clients.get(id).Produce(
        {
          acks: Acks.ALL,
          timeoutMs: 5_000,
          transactionalId: '',
          partitions: [
            {
              topic: offsetsTopicName,
              partition: 0,
              records: encodeRecordBatch({ records: [{ value: Buffer.from('x') }] }),
            },
          ],
        },
        call,
      );
      expect(produced.partitions[0]?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    }
    expect(cluster.broker(1).controller.state.topic(offsetsTopicName)).toBeDefined();
  });

  it('FindCoordinator names the leader of the group partition, the same from every broker', async () => {
    const groups = Array.from({ length: 8 }, (_, i) => `find-${i}`);
    for (const group of groups) await clients.coordinator(group);
    const state = cluster.broker(1).controller.state;
    for (const id of cluster.ids()) {
      const found = await clients.get(id).FindCoordinator({ groupIds: [...groups, 'bad group!'] }, call);
      for (const [index, group] of groups.entries()) {
        const answer = found.coordinators[index]!;
        const partition = offsetsPartitionFor(group, 3);
        expect(answer).toMatchObject({ groupId: group, errorCode: ErrorCode.NONE, partition });
        const groupId = state.partitionOf(offsetsTopicName, partition)!.groupId;
        expect(cluster.broker(answer.nodeId).host.roleOf(groupId)).toBe(Role.leader);
        expect(answer.port).toBe(cluster.broker(answer.nodeId).port);
      }
      expect(found.coordinators[groups.length]?.errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    }
  });

  it('joins, heartbeats, commits and fetches on the coordinator; NOT_COORDINATOR with the leader elsewhere', async () => {
    const group = 'orders-readers';
    const member = await clients.join(group, [topic]);
    expect(member.memberId).not.toBe('');
    expect(member.memberEpoch).toBeGreaterThan(0);
    const code = await clients.commit({
      groupId: group,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      partitions: [
        { topic, partition: 0, offset: 5, metadata: 'm0' },
        { topic, partition: 1, offset: 7, metadata: '' },
      ],
    });
    expect(code).toBe(ErrorCode.NONE);
    expect(await clients.committed(group)).toEqual(
      new Map([
        [`${topic}/0`, 5],
        [`${topic}/1`, 7],
      ]),
    );

    const coordinatorId = await clients.coordinator(group);
    const described = await clients.get(coordinatorId).DescribeGroups({ groupIds: [group] }, call);
    expect(described.groups[0]).toMatchObject({ groupId: group, errorCode: ErrorCode.NONE, coordinatorId });
    expect(described.groups[0]?.members.map((m) => m.memberId)).toEqual([member.memberId]);
    const listed = await clients.get(coordinatorId).ListGroups({ states: [] }, call);
    expect(listed.groups.map((g) => g.groupId)).toContain(group);

    const other = cluster.ids().find((id) => id !== coordinatorId)!;
    const elsewhere = await clients.get(other).OffsetFetch({ groupId: group, partitions: [] }, call);
    expect(elsewhere).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR, leaderId: coordinatorId });
    const heartbeatElsewhere = await clients.get(other).ConsumerGroupHeartbeat(
      {
        groupId: group,
        memberId: member.memberId,
        memberEpoch: member.memberEpoch,
        instanceId: '',
        rebalanceTimeoutMs: 0,
        serverAssignor: '',
        clientId: '',
      },
      call,
    );
    expect(heartbeatElsewhere).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR, leaderId: coordinatorId });
    const listedElsewhere = await clients.get(other).ListGroups({ states: [] }, call);
    expect(listedElsewhere.groups.map((g) => g.groupId)).not.toContain(group);
  });

  it('exports the lag of a group by topic on its coordinator only: high watermark minus committed offset', async () => {
    const group = 'lagging';
    const produce = async (partition: number, count: number): Promise<void> => {
      const records = Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`r${i}`) }));
      const response = await clients.get(1).Produce(
        {
          acks: Acks.ALL,
          timeoutMs: 10_000,
          transactionalId: '',
          partitions: [{ topic, partition, records: encodeRecordBatch({ records }) }],
        },
        call,
      );
      expect(response.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    };
    await produce(0, 20);
    await produce(1, 10);
    const state = cluster.broker(1).controller.state;
    const highWatermarks = [0, 1].map((partition) => {
      const groupId = state.partitionOf(topic, partition)!.groupId;
      const leader = cluster.running().find((broker) => broker.host.roleOf(groupId) === Role.leader)!;
      return leader.replica(groupId).highWatermark;
    });
    // Admin commits (no members): partition 0 at 4, partition 1 not at all (counts from its log start, 0).
    expect(
      await clients.commit({
        groupId: group,
        memberId: '',
        memberEpoch: -1,
        partitions: [{ topic, partition: 0, offset: 4, metadata: '' }],
      }),
    ).toBe(ErrorCode.NONE);
    const expected = highWatermarks[0]! - 4 + highWatermarks[1]!;
    const expectedMax = Math.max(highWatermarks[0]! - 4, highWatermarks[1]!);
    const coordinatorId = await clients.coordinator(group);
    const line = (text: string, name: string): string | undefined =>
      text
        .split('\n')
        .find(
          (row) => row.startsWith(`${name}{`) && row.includes(`group="${group}"`) && row.includes(`topic="${topic}"`),
        );
    // The high watermarks of partitions led elsewhere arrive with the leaders' reports (at most 5 s apart).
    const deadline = Date.now() + 15_000;
    let text = '';
    while (Date.now() < deadline) {
      text = await cluster.metrics(coordinatorId).scrape();
      if (line(text, 'streambus_consumer_group_lag_records')?.endsWith(` ${expected}`)) break;
      await sleep(200);
    }
    expect(line(text, 'streambus_consumer_group_lag_records')).toMatch(new RegExp(` ${expected}$`));
    expect(line(text, 'streambus_consumer_group_lag_max_records')).toMatch(new RegExp(` ${expectedMax}$`));
    expect(text).toMatch(/streambus_consumer_groups\{state="empty"[^}]*\} [1-9]/);
    for (const id of cluster.ids().filter((candidate) => candidate !== coordinatorId)) {
      const elsewhere = await cluster.metrics(id).scrape();
      expect(line(elsewhere, 'streambus_consumer_group_lag_records')).toBeUndefined();
    }
  });

  it('exports the age of the oldest unconsumed record on the coordinator only, read locally and from the leader', async () => {
    const aged = 'aged';
    // __consumer_offsets exists and its leaders are elected once a coordinator is named.
    await clients.coordinator('aged-probe');
    const created = await clients.get(1).CreateTopics(
      {
        topics: [{ name: aged, partitions: 3, replicationFactor: 3, configs: {} }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    // Partition p holds 10 records written 10 minutes ago and before: record i of p at t0 - p * 100 s + i s.
    const t0 = Date.now() - 600_000;
    const timestampOf = (partition: number, index: number): number => t0 - partition * 100_000 + index * 1000;
    for (const partition of [0, 1, 2]) {
      const records = Array.from({ length: 10 }, (_, i) => ({
        value: Buffer.from(`a${i}`),
        timestamp: timestampOf(partition, i),
      }));
      const response = await clients.get(1).Produce(
        {
          acks: Acks.ALL,
          timeoutMs: 10_000,
          transactionalId: '',
          partitions: [{ topic: aged, partition, records: encodeRecordBatch({ records }) }],
        },
        call,
      );
      expect(response.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
      expect(response.partitions[0]?.baseOffset).toBe(0);
    }
    const state = cluster.broker(1).controller.state;
    const leaderOf = (groupId: number): number =>
      cluster.running().find((broker) => broker.host.roleOf(groupId) === Role.leader)?.nodeId ?? 0;
    const partitionLeaders = [0, 1, 2].map((partition) => leaderOf(state.partitionOf(aged, partition)!.groupId));
    const coordinatorOf = (group: string): number =>
      leaderOf(state.partitionOf(offsetsTopicName, offsetsPartitionFor(group, 3))!.groupId);
    // A group whose coordinator leads the lagging partition (read locally), one whose coordinator does not (a Fetch).
    const pick = (prefix: string, local: boolean): { group: string; partition: number } => {
      for (let i = 0; i < 200; i++) {
        const group = `${prefix}-${i}`;
        const partition = partitionLeaders.findIndex((leader) => (leader === coordinatorOf(group)) === local);
        if (partition >= 0) return { group, partition };
      }
      throw new Error(`no ${prefix} group among 200 names: leaders ${partitionLeaders.join(',')}`);
    };
    const lagging = [pick('aged-local', true), pick('aged-remote', false)];
    // Committed at 3 on the lagging partition and at the end (10) on the others; a third group caught up everywhere.
    const groups = [...lagging, { group: 'aged-none', partition: -1 }];
    for (const { group, partition } of groups)
      expect(
        await clients.commit({
          groupId: group,
          memberId: '',
          memberEpoch: -1,
          partitions: [0, 1, 2].map((p) => ({
            topic: aged,
            partition: p,
            offset: p === partition ? 3 : 10,
            metadata: '',
          })),
        }),
      ).toBe(ErrorCode.NONE);
    const name = 'streambus_consumer_group_oldest_unconsumed_age_seconds';
    const value = (text: string, group: string): number | undefined => {
      const row = text
        .split('\n')
        .find(
          (line) =>
            line.startsWith(`${name}{`) && line.includes(`group="${group}"`) && line.includes(`topic="${aged}"`),
        );
      return row === undefined ? undefined : Number(row.slice(row.lastIndexOf(' ') + 1));
    };
    for (const { group, partition } of groups) {
      const coordinatorId = await clients.coordinator(group);
      const expectedAt = (): number => (partition < 0 ? 0 : (Date.now() - timestampOf(partition, 3)) / 1000);
      // A look every 10 s; the high watermarks of partitions led elsewhere come with the leaders' reports.
      const deadline = Date.now() + 30_000;
      let seen: number | undefined;
      while (Date.now() < deadline) {
        seen = value(await cluster.metrics(coordinatorId).scrape(), group);
        if (seen !== undefined && Math.abs(seen - expectedAt()) < 5) break;
        await sleep(250);
      }
      expect(seen, `${group} on broker ${coordinatorId}`).toBeDefined();
      expect(Math.abs(seen! - expectedAt()), `${group}: ${seen} s, expected about ${expectedAt()} s`).toBeLessThan(5);
      for (const id of cluster.ids().filter((candidate) => candidate !== coordinatorId))
        expect(value(await cluster.metrics(id).scrape(), group)).toBeUndefined();
    }
  });
});
