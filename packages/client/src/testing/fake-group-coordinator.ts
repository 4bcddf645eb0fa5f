/**
 * A FAKE group coordinator for the client's unit tests, behind FakeStreamBusCluster: in memory,
 * one state per group, good enough to exercise the SDK's membership and commits. It is not the
 * broker's coordinator (packages/broker), and it is simpler on purpose:
 *  - assignment is round-robin: every subscribed partition (sorted by topic, partition) goes to
 *    the next member (sorted by member id) that subscribes to its topic;
 *  - revoke before assign: a member is told of a partition only once no other member owns it
 *    (its heartbeat's `owned` says so, or it left or was removed);
 *  - epochs: the group epoch is bumped by every membership or subscription change; a member's
 *    epoch becomes the group epoch when it is sent a new assignment; a heartbeat must carry its
 *    current or previous epoch (else FENCED_MEMBER_EPOCH), a commit its current one (older:
 *    STALE_MEMBER_EPOCH);
 *  - session timeout and rebalance timeout are checked lazily, on every call;
 *  - a static leave (-2) is a leave like -1 (no assignment kept for the instance);
 *  - offsets: committed per group and partition, admin commits only while the group is empty.
 * Not for production.
 */
import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  type DeleteGroupsRequest,
  type DeleteGroupsResponse,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  type GroupMember,
  type ListGroupsResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type TopicPartitions,
} from '@streambus/proto';

export interface FakeGroupCoordinatorOptions {
  /** Partition count of a topic; undefined when it does not exist. */
  readonly partitionsOf: (topic: string) => number | undefined;
  /** Every topic name (for pattern subscriptions). */
  readonly topicNames: () => string[];
  /** The broker id answered as coordinator. */
  readonly coordinatorId: () => number;
  readonly heartbeatIntervalMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly now?: () => number;
}

interface FakeMember {
  readonly memberId: string;
  instanceId: string;
  clientId: string;
  epoch: number;
  previousEpoch: number;
  names: string[];
  pattern: string;
  rebalanceTimeoutMs: number;
  /** What it reported owning. */
  owned: Set<string>;
  /** What it should own (the round-robin result). */
  target: Set<string>;
  /** What it was last told (the target minus partitions still owned by others). */
  sent: Set<string> | undefined;
  lastHeartbeatMs: number;
  /** Since when it has held a partition outside its target (revocation pending), else undefined. */
  revokingSinceMs: number | undefined;
}

interface FakeGroup {
  readonly groupId: string;
  epoch: number;
  assignmentEpoch: number;
  readonly members: Map<string, FakeMember>;
  readonly offsets: Map<string, { offset: number; metadata: string; timestampMs: number }>;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const split = (k: string): { topic: string; partition: number } => {
  const at = k.lastIndexOf('\u0000');
  return { topic: k.slice(0, at), partition: Number(k.slice(at + 1)) };
};

function grouped(keys: Iterable<string>): TopicPartitions[] {
  const byTopic = new Map<string, number[]>();
  for (const k of keys) {
    const { topic, partition } = split(k);
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
  }
  return [...byTopic.keys()]
    .sort()
    .map((topic) => ({ topic, partitions: (byTopic.get(topic) as number[]).sort((a, b) => a - b) }));
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string>): boolean {
  return a !== undefined && a.size === b.size && [...a].every((k) => b.has(k));
}

export class FakeGroupCoordinator {
  /** Every leave heartbeat received (epoch -1 or -2), for assertions. */
  readonly leaves: { groupId: string; memberId: string; memberEpoch: number }[] = [];
  private readonly groups = new Map<string, FakeGroup>();
  private readonly heartbeatIntervalMs: number;
  private readonly sessionTimeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: FakeGroupCoordinatorOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 50;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 45_000;
    this.now = options.now ?? Date.now;
  }

  /** Removes a member at once, as a session timeout would: its next call gets UNKNOWN_MEMBER_ID. */
  expireMember(groupId: string, memberId: string): boolean {
    const group = this.groups.get(groupId);
    if (group === undefined || !group.members.delete(memberId)) return false;
    this.bump(group);
    return true;
  }

  /** Member ids of a group, and what each reported owning (for assertions). */
  ownership(groupId: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const m of this.groups.get(groupId)?.members.values() ?? [])
      out.set(m.memberId, [...m.owned].map((k) => `${split(k).topic}/${split(k).partition}`).sort());
    return out;
  }

  /** The committed offset of a partition, -1 when none. */
  committedOffset(groupId: string, topic: string, partition: number): number {
    return this.groups.get(groupId)?.offsets.get(key(topic, partition))?.offset ?? -1;
  }

  heartbeat(request: ConsumerGroupHeartbeatRequest, clientHost: string): ConsumerGroupHeartbeatResponse {
    const base = { memberId: request.memberId, memberEpoch: request.memberEpoch, heartbeatIntervalMs: 0, leaderId: 0 };
    const fail = (errorCode: ErrorCode, errorMessage: string): ConsumerGroupHeartbeatResponse => ({
      ...base,
      errorCode,
      errorMessage,
      assignment: null,
    });
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(request.groupId)) return fail(ErrorCode.INVALID_GROUP_ID, 'bad group id');
    const group = this.group(request.groupId);
    this.expire(group);
    if (request.memberEpoch === -1 || request.memberEpoch === -2) {
      this.leaves.push({ groupId: request.groupId, memberId: request.memberId, memberEpoch: request.memberEpoch });
      if (group.members.delete(request.memberId)) this.bump(group);
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: '', assignment: null };
    }
    let member = group.members.get(request.memberId);
    if (request.memberEpoch === 0) {
      const names = request.subscribedTopics?.names ?? [];
      const pattern = request.subscribedTopicRegex?.pattern ?? '';
      if (names.length === 0 && pattern === '')
        return fail(ErrorCode.INVALID_REQUEST, 'subscribed_topic_names or subscribed_topic_regex is required to join');
      if (request.instanceId !== '') {
        const holder = [...group.members.values()].find(
          (m) => m.instanceId === request.instanceId && m.memberId !== request.memberId,
        );
        if (holder !== undefined) return fail(ErrorCode.UNRELEASED_INSTANCE_ID, 'instance id held by a live member');
      }
      if (member !== undefined) group.members.delete(member.memberId);
      member = {
        memberId: request.memberId === '' ? randomUUID() : request.memberId,
        instanceId: request.instanceId,
        clientId: request.clientId,
        epoch: 0,
        previousEpoch: 0,
        names: [...names],
        pattern,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs === 0 ? 300_000 : request.rebalanceTimeoutMs,
        owned: new Set(),
        target: new Set(),
        sent: undefined,
        lastHeartbeatMs: this.now(),
        revokingSinceMs: undefined,
      };
      void clientHost;
      group.members.set(member.memberId, member);
      this.bump(group);
    } else {
      if (member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID, 'not a member of the group');
      if (request.memberEpoch !== member.epoch && request.memberEpoch !== member.previousEpoch)
        return fail(ErrorCode.FENCED_MEMBER_EPOCH, `epoch ${request.memberEpoch} is not ${member.epoch}`);
      member.lastHeartbeatMs = this.now();
      let changed = false;
      if (request.subscribedTopics !== null && request.subscribedTopics !== undefined) {
        changed ||= request.subscribedTopics.names.join(',') !== member.names.join(',');
        member.names = [...request.subscribedTopics.names];
      }
      if (request.subscribedTopicRegex !== null && request.subscribedTopicRegex !== undefined) {
        changed ||= request.subscribedTopicRegex.pattern !== member.pattern;
        member.pattern = request.subscribedTopicRegex.pattern;
      }
      if (changed) this.bump(group);
    }
    if (request.owned !== null && request.owned !== undefined) {
      member.owned = new Set(request.owned.topicPartitions.flatMap((tp) => tp.partitions.map((p) => key(tp.topic, p))));
    }
    member.revokingSinceMs = [...member.owned].some((k) => !member.target.has(k))
      ? (member.revokingSinceMs ?? this.now())
      : undefined;
    // Hand over what no other member owns any more.
    const ownedByOthers = new Set<string>();
    for (const other of group.members.values()) if (other !== member) for (const k of other.owned) ownedByOthers.add(k);
    const handed = new Set([...member.target].filter((k) => !ownedByOthers.has(k)));
    let assignment: { topicPartitions: TopicPartitions[] } | null = null;
    if (!sameSet(member.sent, handed)) {
      member.sent = handed;
      member.previousEpoch = member.epoch;
      member.epoch = group.epoch;
      assignment = { topicPartitions: grouped(handed) };
    }
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      memberId: member.memberId,
      memberEpoch: member.epoch,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      assignment,
      leaderId: 0,
    };
  }

  offsetCommit(request: OffsetCommitRequest): OffsetCommitResponse {
    const answer = (errorCode: ErrorCode, errorMessage: string): OffsetCommitResponse => ({
      leaderId: 0,
      partitions: request.partitions.map((p) => ({ topic: p.topic, partition: p.partition, errorCode, errorMessage })),
    });
    const group = this.group(request.groupId);
    this.expire(group);
    if (request.memberId === '' && request.memberEpoch === -1) {
      if (group.members.size > 0) return answer(ErrorCode.NON_EMPTY_GROUP, 'the group has members');
    } else {
      const member = group.members.get(request.memberId);
      if (member === undefined) return answer(ErrorCode.UNKNOWN_MEMBER_ID, 'not a member of the group');
      if (request.memberEpoch < member.epoch) return answer(ErrorCode.STALE_MEMBER_EPOCH, 'stale epoch');
      if (request.memberEpoch > member.epoch) return answer(ErrorCode.FENCED_MEMBER_EPOCH, 'epoch from the future');
    }
    for (const p of request.partitions) {
      if (p.offset < 0) return answer(ErrorCode.INVALID_COMMIT_OFFSET, 'negative offset');
      if (this.options.partitionsOf(p.topic) === undefined)
        return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no topic ${p.topic}`);
    }
    for (const p of request.partitions)
      group.offsets.set(key(p.topic, p.partition), { offset: p.offset, metadata: p.metadata, timestampMs: this.now() });
    return answer(ErrorCode.NONE, '');
  }

  offsetFetch(request: OffsetFetchRequest): OffsetFetchResponse {
    const group = this.groups.get(request.groupId);
    const wanted =
      request.partitions.length > 0
        ? request.partitions.flatMap((tp) => tp.partitions.map((p) => key(tp.topic, p)))
        : [...(group?.offsets.keys() ?? [])];
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      leaderId: 0,
      partitions: wanted.map((k) => {
        const committed = group?.offsets.get(k);
        return {
          ...split(k),
          committedOffset: committed?.offset ?? -1,
          metadata: committed?.metadata ?? '',
          commitTimestampMs: committed?.timestampMs ?? 0,
        };
      }),
    };
  }

  listGroups(): ListGroupsResponse {
    return {
      partitionsLoading: 0,
      groups: [...this.groups.values()].map((g) => {
        this.expire(g);
        return {
          groupId: g.groupId,
          state: this.state(g),
          memberCount: g.members.size,
          coordinatorId: this.options.coordinatorId(),
        };
      }),
    };
  }

  describeGroups(request: DescribeGroupsRequest): DescribeGroupsResponse {
    return {
      groups: request.groupIds.map((groupId) => {
        const g = this.groups.get(groupId);
        const common = {
          groupId,
          leaderId: 0,
          coordinatorId: this.options.coordinatorId(),
          assignor: 'round-robin (fake)',
        };
        if (g === undefined)
          return {
            ...common,
            errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
            errorMessage: 'no such group',
            state: '',
            groupEpoch: 0,
            assignmentEpoch: 0,
            members: [],
          };
        this.expire(g);
        const members: GroupMember[] = [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          clientId: m.clientId,
          clientHost: '127.0.0.1',
          memberEpoch: m.epoch,
          subscribedTopicNames: [...m.names],
          subscribedTopicRegex: m.pattern,
          assignment: grouped(m.owned),
          targetAssignment: grouped(m.target),
          rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        }));
        return {
          ...common,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          state: this.state(g),
          groupEpoch: g.epoch,
          assignmentEpoch: g.assignmentEpoch,
          members,
        };
      }),
    };
  }

  deleteGroups(request: DeleteGroupsRequest): DeleteGroupsResponse {
    return {
      groups: request.groupIds.map((groupId) => {
        const g = this.groups.get(groupId);
        if (g !== undefined) this.expire(g);
        const answer = (errorCode: ErrorCode, errorMessage: string) => ({
          groupId,
          errorCode,
          errorMessage,
          leaderId: 0,
        });
        if (g === undefined) return answer(ErrorCode.GROUP_ID_NOT_FOUND, 'no such group');
        if (g.members.size > 0) return answer(ErrorCode.NON_EMPTY_GROUP, 'the group has members');
        this.groups.delete(groupId);
        return answer(ErrorCode.NONE, '');
      }),
    };
  }

  private group(groupId: string): FakeGroup {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { groupId, epoch: 0, assignmentEpoch: 0, members: new Map(), offsets: new Map() };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private state(g: FakeGroup): string {
    if (g.members.size === 0) return 'empty';
    const settled = [...g.members.values()].every((m) => sameSet(m.owned, m.target));
    return settled ? 'stable' : 'reconciling';
  }

  /** Removes members past their session timeout, or holding a revoked partition past their rebalance timeout. */
  private expire(group: FakeGroup): void {
    const now = this.now();
    let removed = false;
    for (const m of [...group.members.values()]) {
      const silent = now - m.lastHeartbeatMs > this.sessionTimeoutMs;
      const stuck = m.revokingSinceMs !== undefined && now - m.revokingSinceMs > m.rebalanceTimeoutMs;
      if (silent || stuck) {
        group.members.delete(m.memberId);
        removed = true;
      }
    }
    if (removed) this.bump(group);
  }

  /** A membership or subscription change: a new group epoch and a new round-robin target. */
  private bump(group: FakeGroup): void {
    group.epoch++;
    group.assignmentEpoch = group.epoch;
    const members = [...group.members.values()].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
    for (const m of members) m.target = new Set();
    const topics = new Set<string>();
    for (const m of members) {
      for (const name of m.names) topics.add(name);
      if (m.pattern !== '') {
        const re = new RegExp(`^(?:${m.pattern})$`);
        for (const name of this.options.topicNames()) if (!name.startsWith('__') && re.test(name)) topics.add(name);
      }
    }
    let next = 0;
    for (const topic of [...topics].sort()) {
      const count = this.options.partitionsOf(topic) ?? 0;
      const subscribers = members.filter(
        (m) => m.names.includes(topic) || (m.pattern !== '' && new RegExp(`^(?:${m.pattern})$`).test(topic)),
      );
      if (subscribers.length === 0) continue;
      for (let partition = 0; partition < count; partition++) {
        const owner = subscribers[next++ % subscribers.length] as FakeMember;
        owner.target.add(key(topic, partition));
      }
    }
  }
}
