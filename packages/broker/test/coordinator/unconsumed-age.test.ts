/** The oldest unconsumed record ages from fake shards, a fake offset view and a fake record reader. */
import { encodeRecordBatch, stampBaseOffset } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import type { LagView } from '../../src/coordinator/group-lag.js';
import type { CoordinatorShard } from '../../src/coordinator/shard.js';
import { UnconsumedAge, recordTimestampAt, unconsumedPositions } from '../../src/coordinator/unconsumed-age.js';
import { unconsumedAgeReadsPerPassMax } from '../../src/coordinator/constants.js';
import { silentLogger } from '../server/fakes.js';

const logger = silentLogger;

/** 'billing' commits orders/0 at 40 and subscribes to orders and audit; 'idle' commits orders/0 and orders/1 at their ends. */
function shard(
  commits: { groupId: string; topic: string; partition: number; offset: number }[],
): CoordinatorShard<never> {
  const fake = {
    committedOffsets: () => commits,
    listGroups: () => [
      { groupId: 'billing', state: 'stable', memberCount: 1, coordinatorId: 1 },
      { groupId: 'idle', state: 'empty', memberCount: 0, coordinatorId: 1 },
    ],
    describeGroup: () => ({ members: [{ subscribedTopicNames: ['orders', 'audit'] }] }),
  };
  return fake as unknown as CoordinatorShard<never>;
}

const commits = [
  { groupId: 'billing', topic: 'orders', partition: 0, offset: 40 },
  { groupId: 'idle', topic: 'orders', partition: 0, offset: 100 },
  { groupId: 'idle', topic: 'orders', partition: 1, offset: 90 },
];

// orders/0: [0, 100); orders/1: [10, 90); audit/0: [2, 7).
const view: LagView = {
  partitionCount: (topic) => ({ orders: 2, audit: 1 })[topic],
  offsets: (topic, partition) => {
    if (topic === 'orders')
      return partition === 0 ? { highWatermark: 100, logStartOffset: 0 } : { highWatermark: 90, logStartOffset: 10 };
    return { highWatermark: 7, logStartOffset: 2 };
  },
};

/** A record at offset o of topic t was written at 1_000_000 + o * 1000 (+ 500_000 on audit). */
function timeOf(topic: string, offset: number): number {
  return 1_000_000 + offset * 1000 + (topic === 'audit' ? 500_000 : 0);
}

function gauge(): {
  values: Map<string, number>;
  reset(): void;
  set(labels: { group: string; topic: string }, value: number): void;
} {
  const values = new Map<string, number>();
  return {
    values,
    reset: () => values.clear(),
    set: (labels, value) => values.set(`${labels.group}/${labels.topic}`, value),
  };
}

describe('unconsumed record age', () => {
  it('lists the lagging partitions at their committed offset, from the log start without a commit', () => {
    const { pairs, positions } = unconsumedPositions([{ shard: shard(commits) }], view);
    expect(pairs).toEqual([
      { group: 'billing', topic: 'audit' },
      { group: 'billing', topic: 'orders' },
      { group: 'idle', topic: 'orders' },
    ]);
    expect(positions).toEqual([
      { group: 'billing', topic: 'audit', partition: 0, offset: 2 },
      { group: 'billing', topic: 'orders', partition: 0, offset: 40 },
      { group: 'billing', topic: 'orders', partition: 1, offset: 10 },
    ]);
  });

  it('a commit below the log start reads from the log start', () => {
    const below = [{ groupId: 'idle', topic: 'orders', partition: 1, offset: 3 }];
    const { positions } = unconsumedPositions([{ shard: shard(below) }], view);
    expect(positions).toContainEqual({ group: 'idle', topic: 'orders', partition: 1, offset: 10 });
  });

  it('exports now minus the oldest timestamp over lagging partitions, 0 when caught up, and ages between looks', async () => {
    let nowMs = 2_000_000;
    let coordinating = true;
    const reads: string[] = [];
    const age = new UnconsumedAge<never>({
      shards: () => (coordinating ? [{ shard: shard(commits) }] : []),
      view: () => view,
      read: (topic, partition, offset) => {
        reads.push(`${topic}/${partition}@${offset}`);
        return Promise.resolve(timeOf(topic, offset));
      },
      nowMs: () => nowMs,
      logger,
    });
    await age.look();
    const sampled = gauge();
    age.sample(sampled);
    // orders: partition 1 at 10 is older than partition 0 at 40.
    expect(sampled.values.get('billing/orders')).toBe((nowMs - timeOf('orders', 10)) / 1000);
    expect(sampled.values.get('billing/audit')).toBe((nowMs - timeOf('audit', 2)) / 1000);
    expect(sampled.values.get('idle/orders')).toBe(0);
    expect(reads.sort()).toEqual(['audit/0@2', 'orders/0@40', 'orders/1@10']);
    // The next scrape, later: the age grew, nothing was read.
    nowMs += 5_000;
    age.sample(sampled);
    expect(sampled.values.get('billing/orders')).toBe((nowMs - timeOf('orders', 10)) / 1000);
    // A look with nothing moved reads nothing: a committed record's timestamp does not change.
    await age.look();
    expect(reads).toHaveLength(3);
    // The shard moved away: nothing is exported from the next scrape on, before any look.
    coordinating = false;
    age.sample(sampled);
    expect(sampled.values.size).toBe(0);
  });

  it('a failed read keeps the partition its last timestamp; a partition never read exports nothing', async () => {
    let failing = false;
    let current = commits;
    const age = new UnconsumedAge<never>({
      shards: () => [{ shard: shard(current) }],
      view: () => view,
      read: (topic, _partition, offset) =>
        failing ? Promise.reject(new Error('leader away')) : Promise.resolve(timeOf(topic, offset)),
      nowMs: () => 2_000_000,
      logger,
    });
    failing = true;
    await age.look();
    const sampled = gauge();
    age.sample(sampled);
    expect(sampled.values.has('billing/orders')).toBe(false);
    expect(sampled.values.get('idle/orders')).toBe(0);
    failing = false;
    await age.look();
    age.sample(sampled);
    const before = sampled.values.get('billing/orders');
    expect(before).toBe((2_000_000 - timeOf('orders', 10)) / 1000);
    // billing commits orders/1 at 50 but the read fails: the record at 10 still stands.
    current = [...commits, { groupId: 'billing', topic: 'orders', partition: 1, offset: 50 }];
    failing = true;
    await age.look();
    age.sample(sampled);
    expect(sampled.values.get('billing/orders')).toBe(before);
    failing = false;
    await age.look();
    age.sample(sampled);
    // Now orders/0 at 40 is the oldest.
    expect(sampled.values.get('billing/orders')).toBe((2_000_000 - timeOf('orders', 40)) / 1000);
  });

  it('reads at most the per-look bound, the rest in later looks, in turn', async () => {
    const partitions = unconsumedAgeReadsPerPassMax + 10;
    const wide: LagView = {
      partitionCount: (topic) => (topic === 'orders' ? partitions : undefined),
      offsets: () => ({ highWatermark: 5, logStartOffset: 0 }),
    };
    const read: number[] = [];
    const age = new UnconsumedAge<never>({
      shards: () => [{ shard: shard([]) }],
      view: () => wide,
      read: (_topic, partition) => {
        read.push(partition);
        return Promise.resolve(1_000);
      },
      nowMs: () => 11_000,
      logger,
    });
    await age.look();
    expect(read).toHaveLength(unconsumedAgeReadsPerPassMax);
    await age.look();
    expect(new Set(read).size).toBe(partitions);
    const sampled = gauge();
    age.sample(sampled);
    expect(sampled.values.get('billing/orders')).toBe(10);
  });

  it('finds a record timestamp inside a batch: header first timestamp plus the record delta', () => {
    const batch = encodeRecordBatch({
      records: [0, 1, 2].map((i) => ({ value: Buffer.from(`r${i}`), timestamp: 5_000 + i * 7 })),
    });
    stampBaseOffset(batch, 20);
    const next = encodeRecordBatch({ records: [{ value: Buffer.from('n'), timestamp: 9_000 }] });
    stampBaseOffset(next, 23);
    expect(recordTimestampAt([batch, next], 20)).toBe(5_000);
    expect(recordTimestampAt([batch, next], 22)).toBe(5_014);
    expect(recordTimestampAt([batch, next], 23)).toBe(9_000);
    // Below the first batch: the first record there is next.
    expect(recordTimestampAt([batch], 3)).toBe(5_000);
    expect(recordTimestampAt([batch], 24)).toBeNull();
  });
});
