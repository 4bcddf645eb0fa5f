/**
 * A fetch above the high watermark but within the leader's log is not out of range: it waits like
 * a fetch at the high watermark. A new leader's high watermark lags until it commits in its term,
 * and a consumer may already have read up to the old one; OFFSET_OUT_OF_RANGE there made
 * consumers reset (rewind to the start with `earliest`). Here the leader's appends to its
 * followers are held back, so that its log runs ahead of its high watermark.
 */
import { Acks, ErrorCode, createStreamBusRpcClient, encodeRecordBatch } from '@streambus/proto';
import type { StreamBusRpcClient } from '@streambus/proto';
import { MessageType, Role, type Frame, type RaftTransport } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessCluster } from '../../src/testing/index.js';

const topic = 'above-hw';
const call = { deadlineMs: 10_000 };

describe('fetch above the high watermark', () => {
  let cluster: InProcessCluster;
  let holdAppendsOfGroup = -1;

  beforeAll(async () => {
    const wrapTransport = (_brokerId: number, transport: RaftTransport): RaftTransport => ({
      send: (frame: Frame) => {
        if (holdAppendsOfGroup < 0) return transport.send(frame);
        const messages = frame.messages.filter(
          (m) => !(m.groupId === holdAppendsOfGroup && m.message.type === MessageType.append),
        );
        transport.send({ ...frame, messages });
      },
    });
    cluster = await InProcessCluster.start({ size: 3, wrapTransport });
    await cluster.waitReady(30_000);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('answers NONE with no records while the offset is in the log, OFFSET_OUT_OF_RANGE past its end', async () => {
    const admin = createStreamBusRpcClient(cluster.bootstrapServers[0] as string);
    const created = await admin.CreateTopics(
      {
        topics: [{ name: topic, partitions: 1, replicationFactor: 3, configs: {} }],
        timeoutMs: 10_000,
        validateOnly: false,
      },
      call,
    );
    expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    const groupId = cluster.broker(1).controller.state.partitionOf(topic, 0)!.groupId;
    let leader: StreamBusRpcClient | undefined;
    const deadline = Date.now() + 20_000;
    while (leader === undefined && Date.now() < deadline) {
      for (const broker of cluster.running()) {
        if (broker.host.roleOf(groupId) === Role.leader)
          leader = createStreamBusRpcClient(cluster.bootstrapServers[broker.nodeId - 1] as string);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(leader).toBeDefined();
    const records = (values: string[]): Buffer =>
      encodeRecordBatch({ records: values.map((value) => ({ value: Buffer.from(value) })) });
    // Offsets 0-1 committed, then offsets 2-4 appended on the leader only.
    const first = await leader!.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 10_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: records(['a', 'b']) }],
      },
      call,
    );
    expect(first.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    holdAppendsOfGroup = groupId;
    const pending = leader!.Produce(
      {
        acks: Acks.ALL,
        timeoutMs: 3_000,
        transactionalId: '',
        partitions: [{ topic, partition: 0, records: records(['c', 'd', 'e']) }],
      },
      call,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fetch = (fetchOffset: number) =>
      leader!.Fetch(
        {
          maxWaitMs: 0,
          minBytes: 1,
          maxBytes: 1 << 20,
          replicaId: -1,
          partitions: [{ topic, partition: 0, fetchOffset, partitionMaxBytes: 1 << 20 }],
        },
        call,
      );
    const inLog = (await fetch(4)).partitions[0];
    expect(inLog?.highWatermark).toBe(2);
    expect(inLog?.errorCode).toBe(ErrorCode.NONE);
    expect(inLog?.records.byteLength).toBe(0);
    expect((await fetch(6)).partitions[0]?.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    holdAppendsOfGroup = -1;
    expect((await pending).partitions[0]?.errorCode).toBe(ErrorCode.NONE);
    admin.close();
    leader!.close();
  });
});
