/**
 * Test helpers of the coordinator core: a topic view to edit, a shard with counting member ids
 * and a log of every record it returned, and a well-behaved member that follows groups.proto.
 * Not exported from the package.
 */
import { ErrorCode } from '@streambus/proto';
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '@streambus/proto';
import { GroupCoordinatorShard, type CoordinatorConfig, type TopicView } from './coordinator.js';
import { decodeGroupRecord, encodeGroupRecord, type GroupRecord } from './records.js';
import {
  emptyPartitionSet,
  partitionSetFromWire,
  partitionSetToWire,
  type TopicPartitionSet,
} from './partition-set.js';

export class EditableTopics implements TopicView {
  private readonly counts = new Map<string, number>();
  private names: readonly string[] = [];

  set(topic: string, partitions: number): this {
    this.counts.set(topic, partitions);
    this.names = [...this.counts.keys()].sort();
    return this;
  }

  delete(topic: string): void {
    this.counts.delete(topic);
    this.names = [...this.counts.keys()].sort();
  }

  partitionCount(topic: string): number | undefined {
    return this.counts.get(topic);
  }

  topicNames(): readonly string[] {
    return this.names;
  }
}

export const testConfig: CoordinatorConfig = {
  sessionTimeoutMs: 1000,
  heartbeatIntervalMs: 100,
  groupMembersMax: 50,
  offsetsRetentionMs: 10_000,
  defaultAssignor: 'uniform',
};

/** A shard, every record it returned (passed through the codec, as the log would), and a clock. */
export class ShardUnderTest {
  readonly log: GroupRecord[] = [];
  nowMs = 0;
  shard: GroupCoordinatorShard;
  private nextMemberId = 0;

  constructor(
    readonly topics: EditableTopics,
    readonly config: CoordinatorConfig = testConfig,
  ) {
    this.shard = this.newShard();
    this.shard.loaded(this.nowMs);
  }

  newShard(): GroupCoordinatorShard {
    return new GroupCoordinatorShard({
      partition: 0,
      config: this.config,
      topics: this.topics,
      newMemberId: () => `member-${String(++this.nextMemberId).padStart(3, '0')}`,
    });
  }

  append(records: readonly GroupRecord[]): void {
    for (const record of records) {
      const { key, value } = encodeGroupRecord(record);
      this.log.push(decodeGroupRecord(key, value));
    }
  }

  heartbeat(request: Partial<ConsumerGroupHeartbeatRequest> & { groupId: string }): ConsumerGroupHeartbeatResponse {
    const result = this.shard.heartbeat(heartbeatRequest(request), 'host-1', this.nowMs);
    this.append(result.records);
    return result.response;
  }

  tick(): GroupRecord[] {
    const records = this.shard.tick(this.nowMs);
    this.append(records);
    return records;
  }

  /** A new shard from every record so far (as after a leader change). */
  replayed(records: readonly GroupRecord[] = this.log): GroupCoordinatorShard {
    const shard = this.newShard();
    for (const record of records) shard.replay(record);
    shard.loaded(this.nowMs);
    return shard;
  }
}

export function heartbeatRequest(
  fields: Partial<ConsumerGroupHeartbeatRequest> & { groupId: string },
): ConsumerGroupHeartbeatRequest {
  return {
    memberId: '',
    memberEpoch: 0,
    instanceId: '',
    rebalanceTimeoutMs: 0,
    subscribedTopics: null,
    subscribedTopicRegex: null,
    serverAssignor: '',
    owned: null,
    clientId: 'client',
    ...fields,
  };
}

/**
 * A member as groups.proto asks it to behave: it joins, heartbeats with its epoch, takes its
 * assignment at once (dropping what left it), and reports `owned` on the next heartbeat after a
 * change; on UNKNOWN_MEMBER_ID or FENCED_MEMBER_EPOCH it drops everything and joins again.
 */
export class TestMember {
  memberId = '';
  memberEpoch = 0;
  owned: TopicPartitionSet = emptyPartitionSet;
  private reportOwned = false;
  private incarnation = 0;
  lastError: number = ErrorCode.NONE;

  constructor(
    readonly harness: ShardUnderTest,
    readonly groupId: string,
    readonly topics: string[],
    readonly instanceId = '',
    readonly regex = '',
    readonly serverAssignor = '',
  ) {}

  get joined(): boolean {
    return this.memberEpoch > 0;
  }

  /** One heartbeat; with `apply` false its answer is lost on the way (the member learns nothing). */
  heartbeat(apply = true): ConsumerGroupHeartbeatResponse {
    const joining = this.memberEpoch === 0;
    // A static member picks its own member id (groups.proto allows it): were the coordinator to pick
    // one and its answer be lost, the retried join would find the instance id held by a member it
    // never heard of, and get UNRELEASED_INSTANCE_ID until that member's session ends.
    if (joining && this.memberId === '' && this.instanceId !== '')
      this.memberId = `${this.instanceId}-${++this.incarnation}`;
    const response = this.harness.heartbeat({
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: this.memberEpoch,
      instanceId: this.instanceId,
      rebalanceTimeoutMs: joining ? 500 : 0,
      subscribedTopics: joining ? { names: this.topics } : null,
      subscribedTopicRegex: joining && this.regex !== '' ? { pattern: this.regex } : null,
      owned: joining || this.reportOwned ? { topicPartitions: partitionSetToWire(this.owned) } : null,
      serverAssignor: joining ? this.serverAssignor : '',
    });
    // A lost answer is a timeout to the member: it sends every field on the next heartbeat.
    if (!apply) {
      this.reportOwned = true;
      return response;
    }
    this.lastError = response.errorCode;
    if (response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID || response.errorCode === ErrorCode.FENCED_MEMBER_EPOCH) {
      this.owned = emptyPartitionSet;
      this.memberEpoch = 0;
      this.reportOwned = false;
      return response;
    }
    if (response.errorCode !== ErrorCode.NONE) return response;
    this.memberId = response.memberId;
    this.memberEpoch = response.memberEpoch;
    this.reportOwned = false;
    if (response.assignment != null) {
      this.owned = partitionSetFromWire(response.assignment.topicPartitions);
      this.reportOwned = true;
    }
    return response;
  }

  leave(epoch: -1 | -2 = -1): ConsumerGroupHeartbeatResponse {
    const response = this.harness.heartbeat({
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: epoch,
      instanceId: this.instanceId,
    });
    this.owned = emptyPartitionSet;
    this.memberEpoch = 0;
    if (epoch === -1 || this.instanceId === '') this.memberId = '';
    return response;
  }

  /** A restarted process: a new member id, nothing owned, the same instance id. */
  restart(): void {
    this.memberId = '';
    this.memberEpoch = 0;
    this.owned = emptyPartitionSet;
    this.reportOwned = false;
  }
}

/** Everything observable of a shard, for equality checks. */
export function observable(shard: GroupCoordinatorShard, groupIds: readonly string[]): unknown {
  return {
    list: shard.listGroups([]),
    groups: groupIds.map((groupId) => shard.describeGroup(groupId)),
    offsets: groupIds.map((groupId) => shard.fetchOffsets({ groupId, partitions: [] })),
    checkpoint: shard.checkpointRecords(),
    count: shard.groupCount(),
  };
}
