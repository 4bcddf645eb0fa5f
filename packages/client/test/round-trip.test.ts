import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Consumer, Producer } from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { expectNoUnhandledRejections } from './helpers.js';

describe('produce / consume round trip', () => {
  let cluster: FakeStreamBusCluster;
  expectNoUnhandledRejections();
  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3 });
    cluster.createTopic('events', 6);
  });
  afterEach(async () => {
    await cluster.stop();
  });

  it('delivers keyed records with headers and reads them back in order', async () => {
    const producer = new Producer({ bootstrapServers: cluster.bootstrapServers, lingerMs: 2 });
    const sent = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        producer.send({
          topic: 'events',
          key: `user-${i % 5}`,
          value: `v${i}`,
          headers: { trace: `t${i}` },
          timestamp: 1_000 + i,
        }),
      ),
    );
    await producer.close();
    const consumer = new Consumer({ bootstrapServers: cluster.bootstrapServers, autoOffsetReset: 'earliest' });
    consumer.assign(Array.from({ length: 6 }, (_, partition) => ({ topic: 'events', partition })));
    const got: Awaited<ReturnType<Consumer['poll']>> = [];
    while (got.length < 50) got.push(...(await consumer.poll(2_000)));
    await consumer.close();
    expect(got).toHaveLength(50);
    for (const meta of sent) {
      const record = got.find((r) => r.partition === meta.partition && r.offset === meta.offset);
      expect(record).toBeDefined();
    }
    // Same key, same partition; per-partition order is send order.
    const byKey = new Map<string, Set<number>>();
    for (const r of got) {
      const key = r.key?.toString() ?? '';
      byKey.set(key, (byKey.get(key) ?? new Set()).add(r.partition));
    }
    for (const partitions of byKey.values()) expect(partitions.size).toBe(1);
    for (let p = 0; p < 6; p++) {
      const values = got.filter((r) => r.partition === p).map((r) => Number(r.value?.toString().slice(1)));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    const first = got.find((r) => r.value?.toString() === 'v7');
    expect(first?.headers).toEqual([{ key: 'trace', value: Buffer.from('t7') }]);
    expect(first?.timestamp).toBe(1_007);
  });
});
