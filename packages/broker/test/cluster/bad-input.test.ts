/**
 * Bad input from other-language clients loses nothing and blocks no one: a record batch whose CRC
 * is valid but whose records are malformed is refused by the partition leader with a typed
 * per-partition error before it reaches the log, so the partition's later produces and consumes
 * work; the other partitions of the same request are unaffected. And every bound and code the
 * protocol documents (packages/proto/PROTOCOL.md, the .proto comments) is the broker's.
 */
import {
  Acks,
  ErrorCode,
  computeBatchCrc,
  createStreamBusRpcClient,
  decodeRecordBatch,
  encodeRecordBatch,
  fetchMaxWaitMsMax,
  partitionsPerRequestMax,
  readCallError,
  recordBatchBytesMax,
  splitRecordBatches,
  topicsPerRequestMax,
} from '@streambus/proto';
import type { PartitionProduceData, StreamBusRpcClient } from '@streambus/proto';
import { Role } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessCluster } from '../../src/testing/index.js';

const topic = 'bad-input';
const call = { deadlineMs: 10_000 };

/** A varint as a client that forgot zigzag writes it (plain unsigned LEB128), or zigzag. */
function varint(value: number, zigzag: boolean): number[] {
  let v = zigzag ? (value >= 0 ? value * 2 : -value * 2 - 1) : value;
  const bytes: number[] = [];
  while (v >= 0x80) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return bytes;
}

/**
 * A batch of records with key and value, written field by field the way a hand-written client
 * in another language would, with the header and CRC right; `zigzag` false is the classic bug.
 */
function handWritten(
  values: string[],
  options: { zigzag?: boolean; offsetDeltas?: number[]; headerKey?: number[] } = {},
): Buffer {
  const zigzag = options.zigzag ?? true;
  const records = values.flatMap((value, i) => {
    const key = [...Buffer.from(`k${i}`)];
    const bytes = [...Buffer.from(value)];
    const headers =
      options.headerKey === undefined
        ? [0]
        : [
            ...varint(1, zigzag),
            ...varint(options.headerKey.length, zigzag),
            ...options.headerKey,
            ...varint(-1, true),
          ];
    const body = [
      0,
      ...varint(0, zigzag),
      ...varint(options.offsetDeltas?.[i] ?? i, zigzag),
      ...varint(key.length, zigzag),
      ...key,
      ...varint(bytes.length, zigzag),
      ...bytes,
      ...headers,
    ];
    return [...varint(body.length, zigzag), ...body];
  });
  // Take the header of a real batch of as many records and put the hand-written records after it.
  const template = encodeRecordBatch(
    { records: values.map(() => ({ value: null })) },
    { timestampMs: 1_700_000_000_000 },
  );
  const batch = Buffer.concat([template.subarray(0, 58), Buffer.from(records)]);
  batch.writeUInt32BE(batch.byteLength - 14, 10);
  batch.writeUInt32BE(computeBatchCrc(batch), 14);
  return batch;
}

function good(values: string[]): Buffer {
  return encodeRecordBatch(
    { records: values.map((value, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(value) })) },
    { timestampMs: 1_700_000_000_000 },
  );
}

describe('malformed record batches', () => {
  let cluster: InProcessCluster;
  const clients = new Map<number, StreamBusRpcClient>();
  let leader: StreamBusRpcClient;
  let follower: StreamBusRpcClient;

  /**
   * The client of the broker leading `partition` now. Leadership may move during the run (a 4 MiB
   * entry under a loaded machine can delay heartbeats past an election timeout), so tests that
   * are not about routing ask for it at each call and retry what a client would retry.
   */
  const leaderOf = async (partition: number): Promise<StreamBusRpcClient> => {
    const groupId = cluster.broker(1).controller.state.partitionOf(topic, partition)!.groupId;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = cluster
        .running()
        .find(
          (broker) =>
            broker.host.hasGroup(groupId) &&
            broker.host.roleOf(groupId) === Role.leader &&
            broker.replica(groupId).leaderReady,
        );
      if (found !== undefined) return clients.get(found.nodeId)!;
      if (Date.now() > deadline) throw new Error(`no leader of partition ${partition} within 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const produce = (partitions: PartitionProduceData[], via = leader) =>
    via.Produce({ acks: Acks.ALL, timeoutMs: 10_000, transactionalId: '', partitions }, call);
  /** One batch to one partition at its leader, resent on NOT_LEADER and REQUEST_TIMED_OUT; the first other answer. */
  const produceTo = async (partition: number, records: Buffer) => {
    for (let attempt = 0; ; attempt++) {
      const answer = (await produce([{ topic, partition, records }], await leaderOf(partition))).partitions[0]!;
      const retriable = answer.errorCode === ErrorCode.NOT_LEADER || answer.errorCode === ErrorCode.REQUEST_TIMED_OUT;
      if (!retriable || attempt === 20) return answer;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const fetchAt = async (partition: number, fetchOffset: number, partitionMaxBytes: number) => {
    for (let attempt = 0; ; attempt++) {
      const client = await leaderOf(partition);
      const fetched = (
        await client.Fetch(
          {
            maxWaitMs: 0,
            minBytes: 1,
            maxBytes: 1 << 24,
            replicaId: -1,
            partitions: [{ topic, partition, fetchOffset, partitionMaxBytes }],
          },
          call,
        )
      ).partitions[0]!;
      if (fetched.errorCode !== ErrorCode.NOT_LEADER || attempt === 20) return fetched;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const fetchValues = async (partition: number): Promise<string[]> => {
    const fetched = await fetchAt(partition, 0, 1 << 24);
    expect(fetched.errorCode).toBe(ErrorCode.NONE);
    return splitRecordBatches(fetched.records).batches.flatMap((bytes) =>
      decodeRecordBatch(bytes).records.map((r) => Buffer.from(r.value!).toString()),
    );
  };

  beforeAll(async () => {
    // The largest batch the protocol allows, so that its bound is what is tested.
    cluster = await InProcessCluster.start({
      size: 3,
      env: { STREAMBUS_MAX_REQUEST_SIZE: String(recordBatchBytesMax) },
    });
    await cluster.waitReady(30_000);
    cluster.bootstrapServers.forEach((address, index) => clients.set(index + 1, createStreamBusRpcClient(address)));
    const created = await clients.get(1)!.CreateTopics(
      {
        topics: [{ name: topic, partitions: 2, replicationFactor: 3, configs: {} }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    // The preferred replica leads once things settle (within the 3 s preferred-leader check):
    // take partition 0's leader only then, so that it stays put.
    const info = cluster.broker(1).controller.state.partitionOf(topic, 0)!;
    const preferred = info.replicas[0]!;
    const leads = (): boolean =>
      cluster.broker(preferred).host.roleOf(info.groupId) === Role.leader &&
      cluster.broker(preferred).replica(info.groupId).leaderReady;
    const deadline = Date.now() + 20_000;
    while (!leads() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(leads()).toBe(true);
    leader = clients.get(preferred)!;
    follower = clients.get(cluster.ids().find((id) => id !== preferred)!)!;
    await leaderOf(1);
  });

  afterAll(async () => {
    for (const client of clients.values()) client.close();
    await cluster?.close();
  });

  it('refuses each malformation with CORRUPT_MESSAGE naming the record, appends nothing, and the partition works after', async () => {
    const cases: [Buffer, string][] = [
      [handWritten(['hello', 'world'], { zigzag: false }), 'zigzag'],
      [handWritten(['hello', 'world'], { offsetDeltas: [0, 0] }), 'record 1'],
      [handWritten(['hello'], { headerKey: [0xff, 0xfe] }), 'not valid UTF-8'],
    ];
    // A record length that claims more bytes than the record has.
    const long = handWritten(['hello']);
    long[58] = (long[58] as number) + 2;
    long.writeUInt32BE(computeBatchCrc(long), 14);
    cases.push([long, 'record 0']);
    expect(handWritten(['hello', 'world']).equals(good(['hello', 'world']))).toBe(true);
    for (const [bytes, fragment] of cases) {
      const answer = await produce([{ topic, partition: 0, records: bytes }]);
      expect(answer.partitions[0]?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
      expect(answer.partitions[0]?.errorMessage).toContain(fragment);
      expect(answer.partitions[0]?.errorMessage).toContain('nothing appended');
      expect(answer.partitions[0]?.baseOffset).toBe(-1);
    }
    const latest = await leader.ListOffsets({ partitions: [{ topic, partition: 0, timestampMs: -1 }] }, call);
    expect(latest.partitions[0]?.offset).toBe(0);
    const ok = await produce([{ topic, partition: 0, records: good(['after']) }]);
    expect(ok.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(ok.partitions[0]?.baseOffset).toBe(0);
    expect(await fetchValues(0)).toEqual(['after']);
  });

  it('leaves the other partitions of the request alone, and refuses a forwarded bad batch the same way', async () => {
    const before = await fetchValues(1);
    const mixed = await produce([
      { topic, partition: 0, records: handWritten(['bad'], { zigzag: false }) },
      { topic, partition: 1, records: good(['fine']) },
    ]);
    expect(mixed.partitions.map((p) => [p.partition, p.errorCode])).toEqual([
      [0, ErrorCode.CORRUPT_MESSAGE],
      [1, ErrorCode.NONE],
    ]);
    expect(await fetchValues(1)).toEqual([...before, 'fine']);
    const forwarded = await produce(
      [{ topic, partition: 0, records: handWritten(['bad'], { offsetDeltas: [3] }) }],
      follower,
    );
    expect(forwarded.partitions[0]?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(forwarded.partitions[0]?.errorMessage).toContain('offset delta 3');
  });

  it('ignores the base offset a client writes, as the protocol says, and keeps a refused batch from using up its sequence', async () => {
    const placeholder = good(['minus-one']);
    placeholder.fill(0xff, 2, 10); // base offset -1, outside the CRC
    const answer = await produce([{ topic, partition: 0, records: placeholder }]);
    expect(answer.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    const init = await leader.InitProducerId({ transactionalId: '', producerId: -1, producerEpoch: -1 }, call);
    const idempotent = (values: string[]): Buffer =>
      encodeRecordBatch({
        producerId: init.producerId,
        producerEpoch: init.producerEpoch,
        baseSequence: 0,
        records: values.map((value) => ({ value: Buffer.from(value) })),
      });
    const bad = idempotent(['x']);
    bad[58 + 3] = 2; // offset delta 1 in the only record
    bad.writeUInt32BE(computeBatchCrc(bad), 14);
    expect((await produce([{ topic, partition: 0, records: bad }])).partitions[0]?.errorCode).toBe(
      ErrorCode.CORRUPT_MESSAGE,
    );
    const first = await produce([{ topic, partition: 0, records: idempotent(['x']) }]);
    expect(first.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(await fetchValues(0)).toEqual(['after', 'minus-one', 'x']);
  });

  it('answers DUPLICATE_SEQUENCE for a retry of a batch older than the dedupe window, and appends it once', async () => {
    const init = await leader.InitProducerId({ transactionalId: '', producerId: -1, producerEpoch: -1 }, call);
    const batchAt = (sequence: number): Buffer =>
      encodeRecordBatch({
        producerId: init.producerId,
        producerEpoch: init.producerEpoch,
        baseSequence: sequence,
        records: [{ value: Buffer.from(`seq-${sequence}`) }],
      });
    const offsets: number[] = [];
    for (let sequence = 0; sequence < 6; sequence++) {
      const answer = await produceTo(1, batchAt(sequence));
      expect(answer.errorCode).toBe(ErrorCode.NONE);
      offsets.push(answer.baseOffset);
    }
    const forgotten = await produceTo(1, batchAt(0));
    expect(forgotten.errorCode).toBe(ErrorCode.DUPLICATE_SEQUENCE);
    expect(forgotten.baseOffset).toBe(-1);
    const remembered = await produceTo(1, batchAt(5));
    expect(remembered.errorCode).toBe(ErrorCode.NONE);
    expect(remembered.baseOffset).toBe(offsets[5]);
    expect((await fetchValues(1)).filter((value) => value === 'seq-0')).toHaveLength(1);
  });

  it('takes a record batch of recordBatchBytesMax and replicates it, refuses one byte more, and serves the big one whole', async () => {
    const sized = (bytes: number): Buffer => {
      const overhead = encodeRecordBatch({ records: [{ value: Buffer.alloc(1) }] }).byteLength - 1;
      // A record length varint grows with the value: shrink until the batch has the size asked for.
      for (let value = bytes - overhead; ; value--) {
        const batch = encodeRecordBatch({ records: [{ value: Buffer.alloc(value, 1) }] });
        if (batch.byteLength <= bytes) return batch;
      }
    };
    const biggest = sized(recordBatchBytesMax);
    expect(biggest.byteLength).toBeGreaterThan(recordBatchBytesMax - 4);
    // Before the fix, a batch above the Raft frame bound stopped the leader broker.
    const accepted = await produceTo(1, biggest);
    expect(accepted.errorCode).toBe(ErrorCode.NONE);
    const over = encodeRecordBatch({ records: [{ value: Buffer.alloc(recordBatchBytesMax, 1) }] });
    expect((await produceTo(1, over)).errorCode).toBe(ErrorCode.REQUEST_TOO_LARGE);
    const fetched = await fetchAt(1, accepted.baseOffset, 1024);
    expect(fetched.records.byteLength).toBe(biggest.byteLength);
    // Committed means a quorum of the 3 replicas holds it: one Raft entry the size of the bound.
    expect(fetched.highWatermark).toBeGreaterThan(accepted.baseOffset);
    expect(cluster.running()).toHaveLength(3);
  });
});

describe('the bounds the protocol documents', () => {
  let cluster: InProcessCluster;
  let client: StreamBusRpcClient;
  const produce = (partitions: PartitionProduceData[]) =>
    client.Produce({ acks: Acks.ALL, timeoutMs: 10_000, transactionalId: '', partitions }, call);
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => null,
      (error: unknown) => readCallError(error),
    );

  beforeAll(async () => {
    cluster = await InProcessCluster.start({
      size: 1,
      env: { STREAMBUS_MAX_REQUEST_SIZE: String(recordBatchBytesMax) },
    });
    await cluster.waitReady(30_000);
    client = createStreamBusRpcClient(cluster.bootstrapServers[0]!);
    const created = await client.CreateTopics(
      {
        topics: [{ name: topic, partitions: 2, replicationFactor: 1, configs: {} }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const deadline = Date.now() + 20_000;
    const info = [0, 1].map((p) => cluster.broker(1).controller.state.partitionOf(topic, p)!);
    while (!info.every((i) => cluster.broker(1).replicas.get(i.groupId)?.leaderReady === true) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
  });

  afterAll(async () => {
    client?.close();
    await cluster?.close();
  });

  it('refuses a Fetch max_wait_ms outside 0..30000 with INVALID_REQUEST, and serves 30000', async () => {
    const fetch = (maxWaitMs: number) =>
      client.Fetch(
        {
          maxWaitMs,
          minBytes: 1,
          maxBytes: 1024,
          replicaId: -1,
          partitions: [{ topic, partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }],
        },
        { deadlineMs: 40_000 },
      );
    for (const maxWaitMs of [fetchMaxWaitMsMax + 1, -1]) {
      const error = await refusal(fetch(maxWaitMs));
      expect(error?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
      expect(error?.message).toContain(`0..${fetchMaxWaitMsMax}`);
    }
    await produce([{ topic, partition: 0, records: good(['waited']) }]);
    const started = Date.now();
    const served = await fetch(fetchMaxWaitMsMax);
    expect(served.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('takes up to partitionsPerRequestMax partitions and topicsPerRequestMax topics, and answers REQUEST_TOO_LARGE beyond', async () => {
    const partitions = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ topic: `none-${i}`, partition: 0 }));
    const fetch = (count: number) =>
      client.Fetch(
        {
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1024,
          replicaId: -1,
          partitions: partitions(count).map((p) => ({ ...p, fetchOffset: 0, partitionMaxBytes: 1 })),
        },
        call,
      );
    const full = await fetch(partitionsPerRequestMax);
    expect(full.partitions).toHaveLength(partitionsPerRequestMax);
    expect(full.partitions.every((p) => p.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)).toBe(true);
    const cases: (() => Promise<unknown>)[] = [
      () => fetch(partitionsPerRequestMax + 1),
      () => produce(partitions(partitionsPerRequestMax + 1).map((p) => ({ ...p, records: Buffer.alloc(0) }))),
      () =>
        client.ListOffsets(
          { partitions: partitions(partitionsPerRequestMax + 1).map((p) => ({ ...p, timestampMs: -1 })) },
          call,
        ),
      () =>
        client.Metadata({ topics: partitions(topicsPerRequestMax + 1).map((p) => p.topic), brokersOnly: false }, call),
      () =>
        client.DeleteTopics(
          { topics: partitions(topicsPerRequestMax + 1).map((p) => p.topic), timeoutMs: 1_000 },
          call,
        ),
    ];
    for (const send of cases) {
      const error = await refusal(send());
      expect(error?.errorCode).toBe(ErrorCode.REQUEST_TOO_LARGE);
      expect(error?.message).toContain('per request');
    }
    expect(
      (await client.Metadata({ topics: partitions(topicsPerRequestMax).map((p) => p.topic), brokersOnly: false }, call))
        .topics,
    ).toHaveLength(topicsPerRequestMax);
  });

  it('stops adding partitions once a Fetch has max_bytes, so a response always fits a message', async () => {
    await produce([
      { topic, partition: 0, records: good(['a', 'b']) },
      { topic, partition: 1, records: good(['c', 'd']) },
    ]);
    const fetched = await client.Fetch(
      {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1,
        replicaId: -1,
        partitions: [0, 1].map((partition) => ({ topic, partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 })),
      },
      call,
    );
    expect(fetched.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    // The first partition's first batch comes whole although it exceeds max_bytes; the second gets none.
    expect(splitRecordBatches(fetched.partitions[0]!.records).batches).toHaveLength(1);
    expect(fetched.partitions[1]?.records.byteLength).toBe(0);
    expect(fetched.partitions[1]?.highWatermark).toBeGreaterThan(0);
  });

  it('refuses a partition listed twice in a Produce, negative counts in CreateTopics and unknown ListOffsets timestamps', async () => {
    const before = (await client.ListOffsets({ partitions: [{ topic, partition: 0, timestampMs: -1 }] }, call))
      .partitions[0]!.offset;
    const twice = await produce([
      { topic, partition: 0, records: good(['one']) },
      { topic, partition: 0, records: good(['two']) },
      { topic, partition: 1, records: good(['three']) },
    ]);
    expect(twice.partitions.map((p) => p.errorCode)).toEqual([
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.NONE,
    ]);
    expect(twice.partitions[0]?.errorMessage).toContain('listed more than once');
    expect(
      (await client.ListOffsets({ partitions: [{ topic, partition: 0, timestampMs: -1 }] }, call)).partitions[0]!
        .offset,
    ).toBe(before);
    const negative = await client.CreateTopics(
      {
        topics: [
          { name: 'negative-partitions', partitions: -1, replicationFactor: 1, configs: {} },
          { name: 'negative-replicas', partitions: 1, replicationFactor: -2, configs: {} },
        ],
        timeoutMs: 1_000,
        validateOnly: true,
      },
      call,
    );
    expect(negative.topics.map((t) => t.errorCode)).toEqual([
      ErrorCode.INVALID_PARTITIONS,
      ErrorCode.INVALID_REPLICATION_FACTOR,
    ]);
    const badTime = await client.ListOffsets({ partitions: [{ topic, partition: 0, timestampMs: -3 }] }, call);
    expect(badTime.partitions[0]?.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });
});
