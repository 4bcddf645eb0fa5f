import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@streambus/proto';
import { Producer } from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { expectNoUnhandledRejections, seededRandom } from './helpers.js';

const seed = Number(process.env['STREAMBUS_TEST_SEED'] ?? Date.now() % 1_000_000);

describe('idempotent producer under random faults', () => {
  let cluster: FakeStreamBusCluster;
  expectNoUnhandledRejections();
  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3 });
    cluster.createTopic('r', 4);
  });
  afterEach(async () => {
    await cluster.stop();
  });

  it('writes every record exactly once, in order per partition', async () => {
    console.log(
      `idempotence-random: seed ${seed} (replay: STREAMBUS_TEST_SEED=${seed} npx vitest run test/idempotence-random.test.ts)`,
    );
    const random = seededRandom(seed);
    const producer = new Producer({
      bootstrapServers: cluster.bootstrapServers,
      lingerMs: 2,
      batchBytesMax: 600,
      retryBackoffMs: 2,
      retryBackoffMsMax: 10,
      random: seededRandom(seed + 1),
    });
    const recordCount = 2_000;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < recordCount; i++) {
      const roll = random();
      if (roll < 0.01) cluster.failCalls('Produce', { kind: 'drop' });
      else if (roll < 0.02) cluster.failCalls('Produce', { kind: 'error', code: ErrorCode.REQUEST_TIMED_OUT });
      else if (roll < 0.03) cluster.failPartition('r', Math.floor(random() * 4), ErrorCode.NOT_ENOUGH_REPLICAS);
      else if (roll < 0.035) cluster.setLeader('r', Math.floor(random() * 4), 1 + Math.floor(random() * 3));
      sends.push(producer.send({ topic: 'r', key: `k${i % 16}`, value: `${i}` }));
      if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const results = await Promise.allSettled(sends);
    const stats = producer.stats();
    await producer.close();
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toEqual([]);
    const seen = new Set<number>();
    for (let p = 0; p < 4; p++) {
      const stored = cluster.records('r', p).map((r) => Number(r.value?.toString()));
      // No duplicates, and in send order within the partition.
      expect(stored).toEqual([...stored].sort((a, b) => a - b));
      for (const v of stored) {
        expect(seen.has(v)).toBe(false);
        seen.add(v);
      }
    }
    expect(seen.size).toBe(recordCount);
    // The faults were exercised: some batches were resent.
    expect(stats.batchRetries).toBeGreaterThan(0);
  });
});
