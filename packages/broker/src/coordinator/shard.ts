/**
 * The coordinator shard as the broker drives it: the pure state of the groups of one
 * __consumer_offsets partition (groups/, GroupCoordinatorShard), which changes its memory at once
 * and returns the records that make the change durable. The broker appends those records to the
 * partition's Raft log and answers only once they are committed; a failed append discards the
 * shard, and a new one is rebuilt by replaying the log. `R` is the shard's record type.
 */
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  DeletedGroup,
  DescribedGroup,
  ListedGroup,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from '@streambus/proto';
import type { GroupAssignor } from '../config/types.js';

/** An answer and the records that must be committed before it is given. */
export interface ShardResult<T, R> {
  readonly response: T;
  readonly records: R[];
}

/** What the coordinator knows of the cluster's topics (the controller state on this broker). */
export interface TopicView {
  partitionCount(topic: string): number | undefined;
  topicNames(): readonly string[];
}

/** The settings of every group (groups.* config keys). */
export interface CoordinatorConfig {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly groupMembersMax: number;
  readonly offsetsRetentionMs: number;
  readonly defaultAssignor: GroupAssignor;
}

/** One committed offset, for the lag metrics. */
export interface CommittedOffset {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface CoordinatorShard<R> {
  /** Load: every committed record of the partition, in log order. */
  replay(record: R): void;
  /** Load finished: timers start from `nowMs`. */
  loaded(nowMs: number): void;
  heartbeat(
    request: ConsumerGroupHeartbeatRequest,
    clientHost: string,
    nowMs: number,
  ): ShardResult<ConsumerGroupHeartbeatResponse, R>;
  commitOffsets(request: OffsetCommitRequest, nowMs: number): ShardResult<OffsetCommitResponse, R>;
  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResponse;
  listGroups(states: readonly string[]): ListedGroup[];
  describeGroup(groupId: string): DescribedGroup;
  deleteGroups(groupIds: readonly string[], nowMs: number): ShardResult<DeletedGroup[], R>;
  /** Session and rebalance timeouts, offset retention, metadata changes: the records to append. */
  tick(nowMs: number): R[];
  /** Every live record: replayed alone, they rebuild the same state (compaction). */
  checkpointRecords(): R[];
  committedOffsets(): Iterable<CommittedOffset>;
  groupCount(): number;
}

/** How the broker makes shards and turns their records into log records and back. */
export interface ShardKit<R> {
  create(options: { partition: number; config: CoordinatorConfig; topics: TopicView }): CoordinatorShard<R>;
  encode(record: R): { key: Buffer; value: Buffer | null };
  /** Throws on a record it does not know (a corrupt or newer log): the load fails loudly. */
  decode(key: Buffer, value: Buffer | null): R;
}
