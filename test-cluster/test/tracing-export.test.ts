/**
 * Tracing through the real exporters, on three broker processes: the brokers export with the
 * exporter their `tracing.*` settings name (Jaeger Thrift over HTTP, or OTLP/HTTP protobuf) to a
 * receiver in this process that decodes those wire formats (trace-receiver.ts), and so does the
 * SDK producer of the test with its own tracer provider.
 *
 * For each exporter: a record sent by the SDK through a FOLLOWER of its partition (the producer's
 * metadata is stale on purpose: the leader it knows was drained) is one trace, built as
 * broker-tracer.ts documents it:
 *
 *   send <topic> (SDK) -> produce <topic> (the follower) -> forward <topic> -> produce <topic>
 *   (the leader) -> propose -> persist | replicate -> append -> persist | commit; ack at each broker
 *
 * with the messaging attributes on the SDK's and brokers' spans. Produces sent at once share a
 * group commit and frames: each has exactly one persist, one replicate per follower and one
 * follower append and persist, its own or one that links to it. Then the brokers start again with
 * sampling_rate 0: produces through the SDK (without a sampled context) and straight to every
 * broker export nothing, while a produce whose caller did sample is still exported whole (the
 * sampler is parent-based), which shows the spans would have arrived had there been any.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { JaegerExporter } from '@opentelemetry/exporter-jaeger';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import * as grpc from '@grpc/grpc-js';
import { Admin, Producer } from '@streambus/client';
import { Acks, createStreamBusRpcClient, encodeRecordBatch, ErrorCode, messagingAttributes } from '@streambus/proto';
import type { StreamBusRpcClient } from '@streambus/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../src/index.js';
import { TraceReceiver, type CollectedSpan } from './trace-receiver.js';

const topic = 'traced';
/** `service.name` of the test's SDK spans (the brokers' is `streambus`). */
const clientServiceName = 'tracing-export-test';
/** Produces of the sampling-0 phase, per way of sending. */
const unsampledProduces = 5;
/** Traced produces sent at once, to share group commits and frames (fewer than spanLinksMax). */
const concurrentProduces = 24;

type ExporterName = 'jaeger' | 'otlp';

function tracingEnv(exporter: ExporterName, receiver: TraceReceiver, samplingRate: number): Record<string, string> {
  return {
    STREAMBUS_TRACING_ENABLED: 'true',
    STREAMBUS_TRACING_EXPORTER: exporter,
    STREAMBUS_TRACING_ENDPOINT: exporter === 'jaeger' ? receiver.jaegerEndpoint : receiver.otlpEndpoint,
    STREAMBUS_TRACING_SAMPLING_RATE: String(samplingRate),
  };
}

/** The test's own tracing: the real exporter to the receiver, and a copy in memory to learn trace ids. */
function clientTracing(
  exporter: ExporterName,
  receiver: TraceReceiver,
  samplingRate: number,
): { provider: TracerProvider; memory: InMemorySpanExporter } {
  const memory = new InMemorySpanExporter();
  const wire =
    exporter === 'jaeger'
      ? new JaegerExporter({ endpoint: receiver.jaegerEndpoint })
      : new OTLPTraceExporter({ url: receiver.otlpEndpoint });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': clientServiceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplingRate) }),
    spanProcessors: [new BatchSpanProcessor({ exporter: wire }), new SimpleSpanProcessor({ exporter: memory })],
  });
  return { provider, memory };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The leader of partition 0 as broker `address` itself sees it (0: none known). */
async function leaderSeenBy(address: string): Promise<number> {
  const client = createStreamBusRpcClient(address);
  try {
    const response = await client.Metadata({ topics: [topic], brokersOnly: false }, { deadlineMs: 5_000 });
    return response.topics[0]?.partitions[0]?.leaderId ?? 0;
  } finally {
    client.close();
  }
}

/** One produce of one record straight to `address`, with `traceparent` in its metadata when given. */
async function produceTo(address: string, traceparent?: string): Promise<void> {
  const client = createStreamBusRpcClient(address);
  try {
    await produceOn(client, traceparent);
  } finally {
    client.close();
  }
}

async function produceOn(client: StreamBusRpcClient, traceparent?: string): Promise<void> {
  const metadata = new grpc.Metadata();
  if (traceparent !== undefined) metadata.set('traceparent', traceparent);
  const records = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('a record') }] });
  const response = await client.Produce(
    { acks: Acks.ALL, timeoutMs: 10_000, transactionalId: '', partitions: [{ topic, partition: 0, records }] },
    { deadlineMs: 15_000, metadata },
  );
  expect(response.partitions[0]?.errorCode).toBe(ErrorCode.NONE);
}

/** The spans named `name` on `broker` that stand for `span`: its children, and those linked to it. */
function standingFor(
  spans: readonly CollectedSpan[],
  name: string,
  broker: number,
  span: CollectedSpan,
): CollectedSpan[] {
  return spans.filter(
    (candidate) =>
      candidate.name === name &&
      brokerOf(candidate) === broker &&
      ((candidate.traceId === span.traceId && candidate.parentSpanId === span.spanId) ||
        candidate.links.some((link) => link.traceId === span.traceId && link.spanId === span.spanId)),
  );
}

function brokerOf(span: CollectedSpan): number {
  return Number(span.attributes['streambus.broker.id']);
}

/** The one span of `spans` named `name` on `broker` (0: the SDK's); fails when there is not exactly one. */
function only(spans: readonly CollectedSpan[], name: string, broker: number): CollectedSpan {
  const found = spans.filter(
    (span) => span.name === name && (broker === 0 ? span.serviceName === clientServiceName : brokerOf(span) === broker),
  );
  expect(found.map((span) => `${span.name}@${broker}`)).toEqual([`${name}@${broker}`]);
  return found[0] as CollectedSpan;
}

function expectChild(child: CollectedSpan, parent: CollectedSpan): void {
  expect(`${child.name} under ${child.parentSpanId ?? 'nothing'}`).toBe(`${child.name} under ${parent.spanId}`);
}

/** The messaging attributes every produce-path span of the conventions carries. */
function expectMessaging(span: CollectedSpan, operationType: string, operationName: string): void {
  expect(span.attributes[messagingAttributes.system]).toBe('streambus');
  expect(span.attributes[messagingAttributes.destinationName]).toBe(topic);
  expect(span.attributes[messagingAttributes.partitionId]).toBe('0');
  expect(span.attributes[messagingAttributes.operationType]).toBe(operationType);
  expect(span.attributes[messagingAttributes.operationName]).toBe(operationName);
}

/** "name@broker" of each span, sorted: what a trace holds, for one readable comparison. */
function census(spans: readonly CollectedSpan[]): string[] {
  return spans.map((span) => `${span.name}@${span.serviceName === clientServiceName ? 'sdk' : brokerOf(span)}`).sort();
}

describe.each<ExporterName>(['jaeger', 'otlp'])('tracing through the %s exporter (real processes)', (exporter) => {
  let receiver: TraceReceiver;
  let dir: string;
  /** Every cluster started (the sampling-0 one runs on the same ports and data); all stopped after. */
  const clusters: TestCluster[] = [];

  beforeAll(async () => {
    receiver = await TraceReceiver.start();
    dir = await mkdtemp(join(tmpdir(), `streambus-tracing-${exporter}-`));
    const cluster = await TestCluster.create({
      size: 3,
      dataDir: dir,
      logLevel: 'warn',
      env: tracingEnv(exporter, receiver, 1),
    });
    clusters.push(cluster);
    await cluster.startAll(60_000);
    const admin = new Admin({ bootstrapServers: cluster.bootstrap.split(',') });
    try {
      await admin.createTopic({ name: topic, partitions: 1, replicationFactor: 3 });
      await until('partition 0 has a leader and three in-sync replicas', 30_000, async () => {
        const partition = (await admin.describeTopic(topic)).partitions[0];
        return partition !== undefined && partition.leaderId > 0 && partition.inSyncReplicas.length === 3
          ? true
          : undefined;
      });
    } finally {
      await admin.close();
    }
  }, 90_000);

  afterAll(async () => {
    for (const cluster of clusters) await cluster.stopAll();
    await receiver?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('a record sent through a follower is one trace, from the SDK send to the acks', async () => {
    const cluster = clusters[0] as TestCluster;
    const addressOf = (id: number): string => cluster.brokers[id - 1]?.listen ?? '';
    const { provider, memory } = clientTracing(exporter, receiver, 1);
    const producer = new Producer({
      bootstrapServers: cluster.bootstrap.split(','),
      tracerProvider: provider,
      lingerMs: 0,
      // The metadata of the first send is kept, so that the second goes to the broker that was leader then.
      metadataMaxAgeMs: 600_000,
    });
    const admin = new Admin({ bootstrapServers: cluster.bootstrap.split(',') });
    try {
      await producer.send({ topic, partition: 0, value: 'learns the leader' });
      const follower = (await admin.describeTopic(topic)).partitions[0]?.leaderId ?? 0;
      expect(follower).toBeGreaterThan(0);
      // Drained, the leader the producer knows hands its leaderships over and becomes a follower.
      await until(`broker ${follower} drained`, 30_000, async () =>
        (await admin.drainBroker(follower, { waitMs: 5_000 })).groupsLed === 0 ? true : undefined,
      );
      // It forwards only to a leader it knows.
      const leader = await until(`broker ${follower} to know the new leader`, 15_000, async () => {
        const seen = await leaderSeenBy(addressOf(follower));
        return seen !== 0 && seen !== follower ? seen : undefined;
      });
      const other = cluster.brokers.map((broker) => broker.id).find((id) => id !== leader && id !== follower) ?? 0;
      memory.reset();

      const sent = await producer.send({ topic, partition: 0, value: 'traced through a follower' });
      expect(sent.partition).toBe(0);
      const sends = memory.getFinishedSpans().filter((span) => span.name === `send ${topic}`);
      expect(sends).toHaveLength(1);
      const traceId = sends[0]?.spanContext().traceId ?? '';
      await provider.forceFlush();

      // 15 spans: the SDK's send; the follower's produce, forward and ack; the leader's produce,
      // propose, persist, two replicates, commit and ack; each follower's append and persist.
      const expected = [
        `send ${topic}@sdk`,
        `produce ${topic}@${follower}`,
        `forward ${topic}@${follower}`,
        `ack@${follower}`,
        `produce ${topic}@${leader}`,
        `propose@${leader}`,
        `persist@${leader}`,
        `replicate@${leader}`,
        `replicate@${leader}`,
        `commit@${leader}`,
        `ack@${leader}`,
        `append@${follower}`,
        `persist@${follower}`,
        `append@${other}`,
        `persist@${other}`,
      ].sort();
      await receiver.waitFor(
        `the ${expected.length} spans of trace ${traceId}`,
        20_000,
        () =>
          expected.every((entry) => census(receiver.trace(traceId)).includes(entry)) &&
          census(receiver.trace(traceId)).length >= expected.length,
      );
      // Late spans of this trace (none are expected) would show up here.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const spans = receiver.trace(traceId);
      expect(census(spans)).toEqual(expected);
      expect(receiver.failures).toEqual([]);
      expect(new Set(spans.map((span) => span.protocol))).toEqual(new Set([exporter]));

      const send = only(spans, `send ${topic}`, 0);
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.parentSpanId).toBeUndefined();
      expectMessaging(send, 'send', 'send');
      expect(send.attributes[messagingAttributes.batchMessageCount]).toBe(1);

      const entry = only(spans, `produce ${topic}`, follower);
      expectChild(entry, send);
      expect(entry.kind).toBe(SpanKind.SERVER);
      expectMessaging(entry, 'send', 'produce');
      const forward = only(spans, `forward ${topic}`, follower);
      expectChild(forward, entry);
      expect(forward.kind).toBe(SpanKind.CLIENT);
      expect(forward.attributes['streambus.forward.leader.id']).toBe(leader);
      expectMessaging(forward, 'send', 'forward');

      const atLeader = only(spans, `produce ${topic}`, leader);
      expectChild(atLeader, forward);
      expect(atLeader.kind).toBe(SpanKind.SERVER);
      expectMessaging(atLeader, 'send', 'produce');
      const propose = only(spans, 'propose', leader);
      expectChild(propose, atLeader);
      expectMessaging(propose, 'process', 'propose');
      expect(propose.attributes[messagingAttributes.batchMessageCount]).toBe(1);
      expectChild(only(spans, 'persist', leader), propose);
      expectChild(only(spans, 'commit', leader), propose);

      const replicates = spans.filter((span) => span.name === 'replicate');
      expect(replicates.map((span) => span.attributes['streambus.raft.follower.id']).sort()).toEqual(
        [follower, other].sort(),
      );
      for (const replicate of replicates) {
        expectChild(replicate, propose);
        expect(replicate.kind).toBe(SpanKind.CLIENT);
        const peer = Number(replicate.attributes['streambus.raft.follower.id']);
        const append = only(spans, 'append', peer);
        expectChild(append, replicate);
        expect(append.kind).toBe(SpanKind.SERVER);
        expect(append.attributes['streambus.raft.leader.id']).toBe(leader);
        expectChild(only(spans, 'persist', peer), append);
      }

      const leaderAck = only(spans, 'ack', leader);
      expectChild(leaderAck, atLeader);
      expect(leaderAck.attributes[messagingAttributes.operationType]).toBe('settle');
      expectChild(only(spans, 'ack', follower), entry);

      // One produce alone in its group commit and frames: no links; every broker span says which broker made it.
      for (const span of spans) expect(`${span.name}: ${span.links.length} links`).toBe(`${span.name}: 0 links`);
      for (const span of spans.filter((candidate) => candidate.serviceName !== clientServiceName)) {
        expect(span.serviceName).toBe('streambus');
        // Jaeger's exporter writes the resource among the span's tags.
        const instance =
          exporter === 'jaeger' ? span.attributes['service.instance.id'] : span.resource['service.instance.id'];
        expect(instance).toBe(`broker-${brokerOf(span)}`);
      }
    } finally {
      await producer.close();
      await admin.close();
      await provider.shutdown();
    }
  });

  it('produces that share a group commit or a frame are linked to its one span, not given copies', async () => {
    const cluster = clusters[0] as TestCluster;
    const admin = new Admin({ bootstrapServers: cluster.bootstrap.split(',') });
    const partition = await admin.describeTopic(topic).finally(() => admin.close());
    const leader = partition.partitions[0]?.leaderId ?? 0;
    const followers = cluster.brokers.map((broker) => broker.id).filter((id) => id !== leader);
    expect(followers).toHaveLength(2);
    const client = createStreamBusRpcClient(cluster.brokers[leader - 1]?.listen ?? '');
    const traceIds = Array.from({ length: concurrentProduces }, () => randomBytes(16).toString('hex'));
    try {
      // All at once on one channel: the leader proposes them in one or a few loop turns.
      await Promise.all(
        traceIds.map((traceId) => produceOn(client, `00-${traceId}-${randomBytes(8).toString('hex')}-01`)),
      );
    } finally {
      client.close();
    }
    const proposes = (spans: readonly CollectedSpan[]): CollectedSpan[] =>
      spans.filter((span) => span.name === 'propose' && traceIds.includes(span.traceId));
    /** Each produce's persist, replicate per follower, and each follower's persist of its append: one span each. */
    const covered = (spans: readonly CollectedSpan[]): boolean =>
      proposes(spans).length === concurrentProduces &&
      proposes(spans).every(
        (propose) =>
          standingFor(spans, 'persist', leader, propose).length === 1 &&
          followers.every((follower) => {
            const replicates = standingFor(spans, 'replicate', leader, propose).filter(
              (span) => span.attributes['streambus.raft.follower.id'] === follower,
            );
            if (replicates.length !== 1) return false;
            const appends = spans.filter(
              (span) => span.name === 'append' && span.parentSpanId === (replicates[0] as CollectedSpan).spanId,
            );
            return (
              appends.length === 1 && standingFor(spans, 'persist', follower, appends[0] as CollectedSpan).length === 1
            );
          }),
      );
    await receiver.waitFor(
      `one persist, replicate and follower persist for each of ${concurrentProduces} produces`,
      20_000,
      covered,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const spans = receiver.spans();
    expect(covered(spans), 'a produce got a second persist, replicate or append span later').toBe(true);
    const persists = spans.filter(
      (span) => span.name === 'persist' && brokerOf(span) === leader && traceIds.includes(span.traceId),
    );
    // Sent at once, they did share (one persist carried all 24 in every run so far): links were made.
    expect(persists.length).toBeLessThan(concurrentProduces);
    expect(persists.reduce((links, span) => links + span.links.length, 0)).toBeGreaterThan(0);
  });

  it('exports nothing at sampling_rate 0, but what a sampled caller traced', async () => {
    const first = clusters[0] as TestCluster;
    // The spans of the first test go out before the brokers exit (the stop flushes them).
    await first.stopAll();
    const cluster = await TestCluster.create({
      size: 3,
      dataDir: dir,
      listenPorts: first.brokers.map((broker) => Number(broker.listen.split(':')[1])),
      adminPorts: first.brokers.map((broker) => Number(broker.admin.split(':')[1])),
      logLevel: 'warn',
      env: tracingEnv(exporter, receiver, 0),
    });
    clusters.push(cluster);
    receiver.clear();
    await cluster.startAll(60_000);
    const unsampled = clientTracing(exporter, receiver, 0);
    const sampled = clientTracing(exporter, receiver, 1);
    const bootstrapServers = cluster.bootstrap.split(',');
    const plain = new Producer({ bootstrapServers, lingerMs: 0 });
    const notSampling = new Producer({ bootstrapServers, tracerProvider: unsampled.provider, lingerMs: 0 });
    const control = new Producer({ bootstrapServers, tracerProvider: sampled.provider, lingerMs: 0 });
    let traceId = '';
    try {
      for (let index = 0; index < unsampledProduces; index += 1) {
        // No traceparent (the brokers' root decision, at 0), and an unsampled one (flags 00).
        await plain.send({ topic, partition: 0, value: `plain ${index}` });
        await notSampling.send({ topic, partition: 0, value: `unsampled ${index}` });
        // Straight to every broker, the followers forwarding, without a traceparent.
        for (const broker of cluster.brokers) await produceTo(broker.listen);
      }
      expect(unsampled.memory.getFinishedSpans()).toEqual([]);

      // The control: its caller sampled it, so the brokers record it in spite of their 0.
      await control.send({ topic, partition: 0, value: 'sampled by its caller' });
      const sends = sampled.memory.getFinishedSpans().filter((span) => span.name === `send ${topic}`);
      expect(sends).toHaveLength(1);
      traceId = sends[0]?.spanContext().traceId ?? '';
      await sampled.provider.forceFlush();
      await unsampled.provider.forceFlush();
      await receiver.waitFor(`the sampled control produce's commit (trace ${traceId})`, 20_000, (spans) =>
        spans.some((span) => span.traceId === traceId && span.name === 'commit'),
      );
    } finally {
      await Promise.all([plain.close(), notSampling.close(), control.close()]);
      await Promise.all([unsampled.provider.shutdown(), sampled.provider.shutdown()]);
    }
    // Stopping flushes every broker's span queue; then a little longer for anything in flight.
    await cluster.stopAll();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(receiver.failures).toEqual([]);
    expect(census(receiver.spans().filter((span) => span.traceId !== traceId))).toEqual([]);
    expect(receiver.trace(traceId).length).toBeGreaterThan(0);
    // The collector took every export of both runs (each broker's log holds both): none failed or was dropped.
    for (const broker of cluster.brokers) {
      const log = await cluster.logTail(broker.id, 100_000);
      expect(log.split('\n').filter((line) => line.includes('"msg":"tracing:'))).toEqual([]);
    }
  });
});
