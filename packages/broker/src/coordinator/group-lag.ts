/**
 * Consumer lag of the groups a broker coordinates, for the metrics: per group and topic, the sum
 * and the maximum over the topic's partitions of high watermark minus committed offset (a
 * partition without a commit counts from its log start). The topics of a group are those it
 * committed offsets of and those its members subscribe to by name. High watermarks come from this
 * broker's metadata (its own replica when it leads, else the leader's last report to the
 * controller, at most partitionReportRefreshMs old): no RPC per scrape, so a lag may lag by that
 * much, and it is never below 0.
 */
import type { CoordinatorShard } from './shard.js';

/** What this broker knows of a partition's offsets. */
export interface PartitionOffsets {
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export interface LagView {
  partitionCount(topic: string): number | undefined;
  /** The partition's offsets as this broker knows them, or null when it knows none. */
  offsets(topic: string, partition: number): PartitionOffsets | null;
}

export interface GroupTopicLag {
  readonly group: string;
  readonly topic: string;
  readonly lagRecords: number;
  readonly lagMaxRecords: number;
}

export interface ShardLag {
  readonly lags: GroupTopicLag[];
  /** Groups by state ("empty", "assigning", "reconciling", "stable"). */
  readonly states: Map<string, number>;
}

/** One group of a shard, the topics it is lagged on (sorted) and its committed offsets by topic and partition. */
export interface GroupTopics {
  readonly group: string;
  readonly state: string;
  readonly topics: readonly string[];
  readonly committed: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

/**
 * The groups of one loaded shard with their topics: those they committed offsets of and those
 * their members subscribe to by name. The lag gauges and the unconsumed record ages share it.
 */
export function shardGroupTopics<R>(shard: CoordinatorShard<R>): GroupTopics[] {
  const committed = new Map<string, Map<string, Map<number, number>>>();
  for (const entry of shard.committedOffsets()) {
    let topics = committed.get(entry.groupId);
    if (topics === undefined) committed.set(entry.groupId, (topics = new Map<string, Map<number, number>>()));
    let partitions = topics.get(entry.topic);
    if (partitions === undefined) topics.set(entry.topic, (partitions = new Map<number, number>()));
    partitions.set(entry.partition, entry.offset);
  }
  const groups: GroupTopics[] = [];
  for (const listed of shard.listGroups([])) {
    const group = listed.groupId;
    const offsets = committed.get(group) ?? new Map<string, Map<number, number>>();
    const topics = new Set(offsets.keys());
    if (listed.memberCount > 0)
      for (const member of shard.describeGroup(group).members)
        for (const topic of member.subscribedTopicNames) topics.add(topic);
    groups.push({ group, state: listed.state, topics: [...topics].sort(), committed: offsets });
  }
  return groups;
}

/** The lags and group states of one loaded shard. */
export function shardLag<R>(shard: CoordinatorShard<R>, view: LagView): ShardLag {
  const states = new Map<string, number>();
  const lags: GroupTopicLag[] = [];
  for (const { group, state, topics, committed } of shardGroupTopics(shard)) {
    states.set(state, (states.get(state) ?? 0) + 1);
    for (const topic of topics) {
      const lag = topicLag(view, topic, committed.get(topic));
      if (lag !== null) lags.push({ group, topic, ...lag });
    }
  }
  return { lags, states };
}

function topicLag(
  view: LagView,
  topic: string,
  committed: ReadonlyMap<number, number> | undefined,
): { lagRecords: number; lagMaxRecords: number } | null {
  const count = view.partitionCount(topic);
  if (count === undefined) return null;
  let lagRecords = 0;
  let lagMaxRecords = 0;
  for (let partition = 0; partition < count; partition++) {
    const known = view.offsets(topic, partition);
    if (known === null) continue;
    const from = committed?.get(partition) ?? known.logStartOffset;
    const lag = Math.max(0, known.highWatermark - from);
    lagRecords += lag;
    lagMaxRecords = Math.max(lagMaxRecords, lag);
  }
  return { lagRecords, lagMaxRecords };
}

/** The group gauges as the sampler sets them (BrokerMetrics). */
export interface GroupGauges {
  readonly consumerGroupLagRecords: GaugeLike<'group' | 'topic'>;
  readonly consumerGroupLagMaxRecords: GaugeLike<'group' | 'topic'>;
  readonly consumerGroups: GaugeLike<'state'>;
}

interface GaugeLike<L extends string> {
  reset(): void;
  set(labels: Partial<Record<L, string>>, value: number): void;
}

/** The states a group can be in (groups.proto), each exported even at 0. */
const groupStates = ['empty', 'assigning', 'reconciling', 'stable'] as const;

/** Sets the group gauges from the loaded shards of this broker: only a group's coordinator exports it. */
export function sampleGroupGauges<R>(
  gauges: GroupGauges,
  shards: Iterable<{ readonly shard: CoordinatorShard<R> }>,
  view: LagView,
): void {
  gauges.consumerGroupLagRecords.reset();
  gauges.consumerGroupLagMaxRecords.reset();
  gauges.consumerGroups.reset();
  const states = new Map<string, number>(groupStates.map((state) => [state, 0]));
  for (const { shard } of shards) {
    const sampled = shardLag(shard, view);
    for (const [state, count] of sampled.states) states.set(state, (states.get(state) ?? 0) + count);
    for (const lag of sampled.lags) {
      gauges.consumerGroupLagRecords.set({ group: lag.group, topic: lag.topic }, lag.lagRecords);
      gauges.consumerGroupLagMaxRecords.set({ group: lag.group, topic: lag.topic }, lag.lagMaxRecords);
    }
  }
  for (const [state, count] of states) gauges.consumerGroups.set({ state }, count);
}
