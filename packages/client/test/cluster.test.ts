import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cluster } from '../src/cluster/cluster.js';
import { InvalidConfigError, UnknownTopicOrPartitionError } from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { backoffMs } from '../src/backoff.js';
import { expectNoUnhandledRejections, seededRandom } from './helpers.js';

describe('Cluster (connections and metadata cache)', () => {
  let fake: FakeStreamBusCluster;
  let cluster: Cluster;
  expectNoUnhandledRejections();
  beforeEach(async () => {
    fake = await FakeStreamBusCluster.start({ brokers: 3 });
    fake.createTopic('t', 3);
  });
  afterEach(async () => {
    cluster.close();
    await fake.stop();
  });

  it('coalesces concurrent refreshes into one Metadata call', async () => {
    cluster = new Cluster({ bootstrapServers: fake.bootstrapServers });
    await Promise.all([cluster.refreshMetadata(['t']), cluster.refreshMetadata(['t']), cluster.refreshMetadata(['t'])]);
    expect(fake.stats.metadataRequests).toBe(1);
    expect(cluster.brokerList().map((b) => b.id)).toEqual([1, 2, 3]);
    expect(await cluster.partitionCount('t')).toBe(3);
    expect(fake.stats.metadataRequests).toBe(1); // served from the cache
  });

  it('skips a dead bootstrap server', async () => {
    cluster = new Cluster({
      bootstrapServers: ['127.0.0.1:1', ...fake.bootstrapServers],
      retryBackoffMs: 5,
      retryBackoffMsMax: 10,
      requestTimeoutMs: 500,
    });
    expect(await cluster.partitionCount('t')).toBe(3);
  });

  it('orders leader hints by epoch', async () => {
    cluster = new Cluster({ bootstrapServers: fake.bootstrapServers });
    await cluster.topicMetadata('t');
    const epoch = cluster.cachedPartition('t', 0)?.leaderEpoch ?? 0;
    expect(cluster.applyLeaderHint('t', 0, 2, epoch + 1)).toBe(true);
    expect(cluster.leaderOf('t', 0)).toBe(2);
    expect(cluster.applyLeaderHint('t', 0, 3, epoch)).toBe(false); // older than what we know
    expect(cluster.leaderOf('t', 0)).toBe(2);
    expect(cluster.applyLeaderHint('t', 0, 99, epoch + 2)).toBe(false); // unknown broker
    cluster.forgetLeader('t', 0);
    expect(cluster.leaderOf('t', 0)).toBe(0);
  });

  it('reports unknown topics typed after bounded retries', async () => {
    cluster = new Cluster({ bootstrapServers: fake.bootstrapServers, retryBackoffMs: 1, retryBackoffMsMax: 2 });
    await expect(cluster.topicMetadata('missing')).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
  });

  it('validates options', () => {
    cluster = new Cluster({ bootstrapServers: ['a:1'] });
    expect(() => new Cluster({ bootstrapServers: ['no-port'] })).toThrow(InvalidConfigError);
    expect(() => new Cluster({ bootstrapServers: ['a:1'], requestTimeoutMs: 0 })).toThrow(InvalidConfigError);
    expect(() => new Cluster({ bootstrapServers: ['a:1'], retryBackoffMs: 100, retryBackoffMsMax: 10 })).toThrow(
      InvalidConfigError,
    );
  });

  it('backs off exponentially with jitter, within bounds', () => {
    cluster = new Cluster({ bootstrapServers: ['a:1'] });
    const random = seededRandom(7);
    for (let attempt = 0; attempt < 12; attempt++) {
      const ms = backoffMs(attempt, 100, 1_000, random);
      expect(ms).toBeGreaterThanOrEqual(50);
      expect(ms).toBeLessThanOrEqual(Math.min(1_000, 100 * 2 ** attempt));
    }
    expect(backoffMs(10, 100, 1_000, () => 0.999)).toBeGreaterThan(900);
  });
});
