/**
 * Bad input from other-language clients loses nothing and blocks no one: a record batch whose CRC
 * is valid but whose records are malformed is refused by the partition leader with a typed
 * per-partition error before it reaches the log, so the partition's later produces and consumes
 * work; the other partitions of the same request are unaffected.
 */
import { Acks, ErrorCode, computeBatchCrc, createStreamBusRpcClient, decodeRecordBatch, encodeRecordBatch, splitRecordBatches } from '@streambus/proto';
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
function handWritten(values: string[], options: { zigzag?: boolean; offsetDeltas?: number[]; headerKey?: number[] } = {}): Buffer {
  const zigzag = options.zigzag ?? true;
  const records = values.flatMap((value, i) => {
    const key = [...Buffer.from(`k${i}`)];
    const bytes = [...Buffer.from(value)];
    const headers = options.headerKey === undefined ? [0] : [...varint(1, zigzag), ...varint(options.headerKey.length, zigzag), ...options.headerKey, ...varint(-1, true)];
    const body = [0, ...varint(0, zigzag), ...varint(options.offsetDeltas?.[i] ?? i, zigzag), ...varint(key.length, zigzag), ...key, ...varint(bytes.length, zigzag), ...bytes, ...headers];
    return [...varint(body.length, zigzag), ...body];
  });
  // Take the header of a real batch of as many records and put the hand-written records after it.
  const template = encodeRecordBatch({ records: values.map(() => ({ value: null })) }, { timestampMs: 1_700_000_000_000 });
  const batch = Buffer.concat([template.subarray(0, 58), Buffer.from(records)]);
  batch.writeUInt32BE(batch.byteLength - 14, 10);
  batch.writeUInt32BE(computeBatchCrc(batch), 14);
  return batch;
}

function good(values: string[]): Buffer {
  return encodeRecordBatch({ records: values.map((value, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(value) })) }, { timestampMs: 1_700_000_000_000 });
}

describe('malformed record batches', () => {
  let cluster: InProcessCluster;
  const clients = new Map<number, StreamBusRpcClient>();
  /** The client of each partition's leader (its preferred replica, waited for). */
  const leaders: StreamBusRpcClient[] = [];
  let leader: StreamBusRpcClient;
  let follower: StreamBusRpcClient;

  const produce = (partitions: PartitionProduceData[], via = leader) => via.Produce({ acks: Acks.ALL, timeoutMs: 10_000, transactionalId: '', partitions }, call);
  const fetchValues = async (partition: number): Promise<string[]> => {
    const fetched = await leaders[partition]!.Fetch({ maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, replicaId: -1, partitions: [{ topic, partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }, call);
    expect(fetched.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    return splitRecordBatches(fetched.partitions[0]!.records).batches.flatMap((bytes) => decodeRecordBatch(bytes).records.map((r) => Buffer.from(r.value!).toString()));
  };

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3 });
    await cluster.waitReady(30_000);
    cluster.bootstrapServers.forEach((address, index) => clients.set(index + 1, createStreamBusRpcClient(address)));
    const created = await clients.get(1)!.CreateTopics({ topics: [{ name: topic, partitions: 2, replicationFactor: 3, configs: {} }], timeoutMs: 10_000, validateOnly: false }, call);
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    // The preferred replica leads once things settle (within the 3 s preferred-leader check):
    // take each leader only then, so that it stays put.
    for (const partition of [0, 1]) {
      const info = cluster.broker(1).controller.state.partitionOf(topic, partition)!;
      const preferred = info.replicas[0]!;
      const leads = (): boolean => cluster.broker(preferred).host.roleOf(info.groupId) === Role.leader && cluster.broker(preferred).replica(info.groupId).leaderReady;
      const deadline = Date.now() + 20_000;
      while (!leads() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(leads()).toBe(true);
      leaders.push(clients.get(preferred)!);
      if (partition === 0) follower = clients.get(cluster.ids().find((id) => id !== preferred)!)!;
    }
    leader = leaders[0]!;
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
    const forwarded = await produce([{ topic, partition: 0, records: handWritten(['bad'], { offsetDeltas: [3] }) }], follower);
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
      encodeRecordBatch({ producerId: init.producerId, producerEpoch: init.producerEpoch, baseSequence: 0, records: values.map((value) => ({ value: Buffer.from(value) })) });
    const bad = idempotent(['x']);
    bad[58 + 3] = 2; // offset delta 1 in the only record
    bad.writeUInt32BE(computeBatchCrc(bad), 14);
    expect((await produce([{ topic, partition: 0, records: bad }])).partitions[0]?.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const first = await produce([{ topic, partition: 0, records: idempotent(['x']) }]);
    expect(first.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(await fetchValues(0)).toEqual(['after', 'minus-one', 'x']);
  });
});
