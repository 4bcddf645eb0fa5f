/**
 * Partition reassignment as Raft membership change, end to end on 4 in-process brokers: a
 * partition of 3 replicas moves one follower to the fourth broker, then moves its leader away,
 * under produce load. Every acknowledged record must be readable once, in order; the Raft voters
 * must end equal to the target; the brokers moved off must no longer host the group; and the
 * new replica's log must equal the others' byte for byte.
 */
import { Admin, Consumer, Producer } from '@streambus/client';
import type { RecordMetadata } from '@streambus/client';
import { Role } from '@streambus/raft';
import type { ConfState } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { InProcessCluster } from '../../src/testing/index.js';

const topic = 'moves';

function leaderOf(cluster: InProcessCluster, groupId: number): Broker | undefined {
  return cluster
    .running()
    .find((broker) => broker.host.hasGroup(groupId) && broker.host.roleOf(groupId) === Role.leader);
}

/** Every stored batch of a group from `from` up to its applied index, as one buffer. */
async function replicaLog(broker: Broker, groupId: number, from = 0): Promise<Buffer> {
  const replica = broker.replicas.get(groupId);
  if (replica === undefined) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let offset = from;
  while (offset < replica.highWatermark) {
    const batches = await broker.store.readBatches(groupId, offset, 8 * 1024 * 1024, replica.appliedRaftIndex);
    if (batches.length === 0) break;
    for (const batch of batches) chunks.push(batch.data);
    offset = (batches[batches.length - 1] as { lastOffset: number }).lastOffset + 1;
  }
  return Buffer.concat(chunks);
}

const sorted = (ids: readonly number[]): number[] => [...ids].sort((a, b) => a - b);

/** True once the group's leader applied voters = target, no learners, and `gone` hosts nothing of it. */
function moved(cluster: InProcessCluster, groupId: number, target: readonly number[], gone: number): boolean {
  const leader = leaderOf(cluster, groupId);
  if (leader === undefined) return false;
  const conf = leader.host.status(groupId).confState;
  return (
    sorted(conf.voters).join() === sorted(target).join() &&
    conf.learners.length === 0 &&
    !cluster.broker(gone).host.hasGroup(groupId)
  );
}

/** The group's leader, once there is one. */
async function waitLeader(cluster: InProcessCluster, groupId: number): Promise<Broker> {
  await waitUntil(
    () => leaderOf(cluster, groupId) !== undefined,
    20_000,
    () => `group ${groupId} has no leader`,
  );
  return leaderOf(cluster, groupId)!;
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until broker `id` hosts nothing of `groupId`: the host closes it at once, the store deletes it in the next chore. */
function waitDropped(cluster: InProcessCluster, id: number, groupId: number): Promise<void> {
  return waitUntil(
    () => !cluster.broker(id).host.hasGroup(groupId) && !cluster.broker(id).store.groupIds().includes(groupId),
    20_000,
    () => `broker ${id} still hosts group ${groupId}`,
  );
}

describe('partition reassignment under load', () => {
  let cluster: InProcessCluster;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 4 });
    await cluster.waitReady(30_000);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('moves a follower, then the leader, to other brokers without losing, duplicating or reordering an acked record', async () => {
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    await admin.createTopic({ name: topic, partitions: 1, replicationFactor: 3 });
    const info = cluster.broker(1).controller.state.partitionOf(topic, 0)!;
    const groupId = info.groupId;
    const original = [...info.replicas];
    const spare = cluster.ids().find((id) => !original.includes(id))!;
    const describe = (): string => {
      const leader = leaderOf(cluster, groupId);
      const conf = leader?.host.status(groupId).confState;
      const hosts = cluster
        .running()
        .filter((broker) => broker.host.hasGroup(groupId))
        .map((broker) => broker.nodeId);
      return `leader ${leader?.nodeId ?? 0}, voters [${conf?.voters.join(',') ?? ''}], learners [${conf?.learners.join(',') ?? ''}], hosted on [${hosts.join(',')}]`;
    };

    // Load: one idempotent producer, a steady trickle of sends while the moves run.
    const producer = new Producer({
      bootstrapServers: cluster.bootstrapServers,
      lingerMs: 2,
      deliveryTimeoutMs: 60_000,
    });
    const acked: Promise<RecordMetadata>[] = [];
    let sent = 0;
    let producing = true;
    const load = (async () => {
      while (producing) {
        for (let i = 0; i < 20; i++) acked.push(producer.send({ topic, partition: 0, value: `v${sent++}` }));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));

    // 1. A follower moves to the spare broker: {a,b,c} -> {a,b,spare} (the preferred leader stays first).
    const leader1 = (await waitLeader(cluster, groupId)).nodeId;
    const follower = [...original].reverse().find((id) => id !== leader1 && id !== original[0])!;
    const firstTarget = original.map((id) => (id === follower ? spare : id));
    await admin.reassignPartitions(topic, [{ partition: 0, replicas: firstTarget }]);
    expect((await admin.describeTopic(topic)).partitions[0]?.replicas).toEqual(firstTarget);
    await waitUntil(() => moved(cluster, groupId, firstTarget, follower), 30_000, describe);

    // 2. The leader moves away (to the broker freed by step 1): it hands leadership over first.
    const leader2 = (await waitLeader(cluster, groupId)).nodeId;
    const secondTarget = [...firstTarget.filter((id) => id !== leader2), follower];
    await admin.reassignPartitions(topic, [{ partition: 0, replicas: secondTarget }]);
    await waitUntil(() => moved(cluster, groupId, secondTarget, leader2), 30_000, describe);
    expect(leaderOf(cluster, groupId)!.nodeId).not.toBe(leader2);

    await new Promise((resolve) => setTimeout(resolve, 300));
    producing = false;
    await load;
    const metadata = await Promise.all(acked);
    await producer.close();
    await admin.close();
    console.log(
      `reassign test: ${original.join(',')} -> ${firstTarget.join(',')} -> ${secondTarget.join(',')}; ${metadata.length} records acked`,
    );

    // Every acked record once, in send order: offsets 0..n-1.
    expect(metadata.map((meta) => meta.offset)).toEqual(Array.from({ length: metadata.length }, (_, i) => i));
    const consumer = new Consumer({ bootstrapServers: cluster.bootstrapServers, autoOffsetReset: 'earliest' });
    consumer.assign([{ topic, partition: 0 }]);
    const seen: string[] = [];
    const deadline = Date.now() + 30_000;
    while (seen.length < metadata.length && Date.now() < deadline) {
      for (const record of await consumer.poll(500))
        seen.push(Buffer.from(record.value ?? new Uint8Array()).toString());
    }
    await consumer.close();
    expect(seen).toEqual(Array.from({ length: metadata.length }, (_, i) => `v${i}`));

    // The replicas of the final list hold byte-identical logs; the brokers moved off hold nothing.
    const deadlineSync = Date.now() + 20_000;
    let logs: Buffer[] = [];
    for (;;) {
      logs = await Promise.all(secondTarget.map((id) => replicaLog(cluster.broker(id), groupId)));
      if (logs.every((log) => log.equals(logs[0]!)) || Date.now() > deadlineSync) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(logs[0]!.byteLength).toBeGreaterThan(0);
    for (const log of logs) expect(log.equals(logs[0]!)).toBe(true);
    for (const id of secondTarget)
      expect(cluster.broker(id).host.status(groupId).confState.voters.slice().sort()).toEqual(sorted(secondTarget));
    await waitDropped(cluster, leader2, groupId);
  }, 120_000);

  it('moves a replica off a broker that is down; once back, that broker drops its stale copy', async () => {
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    await admin.createTopic({ name: 'moves-down', partitions: 1, replicationFactor: 3 });
    const info = cluster.broker(1).controller.state.partitionOf('moves-down', 0)!;
    const groupId = info.groupId;
    const producer = new Producer({
      bootstrapServers: cluster.bootstrapServers,
      lingerMs: 2,
      deliveryTimeoutMs: 60_000,
    });
    const before = await Promise.all(
      Array.from({ length: 200 }, (_, i) => producer.send({ topic: 'moves-down', partition: 0, value: `a${i}` })),
    );
    const leader = (await waitLeader(cluster, groupId)).nodeId;
    const down = info.replicas.find((id) => id !== leader)!;
    const spare = cluster.ids().find((id) => !info.replicas.includes(id))!;
    await cluster.killBroker(down);
    const target = [...info.replicas.filter((id) => id !== down), spare];
    await admin.reassignPartitions('moves-down', [{ partition: 0, replicas: target }]);
    const during = await Promise.all(
      Array.from({ length: 200 }, (_, i) => producer.send({ topic: 'moves-down', partition: 0, value: `b${i}` })),
    );
    await waitUntil(
      () => {
        const conf = leaderOf(cluster, groupId)?.host.status(groupId).confState;
        return conf !== undefined && sorted(conf.voters).join() === sorted(target).join() && conf.learners.length === 0;
      },
      30_000,
      () => `voters ${leaderOf(cluster, groupId)?.host.status(groupId).confState.voters.join(',') ?? '?'}`,
    );
    await cluster.startBroker(down);
    // It never applied its removal (the leader stopped replicating to it); the leader's ISR without it tells it.
    await waitDropped(cluster, down, groupId);
    const after = await producer.send({ topic: 'moves-down', partition: 0, value: 'c' });
    await producer.close();
    expect([...before, ...during, after].map((meta) => meta.offset)).toEqual(Array.from({ length: 401 }, (_, i) => i));
    const logs = await Promise.all(target.map((id) => replicaLog(cluster.broker(id), groupId)));
    const deadline = Date.now() + 10_000;
    while (!logs.every((log) => log.equals(logs[0]!)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      logs.splice(0, logs.length, ...(await Promise.all(target.map((id) => replicaLog(cluster.broker(id), groupId)))));
    }
    for (const log of logs) expect(log.equals(logs[0]!)).toBe(true);
    // Reassignments the controller refuses come back typed, and change nothing.
    await expect(admin.reassignPartitions('moves-down', [{ partition: 0, replicas: [1, 99] }])).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    await expect(admin.reassignPartitions('moves-down', [{ partition: 3, replicas: [1] }])).rejects.toMatchObject({
      code: 'INVALID_PARTITIONS',
    });
    // All or nothing: the valid partition is "not recorded"; the error names the one that is wrong.
    await expect(
      admin.reassignPartitions('moves-down', [
        { partition: 0, replicas: target },
        { partition: 3, replicas: [1] },
      ]),
    ).rejects.toMatchObject({ code: 'INVALID_PARTITIONS' });
    await expect(admin.reassignPartitions('nope', [{ partition: 0, replicas: [1] }])).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    expect(cluster.broker(1).controller.state.partitionOf('moves-down', 0)!.replicas).toEqual(target);
    await admin.close();
  }, 90_000);

  it('a replica added after retention compacted the log joins from a snapshot that carries the membership', async () => {
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    await admin.createTopic({ name: 'moves-compacted', partitions: 1, replicationFactor: 3 });
    const info = cluster.broker(1).controller.state.partitionOf('moves-compacted', 0)!;
    const groupId = info.groupId;
    const producer = new Producer({
      bootstrapServers: cluster.bootstrapServers,
      lingerMs: 0,
      deliveryTimeoutMs: 60_000,
    });
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          producer.send({ topic: 'moves-compacted', partition: 0, value: `r${round}-${i}` }),
        ),
      );
    }
    // Retention on every replica, as the broker's periodic task does it: the log keeps its last batches only.
    for (const id of info.replicas) {
      const broker = cluster.broker(id);
      const { data, appliedIndex } = broker.replicas.get(groupId)!.stateSnapshot();
      const confStateAt = (index: number): ConfState | undefined => broker.host.confStateAt(groupId, index);
      await broker.store.applyRetention(groupId, { now: Date.now(), appliedIndex, confStateAt, bytesMax: 1 }, data);
    }
    const leader = await waitLeader(cluster, groupId);
    expect(leader.store.earliestOffset(groupId)).toBeGreaterThan(0);
    const spare = cluster.ids().find((id) => !info.replicas.includes(id))!;
    const leaving = info.replicas.find((id) => id !== leader.nodeId)!;
    const target = [...info.replicas.filter((id) => id !== leaving), spare];
    await admin.reassignPartitions('moves-compacted', [{ partition: 0, replicas: target }]);
    await waitUntil(
      () => moved(cluster, groupId, target, leaving),
      30_000,
      () => `voters ${leaderOf(cluster, groupId)?.host.status(groupId).confState.voters.join(',') ?? '?'}`,
    );
    const last = await producer.send({ topic: 'moves-compacted', partition: 0, value: 'after' });
    await producer.close();
    await admin.close();
    const joiner = cluster.broker(spare);
    // The joiner's log starts where the snapshot ended, and holds what the leader holds from there.
    const start = joiner.store.earliestOffset(groupId);
    expect(start).toBeGreaterThan(0);
    await waitUntil(
      () => joiner.replicas.get(groupId)!.highWatermark === last.offset + 1,
      10_000,
      () => `joiner high watermark ${joiner.replicas.get(groupId)!.highWatermark}`,
    );
    const [mine, theirs] = await Promise.all([
      replicaLog(joiner, groupId, start),
      replicaLog(await waitLeader(cluster, groupId), groupId, start),
    ]);
    expect(mine.byteLength).toBeGreaterThan(0);
    expect(mine.equals(theirs)).toBe(true);
    expect(sorted(joiner.host.status(groupId).confState.voters)).toEqual(sorted(target));
  }, 90_000);
});
