/**
 * Three real brokers in one process (gRPC on loopback, LevelDB in temp dirs): topic creation,
 * produce/fetch through the client SDK, and every acks mode.
 */
import { Admin, Consumer, Producer } from '@streambus/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessCluster } from '../../src/testing/index.js';

describe('a 3-broker cluster', () => {
  let cluster: InProcessCluster;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3 });
    await cluster.waitReady(30_000);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('creates a topic with balanced replicas and leaders', async () => {
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    try {
      await admin.createTopic({ name: 'balanced', partitions: 6, replicationFactor: 3 });
      // Placement is balanced at once; leadership converges to the preferred replicas (the first
      // of each list) as they win their first elections or get leadership handed back.
      const deadline = Date.now() + 15_000;
      let counts: number[] = [];
      for (;;) {
        const description = await admin.describeTopic('balanced');
        expect(description.partitions).toHaveLength(6);
        const preferred = new Map<number, number>();
        const leaders = new Map<number, number>();
        for (const partition of description.partitions) {
          expect([...partition.replicas].sort()).toEqual([1, 2, 3]);
          const first = partition.replicas[0] ?? 0;
          preferred.set(first, (preferred.get(first) ?? 0) + 1);
          leaders.set(partition.leaderId, (leaders.get(partition.leaderId) ?? 0) + 1);
        }
        expect([...preferred.values()].sort()).toEqual([2, 2, 2]);
        counts = [...leaders.entries()]
          .filter(([id]) => id > 0)
          .map(([, count]) => count)
          .sort();
        if (counts.join() === '2,2,2' || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(counts).toEqual([2, 2, 2]);
    } finally {
      await admin.close();
    }
  });

  it('round-trips records with acks=all and reads them back in order', async () => {
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    await admin.createTopic({ name: 'round-trip', partitions: 3, replicationFactor: 3 });
    await admin.close();
    const producer = new Producer({ bootstrapServers: cluster.bootstrapServers });
    const sent = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        producer.send({ topic: 'round-trip', partition: i % 3, key: `k${i}`, value: `v${i}` }),
      ),
    );
    await producer.close();
    for (const partition of [0, 1, 2]) {
      const offsets = sent.filter((meta) => meta.partition === partition).map((meta) => meta.offset);
      expect(offsets).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
    const consumer = new Consumer({ bootstrapServers: cluster.bootstrapServers, autoOffsetReset: 'earliest' });
    consumer.assign([0, 1, 2].map((partition) => ({ topic: 'round-trip', partition })));
    const values = new Map<number, string[]>();
    const deadline = Date.now() + 20_000;
    let total = 0;
    while (total < 300 && Date.now() < deadline) {
      for (const record of await consumer.poll(500)) {
        const list = values.get(record.partition) ?? [];
        list.push(Buffer.from(record.value ?? new Uint8Array()).toString());
        values.set(record.partition, list);
        total += 1;
      }
    }
    await consumer.close();
    expect(total).toBe(300);
    for (const partition of [0, 1, 2]) {
      expect(values.get(partition)).toEqual(Array.from({ length: 100 }, (_, i) => `v${i * 3 + partition}`));
    }
  });

  it('acknowledges with acks=leader and acks=none too', async () => {
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    await admin.createTopic({ name: 'acks-modes', partitions: 1, replicationFactor: 3 });
    await admin.close();
    for (const acks of ['leader', 'none'] as const) {
      const producer = new Producer({ bootstrapServers: cluster.bootstrapServers, acks, idempotent: false });
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          producer.send({ topic: 'acks-modes', partition: 0, value: `${acks}-${i}` }),
        ),
      );
      await producer.close();
    }
    const consumer = new Consumer({ bootstrapServers: cluster.bootstrapServers, autoOffsetReset: 'earliest' });
    consumer.assign([{ topic: 'acks-modes', partition: 0 }]);
    let seen = 0;
    const deadline = Date.now() + 20_000;
    while (seen < 40 && Date.now() < deadline) seen += (await consumer.poll(500)).length;
    await consumer.close();
    expect(seen).toBe(40);
  });
});
