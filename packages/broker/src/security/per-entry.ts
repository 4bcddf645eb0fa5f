/**
 * Per-topic answers (Kafka's TOPIC_AUTHORIZATION_FAILED per entry): a Produce, Fetch,
 * ListOffsets, CreateTopics, DeleteTopics or Metadata of named topics that names a topic the
 * principal may not use is served for the other topics, and the refused ones come back in the
 * same answer with AUTHORIZATION_FAILED and "user alice may not write topic orders". Pure: the
 * call guard calls the handler with the narrowed request and merges the answer.
 */
import { ErrorCode } from '@streambus/proto';
import type { CreatableTopic, StreamBusMethodName, StreamBusMethods } from '@streambus/proto';
import { assert } from '@streambus/raft';

type Req<M extends StreamBusMethodName> = StreamBusMethods[M]['request'];
type Res<M extends StreamBusMethodName> = StreamBusMethods[M]['response'];

/** How to answer a call some of whose topics are refused. */
export interface TopicSplit<M extends StreamBusMethodName> {
  /** The request with the allowed entries only, or undefined when none is left (no handler call). */
  readonly allowedRequest: Req<M> | undefined;
  /** The handler's answer (or an empty one) with the refused entries added. */
  merge(response: Res<M> | undefined): Res<M>;
}

const failed = ErrorCode.AUTHORIZATION_FAILED;

/**
 * Splits `request` of a per-topic method by `refusal(topic)` (the refusal text, or undefined
 * when allowed). Undefined when nothing is refused: the call goes through unchanged.
 */
export function splitByTopic<M extends StreamBusMethodName>(
  method: M,
  request: Req<M>,
  refusal: (topic: string) => string | undefined,
): TopicSplit<M> | undefined {
  const split = splitAny(method, request as never, refusal);
  return split as TopicSplit<M> | undefined;
}

function splitAny(
  method: StreamBusMethodName,
  request: never,
  refusal: (topic: string) => string | undefined,
): TopicSplit<StreamBusMethodName> | undefined {
  switch (method) {
    case 'Produce':
      return splitPartitions(request as Req<'Produce'>, refusal, (entry, errorMessage) => ({
        topic: entry.topic,
        partition: entry.partition,
        errorCode: failed,
        errorMessage,
        baseOffset: -1,
        logAppendTimeMs: -1,
        leaderId: 0,
        leaderEpoch: 0,
        logStartOffset: -1,
      }));
    case 'Fetch':
      return splitPartitions(request as Req<'Fetch'>, refusal, (entry, errorMessage) => ({
        topic: entry.topic,
        partition: entry.partition,
        errorCode: failed,
        errorMessage,
        highWatermark: -1,
        logStartOffset: -1,
        records: new Uint8Array(),
        leaderId: 0,
        leaderEpoch: 0,
      }));
    case 'ListOffsets':
      return splitPartitions(request as Req<'ListOffsets'>, refusal, (entry, errorMessage) => ({
        topic: entry.topic,
        partition: entry.partition,
        errorCode: failed,
        errorMessage,
        offset: -1,
        timestampMs: -1,
        leaderId: 0,
      }));
    case 'CreateTopics':
      return splitTopicResults<CreatableTopic, Req<'CreateTopics'>>(request, (entry) => entry.name, refusal);
    case 'DeleteTopics':
      return splitTopicResults<string, Req<'DeleteTopics'>>(request, (name) => name, refusal);
    case 'Metadata':
      return splitMetadata(request, refusal);
    default:
      return undefined;
  }
}

interface PartitionsRequest<E extends { topic: string }> {
  partitions: E[];
}

function splitPartitions<E extends { topic: string; partition: number }, R, Q extends PartitionsRequest<E>>(
  request: Q,
  refusal: (topic: string) => string | undefined,
  refused: (entry: E, message: string) => R,
): TopicSplit<never> | undefined {
  const denied = request.partitions.flatMap((entry) => {
    const message = refusal(entry.topic);
    return message === undefined ? [] : [refused(entry, message)];
  });
  if (denied.length === 0) return undefined;
  const allowed = request.partitions.filter((entry) => refusal(entry.topic) === undefined);
  return {
    allowedRequest: (allowed.length === 0 ? undefined : { ...request, partitions: allowed }) as never,
    merge: (response: { partitions: R[] } | undefined) =>
      ({ throttleTimeMs: 0, ...response, partitions: [...(response?.partitions ?? []), ...denied] }) as never,
  };
}

function splitTopicResults<E, Q extends { topics: E[] }>(
  request: Q,
  nameOf: (entry: E) => string,
  refusal: (topic: string) => string | undefined,
): TopicSplit<never> | undefined {
  const denied = request.topics.flatMap((entry) => {
    const message = refusal(nameOf(entry));
    return message === undefined ? [] : [{ name: nameOf(entry), errorCode: failed, errorMessage: message }];
  });
  if (denied.length === 0) return undefined;
  const allowed = request.topics.filter((entry) => refusal(nameOf(entry)) === undefined);
  return {
    allowedRequest: (allowed.length === 0 ? undefined : { ...request, topics: allowed }) as never,
    merge: (response: { topics: unknown[] } | undefined) =>
      ({ ...response, topics: [...(response?.topics ?? []), ...denied] }) as never,
  };
}

function splitMetadata(
  request: Req<'Metadata'>,
  refusal: (topic: string) => string | undefined,
): TopicSplit<'Metadata'> | undefined {
  // An all-topics request is filtered instead (call-guard.ts).
  if (request.topics.length === 0) return undefined;
  const denied = request.topics.flatMap((name) => {
    const message = refusal(name);
    return message === undefined ? [] : [{ errorCode: failed, name, partitions: [], configs: {} }];
  });
  if (denied.length === 0) return undefined;
  const allowed = request.topics.filter((name) => refusal(name) === undefined);
  // No topic left: ask for the brokers only (an empty list would mean every topic).
  return {
    allowedRequest:
      allowed.length === 0 ? { ...request, topics: [], brokersOnly: true } : { ...request, topics: allowed },
    merge: (response) => {
      assert(response !== undefined, 'a Metadata split always calls the handler');
      return { ...response, topics: [...response.topics, ...denied] };
    },
  };
}

/**
 * The same for the group calls that name groups (FindCoordinator, DescribeGroups, DeleteGroups):
 * the allowed groups are served, each refused one comes back with AUTHORIZATION_FAILED.
 */
export function splitByGroup<M extends StreamBusMethodName>(
  method: M,
  request: Req<M>,
  refusal: (group: string) => string | undefined,
): TopicSplit<M> | undefined {
  const refusedEntry = groupRefusals[method as keyof typeof groupRefusals];
  if (refusedEntry === undefined) return undefined;
  const { groupIds } = request as unknown as { groupIds: string[] };
  const denied = groupIds.flatMap((groupId) => {
    const message = refusal(groupId);
    return message === undefined ? [] : [refusedEntry.entry(groupId, message)];
  });
  if (denied.length === 0) return undefined;
  const allowed = groupIds.filter((groupId) => refusal(groupId) === undefined);
  const field = refusedEntry.field;
  return {
    allowedRequest: (allowed.length === 0 ? undefined : { ...request, groupIds: allowed }) as Req<M> | undefined,
    merge: (response) => {
      const entries = response === undefined ? [] : ((response as unknown as Record<string, unknown[]>)[field] ?? []);
      return { ...response, [field]: [...entries, ...denied] } as unknown as Res<M>;
    },
  };
}

const groupRefusals = {
  FindCoordinator: {
    field: 'coordinators',
    entry: (groupId: string, errorMessage: string) => ({
      groupId,
      errorCode: failed,
      errorMessage,
      nodeId: 0,
      host: '',
      port: 0,
      partition: -1,
    }),
  },
  DescribeGroups: {
    field: 'groups',
    entry: (groupId: string, errorMessage: string) => ({
      groupId,
      errorCode: failed,
      errorMessage,
      state: '',
      groupEpoch: 0,
      assignmentEpoch: 0,
      assignor: '',
      coordinatorId: 0,
      members: [],
      leaderId: 0,
    }),
  },
  DeleteGroups: {
    field: 'groups',
    entry: (groupId: string, errorMessage: string) => ({ groupId, errorCode: failed, errorMessage, leaderId: 0 }),
  },
} as const;
