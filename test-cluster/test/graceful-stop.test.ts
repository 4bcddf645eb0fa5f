/**
 * SIGTERM is a graceful stop: the broker hands leadership of its partitions to in-sync peers
 * before it exits (exit code 0), so its partitions never go leaderless; a restart recovers from
 * the data directory and catches up before it reports ready.
 */
import { Admin, Consumer, Producer } from '@streambus/client';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers.js';

describe('graceful stop and restart (real processes)', () => {
  const setup = useCluster('graceful');

  it('hands leadership away on SIGTERM, exits 0, and catches up after a restart', async () => {
    const others = setup.cluster.brokers.filter((broker) => broker.id !== 1).map((broker) => broker.listen);
    const admin = new Admin({ bootstrapServers: setup.cluster.bootstrap.split(',') });
    await admin.createTopic({ name: 'handoff', partitions: 6, replicationFactor: 3 });
    let led: number[] = [];
    const settle = Date.now() + 15_000;
    while (Date.now() < settle) {
      led = (await admin.describeTopic('handoff')).partitions
        .filter((partition) => partition.leaderId === 1)
        .map((partition) => partition.partition);
      if (led.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await admin.close();
    expect(led.length).toBeGreaterThan(0);

    const producer = new Producer({ bootstrapServers: setup.cluster.bootstrap.split(',') });
    await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        producer.send({ topic: 'handoff', partition: i % 6, value: `before-${i}` }),
      ),
    );

    const exitCode = await setup.cluster.stop(1);
    expect(exitCode).toBe(0);
    // Right after the exit, the survivors already lead every partition broker 1 led.
    const survivors = new Admin({ bootstrapServers: others });
    const after = await survivors.describeTopic('handoff');
    for (const partition of after.partitions) {
      expect(partition.leaderId).not.toBe(1);
      expect(partition.leaderId).toBeGreaterThan(0);
    }
    await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        producer.send({ topic: 'handoff', partition: i % 6, value: `during-${i}` }),
      ),
    );

    await setup.cluster.restart(1, 60_000);
    await Promise.all(
      Array.from({ length: 600 }, (_, i) => producer.send({ topic: 'handoff', partition: i % 6, value: `after-${i}` })),
    );
    await producer.close();
    const status = await survivors.clusterStatus();
    expect(status.brokers.filter((broker) => broker.alive)).toHaveLength(3);
    // Broker 1 gets back the leadership of the partitions it is the preferred leader of.
    const preferred = (await survivors.describeTopic('handoff')).partitions
      .filter((partition) => partition.replicas[0] === 1)
      .map((partition) => partition.partition);
    expect(preferred.length).toBeGreaterThan(0);
    let regained: number[] = [];
    const rebalance = Date.now() + 20_000;
    while (Date.now() < rebalance) {
      regained = (await survivors.describeTopic('handoff')).partitions
        .filter((partition) => partition.leaderId === 1)
        .map((partition) => partition.partition);
      if (preferred.every((partition) => regained.includes(partition))) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(regained.sort()).toEqual(preferred.sort());
    await survivors.close();

    const consumer = new Consumer({
      bootstrapServers: setup.cluster.bootstrap.split(','),
      autoOffsetReset: 'earliest',
    });
    consumer.assign(Array.from({ length: 6 }, (_, partition) => ({ topic: 'handoff', partition })));
    const values = new Set<string>();
    const deadline = Date.now() + 30_000;
    while (values.size < 1800 && Date.now() < deadline)
      for (const record of await consumer.poll(500))
        values.add(Buffer.from(record.value ?? new Uint8Array()).toString());
    await consumer.close();
    expect(values.size).toBe(1800);
  });
});
