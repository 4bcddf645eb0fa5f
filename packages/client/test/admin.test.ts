import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Admin,
  InvalidPartitionsError,
  InvalidReplicationFactorError,
  InvalidRequestError,
  Producer,
  TopicAlreadyExistsError,
  UnknownTopicOrPartitionError,
} from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { expectNoUnhandledRejections } from './helpers.js';

describe('Admin', () => {
  let cluster: FakeStreamBusCluster;
  let admin: Admin;
  expectNoUnhandledRejections();
  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3 });
    admin = new Admin({
      bootstrapServers: cluster.bootstrapServers.slice(0, 1),
      retryBackoffMs: 5,
      retryBackoffMsMax: 20,
    });
  });
  afterEach(async () => {
    await admin.close();
    await cluster.stop();
  });

  it('creates, lists, describes and deletes topics', async () => {
    await admin.createTopic({
      name: 'orders',
      partitions: 6,
      replicationFactor: 3,
      configs: { 'retention.ms': '1000' },
    });
    await admin.createTopics([{ name: 'audit' }]);
    expect(await admin.listTopics()).toEqual(['audit', 'orders']);
    const described = await admin.describeTopic('orders');
    expect(described.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(described.partitions.map((p) => p.leaderId))).toEqual(new Set([1, 2, 3]));
    expect(described.partitions[0]?.replicas).toEqual([1, 2, 3]);
    expect(described.configs).toEqual({ 'retention.ms': '1000' });
    await admin.deleteTopic('audit');
    expect(await admin.listTopics()).toEqual(['orders']);
    await expect(admin.describeTopic('audit')).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
    await expect(admin.deleteTopic('audit')).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
  });

  it('reports creation errors typed', async () => {
    await admin.createTopic({ name: 'x', partitions: 1 });
    await expect(admin.createTopic({ name: 'x' })).rejects.toBeInstanceOf(TopicAlreadyExistsError);
    await expect(admin.createTopic({ name: 'y', partitions: -1 })).rejects.toBeInstanceOf(InvalidPartitionsError);
    await expect(admin.createTopic({ name: 'z', replicationFactor: 4 })).rejects.toBeInstanceOf(
      InvalidReplicationFactorError,
    );
    await expect(admin.createTopic({ name: 'bad name!' })).rejects.toBeInstanceOf(InvalidRequestError);
    await admin.createTopics([{ name: 'dry' }], { validateOnly: true });
    expect(await admin.listTopics()).toEqual(['x']);
  });

  it('reports cluster status', async () => {
    await admin.createTopic({ name: 'orders', partitions: 6 });
    const status = await admin.clusterStatus();
    expect(status.brokers.map((b) => b.id)).toEqual([1, 2, 3]);
    expect(status.brokers.every((b) => b.alive)).toBe(true);
    expect(status.brokers.reduce((s, b) => s + b.leaderCount, 0)).toBe(6);
    expect(status.partitionCount).toBe(6);
    expect(status.controllerId).toBe(1);
  });

  it('lists earliest, latest and by-timestamp offsets at the leaders', async () => {
    await admin.createTopic({ name: 'o', partitions: 2 });
    const producer = new Producer({ bootstrapServers: cluster.bootstrapServers });
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        producer.send({ topic: 'o', partition: 1, value: `v${i}`, timestamp: 1_000 * (i + 1) }),
      ),
    );
    await producer.close();
    const tps = [
      { topic: 'o', partition: 0 },
      { topic: 'o', partition: 1 },
    ];
    expect((await admin.listOffsets(tps, 'earliest')).map((a) => a.offset)).toEqual([0, 0]);
    expect((await admin.listOffsets(tps, 'latest')).map((a) => a.offset)).toEqual([0, 5]);
    const byTime = await admin.listOffsets([{ topic: 'o', partition: 1 }], { timestampMs: 2_500 });
    expect(byTime[0]).toMatchObject({ offset: 2, timestampMs: 3_000 });
    await expect(admin.listOffsets([{ topic: 'o', partition: 9 }], 'latest')).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
  });
});
