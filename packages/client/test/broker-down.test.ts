/**
 * Any one broker down, and every client still works: broker 1, the first of the bootstrap list,
 * is dead (connections refused), paused (TCP accepted, nothing answered) or unreachable (SYNs
 * dropped), for clients created after the fault and for clients connected before it. Every
 * operation must end well within its deadline, and an operation that cannot complete must fail
 * with a typed error naming what it waited for.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Admin,
  BrokerNotAvailableError,
  Consumer,
  Producer,
  type ClientOptions,
  type ConsumerRecord,
} from '../src/index.js';
import { FakeStreamBusCluster, type BrokerFault } from '../src/testing/index.js';
import { expectNoUnhandledRejections } from './helpers.js';

const topic = 'orders';
const partitions = 3;
/** Short connection wait, so that the test shows it and not the 30 s request deadline. */
const connectTimeoutMs = 1_000;

describe.each<BrokerFault>(['dead', 'paused', 'unreachable'])('broker 1 %s', (fault) => {
  let cluster: FakeStreamBusCluster;
  const closers: (() => Promise<void>)[] = [];
  expectNoUnhandledRejections();

  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3, faultFronts: true });
    cluster.createTopic(topic, partitions); // leaders 1, 2, 3
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await cluster.stop();
  });

  function clients(options: Partial<ClientOptions> = {}): { admin: Admin; producer: Producer; consumer: Consumer } {
    const common = {
      bootstrapServers: cluster.bootstrapServers,
      connectTimeoutMs,
      retryBackoffMs: 50,
      retryBackoffMsMax: 500,
      ...options,
    };
    const admin = new Admin(common);
    const producer = new Producer({ ...common, lingerMs: 1 });
    const consumer = new Consumer({ ...common, fetchMaxWaitMs: 100, autoOffsetReset: 'earliest' });
    closers.push(
      () => admin.close(),
      () => producer.close({ timeoutMs: 1_000 }),
      () => consumer.close(),
    );
    return { admin, producer, consumer };
  }

  async function produceEach(producer: Producer, value: string): Promise<void> {
    await Promise.all([
      ...Array.from({ length: partitions }, (_, partition) => producer.send({ topic, partition, value })),
      producer.send({ topic, key: `key-${value}`, value }),
      producer.send({ topic, value }),
    ]);
  }

  async function pollUntil(consumer: Consumer, count: number, timeoutMs: number): Promise<ConsumerRecord[]> {
    const out: ConsumerRecord[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) out.push(...(await consumer.poll(500)));
    return out;
  }

  it('new clients: admin, producer and consumer work, each call within its connection wait', async () => {
    await cluster.setBrokerFault(1, fault);
    const { admin, producer, consumer } = clients(); // requestTimeoutMs stays 30 s
    const startedAtMs = Date.now();
    expect(await admin.listTopics()).toContain(topic);
    expect((await admin.describeTopic(topic)).partitions).toHaveLength(partitions);
    await admin.createTopic({ name: 'more', partitions: 1 });
    expect((await admin.clusterStatus()).brokers.length).toBeGreaterThan(0);
    await produceEach(producer, 'a');
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    const records = await pollUntil(consumer, partitions + 2, 10_000);
    expect(records).toHaveLength(partitions + 2);
    // On the old code a paused or unreachable first broker cost a 30 s request deadline.
    expect(Date.now() - startedAtMs).toBeLessThan(8_000);
  }, 40_000);

  it('clients connected before the fault carry on', async () => {
    const { admin, producer, consumer } = clients({ requestTimeoutMs: 4_000 });
    await produceEach(producer, 'before');
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    expect(await pollUntil(consumer, partitions + 2, 10_000)).toHaveLength(partitions + 2);
    await cluster.setBrokerFault(1, fault);
    const startedAtMs = Date.now();
    await produceEach(producer, 'after');
    const after = await pollUntil(consumer, partitions + 2, 20_000);
    expect(after.map((r) => r.value?.toString())).toEqual(Array.from({ length: partitions + 2 }, () => 'after'));
    expect((await admin.describeTopic(topic)).partitions).toHaveLength(partitions);
    expect(Date.now() - startedAtMs).toBeLessThan(20_000);
  }, 60_000);
});

describe('every broker down', () => {
  let cluster: FakeStreamBusCluster;
  expectNoUnhandledRejections();
  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 3, faultFronts: true });
  });
  afterEach(async () => {
    await cluster.stop();
  });

  it('an admin call fails with BROKER_NOT_AVAILABLE naming each broker and what it waited for', async () => {
    await cluster.setBrokerFault(1, 'dead');
    await cluster.setBrokerFault(2, 'paused');
    await cluster.setBrokerFault(3, 'unreachable');
    const admin = new Admin({
      bootstrapServers: cluster.bootstrapServers,
      connectTimeoutMs,
      retryBackoffMs: 50,
      retryBackoffMsMax: 200,
    });
    const startedAtMs = Date.now();
    const error = await admin.listTopics().catch((e: unknown) => e);
    await admin.close();
    expect(error).toBeInstanceOf(BrokerNotAvailableError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Metadata: no broker answered in 5 attempts/);
    const [first, second, third] = cluster.bootstrapServers;
    expect(message).toContain(`${first}: the broker refused or dropped the connection`);
    expect(message).toContain(`${second}: the broker made no connection within connectTimeoutMs ${connectTimeoutMs}`);
    expect(message).toContain(`${third}: the broker made no connection within connectTimeoutMs ${connectTimeoutMs}`);
    expect(Date.now() - startedAtMs).toBeLessThan(5 * connectTimeoutMs + 2_000);
  }, 30_000);
});
