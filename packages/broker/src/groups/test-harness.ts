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

/**
 * The seeds a randomized test file runs. By default a fixed list, so that CI runs the same bounded
 * set of cases every time: a property that fails only for some seeds would otherwise fail at random,
 * long after the change that broke it. `FC_SEED=<n>` replays one seed, `FC_SEED=random` draws a new
 * one (to explore; a seed it finds that fails belongs in the fixed list), `FC_RUNS=<n>` runs longer.
 */
export function propertySeeds(fixed: readonly number[]): readonly number[] {
  const fromEnv = process.env['FC_SEED'];
  if (fromEnv === undefined || fromEnv === '') return fixed;
  if (fromEnv === 'random') return [Date.now() % 2 ** 31];
  const seed = Number(fromEnv);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED=${fromEnv} is not an integer (or 'random')`);
  return [seed];
}

/** The run count: `FC_RUNS` when set, else the file's default. */
export function propertyRuns(runsDefault: number): number {
  const fromEnv = process.env['FC_RUNS'];
  if (fromEnv === undefined || fromEnv === '') return runsDefault;
  const runs = Number(fromEnv);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FC_RUNS=${fromEnv} is not a positive integer`);
  return runs;
}

/** The command that replays one seed of a test file, from the repository's root. */
export function replayCommand(file: string, seed: number): string {
  return `cd packages/broker && FC_SEED=${seed} npx vitest run ${file}`;
}

/**
 * Runs a check (an `fc.assert`, or the coverage checks after one) so that its failure names the
 * seed and the command that replays it; the original message (fast-check's has the counterexample)
 * follows.
 */
export function withReplay(file: string, seed: number, check: () => void): void {
  try {
    check();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`seed ${seed} failed; replay: ${replayCommand(file, seed)}\n${message}`, { cause: error });
  }
}

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
