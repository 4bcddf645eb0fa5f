import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@streambus/proto';
import {
  ClientClosedError,
  Consumer,
  IllegalStateError,
  InvalidConfigError,
  OffsetOutOfRangeError,
  Producer,
  type ConsumerOptions,
  type ConsumerRecord,
} from '../src/index.js';
import { FakeStreamBusCluster } from '../src/testing/index.js';
import { expectNoUnhandledRejections } from './helpers.js';

describe('Consumer', () => {
  let cluster: FakeStreamBusCluster;
  let producer: Producer;
  const consumers: Consumer[] = [];
  expectNoUnhandledRejections();

  function consumer(options: Partial<ConsumerOptions> = {}): Consumer {
    const c = new Consumer({
      bootstrapServers: cluster.bootstrapServers,
      retryBackoffMs: 5,
      retryBackoffMsMax: 20,
      fetchMaxWaitMs: 100,
      ...options,
    });
    consumers.push(c);
    return c;
  }

  async function produce(topic: string, partition: number, count: number, prefix = 'v'): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        producer.send({ topic, partition, value: `${prefix}${i}`, timestamp: 10_000 + i }),
      ),
    );
  }

  async function pollUntil(c: Consumer, count: number, timeoutMs = 5_000): Promise<ConsumerRecord[]> {
    const out: ConsumerRecord[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) out.push(...(await c.poll(500)));
    return out;
  }

  beforeEach(async () => {
    cluster = await FakeStreamBusCluster.start({ brokers: 2 });
    cluster.createTopic('t', 2);
    producer = new Producer({ bootstrapServers: cluster.bootstrapServers, lingerMs: 1 });
  });
  afterEach(async () => {
    for (const c of consumers.splice(0)) await c.close();
    await producer.close({ timeoutMs: 1_000 });
    await cluster.stop();
  });

  it('starts at the end by default, then reads what arrives (long poll)', async () => {
    await produce('t', 0, 3, 'old');
    const c = consumer();
    c.assign([{ topic: 't', partition: 0 }]);
    expect(await c.position({ topic: 't', partition: 0 })).toBe(3);
    const polled = c.poll(3_000);
    setTimeout(() => void produce('t', 0, 2, 'new'), 50);
    const records = [...(await polled)];
    if (records.length < 2) records.push(...(await pollUntil(c, 2 - records.length)));
    expect(records.map((r) => r.value?.toString())).toEqual(['new0', 'new1']);
    expect(records.map((r) => r.offset)).toEqual([3, 4]);
    expect(await c.position({ topic: 't', partition: 0 })).toBe(5);
  });

  it('reads gzip-compressed batches and null keys/values', async () => {
    const gzip = new Producer({ bootstrapServers: cluster.bootstrapServers, compression: 'gzip', lingerMs: 5 });
    await Promise.all([
      gzip.send({ topic: 't', partition: 1, key: null, value: 'a'.repeat(500) }),
      gzip.send({ topic: 't', partition: 1, key: 'k', value: null }),
    ]);
    await gzip.close();
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([{ topic: 't', partition: 1 }]);
    const records = await pollUntil(c, 2);
    expect(records.map((r) => [r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
      [null, 'a'.repeat(500)],
      ['k', null],
    ]);
  });

  it('returns [] after the timeout when nothing arrives', async () => {
    const c = consumer();
    c.assign([{ topic: 't', partition: 1 }]);
    expect(await c.poll(150)).toEqual([]);
  });

  it('seeks, seeks to beginning and end, and skips records before the position inside a batch', async () => {
    await produce('t', 1, 10);
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([{ topic: 't', partition: 1 }]);
    c.seek({ topic: 't', partition: 1 }, 7);
    expect((await pollUntil(c, 3)).map((r) => r.offset)).toEqual([7, 8, 9]);
    c.seekToBeginning();
    expect((await pollUntil(c, 10)).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    c.seekToEnd([{ topic: 't', partition: 1 }]);
    expect(await c.position({ topic: 't', partition: 1 })).toBe(10);
    expect(await c.poll(100)).toEqual([]);
  });

  it('bounds records per poll and continues where it stopped', async () => {
    await produce('t', 0, 25);
    const c = consumer({ autoOffsetReset: 'earliest', pollRecordsMax: 10 });
    c.assign([{ topic: 't', partition: 0 }]);
    const first = await c.poll(1_000);
    expect(first.map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const rest = await pollUntil(c, 15);
    expect(rest.map((r) => r.offset)).toEqual(Array.from({ length: 15 }, (_, i) => i + 10));
  });

  it("returns one broker's records without waiting for another broker's long poll", async () => {
    cluster.createTopic('busy', 1, 1);
    cluster.createTopic('quiet', 1, 2);
    await produce('busy', 0, 5);
    // The quiet partition's broker holds its Fetch for 20 s; the busy one answers at once.
    const c = consumer({ autoOffsetReset: 'earliest', fetchMaxWaitMs: 20_000 });
    c.assign([
      { topic: 'quiet', partition: 0 },
      { topic: 'busy', partition: 0 },
    ]);
    // One poll that may wait 15 s: it must not wait for the quiet broker's answer.
    const started = Date.now();
    const records = await c.poll(15_000);
    expect(records.map((r) => [r.topic, r.offset])).toEqual([0, 1, 2, 3, 4].map((offset) => ['busy', offset]));
    expect(Date.now() - started).toBeLessThan(10_000);
    // Records that arrive later on the quiet partition end its long poll.
    await produce('quiet', 0, 2);
    expect((await pollUntil(c, 2, 15_000)).map((r) => [r.topic, r.offset])).toEqual([
      ['quiet', 0],
      ['quiet', 1],
    ]);
  }, 40_000);

  it('keeps fetched records beyond pollRecordsMax for the next polls instead of fetching them again', async () => {
    await produce('t', 0, 30);
    const c = consumer({ autoOffsetReset: 'earliest', pollRecordsMax: 7 });
    c.assign([{ topic: 't', partition: 0 }]);
    const got = await pollUntil(c, 30);
    expect(got.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // One Fetch brought all 30 (the producer's batches), then one more long-polled at the end.
    expect(cluster.callsOf('Fetch')).toBeLessThanOrEqual(3);
  });

  it('follows a leader change', async () => {
    await produce('t', 0, 2);
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([{ topic: 't', partition: 0 }]);
    expect(await pollUntil(c, 2)).toHaveLength(2);
    const old = cluster.leaderOf('t', 0);
    cluster.setLeader('t', 0, old === 1 ? 2 : 1);
    await produce('t', 0, 2, 'moved');
    const after = await pollUntil(c, 2);
    expect(after.map((r) => r.value?.toString())).toEqual(['moved0', 'moved1']);
  });

  it('follows the leader when its broker dies', async () => {
    cluster.createTopic('fo', 1, 1);
    await produce('fo', 0, 3);
    const c = consumer({ autoOffsetReset: 'earliest', requestTimeoutMs: 1_000 });
    c.assign([{ topic: 'fo', partition: 0 }]);
    expect(await pollUntil(c, 3)).toHaveLength(3);
    cluster.stopBroker(1);
    await produce('fo', 0, 2, 'later');
    expect((await pollUntil(c, 2)).map((r) => [r.offset, r.value?.toString()])).toEqual([
      [3, 'later0'],
      [4, 'later1'],
    ]);
  });

  it('recovers from fetch failures', async () => {
    await produce('t', 0, 3);
    cluster.failCalls('Fetch', { kind: 'error', code: ErrorCode.BROKER_NOT_AVAILABLE }, { kind: 'drop' });
    const c = consumer({ autoOffsetReset: 'earliest' });
    c.assign([{ topic: 't', partition: 0 }]);
    expect((await pollUntil(c, 3)).map((r) => r.offset)).toEqual([0, 1, 2]);
  });

  it('reports out-of-range offsets per autoOffsetReset', async () => {
    await produce('t', 0, 3);
    const strict = consumer({ autoOffsetReset: 'none' });
    strict.assign([{ topic: 't', partition: 0 }]);
    await expect(strict.poll(5_000)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    strict.seek({ topic: 't', partition: 0 }, 50);
    await expect(strict.poll(5_000)).rejects.toBeInstanceOf(OffsetOutOfRangeError);

    const lenient = consumer({ autoOffsetReset: 'earliest' });
    lenient.assign([{ topic: 't', partition: 0 }]);
    lenient.seek({ topic: 't', partition: 0 }, 50);
    expect((await pollUntil(lenient, 3)).map((r) => r.offset)).toEqual([0, 1, 2]);
  });

  it('rejects misuse with typed errors', async () => {
    const c = consumer();
    expect(() => c.seek({ topic: 't', partition: 0 }, 0)).toThrow(IllegalStateError);
    c.assign([{ topic: 't', partition: 0 }]);
    const first = c.poll(200);
    await expect(c.poll(10)).rejects.toBeInstanceOf(IllegalStateError);
    await first;
    expect(() => new Consumer({ bootstrapServers: ['a:1'], groupId: 'no spaces' })).toThrow(InvalidConfigError);
    expect(() => c.subscribe(['t'])).toThrow(InvalidConfigError);
    await c.close();
    await expect(c.poll(10)).rejects.toBeInstanceOf(ClientClosedError);
  });
});
