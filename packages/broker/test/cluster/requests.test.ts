/**
 * The raw protocol against real brokers: forwarding from followers, idempotent retries, the high
 * watermark bound, and a typed error for every malformed or oversized request.
 */
import {
  Acks,
  ErrorCode,
  createStreamBusRpcClient,
  decodeRecordBatch,
  encodeRecordBatch,
  readCallError,
  splitRecordBatches,
} from '@streambus/proto';
import type { StreamBusRpcClient } from '@streambus/proto';
import { Role } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessCluster } from '../../src/testing/index.js';

const topic = 'raw';
const call = { deadlineMs: 10_000 };

function batch(values: string[], producer?: { id: number; epoch: number; sequence: number }): Buffer {
  return encodeRecordBatch({
    records: values.map((value) => ({ value: Buffer.from(value) })),
    ...(producer === undefined
      ? {}
      : { producerId: producer.id, producerEpoch: producer.epoch, baseSequence: producer.sequence }),
  });
}

describe('the broker protocol', () => {
  let cluster: InProcessCluster;
  const clients = new Map<number, StreamBusRpcClient>();
  let leaderId = 0;
  let followerId = 0;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3, env: { STREAMBUS_MAX_REQUEST_SIZE: '65536' } });
    await cluster.waitReady(30_000);
    cluster.bootstrapServers.forEach((address, index) => clients.set(index + 1, createStreamBusRpcClient(address)));
    const created = await clients.get(1)!.CreateTopics(
      {
        topics: [{ name: topic, partitions: 1, replicationFactor: 3, configs: {} }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const info = cluster.broker(1).controller.state.partitionOf(topic, 0)!;
    // The preferred replica leads once things settle (a broker that won first hands over to it
    // within the 3 s preferred-leader check): take the leader only then, so that it stays put.
    const preferred = info.replicas[0]!;
    const deadline = Date.now() + 20_000;
    while (cluster.broker(preferred).host.roleOf(info.groupId) !== Role.leader && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    for (const broker of cluster.running())
      if (broker.host.roleOf(info.groupId) === Role.leader) leaderId = broker.nodeId;
    followerId = cluster.ids().find((id) => id !== leaderId)!;
    expect(leaderId).toBeGreaterThan(0);
  });

  afterAll(async () => {
    for (const client of clients.values()) client.close();
    await cluster?.close();
  });

  it('forwards a produce that reaches a follower to the leader (one hop, no error)', async () => {
    const response = await clients.get(followerId)!.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 10_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: batch(['a', 'b']) }],
      },
      call,
    );
    expect(response.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(response.partitions[0]?.baseOffset).toBe(0);
  });

  it('answers a retried idempotent batch with the first attempt offset, never a duplicate', async () => {
    const init = await clients
      .get(followerId)!
      .InitProducerId({ transactionalId: '', producerId: -1, producerEpoch: -1 }, call);
    expect(init.errorCode).toBe(ErrorCode.NONE);
    const producer = { id: init.producerId, epoch: init.producerEpoch, sequence: 0 };
    const leader = clients.get(leaderId)!;
    const first = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 10_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: batch(['x1', 'x2'], producer) }],
      },
      call,
    );
    const retry = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 10_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: batch(['x1', 'x2'], producer) }],
      },
      call,
    );
    expect(first.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(retry.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(retry.partitions[0]?.baseOffset).toBe(first.partitions[0]?.baseOffset);
    const gap = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 10_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: batch(['x9'], { ...producer, sequence: 7 }) }],
      },
      call,
    );
    expect(gap.partitions[0]?.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
    const bumped = { ...producer, epoch: producer.epoch + 1, sequence: 0 };
    const next = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 10_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: batch(['y1'], bumped) }],
      },
      call,
    );
    expect(next.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    const fenced = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 10_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: batch(['old'], { ...producer, sequence: 2 }) }],
      },
      call,
    );
    expect(fenced.partitions[0]?.errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    const fetched = await leader.Fetch(
      {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        replicaId: -1,
        partitions: [{ topic, partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }],
      },
      call,
    );
    const values: string[] = [];
    for (const bytes of splitRecordBatches(fetched.partitions[0]!.records).batches) {
      for (const record of decodeRecordBatch(bytes).records) values.push(Buffer.from(record.value!).toString());
    }
    expect(values.filter((value) => value === 'x1')).toHaveLength(1);
    expect(fetched.partitions[0]?.highWatermark).toBe(values.length);
  });

  it('puts pipelined batches of one producer back in sequence order when they arrive out of order', async () => {
    const init = await clients
      .get(leaderId)!
      .InitProducerId({ transactionalId: '', producerId: -1, producerEpoch: -1 }, call);
    const producer = { id: init.producerId, epoch: init.producerEpoch };
    const leader = clients.get(leaderId)!;
    const produce = (values: string[], sequence: number) =>
      leader.Produce(
        {
          acks: Acks.ALL,
          timeoutMs: 10_000,
          transactionalId: '',
          partitions: [{ topic, partition: 0, records: batch(values, { ...producer, sequence }) }],
        },
        call,
      );
    const later = produce(['r3', 'r4'], 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const earlier = produce(['r1', 'r2'], 0);
    const [second, first] = await Promise.all([later, earlier]);
    expect(first.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(second.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(second.partitions[0]!.baseOffset).toBe(first.partitions[0]!.baseOffset + 2);
    // A gap that never fills is refused once the reorder wait ends.
    const gap = await produce(['r9'], 9);
    expect(gap.partitions[0]?.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
  });

  it('never serves past the high watermark and reports offsets out of range', async () => {
    const leader = clients.get(leaderId)!;
    const hw = (await leader.ListOffsets({ partitions: [{ topic, partition: 0, timestampMs: -1 }] }, call))
      .partitions[0]!.offset;
    const beyond = await leader.Fetch(
      {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        replicaId: -1,
        partitions: [{ topic, partition: 0, fetchOffset: hw + 1, partitionMaxBytes: 1 << 20 }],
      },
      call,
    );
    expect(beyond.partitions[0]?.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const atHw = await leader.Fetch(
      {
        maxWaitMs: 50,
        minBytes: 1,
        maxBytes: 1 << 20,
        replicaId: -1,
        partitions: [{ topic, partition: 0, fetchOffset: hw, partitionMaxBytes: 1 << 20 }],
      },
      call,
    );
    expect(atHw.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(atHw.partitions[0]?.records.byteLength).toBe(0);
    const earliest = (await leader.ListOffsets({ partitions: [{ topic, partition: 0, timestampMs: -2 }] }, call))
      .partitions[0]!.offset;
    expect(earliest).toBe(0);
  });

  it('answers typed errors for unknown topics, corrupt batches, oversized requests and followers fetching', async () => {
    const leader = clients.get(leaderId)!;
    const unknown = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 1_000,
        transactionalId: '',
        partitions: [{ topic: 'nope', partition: 0, records: batch(['a']) }],
      },
      call,
    );
    expect(unknown.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const corrupt = batch(['hello']);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 0xff;
    const bad = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 1_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: corrupt }],
      },
      call,
    );
    expect(bad.partitions[0]?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const garbage = await leader.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 1_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: Buffer.from('not a batch') }],
      },
      call,
    );
    expect(garbage.partitions[0]?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const big = batch(['x'.repeat(70_000)]);
    const oversized = await leader.Produce(
      { acks: Acks.ALL, timeoutMs: 1_000, transactionalId: '', partitions: [{ topic, partition: 0, records: big }] },
      call,
    );
    expect(oversized.partitions[0]?.errorCode).toBe(ErrorCode.REQUEST_TOO_LARGE);
    const huge = Buffer.alloc(80 * 1024 * 1024);
    const tooLarge = await leader
      .Produce(
        { acks: Acks.ALL, timeoutMs: 1_000, transactionalId: '', partitions: [{ topic, partition: 0, records: huge }] },
        call,
      )
      .then(
        () => null,
        (error: unknown) => error,
      );
    expect(tooLarge).not.toBeNull();
    expect(readCallError(tooLarge).errorCode).toBe(ErrorCode.REQUEST_TOO_LARGE);
    const fromFollower = await clients.get(followerId)!.Fetch(
      {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1024,
        replicaId: -1,
        partitions: [{ topic, partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }],
      },
      call,
    );
    expect(fromFollower.partitions[0]?.errorCode).toBe(ErrorCode.NOT_LEADER);
    expect(fromFollower.partitions[0]?.leaderId).toBe(leaderId);
    const badTopic = await leader.CreateTopics(
      {
        topics: [{ name: 'bad/name', partitions: 1, replicationFactor: 1, configs: {} }],
        timeoutMs: 1_000,
        validateOnly: false,
      },
      call,
    );
    expect(badTopic.topics[0]?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    const tooManyReplicas = await leader.CreateTopics(
      {
        topics: [{ name: 'rf5', partitions: 1, replicationFactor: 5, configs: {} }],
        timeoutMs: 1_000,
        validateOnly: false,
      },
      call,
    );
    expect(tooManyReplicas.topics[0]?.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    const exists = await leader.CreateTopics(
      {
        topics: [{ name: topic, partitions: 1, replicationFactor: 1, configs: {} }],
        timeoutMs: 1_000,
        validateOnly: false,
      },
      call,
    );
    expect(exists.topics[0]?.errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
  });
});
