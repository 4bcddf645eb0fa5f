/**
 * Issue 5's end-to-end proof on real processes: a topic with 6 partitions and RF 3; an idempotent
 * producer sends 100,000 records with acks=all while the leader of a partition is SIGKILLed and
 * restarted; every acknowledged record is then read back exactly once, in producer order per
 * partition, and the three replicas' logs are identical up to the high watermark.
 */
import { join } from 'node:path';
import { Admin, Consumer, Producer } from '@streambus/client';
import type { RecordMetadata } from '@streambus/client';
import { LevelRaftStore } from '@streambus/storage';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers.js';

const topic = 'e2e';
const partitions = 6;
const recordsTotal = 100_000;

/** __consumer_offsets partitions of a cluster started with the default groups.offsets_topic_partitions. */
const offsetsTopicPartitionsDefault = 12;

async function groupLogs(dataDir: string): Promise<Map<number, { next: number; bytes: Buffer }>> {
  const store = await LevelRaftStore.open(join(dataDir, 'raft'), { walSync: 'none' });
  try {
    const logs = new Map<number, { next: number; bytes: Buffer }>();
    for (const groupId of store.groupIds()) {
      if (groupId === 0) continue;
      const chunks: Uint8Array[] = [];
      let offset = store.earliestOffset(groupId);
      const next = store.latestOffset(groupId);
      while (offset < next) {
        const batches = await store.readBatches(groupId, offset, 16 * 1024 * 1024, Number.MAX_SAFE_INTEGER);
        if (batches.length === 0) break;
        for (const batch of batches) chunks.push(batch.data);
        offset = batches[batches.length - 1]!.lastOffset + 1;
      }
      logs.set(groupId, { next, bytes: Buffer.concat(chunks) });
    }
    return logs;
  } finally {
    await store.close();
  }
}

describe('SIGKILL of a partition leader under load (real processes)', () => {
  const setup = useCluster('e2e');

  it('loses nothing acknowledged, duplicates nothing, and replicas agree', async () => {
    const bootstrapServers = setup.cluster.bootstrap.split(',');
    const admin = new Admin({ bootstrapServers });
    await admin.createTopic({ name: topic, partitions, replicationFactor: 3 });
    const before = await admin.describeTopic(topic);
    const victim = before.partitions.find((partition) => partition.partition === 0)!.leaderId;
    expect(victim).toBeGreaterThan(0);

    const producer = new Producer({ bootstrapServers, deliveryTimeoutMs: 120_000 });
    const acked: Promise<RecordMetadata>[] = [];
    for (let i = 0; i < recordsTotal; i++) {
      const partition = i % partitions;
      acked.push(producer.send({ topic, partition, value: `${partition}:${Math.floor(i / partitions)}` }));
      if (i === 30_000) {
        await Promise.all(acked.slice(-500));
        await setup.cluster.kill(victim);
      }
      if (i === 60_000) setup.cluster.start(victim);
      if (i % 2_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const metadata = await Promise.all(acked);
    await producer.close();
    const after = await admin.describeTopic(topic);
    expect(after.partitions.find((partition) => partition.partition === 0)!.leaderId).toBeGreaterThan(0);
    await admin.close();

    for (let partition = 0; partition < partitions; partition++) {
      const offsets = metadata.filter((meta) => meta.partition === partition).map((meta) => meta.offset);
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    }

    const consumer = new Consumer({ bootstrapServers, autoOffsetReset: 'earliest' });
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    const seen = Array.from({ length: partitions }, () => [] as string[]);
    let total = 0;
    const deadline = Date.now() + 120_000;
    while (total < recordsTotal && Date.now() < deadline) {
      for (const record of await consumer.poll(500)) {
        seen[record.partition]!.push(Buffer.from(record.value ?? new Uint8Array()).toString());
        total += 1;
      }
    }
    await consumer.close();
    expect(total).toBe(recordsTotal);
    for (let partition = 0; partition < partitions; partition++) {
      const count = Math.floor(recordsTotal / partitions) + (partition < recordsTotal % partitions ? 1 : 0);
      expect(seen[partition]).toEqual(Array.from({ length: count }, (_, n) => `${partition}:${n}`));
    }

    // Let the restarted broker catch up, stop everyone gracefully, then compare the stores.
    await setup.cluster.waitReady(victim, 60_000);
    await setup.cluster.stopAll();
    const stores = await Promise.all(setup.cluster.brokers.map((broker) => groupLogs(broker.dataDir)));
    const groupIds = [...stores[0]!.keys()].sort((a, b) => a - b);
    // The topic's partitions and those of __consumer_offsets (groups.offsets_topic_partitions, default 12): all compared.
    expect(groupIds).toHaveLength(partitions + offsetsTopicPartitionsDefault);
    let records = 0;
    for (const groupId of groupIds) {
      const replicas = stores.map((logs) => logs.get(groupId));
      for (const replica of replicas) {
        expect(replica).toBeDefined();
        expect(replica!.next).toBe(replicas[0]!.next);
        expect(replica!.bytes.equals(replicas[0]!.bytes)).toBe(true);
      }
      records += replicas[0]!.next;
    }
    expect(records).toBe(recordsTotal);
  }, 300_000);
});
