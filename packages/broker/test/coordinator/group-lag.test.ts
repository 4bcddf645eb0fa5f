/** The lag gauges from a shard's committed offsets and this broker's view of the high watermarks. */
import { describe, expect, it } from 'vitest';
import { sampleGroupGauges, shardLag } from '../../src/coordinator/group-lag.js';
import type { LagView } from '../../src/coordinator/group-lag.js';
import type { CoordinatorShard } from '../../src/coordinator/shard.js';

/** Two groups: 'billing' (one member subscribed to orders and audit, commits on orders/0) and 'idle' (empty). */
function shard(): CoordinatorShard<never> {
  const fake = {
    committedOffsets: () => [
      { groupId: 'billing', topic: 'orders', partition: 0, offset: 40 },
      { groupId: 'idle', topic: 'orders', partition: 1, offset: 95 },
    ],
    listGroups: () => [
      { groupId: 'billing', state: 'stable', memberCount: 1, coordinatorId: 1 },
      { groupId: 'idle', state: 'empty', memberCount: 0, coordinatorId: 1 },
    ],
    describeGroup: () => ({ members: [{ subscribedTopicNames: ['orders', 'audit', 'gone'] }] }),
  };
  return fake as unknown as CoordinatorShard<never>;
}

const view: LagView = {
  partitionCount: (topic) => ({ orders: 2, audit: 1 })[topic],
  offsets: (topic, partition) => {
    if (topic === 'orders')
      return partition === 0 ? { highWatermark: 100, logStartOffset: 0 } : { highWatermark: 90, logStartOffset: 10 };
    return { highWatermark: 7, logStartOffset: 2 };
  },
};

describe('group lag', () => {
  it('sums high watermark minus committed over partitions (log start without a commit), never below 0', () => {
    const { lags, states } = shardLag(shard(), view);
    expect(lags).toEqual([
      // audit/0 has no commit: from its log start.
      { group: 'billing', topic: 'audit', lagRecords: 5, lagMaxRecords: 5 },
      // orders/0: 100 - 40; orders/1 without a commit: 90 - 10.
      { group: 'billing', topic: 'orders', lagRecords: 140, lagMaxRecords: 80 },
      // A commit ahead of a stale reported high watermark counts 0; partition 0 from its log start.
      { group: 'idle', topic: 'orders', lagRecords: 100, lagMaxRecords: 100 },
    ]);
    expect([...states]).toEqual([
      ['stable', 1],
      ['empty', 1],
    ]);
  });

  it('sets the gauges afresh at every sample, every state at least 0', () => {
    const set: string[] = [];
    const gauge = {
      reset: () => set.push('reset'),
      set: (labels: Record<string, string | undefined>, value: number) =>
        set.push(`${JSON.stringify(labels)} ${value}`),
    };
    sampleGroupGauges(
      { consumerGroupLagRecords: gauge, consumerGroupLagMaxRecords: gauge, consumerGroups: gauge },
      [{ shard: shard() }],
      view,
    );
    expect(set.filter((line) => line === 'reset')).toHaveLength(3);
    expect(set).toContain('{"group":"billing","topic":"orders"} 140');
    expect(set).toContain('{"state":"assigning"} 0');
    expect(set).toContain('{"state":"stable"} 1');
  });
});
