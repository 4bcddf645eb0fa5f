/**
 * Tracing of the replicated produce path on three real brokers in one process, each with its own
 * tracer provider and an in-memory exporter: a produce sent to a follower with a sampled
 * `traceparent` yields one trace (forward, the leader's propose/persist/replicate/commit, each
 * follower's append and persist, the acks), and an unsampled one yields no span at all.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { Sampler } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { Admin, Consumer, Producer } from '@streambus/client';
import { Acks, createStreamBusRpcClient, ErrorCode, encodeRecordBatch } from '@streambus/proto';
import type { StreamBusRpcClient } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessCluster } from '../../src/testing/index.js';

const topic = 'traced';
const exporter = new InMemorySpanExporter();
const providers: TracerProvider[] = [];

/** Brokers whose own root decisions say "not sampled" (as a 0.1 rate does for 90% of roots); the others sample every root. */
const rootsUnsampledAt = new Set<number>();

function rootSampler(brokerId: number): Sampler {
  return {
    shouldSample: () => ({
      decision: rootsUnsampledAt.has(brokerId) ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
    }),
    toString: () => `root sampler of broker ${brokerId}`,
  };
}

function providerFor(brokerId: number): TracerProvider {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'streambus', 'service.instance.id': `broker-${brokerId}` }),
    sampler: new ParentBasedSampler({ root: rootSampler(brokerId) }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  providers.push(provider);
  return provider;
}

function spansOf(traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
}

function brokerOf(span: ReadableSpan): number {
  return Number(span.attributes['streambus.broker.id']);
}

function parentOf(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan | undefined {
  const parentId = span.parentSpanContext?.spanId;
  return spans.find((candidate) => candidate.spanContext().spanId === parentId);
}

async function produceVia(client: StreamBusRpcClient, traceparent: string | undefined): Promise<void> {
  const metadata = new grpc.Metadata();
  if (traceparent !== undefined) metadata.set('traceparent', traceparent);
  const records = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('traced record') }] });
  const response = await client.Produce(
    { acks: Acks.ALL, timeoutMs: 10_000, transactionalId: '', partitions: [{ topic, partition: 0, records }] },
    { deadlineMs: 15_000, metadata },
  );
  expect(response.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; spans: ${exporter
          .getFinishedSpans()
          .map((span) => `${span.name}@${brokerOf(span)}`)
          .join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('tracing of a produce through a follower (in-process brokers)', () => {
  let cluster: InProcessCluster;
  let leaderId = 0;
  let followerId = 0;
  let follower: StreamBusRpcClient;

  beforeAll(async () => {
    cluster = await InProcessCluster.start({ size: 3, tracerProvider: providerFor });
    await cluster.waitReady(30_000);
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers });
    try {
      await admin.createTopic({ name: topic, partitions: 1, replicationFactor: 3 });
      await waitFor(() => cluster.running().some((broker) => broker.host.hasGroup(1)), 'the partition group');
      const description = await admin.describeTopic(topic);
      leaderId = description.partitions[0]?.leaderId ?? 0;
    } finally {
      await admin.close();
    }
    expect(leaderId).toBeGreaterThan(0);
    followerId = cluster.ids().find((id) => id !== leaderId) ?? 0;
    follower = createStreamBusRpcClient(cluster.bootstrapServers[followerId - 1] as string);
    // The follower must know the leader to forward (its group heard from it).
    await waitFor(() => cluster.broker(followerId).host.leaderOf(1) === leaderId, 'the follower to know its leader');
  }, 60_000);

  afterAll(async () => {
    follower?.close();
    await cluster?.close();
    for (const provider of providers) await provider.shutdown();
  });

  it('gives one trace from the follower to the leader, its persist, each follower and the acks', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    await produceVia(follower, `00-${traceId}-${callerSpanId}-01`);
    const otherId = cluster.ids().find((id) => id !== leaderId && id !== followerId) ?? 0;
    const named = (name: string, broker: number): ReadableSpan | undefined =>
      spansOf(traceId).find((span) => span.name === name && brokerOf(span) === broker);
    await waitFor(
      () =>
        named('append', followerId) !== undefined &&
        named('append', otherId) !== undefined &&
        spansOf(traceId).filter((span) => span.name === 'replicate').length === 2,
      'both followers to answer the traced append',
    );
    const spans = spansOf(traceId);
    const entry = named(`produce ${topic}`, followerId);
    expect(entry?.parentSpanContext?.spanId).toBe(callerSpanId);
    expect(entry?.attributes['messaging.system']).toBe('streambus');
    expect(entry?.attributes['messaging.destination.name']).toBe(topic);
    expect(entry?.attributes['messaging.destination.partition.id']).toBe('0');
    const forward = named(`forward ${topic}`, followerId);
    expect(parentOf(forward!, spans)).toBe(entry);
    const atLeader = named(`produce ${topic}`, leaderId);
    expect(parentOf(atLeader!, spans)).toBe(forward);
    const propose = named('propose', leaderId);
    expect(parentOf(propose!, spans)).toBe(atLeader);
    expect(propose?.attributes['messaging.batch.message_count']).toBe(1);
    expect(parentOf(named('persist', leaderId)!, spans)).toBe(propose);
    expect(parentOf(named('commit', leaderId)!, spans)).toBe(propose);
    const replicates = spans.filter((span) => span.name === 'replicate');
    expect(replicates.map((span) => span.attributes['streambus.raft.follower.id']).sort()).toEqual(
      [followerId, otherId].sort(),
    );
    for (const replicate of replicates) {
      expect(parentOf(replicate, spans)).toBe(propose);
      const peer = Number(replicate.attributes['streambus.raft.follower.id']);
      const append = named('append', peer);
      expect(parentOf(append!, spans)).toBe(replicate);
      expect(parentOf(named('persist', peer)!, spans)).toBe(append);
    }
    expect(parentOf(named('ack', leaderId)!, spans)).toBe(atLeader);
    expect(parentOf(named('ack', followerId)!, spans)).toBe(entry);
  });

  it("joins the SDK's send and receive spans to the brokers' spans", async () => {
    const client = providerFor(0);
    const producer = new Producer({ bootstrapServers: cluster.bootstrapServers, tracerProvider: client, lingerMs: 0 });
    try {
      await producer.send({ topic, partition: 0, value: 'from the SDK' });
    } finally {
      await producer.close();
    }
    const send = exporter.getFinishedSpans().find((span) => span.name === `send ${topic}`);
    expect(send?.kind).toBe(SpanKind.PRODUCER);
    expect(send?.attributes['messaging.batch.message_count']).toBe(1);
    const traceId = send!.spanContext().traceId;
    await waitFor(() => spansOf(traceId).some((span) => span.name === 'commit'), 'the commit of the SDK produce');
    const produce = spansOf(traceId).find((span) => span.name === `produce ${topic}`);
    expect(produce?.parentSpanContext?.spanId).toBe(send!.spanContext().spanId);
    const consumer = new Consumer({ bootstrapServers: cluster.bootstrapServers, tracerProvider: client });
    try {
      consumer.assign([{ topic, partition: 0 }]);
      consumer.seek({ topic, partition: 0 }, 0);
      expect((await consumer.poll(5_000)).length).toBeGreaterThan(0);
    } finally {
      await consumer.close();
    }
    const receive = exporter.getFinishedSpans().find((span) => span.name === `receive ${topic}`);
    expect(receive?.kind).toBe(SpanKind.CLIENT);
    const fetch = spansOf(receive!.spanContext().traceId).find((span) => span.name === `fetch ${topic}`);
    expect(fetch?.parentSpanContext?.spanId).toBe(receive!.spanContext().spanId);
  });

  it('traces consumer-group calls: a server span per call, with the group, child of the caller', async () => {
    const traceId = randomBytes(16).toString('hex');
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', `00-${traceId}-${randomBytes(8).toString('hex')}-01`);
    const found = await follower.FindCoordinator({ groupIds: ['traced-group'] }, { deadlineMs: 10_000, metadata });
    expect(found.coordinators[0]?.groupId).toBe('traced-group');
    const fetched = await follower.OffsetFetch(
      { groupId: 'traced-group', partitions: [] },
      { deadlineMs: 10_000, metadata },
    );
    // Wherever the group lives, the call answers (offsets, or NOT_COORDINATOR / load in progress).
    expect(typeof fetched.errorCode).toBe('number');
    await waitFor(() => spansOf(traceId).length >= 2, 'the two group call spans');
    const spans = spansOf(traceId);
    expect(spans.map((span) => span.name).sort()).toEqual(['FindCoordinator', 'OffsetFetch']);
    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.SERVER);
      expect(span.attributes['messaging.consumer.group.name']).toBe('traced-group');
      expect(span.attributes['rpc.method']).toBe(span.name);
      expect(brokerOf(span)).toBe(followerId);
    }
  });

  it("a produce the follower decides not to sample is not traced at the leader either (the follower's unsampled traceparent goes along)", async () => {
    rootsUnsampledAt.add(followerId);
    const leaderRoots = (): ReadableSpan[] =>
      exporter
        .getFinishedSpans()
        .filter(
          (span) =>
            span.name === `produce ${topic}` && brokerOf(span) === leaderId && span.parentSpanContext === undefined,
        );
    const before = leaderRoots().length;
    try {
      for (let i = 0; i < 5; i++) await produceVia(follower, undefined);
      // A sampled produce after them: once its spans are in, the others' would be too.
      const sampledTraceId = randomBytes(16).toString('hex');
      await produceVia(follower, `00-${sampledTraceId}-${randomBytes(8).toString('hex')}-01`);
      await waitFor(() => spansOf(sampledTraceId).some((span) => span.name === 'append'), 'the sampled produce');
      expect(leaderRoots().length).toBe(before);
    } finally {
      rootsUnsampledAt.delete(followerId);
    }
  });

  it('records nothing for a produce its caller did not sample', async () => {
    const traceId = randomBytes(16).toString('hex');
    await produceVia(follower, `00-${traceId}-${randomBytes(8).toString('hex')}-00`);
    // A sampled produce right after it: once its spans are in, the unsampled one's would be too.
    const sampledTraceId = randomBytes(16).toString('hex');
    await produceVia(follower, `00-${sampledTraceId}-${randomBytes(8).toString('hex')}-01`);
    await waitFor(() => spansOf(sampledTraceId).some((span) => span.name === 'append'), 'the sampled produce');
    expect(spansOf(traceId)).toEqual([]);
  });
});
