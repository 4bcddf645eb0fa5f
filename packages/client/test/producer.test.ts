import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@streambus/proto';
import {
  ClientClosedError,
  DeliveryTimeoutError,
  InvalidConfigError,
  InvalidProducerEpochError,
  Producer,
  RequestTooLargeError,
  StreamBusError,
  UnknownTopicOrPartitionError,
  type ProducerOptions,
} from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { expectNoUnhandledRejections, seededRandom } from './helpers.js';

const seed = Number(process.env['STREAMBUS_TEST_SEED'] ?? Date.now() % 1_000_000);
console.log(`producer tests: seed ${seed} (replay: STREAMBUS_TEST_SEED=${seed} npx vitest run test/producer.test.ts)`);

describe('Producer', () => {
  let cluster: FakeStreamBusCluster;
  const producers: Producer[] = [];
  expectNoUnhandledRejections();

  function producer(options: Partial<ProducerOptions> = {}): Producer {
    const p = new Producer({
      bootstrapServers: cluster.bootstrapServers,
      retryBackoffMs: 5,
      retryBackoffMsMax: 20,
      random: seededRandom(seed),
      ...options,
    });
    producers.push(p);
    return p;
  }

  function values(topic: string, partition: number): string[] {
    return cluster.records(topic, partition).map((r) => r.value?.toString() ?? '<null>');
  }

  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3 });
    cluster.createTopic('t', 3);
  });
  afterEach(async () => {
    for (const p of producers.splice(0)) await p.close({ timeoutMs: 1_000 });
    await cluster.stop();
  });

  it('batches many records into few requests, each carrying many partitions', async () => {
    const p = producer({ lingerMs: 50 });
    cluster.createTopic('wide', 12, 1); // every partition led by broker 1
    const sends = Array.from({ length: 1_200 }, (_, i) => p.send({ topic: 'wide', key: `k${i}`, value: `v${i}` }));
    await Promise.all(sends);
    const stats = p.stats();
    expect(stats.recordsAcked).toBe(1_200);
    expect(stats.produceRequests).toBeLessThan(10);
    const partitionsPerRequest = cluster.received.length / cluster.stats.produceRequests;
    expect(partitionsPerRequest).toBeGreaterThan(5);
    let total = 0;
    for (let i = 0; i < 12; i++) total += cluster.records('wide', i).length;
    expect(total).toBe(1_200);
  });

  it('bounds requests in flight per broker and batches in flight per partition', async () => {
    cluster.createTopic('slow', 2, 1);
    cluster.setProduceDelay(20);
    const p = producer({ lingerMs: 0, batchBytesMax: 200, inFlightRequestsPerBroker: 2 });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => p.send({ topic: 'slow', partition: i % 2, value: 'w'.repeat(100) + i })),
    );
    expect(cluster.stats.produceConcurrentPerBrokerMax).toBe(2);
    expect(cluster.stats.batchesInFlightPerPartitionMax).toBeLessThanOrEqual(2);

    const q = producer({ lingerMs: 0, batchBytesMax: 200, inFlightRequestsPerBroker: 20 });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => q.send({ topic: 'slow', partition: 0, value: 'w'.repeat(100) + i })),
    );
    expect(cluster.stats.batchesInFlightPerPartitionMax).toBe(5);
    expect(values('slow', 0).slice(-60)).toEqual(Array.from({ length: 60 }, (_, i) => 'w'.repeat(100) + i));
  });

  it('closes a batch at batchBytesMax', async () => {
    const p = producer({ lingerMs: 10_000, batchBytesMax: 2_000 });
    const sends = Array.from({ length: 40 }, (_, i) =>
      p.send({ topic: 't', partition: 0, value: 'x'.repeat(100) + i }),
    );
    await p.flush();
    await Promise.all(sends);
    const headers = cluster.batchHeaders('t', 0);
    expect(headers.length).toBeGreaterThanOrEqual(3);
    for (const h of headers) expect(h.sizeBytes).toBeLessThanOrEqual(2_000);
    expect(values('t', 0)).toEqual(Array.from({ length: 40 }, (_, i) => 'x'.repeat(100) + i));
  });

  it('spreads null keys with sticky partitioning: whole batches per partition, switching after each', async () => {
    const p = producer({ lingerMs: 10_000, batchBytesMax: 1_000, random: seededRandom(seed) });
    const metas = await (async () => {
      const sends = Array.from({ length: 60 }, (_, i) =>
        p.send({ topic: 't', value: `value-${String(i).padStart(60, '0')}` }),
      );
      await p.flush();
      return Promise.all(sends);
    })();
    // Runs of consecutive records share one partition, and the partition changes between runs.
    const runs: { partition: number; length: number }[] = [];
    for (const m of metas) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last.partition === m.partition) last.length++;
      else runs.push({ partition: m.partition, length: 1 });
    }
    expect(runs.length).toBeGreaterThan(2);
    expect(runs.length).toBeLessThan(60 / 3);
    for (let i = 1; i < runs.length; i++) expect(runs[i]?.partition).not.toBe(runs[i - 1]?.partition);
    const used = new Set(metas.map((m) => m.partition));
    expect(used.size).toBeGreaterThan(1);
  });

  it('retries dropped responses with the same sequence: no duplicates (idempotence)', async () => {
    const p = producer({ lingerMs: 1 });
    await p.send({ topic: 't', partition: 1, value: 'warm-up' }); // producer id and metadata
    cluster.failCalls('Produce', { kind: 'drop' }, { kind: 'drop' });
    const sends = Array.from({ length: 20 }, (_, i) => p.send({ topic: 't', partition: 1, value: `r${i}` }));
    const metas = await Promise.all(sends);
    expect(values('t', 1)).toEqual(['warm-up', ...Array.from({ length: 20 }, (_, i) => `r${i}`)]);
    expect(metas.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // The resends carried the very same producer id, epoch and sequence as the dropped attempt.
    const batches = cluster.received.filter((b) => b.topic === 't' && b.partition === 1);
    const appended = batches.filter((b) => b.result === ErrorCode.NONE);
    const duplicates = batches.filter((b) => b.result === ErrorCode.DUPLICATE_SEQUENCE);
    expect(duplicates.length).toBeGreaterThanOrEqual(1);
    for (const d of duplicates) {
      expect(
        appended.some(
          (a) =>
            a.producerId === d.producerId &&
            a.producerEpoch === d.producerEpoch &&
            a.baseSequence === d.baseSequence &&
            a.recordCount === d.recordCount,
        ),
      ).toBe(true);
    }
    expect(p.stats().batchRetries).toBeGreaterThanOrEqual(2);
  });

  it('resends in order after retriable partition errors, with several batches in flight', async () => {
    const p = producer({ lingerMs: 0, batchBytesMax: 200 });
    await p.send({ topic: 't', partition: 2, value: 'warm-up' });
    cluster.failPartition('t', 2, ErrorCode.NOT_ENOUGH_REPLICAS, 3);
    const sends = Array.from({ length: 30 }, (_, i) => p.send({ topic: 't', partition: 2, value: `m${i}` }));
    await Promise.all(sends);
    expect(values('t', 2)).toEqual(['warm-up', ...Array.from({ length: 30 }, (_, i) => `m${i}`)]);
    const seqs = cluster.received
      .filter((b) => b.partition === 2 && b.result === ErrorCode.NONE)
      .map((b) => b.baseSequence);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('follows a leader change: NOT_LEADER, metadata refresh, success at the new leader', async () => {
    for (const leaderHints of [true, false]) {
      const topic = `moving-${leaderHints}`;
      cluster.createTopic(topic, 1, 1);
      const p = producer({ lingerMs: 1 });
      await p.send({ topic, value: 'before' });
      cluster.setLeader(topic, 0, 3);
      if (!leaderHints) (cluster as unknown as { leaderHints: boolean }).leaderHints = false;
      const meta = await p.send({ topic, value: 'after' });
      expect(meta.offset).toBe(1);
      expect(values(topic, 0)).toEqual(['before', 'after']);
      const attempts = cluster.received.filter((b) => b.topic === topic);
      expect(attempts.map((a) => [a.brokerId, a.result])).toEqual([
        [1, ErrorCode.NONE],
        [1, ErrorCode.NOT_LEADER],
        [3, ErrorCode.NONE],
      ]);
    }
  });

  it('fails over when the leader broker dies: connection errors, refresh, new leader', async () => {
    cluster.createTopic('fo', 2, 2);
    const p = producer({ lingerMs: 1, requestTimeoutMs: 1_000 });
    await Promise.all([0, 1].map((partition) => p.send({ topic: 'fo', partition, value: 'before' })));
    cluster.stopBroker(2);
    const metas = await Promise.all(
      Array.from({ length: 20 }, (_, i) => p.send({ topic: 'fo', partition: i % 2, value: `after${i}` })),
    );
    expect(new Set(metas.map((m) => m.partition))).toEqual(new Set([0, 1]));
    for (const partition of [0, 1]) {
      expect(cluster.leaderOf('fo', partition)).not.toBe(2);
      expect(values('fo', partition)).toEqual([
        'before',
        ...Array.from({ length: 10 }, (_, i) => `after${2 * i + partition}`),
      ]);
    }
  });

  it('applies backpressure: buffered bytes stay under bufferBytesMax and send() waits', async () => {
    const p = producer({ lingerMs: 0, batchBytesMax: 1_024, bufferBytesMax: 4_096 });
    await p.send({ topic: 't', partition: 0, value: 'warm-up' });
    cluster.failPartition('t', 0, ErrorCode.NOT_ENOUGH_REPLICAS, 15);
    let bufferedMax = 0;
    let stalled = false;
    const sampler = setInterval(() => {
      const buffered = p.stats().bufferedBytes;
      bufferedMax = Math.max(bufferedMax, buffered);
      if (buffered > 3_000) stalled = true;
    }, 1);
    const sends = Array.from({ length: 100 }, (_, i) =>
      p.send({ topic: 't', partition: 0, value: 'y'.repeat(200) + i }),
    );
    await Promise.all(sends);
    clearInterval(sampler);
    expect(bufferedMax).toBeLessThanOrEqual(4_096);
    expect(stalled).toBe(true);
    expect(values('t', 0)).toHaveLength(101);
    expect(p.stats().bufferedBytes).toBe(0);
  });

  it('flush() sends lingering batches at once and waits for them; close() flushes', async () => {
    const p = producer({ lingerMs: 60_000 });
    const settled: number[] = [];
    const sends = Array.from({ length: 5 }, (_, i) =>
      p.send({ topic: 't', partition: 0, value: `f${i}` }).then((m) => settled.push(m.offset)),
    );
    await p.flush();
    await Promise.resolve();
    expect(settled.sort()).toEqual([0, 1, 2, 3, 4]);
    await Promise.all(sends);
    const late = p.send({ topic: 't', partition: 0, value: 'on-close' });
    await p.close();
    await expect(late).resolves.toMatchObject({ offset: 5 });
    await expect(p.send({ topic: 't', value: 'after close' })).rejects.toBeInstanceOf(ClientClosedError);
    await p.flush(); // a no-op after close, never rejects
  });

  it('close() fails what it cannot deliver in time with CLIENT_CLOSED', async () => {
    const p = producer({ lingerMs: 0 });
    await p.send({ topic: 't', partition: 0, value: 'warm-up' });
    cluster.failPartition('t', 0, ErrorCode.NOT_ENOUGH_REPLICAS, 1_000_000);
    const pending = p.send({ topic: 't', partition: 0, value: 'stuck' });
    await p.close({ timeoutMs: 100 });
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientClosedError);
    expect((error as StreamBusError).code).toBe('CLIENT_CLOSED');
  });

  it('rejects an oversized record with a typed, non-retriable error', async () => {
    const p = producer({ batchBytesMax: 1_000 });
    const error = await p.send({ topic: 't', value: Buffer.alloc(2_000) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTooLargeError);
    expect((error as StreamBusError).code).toBe('REQUEST_TOO_LARGE');
    expect((error as StreamBusError).retriable).toBe(false);
    // Dropped without awaiting: must not become an unhandled rejection.
    void p.send({ topic: 't', value: Buffer.alloc(2_000) });
  });

  it('surfaces typed errors: unknown topic, fenced epoch, delivery timeout, bad config', async () => {
    const p = producer({ lingerMs: 0, deliveryTimeoutMs: 300 });
    const unknown = await p.send({ topic: 'nope', value: 'x' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownTopicOrPartitionError);
    const badPartition = await p.send({ topic: 't', partition: 7, value: 'x' }).catch((e: unknown) => e);
    expect((badPartition as StreamBusError).code).toBe('UNKNOWN_TOPIC_OR_PARTITION');

    cluster.failPartition('t', 0, ErrorCode.INVALID_PRODUCER_EPOCH, 1);
    const fenced = await p.send({ topic: 't', partition: 0, value: 'x' }).catch((e: unknown) => e);
    expect(fenced).toBeInstanceOf(InvalidProducerEpochError);

    cluster.failPartition('t', 1, ErrorCode.REQUEST_TIMED_OUT, 1_000_000);
    const timedOut = await p.send({ topic: 't', partition: 1, value: 'x' }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(DeliveryTimeoutError);
    expect(((timedOut as DeliveryTimeoutError).cause as StreamBusError).code).toBe('REQUEST_TIMED_OUT');

    cluster.failCalls('Produce', { kind: 'error', code: ErrorCode.REQUEST_TOO_LARGE });
    const tooLarge = await p.send({ topic: 't', partition: 2, value: 'x' }).catch((e: unknown) => e);
    expect(tooLarge).toBeInstanceOf(RequestTooLargeError);

    expect(() => new Producer({ bootstrapServers: [] })).toThrow(InvalidConfigError);
    expect(() => new Producer({ bootstrapServers: ['a:1'], acks: 'leader', idempotent: true })).toThrow(
      InvalidConfigError,
    );
    expect(() => new Producer({ bootstrapServers: ['a:1'], batchBytesMax: 64 * 1024 * 1024 })).toThrow(
      InvalidConfigError,
    );
  });

  it('keeps producing after a fatal batch error, under a bumped epoch', async () => {
    const p = producer({ lingerMs: 0 });
    await p.send({ topic: 't', partition: 0, value: 'a' });
    const before = p.producerIdentity();
    cluster.failPartition('t', 0, ErrorCode.INVALID_PRODUCER_EPOCH, 1);
    await expect(p.send({ topic: 't', partition: 0, value: 'fenced' })).rejects.toBeInstanceOf(
      InvalidProducerEpochError,
    );
    await p.send({ topic: 't', partition: 0, value: 'b' });
    expect(p.producerIdentity().producerEpoch).toBe(before.producerEpoch + 1);
    expect(values('t', 0)).toEqual(['a', 'b']);
  });

  it('fails with DELIVERY_TIMEOUT when no broker answers, without unhandled rejections', async () => {
    const p = new Producer({
      bootstrapServers: ['127.0.0.1:1'],
      deliveryTimeoutMs: 300,
      requestTimeoutMs: 100,
      retryBackoffMs: 5,
      retryBackoffMsMax: 20,
    });
    producers.push(p);
    const error = await p.send({ topic: 't', value: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamBusError);
    expect(['BROKER_NOT_AVAILABLE', 'DELIVERY_TIMEOUT', 'REQUEST_TIMED_OUT']).toContain((error as StreamBusError).code);
  });

  it('fails dropped sends typed, without unhandled rejections, when the cluster goes away', async () => {
    const p = producer({ lingerMs: 0, deliveryTimeoutMs: 400, requestTimeoutMs: 100 });
    await p.send({ topic: 't', partition: 0, value: 'warm-up' });
    await cluster.stop();
    const outcomes: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      void p.send({ topic: 't', partition: i % 3, value: `lost${i}` }); // dropped on purpose
      p.send({ topic: 't', partition: i % 3, value: `seen${i}` }).catch((e: unknown) => outcomes.push(e));
    }
    await p.flush();
    expect(outcomes).toHaveLength(10);
    for (const e of outcomes) expect(e).toBeInstanceOf(StreamBusError);
  });

  it('compresses batches with gzip', async () => {
    const p = producer({ compression: 'gzip', lingerMs: 5 });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        p.send({ topic: 't', partition: 0, value: `compressible-${'z'.repeat(100)}-${i}` }),
      ),
    );
    const headers = cluster.batchHeaders('t', 0);
    expect(headers.every((h) => h.compression === 1)).toBe(true);
    expect(headers.reduce((s, h) => s + h.sizeBytes, 0)).toBeLessThan(50 * 100);
    expect(values('t', 0)).toHaveLength(50);
  });

  it('supports acks leader and none without idempotence, and sendBatch', async () => {
    const leader = producer({ acks: 'leader' });
    const metas = await leader.sendBatch([
      { topic: 't', partition: 0, value: 'l1' },
      { topic: 't', partition: 0, value: 'l2' },
    ]);
    expect(metas.map((m) => m.offset)).toEqual([0, 1]);
    expect(cluster.batchHeaders('t', 0).every((h) => h.producerId === -1)).toBe(true);
    const none = producer({ acks: 'none' });
    const meta = await none.send({ topic: 't', partition: 0, value: 'n1' });
    expect(meta.offset).toBe(-1);
    await none.flush();
    expect(values('t', 0)).toEqual(['l1', 'l2', 'n1']);
  });

  it('sends caller metadata (tracing context) with every call', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const p = producer({ clientId: 'orders-service', callMetadata: () => ({ traceparent }) });
    await p.send({ topic: 't', partition: 0, value: 'traced' });
    expect(cluster.lastCallMetadata.get('Produce')).toMatchObject({
      traceparent,
      'streambus-client-id': 'orders-service',
    });
    expect(cluster.lastCallMetadata.get('Metadata')).toMatchObject({ traceparent });
  });

  it("waits through a cluster outage for a topic's metadata, up to the delivery timeout", async () => {
    // More failures in a row than one metadata request retries (adminAttemptsMax).
    const outage = Array.from({ length: 12 }, () => ({ kind: 'error' as const, code: ErrorCode.BROKER_NOT_AVAILABLE }));
    cluster.failCalls('Metadata', ...outage);
    const p = producer({ lingerMs: 0, deliveryTimeoutMs: 20_000 });
    await expect(p.send({ topic: 't', partition: 0, value: 'after the outage' })).resolves.toMatchObject({ offset: 0 });
    expect(cluster.callsOf('Metadata')).toBeGreaterThan(12);
    // Past the delivery timeout the record fails typed.
    cluster.failCalls(
      'Metadata',
      ...Array.from({ length: 1000 }, () => ({ kind: 'error' as const, code: ErrorCode.BROKER_NOT_AVAILABLE })),
    );
    const late = producer({ lingerMs: 0, deliveryTimeoutMs: 300 });
    await expect(late.send({ topic: 't', partition: 0, value: 'never' })).rejects.toMatchObject({
      code: 'DELIVERY_TIMEOUT',
    });
  });

  it('retries InitProducerId and Metadata failures', async () => {
    cluster.failCalls('Metadata', { kind: 'error', code: ErrorCode.BROKER_NOT_AVAILABLE });
    cluster.failCalls('InitProducerId', { kind: 'error', code: ErrorCode.NOT_CONTROLLER }, { kind: 'drop' });
    const p = producer({ lingerMs: 0 });
    await expect(p.send({ topic: 't', partition: 0, value: 'ok' })).resolves.toMatchObject({ offset: 0 });
  });
});
