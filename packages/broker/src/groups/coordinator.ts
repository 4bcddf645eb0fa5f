/**
 * The consumer group coordinator of one shard: the groups of one "__consumer_offsets" partition
 * (KIP-848; groups.proto's header is the contract). Pure: no I/O, no timers, no Raft; time comes
 * in as `nowMs`. Every change of the durable state is a GroupRecord, and the shard changes its
 * state only by applying records (`replay` is the one place that mutates it): an operation
 * computes its records, applies each as it emits it, and returns them for the wiring to append.
 * So replaying the records an operation returned rebuilds exactly the state the operation left.
 * What is not in records is soft: session and revocation deadlines, re-armed by `loaded`.
 */
import { ErrorCode } from '@streambus/proto';
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  DeletedGroup,
  DescribedGroup,
  GroupMember,
  ListedGroup,
  OffsetCommitPartitionResult,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchPartitionResult,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from '@streambus/proto';
import { assert } from '@streambus/raft';
import { randomUUID } from 'node:crypto';
import { assignors, isAssignorName, type AssignmentMember, type AssignorName } from './assignors.js';
import {
  adminCommitMemberEpoch,
  clientHostLengthMax,
  commitMetadataBytesMax,
  epochMax,
  groupIdsPerRequestMax,
  groupMembersMaxLimit,
  joinMemberEpoch,
  leaveMemberEpoch,
  offsetPartitionsPerRequestMax,
  rebalanceTimeoutMsDefault,
  regexCacheEntriesMax,
  staticLeaveMemberEpoch,
} from './constants.js';
import {
  emptyPartitionSet,
  hasPartition,
  isPartitionSubset,
  partitionSet,
  partitionSetDifference,
  partitionSetFromWire,
  partitionSetIntersection,
  partitionSetToWire,
  partitionSetUnion,
  partitionSetsEqual,
  partitionSetsIntersect,
  partitionsOf,
  type TopicPartitionSet,
} from './partition-set.js';
import type { GroupRecord, MemberState } from './records.js';
import {
  checkGroupId,
  checkHeartbeat,
  compileSubscriptionRegex,
  wellFormedText,
  type FieldError,
  type TopicPattern,
} from './validation.js';

export interface CoordinatorConfig {
  /** groups.session_timeout_ms (default 45000): a member not heard from for this long is removed. */
  sessionTimeoutMs: number;
  /** groups.heartbeat_interval_ms (default 5000): what heartbeat answers tell members. */
  heartbeatIntervalMs: number;
  /** groups.max_size (default 1000): members per group. */
  groupMembersMax: number;
  /** groups.offsets_retention_ms (default 7 days): how long an empty group keeps its offsets. */
  offsetsRetentionMs: number;
  /** The assignor of a group whose members name none. */
  defaultAssignor: AssignorName;
}

/** The cluster metadata the assignors need, read at each call (never cached across calls but for regexes). */
export interface TopicView {
  /** undefined: no such topic. */
  partitionCount(topic: string): number | undefined;
  /**
   * Every topic name, for regex subscriptions ("__" internal topics are skipped here). Return the
   * same array while the names do not change: the shard caches regex matches per array.
   */
  topicNames(): readonly string[];
}

/** An answer and the records to append, in order; answer the client only once they committed. */
export interface ShardResult<R> {
  response: R;
  records: GroupRecord[];
}

export const defaultCoordinatorConfig: CoordinatorConfig = {
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 500,
  groupMembersMax: 1000,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  defaultAssignor: 'uniform',
};

/** The group states of DescribeGroups and ListGroups (Kafka's ConsumerGroupState, lowercased). */
export type GroupStateName = 'empty' | 'assigning' | 'reconciling' | 'stable';

interface MemberMetadata {
  instanceId: string;
  clientId: string;
  clientHost: string;
  /** Sorted, without duplicates. */
  subscribedTopicNames: string[];
  subscribedTopicRegex: string;
  rebalanceTimeoutMs: number;
  serverAssignor: string;
}

interface MemberTarget {
  assignmentEpoch: number;
  partitions: TopicPartitionSet;
}

interface MemberCurrent {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  assigned: TopicPartitionSet;
  pendingRevocation: TopicPartitionSet;
}

interface OffsetValue {
  offset: number;
  metadata: string;
  commitTimestampMs: number;
  memberEpoch: number;
}

/** Soft state of a member: not persisted, re-armed at load. */
interface MemberDeadlines {
  sessionMs: number;
  /** Set while the member must revoke partitions (unrevoked_partitions). */
  revocationMs: number | undefined;
}

/** A member's place before it ever had an assignment. */
const initialCurrent: MemberCurrent = {
  memberEpoch: 0,
  previousMemberEpoch: -1,
  state: 'stable',
  assigned: emptyPartitionSet,
  pendingRevocation: emptyPartitionSet,
};

class GroupState {
  /** False while only records other than the group record were replayed (log order after compaction). */
  hasRecord = false;
  groupEpoch = 0;
  assignmentEpoch = 0;
  assignor: string;
  createdMs = 0;
  emptySinceMs = -1;
  readonly members = new Map<string, MemberMetadata>();
  readonly targets = new Map<string, MemberTarget>();
  readonly currents = new Map<string, MemberCurrent>();
  readonly offsets = new Map<string, Map<number, OffsetValue>>();
  // Derived from the records above, kept in step by `replay`.
  /** Who holds each partition (its assigned or pendingRevocation): at most one member. */
  readonly owners = new Map<string, Map<number, string>>();
  readonly staticMembers = new Map<string, string>();
  readonly deadlines = new Map<string, MemberDeadlines>();
  /** Bumped by every target record, to cache what the targets imply. */
  targetsVersion = 0;
  targetCountsCache: { version: number; counts: Map<string, number> } | undefined;

  constructor(
    readonly groupId: string,
    assignor: string,
  ) {
    this.assignor = assignor;
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedUnique(names: readonly string[]): string[] {
  return [...new Set(names)].sort(compareStrings);
}

function stringArraysEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

function metadataEqual(a: MemberMetadata, b: MemberMetadata): boolean {
  return (
    a.instanceId === b.instanceId &&
    a.clientId === b.clientId &&
    a.clientHost === b.clientHost &&
    stringArraysEqual(a.subscribedTopicNames, b.subscribedTopicNames) &&
    a.subscribedTopicRegex === b.subscribedTopicRegex &&
    a.rebalanceTimeoutMs === b.rebalanceTimeoutMs &&
    a.serverAssignor === b.serverAssignor
  );
}

function currentsEqual(a: MemberCurrent, b: MemberCurrent): boolean {
  return (
    a.memberEpoch === b.memberEpoch &&
    a.previousMemberEpoch === b.previousMemberEpoch &&
    a.state === b.state &&
    partitionSetsEqual(a.assigned, b.assigned) &&
    partitionSetsEqual(a.pendingRevocation, b.pendingRevocation)
  );
}

function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

export class GroupCoordinatorShard {
  /** The "__consumer_offsets" partition this shard is. */
  readonly partition: number;
  private readonly config: CoordinatorConfig;
  private readonly topics: TopicView;
  private readonly newMemberId: () => string;
  private readonly groups = new Map<string, GroupState>();
  private isLoaded = false;
  private readonly regexes = new Map<string, TopicPattern>();
  private regexMatchCache: { names: readonly string[]; byPattern: Map<string, readonly string[]> } | undefined;

  constructor(options: {
    partition: number;
    config: CoordinatorConfig;
    topics: TopicView;
    /** Member ids the coordinator picks (a UUID by default; tests pass a counter). */
    newMemberId?: () => string;
  }) {
    assert(Number.isInteger(options.partition) && options.partition >= 0, 'the shard is a partition index');
    assert(options.config.sessionTimeoutMs > 0, 'the session timeout is positive');
    assert(options.config.heartbeatIntervalMs > 0, 'the heartbeat interval is positive');
    assert(options.config.groupMembersMax >= 1, 'a group may have a member');
    assert(options.config.groupMembersMax <= groupMembersMaxLimit, 'groups.max_size is within its bound');
    assert(options.config.offsetsRetentionMs > 0, 'the offsets retention is positive');
    assert(isAssignorName(options.config.defaultAssignor), 'the default assignor is known');
    this.partition = options.partition;
    this.config = options.config;
    this.topics = options.topics;
    this.newMemberId = options.newMemberId ?? randomUUID;
  }

  // ------------------------------------------------------------------------------------------
  // Replay: the only place that changes the durable state.

  /** Replays one committed record (on load, in log order); the latest record per key wins. */
  replay(record: GroupRecord): void {
    switch (record.type) {
      case 'group': {
        const group = this.groupFor(record.groupId);
        group.hasRecord = true;
        group.groupEpoch = record.groupEpoch;
        group.assignmentEpoch = record.assignmentEpoch;
        group.assignor = record.assignor;
        group.createdMs = record.createdMs;
        group.emptySinceMs = record.emptySinceMs;
        return;
      }
      case 'group-tombstone':
        this.groups.delete(record.groupId);
        return;
      case 'member': {
        const group = this.groupFor(record.groupId);
        this.forgetStatic(group, record.memberId);
        group.members.set(record.memberId, {
          instanceId: record.instanceId,
          clientId: record.clientId,
          clientHost: record.clientHost,
          subscribedTopicNames: [...record.subscribedTopicNames],
          subscribedTopicRegex: record.subscribedTopicRegex,
          rebalanceTimeoutMs: record.rebalanceTimeoutMs,
          serverAssignor: record.serverAssignor,
        });
        if (record.instanceId !== '') group.staticMembers.set(record.instanceId, record.memberId);
        return;
      }
      case 'member-tombstone': {
        const group = this.groups.get(record.groupId);
        if (group === undefined) return;
        this.forgetStatic(group, record.memberId);
        group.members.delete(record.memberId);
        group.deadlines.delete(record.memberId);
        return;
      }
      case 'target': {
        const group = this.groupFor(record.groupId);
        group.targets.set(record.memberId, { assignmentEpoch: record.assignmentEpoch, partitions: record.partitions });
        group.targetsVersion++;
        return;
      }
      case 'target-tombstone': {
        const group = this.groups.get(record.groupId);
        if (group === undefined) return;
        group.targets.delete(record.memberId);
        group.targetsVersion++;
        return;
      }
      case 'current': {
        const group = this.groupFor(record.groupId);
        this.releaseOwnership(group, record.memberId);
        const current: MemberCurrent = {
          memberEpoch: record.memberEpoch,
          previousMemberEpoch: record.previousMemberEpoch,
          state: record.state,
          assigned: record.assigned,
          pendingRevocation: record.pendingRevocation,
        };
        group.currents.set(record.memberId, current);
        this.takeOwnership(group, record.memberId, current.assigned);
        this.takeOwnership(group, record.memberId, current.pendingRevocation);
        return;
      }
      case 'current-tombstone': {
        const group = this.groups.get(record.groupId);
        if (group === undefined) return;
        this.releaseOwnership(group, record.memberId);
        group.currents.delete(record.memberId);
        return;
      }
      case 'offset': {
        const group = this.groupFor(record.groupId);
        let byPartition = group.offsets.get(record.topic);
        if (byPartition === undefined) group.offsets.set(record.topic, (byPartition = new Map<number, OffsetValue>()));
        byPartition.set(record.partition, {
          offset: record.offset,
          metadata: record.metadata,
          commitTimestampMs: record.commitTimestampMs,
          memberEpoch: record.memberEpoch,
        });
        return;
      }
      case 'offset-tombstone': {
        const byPartition = this.groups.get(record.groupId)?.offsets.get(record.topic);
        if (byPartition === undefined) return;
        byPartition.delete(record.partition);
        if (byPartition.size === 0) this.groups.get(record.groupId)?.offsets.delete(record.topic);
        return;
      }
    }
  }

  /** After the last replayed record: arms every member's deadlines from nowMs. */
  loaded(nowMs: number): void {
    for (const group of this.groups.values()) {
      for (const memberId of group.members.keys()) {
        const current = group.currents.get(memberId) ?? initialCurrent;
        group.deadlines.set(memberId, {
          sessionMs: nowMs + this.config.sessionTimeoutMs,
          revocationMs:
            current.state === 'unrevoked_partitions' ? nowMs + this.rebalanceTimeoutOf(group, memberId) : undefined,
        });
      }
    }
    this.isLoaded = true;
  }

  private groupFor(groupId: string): GroupState {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = new GroupState(groupId, this.config.defaultAssignor);
      this.groups.set(groupId, group);
    }
    return group;
  }

  private forgetStatic(group: GroupState, memberId: string): void {
    const instanceId = group.members.get(memberId)?.instanceId;
    if (instanceId !== undefined && instanceId !== '' && group.staticMembers.get(instanceId) === memberId) {
      group.staticMembers.delete(instanceId);
    }
  }

  private releaseOwnership(group: GroupState, memberId: string): void {
    const current = group.currents.get(memberId);
    if (current === undefined) return;
    for (const set of [current.assigned, current.pendingRevocation]) {
      for (const [topic, partition] of partitionsOf(set)) {
        const byPartition = group.owners.get(topic);
        assert(byPartition?.get(partition) === memberId, 'a member releases only what it holds');
        byPartition.delete(partition);
        if (byPartition.size === 0) group.owners.delete(topic);
      }
    }
  }

  private takeOwnership(group: GroupState, memberId: string, set: TopicPartitionSet): void {
    for (const [topic, partition] of partitionsOf(set)) {
      let byPartition = group.owners.get(topic);
      if (byPartition === undefined) group.owners.set(topic, (byPartition = new Map<number, string>()));
      // The heart of the protocol: a partition is handed to a member only once no other holds it.
      assert(!byPartition.has(partition), 'no partition is held by two members');
      byPartition.set(partition, memberId);
    }
  }

  /** Applies a record and collects it for the caller to append. */
  private emit(records: GroupRecord[], record: GroupRecord): void {
    this.replay(record);
    records.push(record);
  }

  private emitGroup(records: GroupRecord[], group: GroupState, changes: Partial<GroupFields>): void {
    this.emit(records, {
      type: 'group',
      groupId: group.groupId,
      groupEpoch: changes.groupEpoch ?? group.groupEpoch,
      assignmentEpoch: changes.assignmentEpoch ?? group.assignmentEpoch,
      assignor: changes.assignor ?? group.assignor,
      createdMs: changes.createdMs ?? group.createdMs,
      emptySinceMs: changes.emptySinceMs ?? group.emptySinceMs,
    });
  }

  private emitMember(records: GroupRecord[], group: GroupState, memberId: string, metadata: MemberMetadata): void {
    this.emit(records, { type: 'member', groupId: group.groupId, memberId, ...metadata });
  }

  private emitCurrent(records: GroupRecord[], group: GroupState, memberId: string, current: MemberCurrent): void {
    this.emit(records, { type: 'current', groupId: group.groupId, memberId, ...current });
  }

  // ------------------------------------------------------------------------------------------
  // ConsumerGroupHeartbeat

  heartbeat(
    request: ConsumerGroupHeartbeatRequest,
    clientHost: string,
    nowMs: number,
  ): ShardResult<ConsumerGroupHeartbeatResponse> {
    assert(this.isLoaded, 'the shard answers only after loaded()');
    const fieldError = checkHeartbeat(request);
    if (fieldError !== undefined) return this.heartbeatError(fieldError, request.memberId);
    if (request.memberEpoch === leaveMemberEpoch || request.memberEpoch === staticLeaveMemberEpoch) {
      return this.leave(request, nowMs);
    }
    if (request.memberEpoch === joinMemberEpoch) return this.join(request, clientHost, nowMs);

    const group = this.groups.get(request.groupId);
    const metadata = group?.members.get(request.memberId);
    if (group === undefined || metadata === undefined) {
      return this.heartbeatError(unknownMember(request.groupId, request.memberId), request.memberId);
    }
    if (request.instanceId !== '' && request.instanceId !== metadata.instanceId) {
      return this.heartbeatError(unknownMember(request.groupId, request.memberId), request.memberId);
    }
    const current = group.currents.get(request.memberId) ?? initialCurrent;
    const owned = request.owned == null ? null : partitionSetFromWire(request.owned.topicPartitions);
    if (!this.epochAccepted(current, request.memberEpoch, owned)) {
      return this.heartbeatError(
        {
          errorCode: ErrorCode.FENCED_MEMBER_EPOCH,
          errorMessage: `member epoch ${request.memberEpoch} is not the member's epoch ${current.memberEpoch}: drop every partition and join again with epoch 0`,
        },
        request.memberId,
      );
    }
    return this.update(group, request.memberId, metadata, current, request, clientHost, owned, false, nowMs, []);
  }

  /**
   * The member's epoch, or its previous one with owned partitions it still may hold (the answer
   * that bumped its epoch was lost): Kafka's rule.
   */
  private epochAccepted(current: MemberCurrent, epoch: number, owned: TopicPartitionSet | null): boolean {
    if (epoch === current.memberEpoch) return true;
    if (epoch > current.memberEpoch) return false;
    return epoch === current.previousMemberEpoch && owned !== null && isPartitionSubset(owned, current.assigned);
  }

  private join(
    request: ConsumerGroupHeartbeatRequest,
    clientHost: string,
    nowMs: number,
  ): ShardResult<ConsumerGroupHeartbeatResponse> {
    const names = request.subscribedTopics?.names ?? [];
    const pattern = request.subscribedTopicRegex?.pattern ?? '';
    if (names.length === 0 && pattern === '') {
      return this.heartbeatError(
        {
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: 'a join needs subscribed_topics or subscribed_topic_regex',
        },
        request.memberId,
      );
    }
    const group = this.groups.get(request.groupId);
    const records: GroupRecord[] = [];
    const owned = request.owned == null ? null : partitionSetFromWire(request.owned.topicPartitions);

    // Who this join is: a static member taking its instance id back, a member rejoining under its
    // own id (it dropped its partitions), or a new member.
    const heldBy = request.instanceId === '' ? undefined : group?.staticMembers.get(request.instanceId);
    const existing = request.memberId === '' ? undefined : group?.members.get(request.memberId);
    if (group !== undefined && heldBy !== undefined && heldBy !== request.memberId) {
      const held = group.currents.get(heldBy) ?? initialCurrent;
      if (held.memberEpoch !== staticLeaveMemberEpoch) {
        return this.heartbeatError(
          {
            errorCode: ErrorCode.UNRELEASED_INSTANCE_ID,
            errorMessage: `instance id ${request.instanceId} is held by live member ${heldBy}: stop the other instance, or wait for its session to time out`,
          },
          request.memberId,
        );
      }
      if (existing !== undefined) {
        return this.heartbeatError(
          { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `member id ${request.memberId} is another member's` },
          request.memberId,
        );
      }
      const memberId = request.memberId === '' ? this.freshMemberId(group) : request.memberId;
      return this.replaceStatic(group, heldBy, memberId, request, clientHost, owned, nowMs);
    }
    if (existing !== undefined) {
      assert(group !== undefined, 'a member is in a group');
      if (existing.instanceId !== request.instanceId) {
        return this.heartbeatError(
          {
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `instance_id '${request.instanceId}' is not member ${request.memberId}'s ('${existing.instanceId}')`,
          },
          request.memberId,
        );
      }
      const held = group.currents.get(request.memberId) ?? initialCurrent;
      // A static member back from a -2 leave under its own id keeps its assignment; any other
      // member rejoining with epoch 0 has dropped its partitions (groups.proto, Membership 5).
      const base: MemberCurrent =
        held.memberEpoch === staticLeaveMemberEpoch
          ? resumedCurrent(held)
          : { ...initialCurrent, previousMemberEpoch: held.memberEpoch };
      return this.update(group, request.memberId, existing, base, request, clientHost, owned, true, nowMs, records);
    }
    if (group !== undefined && group.members.size >= this.config.groupMembersMax) {
      return this.heartbeatError(
        {
          errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED,
          errorMessage: `group ${request.groupId} has ${group.members.size} members, its maximum (groups.max_size)`,
        },
        request.memberId,
      );
    }
    const target = group ?? this.createGroup(request.groupId, nowMs, records);
    const memberId = request.memberId === '' ? this.freshMemberId(target) : request.memberId;
    return this.update(target, memberId, undefined, initialCurrent, request, clientHost, owned, true, nowMs, records);
  }

  private createGroup(groupId: string, nowMs: number, records: GroupRecord[]): GroupState {
    this.emit(records, {
      type: 'group',
      groupId,
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignor: this.config.defaultAssignor,
      createdMs: nowMs,
      emptySinceMs: nowMs,
    });
    return this.groups.get(groupId) as GroupState;
  }

  private freshMemberId(group: GroupState): string {
    for (let attempt = 0; attempt < 8; attempt++) {
      const memberId = this.newMemberId();
      if (!group.members.has(memberId)) return memberId;
    }
    assert(false, 'fresh member ids do not collide');
    return '';
  }

  /**
   * A static member rejoins with a new member id after a -2 leave: the new id takes over the old
   * member's target and assignment; no epoch bump unless its subscription changed.
   */
  private replaceStatic(
    group: GroupState,
    oldMemberId: string,
    memberId: string,
    request: ConsumerGroupHeartbeatRequest,
    clientHost: string,
    owned: TopicPartitionSet | null,
    nowMs: number,
  ): ShardResult<ConsumerGroupHeartbeatResponse> {
    const records: GroupRecord[] = [];
    const oldMetadata = group.members.get(oldMemberId) as MemberMetadata;
    const oldTarget = group.targets.get(oldMemberId);
    const base = resumedCurrent(group.currents.get(oldMemberId) ?? initialCurrent);
    this.emitRemoval(records, group, oldMemberId);
    if (oldTarget !== undefined) {
      this.emit(records, { type: 'target', groupId: group.groupId, memberId, ...oldTarget });
    }
    this.emitMember(records, group, memberId, oldMetadata);
    return this.update(group, memberId, oldMetadata, base, request, clientHost, owned, true, nowMs, records);
  }

  /**
   * The common part of a join and a heartbeat: update the member's metadata (bumping the group
   * epoch when its subscription changed), recompute the target when the epoch moved, then
   * reconcile the member (Kafka's CurrentAssignmentBuilder) and answer.
   */
  private update(
    group: GroupState,
    memberId: string,
    old: MemberMetadata | undefined,
    base: MemberCurrent,
    request: ConsumerGroupHeartbeatRequest,
    clientHost: string,
    owned: TopicPartitionSet | null,
    isJoin: boolean,
    nowMs: number,
    records: GroupRecord[],
  ): ShardResult<ConsumerGroupHeartbeatResponse> {
    const metadata: MemberMetadata = {
      instanceId: request.instanceId !== '' ? request.instanceId : (old?.instanceId ?? ''),
      clientId: isJoin || request.clientId !== '' ? wellFormedText(request.clientId) : (old?.clientId ?? ''),
      // The wiring's view of the peer address; bounded like the fields a client sends.
      clientHost:
        clientHost !== '' ? wellFormedText(clientHost.slice(0, clientHostLengthMax)) : (old?.clientHost ?? ''),
      subscribedTopicNames:
        request.subscribedTopics != null
          ? sortedUnique(request.subscribedTopics.names)
          : (old?.subscribedTopicNames ?? []),
      subscribedTopicRegex:
        request.subscribedTopicRegex != null ? request.subscribedTopicRegex.pattern : (old?.subscribedTopicRegex ?? ''),
      rebalanceTimeoutMs:
        request.rebalanceTimeoutMs > 0
          ? request.rebalanceTimeoutMs
          : (old?.rebalanceTimeoutMs ?? rebalanceTimeoutMsDefault),
      serverAssignor: request.serverAssignor !== '' ? request.serverAssignor : (old?.serverAssignor ?? ''),
    };
    const storedMetadata = group.members.get(memberId);
    const subscriptionChanged =
      old === undefined ||
      !stringArraysEqual(old.subscribedTopicNames, metadata.subscribedTopicNames) ||
      old.subscribedTopicRegex !== metadata.subscribedTopicRegex ||
      old.serverAssignor !== metadata.serverAssignor;
    if (storedMetadata === undefined || !metadataEqual(storedMetadata, metadata))
      this.emitMember(records, group, memberId, metadata);
    if (subscriptionChanged || group.groupEpoch > group.assignmentEpoch) {
      this.bumpAndAssign(group, subscriptionChanged, records);
    } else if (group.emptySinceMs !== -1) {
      this.emitGroup(records, group, { emptySinceMs: -1 });
    }

    // `base` is the stored current, or what a join starts from (not written: only where it ends).
    const before = base;
    const next = this.reconcile(group, memberId, before, owned);
    assert(next.memberEpoch > 0, 'a heartbeating member has a positive epoch');
    const stored = group.currents.get(memberId);
    if (stored === undefined || !currentsEqual(stored, next)) this.emitCurrent(records, group, memberId, next);

    const deadlines = group.deadlines.get(memberId) ?? { sessionMs: 0, revocationMs: undefined };
    deadlines.sessionMs = nowMs + this.config.sessionTimeoutMs;
    if (next.state !== 'unrevoked_partitions') deadlines.revocationMs = undefined;
    else if (deadlines.revocationMs === undefined || before.state !== 'unrevoked_partitions') {
      deadlines.revocationMs = nowMs + metadata.rebalanceTimeoutMs;
    }
    group.deadlines.set(memberId, deadlines);

    // groups.proto: `assignment` is set when the member must learn something, and unset means
    // unchanged: on a join, when its epoch moves (a lost answer's retry from the previous epoch
    // included), or when what it should own differs from what the request says it has (`owned`, or
    // when unset what it was last told). Kafka sends it whenever `owned` is set; here a stable
    // member's heartbeats stay small.
    const reported = owned ?? before.assigned;
    const sendAssignment =
      isJoin || next.memberEpoch !== request.memberEpoch || !partitionSetsEqual(reported, next.assigned);
    return {
      response: {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        memberId,
        memberEpoch: next.memberEpoch,
        heartbeatIntervalMs: this.config.heartbeatIntervalMs,
        assignment: sendAssignment ? { topicPartitions: partitionSetToWire(next.assigned) } : null,
        leaderId: 0,
      },
      records,
    };
  }

  /**
   * Kafka's CurrentAssignmentBuilder. A member first revokes what left its target (staying at its
   * epoch), then moves to the assignment epoch and gets the partitions of its target that no
   * other member holds; the rest it gets on later heartbeats, once their holders let go.
   */
  private reconcile(
    group: GroupState,
    memberId: string,
    current: MemberCurrent,
    owned: TopicPartitionSet | null,
  ): MemberCurrent {
    switch (current.state) {
      case 'stable':
        if (current.memberEpoch === group.assignmentEpoch) return current;
        return this.nextAssignment(group, memberId, current);
      case 'unrevoked_partitions':
        // Not reported (owned unset) means unchanged: it still holds them.
        if (owned === null || partitionSetsIntersect(owned, current.pendingRevocation)) return current;
        return this.nextAssignment(group, memberId, { ...current, pendingRevocation: emptyPartitionSet });
      case 'unreleased_partitions':
        return this.nextAssignment(group, memberId, current);
    }
  }

  private nextAssignment(group: GroupState, memberId: string, current: MemberCurrent): MemberCurrent {
    const target = group.targets.get(memberId)?.partitions ?? emptyPartitionSet;
    const kept = partitionSetIntersection(current.assigned, target);
    const revoking = partitionSetUnion(partitionSetDifference(current.assigned, target), current.pendingRevocation);
    if (revoking.size > 0) {
      return {
        memberEpoch: current.memberEpoch,
        previousMemberEpoch: current.previousMemberEpoch,
        state: 'unrevoked_partitions',
        assigned: kept,
        pendingRevocation: revoking,
      };
    }
    const wanted = partitionSetDifference(target, current.assigned);
    const free = new Map<string, number[]>();
    let unreleased = false;
    for (const [topic, partition] of partitionsOf(wanted)) {
      const holder = group.owners.get(topic)?.get(partition);
      if (holder !== undefined && holder !== memberId) {
        unreleased = true;
        continue;
      }
      let list = free.get(topic);
      if (list === undefined) free.set(topic, (list = []));
      list.push(partition);
    }
    const epoch = group.assignmentEpoch;
    return {
      memberEpoch: epoch,
      previousMemberEpoch: current.memberEpoch !== epoch ? current.memberEpoch : current.previousMemberEpoch,
      state: unreleased ? 'unreleased_partitions' : 'stable',
      assigned: partitionSetUnion(kept, partitionSet(free)),
      pendingRevocation: emptyPartitionSet,
    };
  }

  private leave(request: ConsumerGroupHeartbeatRequest, nowMs: number): ShardResult<ConsumerGroupHeartbeatResponse> {
    const group = this.groups.get(request.groupId);
    const metadata = group?.members.get(request.memberId);
    // A static member leaving for good (-1) may leave its instance id out; a -2 leave must name it.
    const instanceMatches =
      metadata !== undefined &&
      (metadata.instanceId === request.instanceId ||
        (request.memberEpoch === leaveMemberEpoch && request.instanceId === ''));
    if (group === undefined || metadata === undefined || !instanceMatches) {
      // Already gone (a retried leave, a session that timed out): the caller treats it as left.
      return this.heartbeatError(unknownMember(request.groupId, request.memberId), request.memberId);
    }
    const records: GroupRecord[] = [];
    if (request.memberEpoch === leaveMemberEpoch) {
      this.removeMembers(group, [request.memberId], nowMs, records);
    } else {
      // A static member away for a while: it keeps what it holds (so a restart resumes it without a
      // rebalance) until its session times out; what it was revoking it no longer reads.
      const current = group.currents.get(request.memberId) ?? initialCurrent;
      if (current.memberEpoch !== staticLeaveMemberEpoch) {
        this.emitCurrent(records, group, request.memberId, {
          memberEpoch: staticLeaveMemberEpoch,
          previousMemberEpoch: current.memberEpoch,
          state: 'stable',
          assigned: current.assigned,
          pendingRevocation: emptyPartitionSet,
        });
      }
      group.deadlines.set(request.memberId, {
        sessionMs: nowMs + this.config.sessionTimeoutMs,
        revocationMs: undefined,
      });
    }
    return {
      response: {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        memberId: request.memberId,
        memberEpoch: request.memberEpoch,
        heartbeatIntervalMs: 0,
        assignment: null,
        leaderId: 0,
      },
      records,
    };
  }

  private heartbeatError(error: FieldError, memberId: string): ShardResult<ConsumerGroupHeartbeatResponse> {
    return {
      response: {
        errorCode: error.errorCode,
        errorMessage: error.errorMessage,
        memberId,
        memberEpoch: 0,
        heartbeatIntervalMs: this.config.heartbeatIntervalMs,
        assignment: null,
        leaderId: 0,
      },
      records: [],
    };
  }

  // ------------------------------------------------------------------------------------------
  // Membership changes and the target assignment

  /** Tombstones of a member (current, target, member, in that order), without an epoch bump. */
  private emitRemoval(records: GroupRecord[], group: GroupState, memberId: string): void {
    const groupId = group.groupId;
    if (group.currents.has(memberId)) this.emit(records, { type: 'current-tombstone', groupId, memberId });
    if (group.targets.has(memberId)) this.emit(records, { type: 'target-tombstone', groupId, memberId });
    this.emit(records, { type: 'member-tombstone', groupId, memberId });
  }

  private removeMembers(group: GroupState, memberIds: readonly string[], nowMs: number, records: GroupRecord[]): void {
    for (const memberId of memberIds) this.emitRemoval(records, group, memberId);
    if (group.members.size === 0) {
      const epoch = group.groupEpoch + 1;
      this.emitGroup(records, group, { groupEpoch: epoch, assignmentEpoch: epoch, emptySinceMs: nowMs });
      return;
    }
    this.bumpAndAssign(group, true, records);
  }

  /** Bumps the group epoch (when `bump`), computes the target for it, writes what changed. */
  private bumpAndAssign(group: GroupState, bump: boolean, records: GroupRecord[]): void {
    const epoch = bump ? group.groupEpoch + 1 : group.groupEpoch;
    assert(epoch <= epochMax, 'the group epoch fits an int32');
    const assignor = this.preferredAssignor(group);
    const { members, partitionCounts } = this.assignmentInput(group);
    const previousTarget = new Map<string, TopicPartitionSet>();
    for (const [memberId, target] of group.targets) previousTarget.set(memberId, target.partitions);
    const assignment = assignors[assignor]({ members, partitionCounts, previousTarget });
    for (const [memberId, partitions] of assignment) {
      const previous = group.targets.get(memberId);
      if (previous !== undefined && partitionSetsEqual(previous.partitions, partitions)) continue;
      this.emit(records, { type: 'target', groupId: group.groupId, memberId, assignmentEpoch: epoch, partitions });
    }
    this.emitGroup(records, group, { groupEpoch: epoch, assignmentEpoch: epoch, assignor, emptySinceMs: -1 });
  }

  /** The assignor most members name (ties: the first by name), else the configured default. */
  private preferredAssignor(group: GroupState): AssignorName {
    const votes = new Map<string, number>();
    for (const metadata of group.members.values()) {
      if (metadata.serverAssignor !== '')
        votes.set(metadata.serverAssignor, (votes.get(metadata.serverAssignor) ?? 0) + 1);
    }
    let best: string | undefined;
    for (const [name, count] of [...votes].sort((a, b) => compareStrings(a[0], b[0]))) {
      if (best === undefined || count > (votes.get(best) as number)) best = name;
    }
    return best !== undefined && isAssignorName(best) ? best : this.config.defaultAssignor;
  }

  private assignmentInput(group: GroupState): {
    members: AssignmentMember[];
    partitionCounts: Map<string, number>;
  } {
    const partitionCounts = new Map<string, number>();
    const members: AssignmentMember[] = [];
    for (const memberId of [...group.members.keys()].sort(compareStrings)) {
      const metadata = group.members.get(memberId) as MemberMetadata;
      const subscribed = new Set<string>();
      for (const topic of this.subscribedTopics(metadata)) {
        const count = partitionCounts.get(topic) ?? this.topics.partitionCount(topic);
        if (count === undefined || count <= 0) continue;
        partitionCounts.set(topic, count);
        subscribed.add(topic);
      }
      members.push({ memberId, instanceId: metadata.instanceId, subscribedTopics: subscribed });
    }
    return { members, partitionCounts };
  }

  /** Names and regex matches (existing or not: the caller checks). */
  private subscribedTopics(metadata: MemberMetadata): Iterable<string> {
    if (metadata.subscribedTopicRegex === '') return metadata.subscribedTopicNames;
    return new Set([...metadata.subscribedTopicNames, ...this.regexMatches(metadata.subscribedTopicRegex)]);
  }

  private regexMatches(pattern: string): readonly string[] {
    const names = this.topics.topicNames();
    if (this.regexMatchCache === undefined || this.regexMatchCache.names !== names) {
      this.regexMatchCache = { names, byPattern: new Map() };
    }
    const cached = this.regexMatchCache.byPattern.get(pattern);
    if (cached !== undefined) return cached;
    let regex = this.regexes.get(pattern);
    if (regex === undefined) {
      // Validated when the member subscribed; a pattern that no longer compiles matches nothing.
      regex = compileSubscriptionRegex(pattern) ?? { matches: () => false };
      if (this.regexes.size >= regexCacheEntriesMax) this.regexes.clear();
      this.regexes.set(pattern, regex);
    }
    const matches = names.filter((name) => !name.startsWith('__') && regex.matches(name));
    if (this.regexMatchCache.byPattern.size >= regexCacheEntriesMax) this.regexMatchCache.byPattern.clear();
    this.regexMatchCache.byPattern.set(pattern, matches);
    return matches;
  }

  private rebalanceTimeoutOf(group: GroupState, memberId: string): number {
    return group.members.get(memberId)?.rebalanceTimeoutMs ?? rebalanceTimeoutMsDefault;
  }

  /** Partition counts the current targets imply (assignors give out every subscribed partition). */
  private targetCounts(group: GroupState): Map<string, number> {
    if (group.targetCountsCache?.version === group.targetsVersion) return group.targetCountsCache.counts;
    const counts = new Map<string, number>();
    for (const target of group.targets.values()) {
      for (const [topic, partitions] of target.partitions) {
        const last = partitions[partitions.length - 1] as number;
        counts.set(topic, Math.max(counts.get(topic) ?? 0, last + 1));
      }
    }
    group.targetCountsCache = { version: group.targetsVersion, counts };
    return counts;
  }

  private metadataChanged(group: GroupState): boolean {
    const { partitionCounts } = this.assignmentInput(group);
    const implied = this.targetCounts(group);
    if (implied.size !== partitionCounts.size) return true;
    for (const [topic, count] of partitionCounts) if (implied.get(topic) !== count) return true;
    return false;
  }

  // ------------------------------------------------------------------------------------------
  // OffsetCommit / OffsetFetch

  commitOffsets(request: OffsetCommitRequest, nowMs: number): ShardResult<OffsetCommitResponse> {
    assert(this.isLoaded, 'the shard answers only after loaded()');
    const everyPartition = (error: FieldError): ShardResult<OffsetCommitResponse> => ({
      response: {
        partitions: request.partitions.map((partition) => ({
          topic: partition.topic,
          partition: partition.partition,
          errorCode: error.errorCode,
          errorMessage: error.errorMessage,
        })),
        leaderId: 0,
      },
      records: [],
    });
    const groupError = checkGroupId(request.groupId);
    if (groupError !== undefined) return everyPartition(groupError);
    if (request.partitions.length > offsetPartitionsPerRequestMax) {
      return everyPartition({
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `${request.partitions.length} partitions in one commit, more than ${offsetPartitionsPerRequestMax}`,
      });
    }
    let group = this.groups.get(request.groupId);
    const records: GroupRecord[] = [];
    let memberEpoch: number;
    if (request.memberId === '') {
      if (request.memberEpoch !== adminCommitMemberEpoch) {
        return everyPartition(unknownMember(request.groupId, request.memberId));
      }
      if (group !== undefined && group.members.size > 0) {
        return everyPartition({
          errorCode: ErrorCode.NON_EMPTY_GROUP,
          errorMessage: `group ${request.groupId} has ${group.members.size} members: an admin commit needs an empty group`,
        });
      }
      memberEpoch = adminCommitMemberEpoch;
    } else {
      const current = group?.members.has(request.memberId) === true ? group.currents.get(request.memberId) : undefined;
      if (current === undefined) return everyPartition(unknownMember(request.groupId, request.memberId));
      if (request.memberEpoch < current.memberEpoch) {
        return everyPartition({
          errorCode: ErrorCode.STALE_MEMBER_EPOCH,
          errorMessage: `member epoch ${request.memberEpoch} is older than the member's ${current.memberEpoch}: heartbeat, then commit again`,
        });
      }
      if (request.memberEpoch > current.memberEpoch) {
        return everyPartition({
          errorCode: ErrorCode.FENCED_MEMBER_EPOCH,
          errorMessage: `member epoch ${request.memberEpoch} is newer than the member's ${current.memberEpoch}: drop every partition and join again`,
        });
      }
      memberEpoch = request.memberEpoch;
    }
    const results: OffsetCommitPartitionResult[] = [];
    for (const partition of request.partitions) {
      const error = this.checkCommitPartition(
        partition.topic,
        partition.partition,
        partition.offset,
        partition.metadata,
      );
      results.push({
        topic: partition.topic,
        partition: partition.partition,
        errorCode: error?.errorCode ?? ErrorCode.NONE,
        errorMessage: error?.errorMessage ?? '',
      });
      if (error !== undefined) continue;
      group ??= this.createGroup(request.groupId, nowMs, records);
      this.emit(records, {
        type: 'offset',
        groupId: request.groupId,
        topic: partition.topic,
        partition: partition.partition,
        offset: partition.offset,
        metadata: wellFormedText(partition.metadata),
        commitTimestampMs: nowMs,
        memberEpoch,
      });
    }
    return { response: { partitions: results, leaderId: 0 }, records };
  }

  private checkCommitPartition(
    topic: string,
    partition: number,
    offset: number,
    metadata: string,
  ): FieldError | undefined {
    if (utf8Bytes(metadata) > commitMetadataBytesMax) {
      return {
        errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE,
        errorMessage: `commit metadata is ${utf8Bytes(metadata)} bytes, more than ${commitMetadataBytesMax}`,
      };
    }
    if (!Number.isSafeInteger(offset) || offset < 0) {
      return { errorCode: ErrorCode.INVALID_COMMIT_OFFSET, errorMessage: `offset ${offset} must be 0 or more` };
    }
    const count = topic.startsWith('__') ? undefined : this.topics.partitionCount(topic);
    if (count === undefined || !Number.isInteger(partition) || partition < 0 || partition >= count) {
      return {
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: `no partition ${partition} of topic ${topic.slice(0, 64)}`,
      };
    }
    return undefined;
  }

  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResponse {
    const groupError = checkGroupId(request.groupId);
    if (groupError !== undefined) return { ...groupError, partitions: [], leaderId: 0 };
    const requested = request.partitions.reduce((sum, entry) => sum + entry.partitions.length, 0);
    if (requested > offsetPartitionsPerRequestMax) {
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `${requested} partitions in one fetch, more than ${offsetPartitionsPerRequestMax}`,
        partitions: [],
        leaderId: 0,
      };
    }
    const offsets = this.groups.get(request.groupId)?.offsets;
    const result = (topic: string, partition: number): OffsetFetchPartitionResult => {
      const value = offsets?.get(topic)?.get(partition);
      return {
        topic,
        partition,
        committedOffset: value?.offset ?? -1,
        metadata: value?.metadata ?? '',
        commitTimestampMs: value?.commitTimestampMs ?? 0,
      };
    };
    const partitions: OffsetFetchPartitionResult[] = [];
    if (request.partitions.length === 0) {
      for (const topic of [...(offsets?.keys() ?? [])].sort(compareStrings)) {
        const byPartition = offsets?.get(topic) as Map<number, OffsetValue>;
        for (const partition of [...byPartition.keys()].sort((a, b) => a - b))
          partitions.push(result(topic, partition));
      }
    } else {
      for (const entry of request.partitions) {
        for (const partition of entry.partitions) partitions.push(result(entry.topic, partition));
      }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: '', partitions, leaderId: 0 };
  }

  // ------------------------------------------------------------------------------------------
  // Admin: ListGroups, DescribeGroups, DeleteGroups

  private stateOf(group: GroupState): GroupStateName {
    if (group.members.size === 0) return 'empty';
    if (group.groupEpoch > group.assignmentEpoch) return 'assigning';
    for (const memberId of group.members.keys()) {
      const current = group.currents.get(memberId);
      if (current === undefined || current.state !== 'stable' || current.memberEpoch !== group.assignmentEpoch) {
        return 'reconciling';
      }
    }
    return 'stable';
  }

  /** The groups in `states` (all when empty), by group id; coordinatorId is the wiring's to fill. */
  listGroups(states: readonly string[]): ListedGroup[] {
    const wanted = new Set(states);
    const result: ListedGroup[] = [];
    for (const groupId of [...this.groups.keys()].sort(compareStrings)) {
      const group = this.groups.get(groupId) as GroupState;
      const state = this.stateOf(group);
      if (wanted.size > 0 && !wanted.has(state)) continue;
      result.push({ groupId, state, memberCount: group.members.size, coordinatorId: 0 });
    }
    return result;
  }

  /** One group; coordinatorId and leaderId are the wiring's to fill. */
  describeGroup(groupId: string): DescribedGroup {
    const answer = (error: FieldError): DescribedGroup => ({
      groupId,
      errorCode: error.errorCode,
      errorMessage: error.errorMessage,
      state: '',
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignor: '',
      coordinatorId: 0,
      members: [],
      leaderId: 0,
    });
    const groupError = checkGroupId(groupId);
    if (groupError !== undefined) return answer(groupError);
    const group = this.groups.get(groupId);
    if (group === undefined) {
      return answer({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `no group ${groupId}` });
    }
    const members: GroupMember[] = [];
    for (const memberId of [...group.members.keys()].sort(compareStrings)) {
      const metadata = group.members.get(memberId) as MemberMetadata;
      const current = group.currents.get(memberId) ?? initialCurrent;
      members.push({
        memberId,
        instanceId: metadata.instanceId,
        clientId: metadata.clientId,
        clientHost: metadata.clientHost,
        memberEpoch: current.memberEpoch,
        subscribedTopicNames: [...metadata.subscribedTopicNames],
        subscribedTopicRegex: metadata.subscribedTopicRegex,
        // What it holds now: its assignment and what it has yet to revoke.
        assignment: partitionSetToWire(partitionSetUnion(current.assigned, current.pendingRevocation)),
        targetAssignment: partitionSetToWire(group.targets.get(memberId)?.partitions ?? emptyPartitionSet),
        rebalanceTimeoutMs: metadata.rebalanceTimeoutMs,
      });
    }
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      state: this.stateOf(group),
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignor: group.assignor,
      coordinatorId: 0,
      members,
      leaderId: 0,
    };
  }

  deleteGroups(groupIds: readonly string[], _nowMs: number): ShardResult<DeletedGroup[]> {
    const records: GroupRecord[] = [];
    const answer = (groupId: string, error?: FieldError): DeletedGroup => ({
      groupId,
      errorCode: error?.errorCode ?? ErrorCode.NONE,
      errorMessage: error?.errorMessage ?? '',
      leaderId: 0,
    });
    if (groupIds.length > groupIdsPerRequestMax) {
      const error = {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `${groupIds.length} group ids, more than ${groupIdsPerRequestMax}`,
      };
      return { response: groupIds.map((groupId) => answer(groupId, error)), records };
    }
    const response = groupIds.map((groupId) => {
      const groupError = checkGroupId(groupId);
      if (groupError !== undefined) return answer(groupId, groupError);
      const group = this.groups.get(groupId);
      if (group === undefined)
        return answer(groupId, { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `no group ${groupId}` });
      if (group.members.size > 0) {
        return answer(groupId, {
          errorCode: ErrorCode.NON_EMPTY_GROUP,
          errorMessage: `group ${groupId} has ${group.members.size} members: stop them (or wait for their sessions to end) first`,
        });
      }
      this.emitGroupDeletion(records, group);
      return answer(groupId);
    });
    return { response, records };
  }

  /** Offset tombstones, then the group's. The group has no members. */
  private emitGroupDeletion(records: GroupRecord[], group: GroupState): void {
    assert(group.members.size === 0, 'only an empty group is deleted');
    const groupId = group.groupId;
    for (const topic of [...group.offsets.keys()].sort(compareStrings)) {
      const partitions = [...(group.offsets.get(topic) as Map<number, OffsetValue>).keys()].sort((a, b) => a - b);
      for (const partition of partitions) this.emit(records, { type: 'offset-tombstone', groupId, topic, partition });
    }
    // Targets and currents of departed members are tombstoned with them; none are left here.
    this.emit(records, { type: 'group-tombstone', groupId });
  }

  // ------------------------------------------------------------------------------------------
  // Time and metadata

  /**
   * Session and rebalance timeouts, offsets retention, topic metadata changes (partitions added,
   * topics created that match a regex, topics deleted): the records to append.
   */
  tick(nowMs: number): GroupRecord[] {
    assert(this.isLoaded, 'the shard ticks only after loaded()');
    const records: GroupRecord[] = [];
    for (const groupId of [...this.groups.keys()].sort(compareStrings)) {
      const group = this.groups.get(groupId) as GroupState;
      const expired: string[] = [];
      for (const memberId of [...group.members.keys()].sort(compareStrings)) {
        const deadlines = group.deadlines.get(memberId);
        if (deadlines === undefined) continue;
        if (deadlines.sessionMs <= nowMs) expired.push(memberId);
        else if (deadlines.revocationMs !== undefined && deadlines.revocationMs <= nowMs) expired.push(memberId);
      }
      if (expired.length > 0) {
        this.removeMembers(group, expired, nowMs, records);
      } else if (group.members.size > 0 && group.groupEpoch === group.assignmentEpoch && this.metadataChanged(group)) {
        this.bumpAndAssign(group, true, records);
      }
      if (group.members.size === 0 && this.retentionExpired(group, nowMs)) this.emitGroupDeletion(records, group);
    }
    return records;
  }

  private retentionExpired(group: GroupState, nowMs: number): boolean {
    const retentionMs = this.config.offsetsRetentionMs;
    if (group.emptySinceMs < 0 || nowMs - group.emptySinceMs < retentionMs) return false;
    for (const byPartition of group.offsets.values()) {
      for (const value of byPartition.values()) if (nowMs - value.commitTimestampMs < retentionMs) return false;
    }
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // State for the wiring

  /**
   * Every live record of the state (what a compacted log would hold), for the checkpoint the
   * wiring appends before it cuts the log prefix. Replaying these alone rebuilds an equal state.
   */
  checkpointRecords(): GroupRecord[] {
    const records: GroupRecord[] = [];
    for (const groupId of [...this.groups.keys()].sort(compareStrings)) {
      const group = this.groups.get(groupId) as GroupState;
      if (group.hasRecord) {
        records.push({
          type: 'group',
          groupId,
          groupEpoch: group.groupEpoch,
          assignmentEpoch: group.assignmentEpoch,
          assignor: group.assignor,
          createdMs: group.createdMs,
          emptySinceMs: group.emptySinceMs,
        });
      }
      for (const memberId of [...group.members.keys()].sort(compareStrings)) {
        records.push({ type: 'member', groupId, memberId, ...(group.members.get(memberId) as MemberMetadata) });
      }
      for (const memberId of [...group.targets.keys()].sort(compareStrings)) {
        records.push({ type: 'target', groupId, memberId, ...(group.targets.get(memberId) as MemberTarget) });
      }
      for (const memberId of [...group.currents.keys()].sort(compareStrings)) {
        records.push({ type: 'current', groupId, memberId, ...(group.currents.get(memberId) as MemberCurrent) });
      }
      for (const topic of [...group.offsets.keys()].sort(compareStrings)) {
        const byPartition = group.offsets.get(topic) as Map<number, OffsetValue>;
        for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
          records.push({ type: 'offset', groupId, topic, partition, ...(byPartition.get(partition) as OffsetValue) });
        }
      }
    }
    return records;
  }

  /** Committed offsets for lag: (group, topic, partition, offset). */
  *committedOffsets(): Iterable<{ groupId: string; topic: string; partition: number; offset: number }> {
    for (const [groupId, group] of this.groups) {
      for (const [topic, byPartition] of group.offsets) {
        for (const [partition, value] of byPartition) yield { groupId, topic, partition, offset: value.offset };
      }
    }
  }

  groupCount(): number {
    return this.groups.size;
  }

  /** The member that holds the partition (assigned, or still revoking it), if any; for tests and checks. */
  holderOf(groupId: string, topic: string, partition: number): string | undefined {
    return this.groups.get(groupId)?.owners.get(topic)?.get(partition);
  }

  /** Whether a member's assigned set has the partition (tests). */
  isAssigned(groupId: string, memberId: string, topic: string, partition: number): boolean {
    const current = this.groups.get(groupId)?.currents.get(memberId);
    return current !== undefined && hasPartition(current.assigned, topic, partition);
  }
}

interface GroupFields {
  groupEpoch: number;
  assignmentEpoch: number;
  assignor: string;
  createdMs: number;
  emptySinceMs: number;
}

/**
 * Where a static member back from a -2 leave starts: its old assignment at its epoch before the
 * leave; reconciliation then claims what of its target is free (it may have been waiting).
 */
function resumedCurrent(held: MemberCurrent): MemberCurrent {
  return {
    memberEpoch: held.previousMemberEpoch,
    previousMemberEpoch: held.previousMemberEpoch,
    state: 'unreleased_partitions',
    assigned: held.assigned,
    pendingRevocation: emptyPartitionSet,
  };
}

function unknownMember(groupId: string, memberId: string): FieldError {
  return {
    errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
    errorMessage: `member ${memberId.slice(0, 64)} is not in group ${groupId}: drop every partition and join again with epoch 0`,
  };
}
