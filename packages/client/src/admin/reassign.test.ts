import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Admin } from './admin.js';
import { InvalidPartitionsError, InvalidRequestError, UnknownTopicOrPartitionError } from '../errors.js';
import { FakeStreamBusCluster } from '../testing/index.js';

describe('Admin.reassignPartitions', () => {
  let cluster: FakeStreamBusCluster;
  let admin: Admin;
  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 4 });
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

  it('records new replica lists, which describeTopic then shows', async () => {
    await admin.createTopic({ name: 'orders', partitions: 2, replicationFactor: 3 });
    const before = await admin.describeTopic('orders');
    const kept = (before.partitions[1]?.replicas ?? []).slice(0, 2);
    await admin.reassignPartitions('orders', [{ partition: 1, replicas: [...kept, 4] }]);
    const after = await admin.describeTopic('orders');
    expect(after.partitions[1]?.replicas).toEqual([...kept, 4]);
    expect(after.partitions[0]?.replicas).toEqual(before.partitions[0]?.replicas);
  });

  it('reports errors typed, and records nothing when one partition is invalid', async () => {
    await admin.createTopic({ name: 't', partitions: 2, replicationFactor: 3 });
    const before = await admin.describeTopic('t');
    await expect(admin.reassignPartitions('missing', [{ partition: 0, replicas: [1] }])).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
    await expect(
      admin.reassignPartitions('t', [
        { partition: 0, replicas: [1, 2, 4] },
        { partition: 7, replicas: [1] },
      ]),
    ).rejects.toBeInstanceOf(InvalidPartitionsError);
    await expect(admin.reassignPartitions('t', [{ partition: 0, replicas: [1, 1] }])).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    await expect(admin.reassignPartitions('t', [{ partition: 0, replicas: [9] }])).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    expect((await admin.describeTopic('t')).partitions.map((p) => p.replicas)).toEqual(
      before.partitions.map((p) => p.replicas),
    );
  });
});
