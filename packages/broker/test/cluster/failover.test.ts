/**
 * Issue 4's acceptance: 100,000 records produced with acks=all by an idempotent producer through
 * leader changes (a leadership transfer, and the leader of another partition killed and
 * restarted), then read back exactly once, in order per partition, and identical on all three
 * replicas.
 */
import { Admin, Consumer, Producer } from '@streambus/client';
import type { RecordMetadata } from '@streambus/client';
import { Role } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { InProcessCluster } from '../../src/testing/index.js';

const topic = 'failover';
const partitions = 3;
const recordsTotal = 100_000;

function leaderOf(cluster: InProcessCluster, groupId: number): Broker | undefined {
  return cluster
    .running()
    .find((broker) => broker.host.hasGroup(groupId) && broker.host.roleOf(groupId) === Role.leader);
}

/** Every stored batch of a group up to its applied index, as one buffer per replica. */
async function replicaLog(broker: Broker, groupId: number): Promise<Buffer> {
  const replica = broker.replicas.get(groupId);
  if (replica === undefined) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (;;) {
    if (offset >= replica.highWatermark) break;
    const batches = await broker.store.readBatches(groupId, offset, 8 * 1024 * 1024, replica.appliedRaftIndex);
    if (batches.length === 0) break;
    for (const batch of batches) chunks.push(batch.data);
    offset = (batches[batches.length - 1] as { lastOffset: number }).lastOffset + 1;
  }
  return Buffer.concat(chunks);
}

describe('failover under load', () => {
  let cluster: InProcessCluster;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3 });
    await cluster.waitReady(30_000);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('loses and duplicates nothing acknowledged through leader changes, and replicas agree', async () => {
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    await admin.createTopic({ name: topic, partitions, replicationFactor: 3 });
    await admin.close();
    const groups = Array.from(
      { length: partitions },
      (_, partition) => cluster.broker(1).controller.state.partitionOf(topic, partition)!.groupId,
    );

    const producer = new Producer({
      bootstrapServers: cluster.bootstrapServers,
      lingerMs: 2,
      deliveryTimeoutMs: 60_000,
    });
    const acked: Promise<RecordMetadata>[] = [];
    let killed = 0;
    for (let i = 0; i < recordsTotal; i++) {
      const partition = i % partitions;
      acked.push(producer.send({ topic, partition, value: `${partition}:${Math.floor(i / partitions)}` }));
      if (i === 20_000) {
        await Promise.all(acked.slice(-1000));
        const leader = leaderOf(cluster, groups[0]!);
        const target = cluster.ids().find((id) => id !== leader?.nodeId)!;
        leader?.host.transferLeadership(groups[0]!, target);
      }
      if (i === 50_000) {
        await Promise.all(acked.slice(-1000));
        const leader = leaderOf(cluster, groups[1]!);
        expect(leader).toBeDefined();
        killed = leader!.nodeId;
        await cluster.killBroker(killed);
      }
      if (i === 70_000) await cluster.startBroker(killed);
      if (i % 5_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(killed).toBeGreaterThan(0);
    const metadata = await Promise.all(acked);
    await producer.close();

    // Offsets per partition: 0..n-1 in send order (exactly once, in order).
    for (let partition = 0; partition < partitions; partition++) {
      const offsets = metadata.filter((meta) => meta.partition === partition).map((meta) => meta.offset);
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    }

    const consumer = new Consumer({ bootstrapServers: cluster.bootstrapServers, autoOffsetReset: 'earliest' });
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    const seen = Array.from({ length: partitions }, () => [] as string[]);
    let total = 0;
    const deadline = Date.now() + 60_000;
    while (total < recordsTotal && Date.now() < deadline) {
      for (const record of await consumer.poll(500)) {
        seen[record.partition]!.push(Buffer.from(record.value ?? new Uint8Array()).toString());
        total += 1;
      }
    }
    await consumer.close();
    expect(total).toBe(recordsTotal);
    for (let partition = 0; partition < partitions; partition++) {
      const expected = Array.from(
        { length: recordsTotal / partitions + (partition < recordsTotal % partitions ? 1 : 0) },
        (_, n) => `${partition}:${n}`,
      );
      expect(seen[partition]).toEqual(expected);
    }

    // All three replicas hold byte-identical logs once caught up.
    await cluster.waitReady(30_000);
    for (const groupId of groups) {
      const deadlineSync = Date.now() + 20_000;
      let logs: Buffer[] = [];
      for (;;) {
        logs = await Promise.all(cluster.running().map((broker) => replicaLog(broker, groupId)));
        if (logs.every((log) => log.equals(logs[0]!)) || Date.now() > deadlineSync) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(logs).toHaveLength(3);
      for (const log of logs) expect(log.equals(logs[0]!)).toBe(true);
      expect(logs[0]!.byteLength).toBeGreaterThan(0);
    }
  });
});
