/**
 * Consumer group administration (Admin's group methods): list, describe with lag, delete, read
 * and reset committed offsets. Each group's calls go to its coordinator (cluster/coordinator.ts);
 * ListGroups goes to every broker, each answering for the groups it coordinates.
 */
import {
  ErrorCode,
  offsetTimestampEarliest,
  offsetTimestampLatest,
  type DescribedGroup,
  type TopicPartitions,
} from '@streambus/proto';
import type { Cluster } from '../cluster/cluster.js';
import { GroupCoordinator } from '../cluster/coordinator.js';
import { listOffsetsAtLeaders } from '../cluster/list-offsets.js';
import { groupIdLengthMax, groupIdPattern, groupListBrokerDeadlineMs } from '../constants.js';
import { InternalError, InvalidConfigError, StreamBusError, errorFromCode } from '../errors.js';
import { tpKey, type TopicPartition } from '../records.js';

/** A group as ListGroups reports it. */
export interface GroupListing {
  groupId: string;
  /** `empty`, `assigning`, `reconciling` or `stable`. */
  state: string;
  memberCount: number;
  coordinatorId: number;
}

/** One member of a described group. */
export interface GroupMemberDescription {
  memberId: string;
  /** Empty for a dynamic member. */
  instanceId: string;
  clientId: string;
  /** The client's address as the coordinator saw it. */
  clientHost: string;
  memberEpoch: number;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string;
  /** What it owns now, and what the coordinator wants it to own. */
  assignment: TopicPartition[];
  targetAssignment: TopicPartition[];
}

/** A partition of a described group: where the group stands, and how far behind. */
export interface GroupPartitionLag {
  topic: string;
  partition: number;
  /** The committed offset (the next to read); -1 when nothing is committed. */
  committedOffset: number;
  /** The high watermark; -1 when the topic no longer exists. */
  logEndOffset: number;
  /** Records not consumed: end - committed, or end - log start without a commit; -1 when unknown. */
  lag: number;
  /** The member that owns the partition now ('' none), and its host. */
  memberId: string;
  clientHost: string;
}

/** A group, its members and its lag per partition. */
export interface GroupDescription {
  groupId: string;
  state: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignor: string;
  coordinatorId: number;
  members: GroupMemberDescription[];
  /** Every partition with a commit or an owner, and every partition of subscribed topics. */
  partitions: GroupPartitionLag[];
}

/** A committed offset of a group. */
export interface GroupOffset {
  topic: string;
  partition: number;
  offset: number;
  metadata: string;
  commitTimestampMs: number;
}

/** Where `resetOffsets` moves a group: the log start, the end, an offset, or the first offset at or after a time. */
export type OffsetResetTarget = 'earliest' | 'latest' | { offset: number } | { timestampMs: number };

/** One partition of an offset reset. */
export interface OffsetResetEntry {
  topic: string;
  partition: number;
  /** -1 when nothing was committed. */
  currentOffset: number;
  newOffset: number;
}

/** What `resetOffsets` would do (or did, when `executed`). */
export interface OffsetResetPlan {
  groupId: string;
  topic: string;
  partitions: OffsetResetEntry[];
  executed: boolean;
  /** Members of the group when planned: a reset is refused (NON_EMPTY_GROUP) while it has any. */
  memberCount: number;
}

export function checkGroupId(groupId: string): void {
  if (groupId === '' || groupId.length > groupIdLengthMax || !groupIdPattern.test(groupId))
    throw new InvalidConfigError(
      `group id must be 1..${groupIdLengthMax} characters of [a-zA-Z0-9._-], got "${groupId}"`,
    );
}

/**
 * Asks every broker for the groups it coordinates and merges the answers, sorted by id. A broker
 * that does not answer within groupListBrokerDeadlineMs is left out (the groups it coordinated move
 * to another broker within an election timeout); when no broker answers, the first error is thrown.
 */
export async function listGroups(cluster: Cluster): Promise<GroupListing[]> {
  await cluster.refreshMetadata();
  const settled = await Promise.allSettled(
    cluster
      .brokerList()
      .map((broker) =>
        cluster.call(broker.id, 'ListGroups', { states: [] }, 0, { deadlineMs: groupListBrokerDeadlineMs }),
      ),
  );
  const answers = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const firstFailure = settled.find((result) => result.status === 'rejected');
  if (answers.length === 0 && firstFailure !== undefined) {
    const reason: unknown = firstFailure.reason;
    throw reason instanceof Error ? reason : new InternalError(String(reason));
  }
  // Only typed call failures are left out; anything else is a bug and surfaces.
  for (const result of settled)
    if (result.status === 'rejected' && !(result.reason instanceof StreamBusError)) throw result.reason;
  const merged = new Map<string, GroupListing>();
  for (const answer of answers)
    for (const g of answer.groups)
      if (!merged.has(g.groupId))
        merged.set(g.groupId, {
          groupId: g.groupId,
          state: g.state,
          memberCount: g.memberCount,
          coordinatorId: g.coordinatorId,
        });
  return [...merged.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
}

async function describeOne(coordinator: GroupCoordinator): Promise<DescribedGroup> {
  const id = coordinator.groupId;
  const response = await coordinator.call(
    'DescribeGroups',
    () => ({ groupIds: [id] }),
    (r) => {
      const g = r.groups.find((candidate) => candidate.groupId === id);
      if (g === undefined) return new InternalError(`DescribeGroups answered nothing for group "${id}"`);
      return g.errorCode === ErrorCode.NONE
        ? undefined
        : errorFromCode(g.errorCode, `group "${id}": ${g.errorMessage}`, g.leaderId);
    },
  );
  return response.groups.find((g) => g.groupId === id) as DescribedGroup;
}

export async function fetchGroupOffsets(cluster: Cluster, groupId: string): Promise<GroupOffset[]> {
  checkGroupId(groupId);
  const coordinator = new GroupCoordinator(cluster, groupId);
  const response = await coordinator.call(
    'OffsetFetch',
    () => ({ groupId, partitions: [] }),
    (r) =>
      r.errorCode === ErrorCode.NONE
        ? undefined
        : errorFromCode(r.errorCode, `group "${groupId}": ${r.errorMessage}`, r.leaderId),
  );
  return response.partitions
    .filter((p) => p.committedOffset >= 0)
    .map((p) => ({
      topic: p.topic,
      partition: p.partition,
      offset: p.committedOffset,
      metadata: p.metadata,
      commitTimestampMs: p.commitTimestampMs,
    }))
    .sort(byTopicPartition);
}

/** Members, assignments, committed offsets, end offsets and lag of a group. Throws GROUP_ID_NOT_FOUND. */
export async function describeGroup(cluster: Cluster, groupId: string): Promise<GroupDescription> {
  checkGroupId(groupId);
  const coordinator = new GroupCoordinator(cluster, groupId);
  const described = await describeOne(coordinator);
  const offsets = await fetchGroupOffsets(cluster, groupId);
  const members = described.members.map((m) => ({
    memberId: m.memberId,
    instanceId: m.instanceId,
    clientId: m.clientId,
    clientHost: m.clientHost,
    memberEpoch: m.memberEpoch,
    subscribedTopicNames: [...m.subscribedTopicNames],
    subscribedTopicRegex: m.subscribedTopicRegex,
    assignment: flatten(m.assignment),
    targetAssignment: flatten(m.targetAssignment),
  }));
  const owners = new Map<string, GroupMemberDescription>();
  for (const m of members) for (const tp of m.assignment) owners.set(tpKey(tp.topic, tp.partition), m);
  const partitions = new Map<string, TopicPartition>();
  const add = (tp: TopicPartition): void => void partitions.set(tpKey(tp.topic, tp.partition), tp);
  offsets.forEach(add);
  for (const m of members) [...m.assignment, ...m.targetAssignment].forEach(add);
  const existing = new Set<string>();
  const topics = new Set([...partitions.values()].map((tp) => tp.topic));
  for (const m of members) for (const name of m.subscribedTopicNames) topics.add(name);
  for (const topic of topics) {
    try {
      const count = await cluster.partitionCount(topic);
      existing.add(topic);
      for (let partition = 0; partition < count; partition++) add({ topic, partition });
    } catch (error) {
      if (!(error instanceof StreamBusError) || error.code !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
    }
  }
  const live = [...partitions.values()].filter((tp) => existing.has(tp.topic)).sort(byTopicPartition);
  const committed = new Map(offsets.map((o) => [tpKey(o.topic, o.partition), o.offset]));
  const ends = await offsetsOf(cluster, live, offsetTimestampLatest);
  const uncommitted = live.filter((tp) => !committed.has(tpKey(tp.topic, tp.partition)));
  const starts = await offsetsOf(cluster, uncommitted, offsetTimestampEarliest);
  const rows = [...partitions.values()].sort(byTopicPartition).map((tp): GroupPartitionLag => {
    const key = tpKey(tp.topic, tp.partition);
    const committedOffset = committed.get(key) ?? -1;
    const end = ends.get(key) ?? -1;
    const from = committedOffset >= 0 ? committedOffset : (starts.get(key) ?? -1);
    const owner = owners.get(key);
    return {
      topic: tp.topic,
      partition: tp.partition,
      committedOffset,
      logEndOffset: end,
      lag: end < 0 || from < 0 ? -1 : Math.max(0, end - from),
      memberId: owner?.memberId ?? '',
      clientHost: owner?.clientHost ?? '',
    };
  });
  return {
    groupId,
    state: described.state,
    groupEpoch: described.groupEpoch,
    assignmentEpoch: described.assignmentEpoch,
    assignor: described.assignor,
    coordinatorId: described.coordinatorId,
    members,
    partitions: rows,
  };
}

/** Deletes empty groups and their offsets. Throws the first failure: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ... */
export async function deleteGroups(cluster: Cluster, groupIds: readonly string[]): Promise<void> {
  for (const groupId of groupIds) checkGroupId(groupId);
  for (const groupId of groupIds) {
    const coordinator = new GroupCoordinator(cluster, groupId);
    await coordinator.call(
      'DeleteGroups',
      () => ({ groupIds: [groupId] }),
      (r) => {
        const g = r.groups.find((candidate) => candidate.groupId === groupId);
        if (g === undefined) return new InternalError(`DeleteGroups answered nothing for group "${groupId}"`);
        return g.errorCode === ErrorCode.NONE
          ? undefined
          : errorFromCode(g.errorCode, `group "${groupId}": ${g.errorMessage}`, g.leaderId);
      },
    );
  }
}

/**
 * Plans moving the group's committed offsets of every partition of `topic` to `to`, and applies
 * the plan with `execute` (an admin commit: member '' epoch -1, which the coordinator refuses with
 * NON_EMPTY_GROUP while the group has members). An explicit offset is kept inside
 * [log start, end]; a time past the last record means the end.
 */
export async function resetOffsets(
  cluster: Cluster,
  groupId: string,
  topic: string,
  to: OffsetResetTarget,
  execute: boolean,
): Promise<OffsetResetPlan> {
  checkGroupId(groupId);
  const count = await cluster.partitionCount(topic);
  const partitions = Array.from({ length: count }, (_, partition) => ({ topic, partition }));
  const coordinator = new GroupCoordinator(cluster, groupId);
  let memberCount = 0;
  try {
    memberCount = (await describeOne(coordinator)).members.length;
  } catch (error) {
    if (!(error instanceof StreamBusError) || error.code !== 'GROUP_ID_NOT_FOUND') throw error;
  }
  const current = new Map(
    (await fetchGroupOffsets(cluster, groupId)).map((o) => [tpKey(o.topic, o.partition), o.offset]),
  );
  let targets: Map<string, number>;
  if (to === 'earliest' || to === 'latest') {
    targets = await offsetsOf(cluster, partitions, to === 'earliest' ? offsetTimestampEarliest : offsetTimestampLatest);
  } else if ('offset' in to) {
    if (!Number.isSafeInteger(to.offset) || to.offset < 0)
      throw new InvalidConfigError(`offset must be a non-negative integer, got ${to.offset}`);
    const starts = await offsetsOf(cluster, partitions, offsetTimestampEarliest);
    const ends = await offsetsOf(cluster, partitions, offsetTimestampLatest);
    targets = new Map(
      partitions.map((tp) => {
        const key = tpKey(tp.topic, tp.partition);
        return [key, Math.min(ends.get(key) ?? 0, Math.max(starts.get(key) ?? 0, to.offset))];
      }),
    );
  } else {
    if (!Number.isSafeInteger(to.timestampMs) || to.timestampMs < 0)
      throw new InvalidConfigError(`timestampMs must be >= 0, got ${to.timestampMs}`);
    const found = await offsetsOf(cluster, partitions, to.timestampMs);
    const ends = await offsetsOf(cluster, partitions, offsetTimestampLatest);
    targets = new Map(
      partitions.map((tp) => {
        const key = tpKey(tp.topic, tp.partition);
        const offset = found.get(key) ?? -1;
        return [key, offset >= 0 ? offset : (ends.get(key) ?? 0)];
      }),
    );
  }
  const plan = partitions.map((tp) => {
    const key = tpKey(tp.topic, tp.partition);
    return { ...tp, currentOffset: current.get(key) ?? -1, newOffset: targets.get(key) ?? 0 };
  });
  if (execute) {
    await coordinator.call(
      'OffsetCommit',
      () => ({
        groupId,
        memberId: '',
        memberEpoch: -1,
        partitions: plan.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.newOffset, metadata: '' })),
      }),
      (r) => {
        const failed = r.partitions.find((p) => p.errorCode !== ErrorCode.NONE);
        return failed === undefined
          ? undefined
          : errorFromCode(
              failed.errorCode,
              failed.errorCode === ErrorCode.NON_EMPTY_GROUP
                ? `group "${groupId}" has members: stop its consumers before resetting its offsets`
                : `group "${groupId}" ${failed.topic}/${failed.partition}: ${failed.errorMessage}`,
              r.leaderId,
            );
      },
    );
  }
  return { groupId, topic, partitions: plan, executed: execute, memberCount };
}

async function offsetsOf(
  cluster: Cluster,
  partitions: readonly TopicPartition[],
  timestampMs: number,
): Promise<Map<string, number>> {
  if (partitions.length === 0) return new Map();
  const answers = await listOffsetsAtLeaders(
    cluster,
    partitions.map(({ topic, partition }) => ({ topic, partition, timestampMs })),
  );
  return new Map(answers.map((a) => [tpKey(a.topic, a.partition), a.offset]));
}

function flatten(list: readonly TopicPartitions[]): TopicPartition[] {
  return list
    .flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })))
    .sort(byTopicPartition);
}

function byTopicPartition(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}
