/**
 * THE table of what every StreamBus RPC needs (docs/SECURITY.md prints it): one place, typed over
 * StreamBusMethods so that a new RPC without an entry does not compile, and tested against the
 * proto's method list so that one missing from the types fails too.
 *
 * A rule lists needs; each need is met when any of its alternatives is allowed (CreateTopics:
 * create on the topic, or create on the cluster). `entries` says which needs are per entry of
 * the request (a topic of Produce, a group of DescribeGroups): those are answered per entry with
 * AUTHORIZATION_FAILED rather than refusing the whole call, and `filter` marks list answers from
 * which what the principal may not describe is left out (Metadata of all topics, ListGroups).
 */
import type { StreamBusMethodName, StreamBusMethods } from '@streambus/proto';
import type { AclContext, AclOperation, AclResource, Principal } from './acl.js';
import { allowsSomeResource, describeRefusal, isAllowed } from './acl.js';

export interface Permission {
  readonly operation: AclOperation;
  readonly resource: AclResource;
}

/** Met when any alternative is allowed; `anyTopic`: met by `operation` on any topic at all. */
export interface Need {
  readonly anyOf: readonly Permission[];
  readonly anyTopic?: AclOperation;
}

export interface RpcRule<Request> {
  /** Served without a principal (Authenticate only). */
  readonly public?: true;
  readonly needs: (request: Request) => readonly Need[];
  /** Per-entry answers: a refused topic or group gets AUTHORIZATION_FAILED in its entry. */
  readonly perEntry?: 'topics' | 'groups';
  /** What one topic entry needs, for the rules answered per topic (per-entry.ts splits them). */
  readonly topicNeed?: (name: string) => Need;
  /** What one group entry needs, for the rules answered per group. */
  readonly groupNeed?: (name: string) => Need;
  /** An all-items answer leaves out what may not be described. */
  readonly filter?: 'topics' | 'groups';
}

export type RpcRules = { readonly [M in StreamBusMethodName]: RpcRule<StreamBusMethods[M]['request']> };

const cluster: AclResource = { kind: 'cluster' };
const on = (operation: AclOperation, resource: AclResource): Need => ({ anyOf: [{ operation, resource }] });
const onCluster = (operation: AclOperation): Need => on(operation, cluster);
const topic = (name: string): AclResource => ({ kind: 'topic', name });
const group = (name: string): AclResource => ({ kind: 'group', name });
const distinct = (names: Iterable<string>): string[] => [...new Set(names)];
const onTopics = (operation: AclOperation, names: Iterable<string>): Need[] =>
  distinct(names).map((name) => on(operation, topic(name)));
const onGroups = (operation: AclOperation, names: Iterable<string>): Need[] =>
  distinct(names).map((name) => on(operation, group(name)));

const createTopicNeed = (name: string): Need => ({
  anyOf: [
    { operation: 'create', resource: topic(name) },
    { operation: 'create', resource: cluster },
  ],
});
const topicNeedOf =
  (operation: AclOperation) =>
  (name: string): Need =>
    on(operation, topic(name));

export const rpcRules: RpcRules = {
  // Topics not allowed are left out of an all-topics answer, as Kafka does.
  Metadata: {
    needs: (request) => onTopics('describe', request.topics),
    perEntry: 'topics',
    topicNeed: topicNeedOf('describe'),
    filter: 'topics',
  },
  CreateTopics: {
    needs: (request) => distinct(request.topics.map((entry) => entry.name)).map(createTopicNeed),
    perEntry: 'topics',
    topicNeed: createTopicNeed,
  },
  DeleteTopics: {
    needs: (request) => onTopics('delete', request.topics),
    perEntry: 'topics',
    topicNeed: topicNeedOf('delete'),
  },
  ReassignPartitions: { needs: () => [onCluster('alter')] },
  ClusterStatus: { needs: () => [onCluster('describe')] },
  // Kafka's IdempotentWrite: write on the cluster, or write on any topic (a producer of some topic
  // may get a producer id; its records still need write on each topic).
  InitProducerId: { needs: () => [{ anyOf: [{ operation: 'write', resource: cluster }], anyTopic: 'write' }] },
  Produce: {
    needs: (request) =>
      onTopics(
        'write',
        request.partitions.map((entry) => entry.topic),
      ),
    perEntry: 'topics',
    topicNeed: topicNeedOf('write'),
  },
  Fetch: {
    needs: (request) =>
      onTopics(
        'read',
        request.partitions.map((entry) => entry.topic),
      ),
    perEntry: 'topics',
    topicNeed: topicNeedOf('read'),
  },
  ListOffsets: {
    needs: (request) =>
      onTopics(
        'read',
        request.partitions.map((entry) => entry.topic),
      ),
    perEntry: 'topics',
    topicNeed: topicNeedOf('read'),
  },
  SetBrokerDrained: { needs: () => [onCluster('alter')] },
  DescribeFeatures: { needs: () => [onCluster('describe')] },
  FinalizeFeatureLevel: { needs: () => [onCluster('alter')] },
  // The export holds every user's StoredKey and ServerKey: an operator's action, not a describe.
  ExportControllerState: { needs: () => [onCluster('cluster-action')] },
  FindCoordinator: {
    needs: (request) => onGroups('describe', request.groupIds),
    perEntry: 'groups',
    groupNeed: (name: string): Need => on('describe', group(name)),
  },
  ConsumerGroupHeartbeat: { needs: (request) => onGroups('read', [request.groupId]) },
  OffsetCommit: {
    needs: (request) => [
      ...onGroups('read', [request.groupId]),
      ...onTopics(
        'read',
        request.partitions.map((entry) => entry.topic),
      ),
    ],
  },
  OffsetFetch: {
    needs: (request) => [
      ...onGroups('read', [request.groupId]),
      ...onTopics(
        'read',
        request.partitions.map((entry) => entry.topic),
      ),
    ],
  },
  ListGroups: { needs: () => [], filter: 'groups' },
  DescribeGroups: {
    needs: (request) => onGroups('describe', request.groupIds),
    perEntry: 'groups',
    groupNeed: (name: string): Need => on('describe', group(name)),
  },
  DeleteGroups: {
    needs: (request) => onGroups('delete', request.groupIds),
    perEntry: 'groups',
    groupNeed: (name: string): Need => on('delete', group(name)),
  },
  Authenticate: { public: true, needs: () => [] },
  UpsertUser: { needs: () => [onCluster('alter')] },
  DeleteUser: { needs: () => [onCluster('alter')] },
  ListUsers: { needs: () => [onCluster('describe')] },
  CreateAcls: { needs: () => [onCluster('alter')] },
  DeleteAcls: { needs: () => [onCluster('alter')] },
  ListAcls: { needs: () => [onCluster('describe')] },
};

export function needMet(context: AclContext, principal: Principal, need: Need): boolean {
  if (need.anyOf.some((permission) => isAllowed(context, principal, permission.operation, permission.resource)))
    return true;
  return need.anyTopic !== undefined && allowsSomeResource(context, principal, need.anyTopic, 'topic');
}

/** "user alice may not write topic orders" for an unmet need. */
export function describeNeed(principal: Principal, need: Need, method: string): string {
  const first = need.anyOf[0];
  return first === undefined
    ? `${principal.kind} may not call ${method}`
    : describeRefusal(principal, first.operation, first.resource);
}

export type CallDecision = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

/**
 * Whether `principal` may make this call as a whole: every need met. (Per-entry refusals are
 * the wrapper's, from `rpcRules[method].perEntry`.) The message names the first unmet need:
 * "user alice may not write topic orders".
 */
export function decideCall<M extends StreamBusMethodName>(
  context: AclContext,
  principal: Principal,
  method: M,
  request: StreamBusMethods[M]['request'],
): CallDecision {
  const rule = rpcRules[method] as RpcRule<StreamBusMethods[M]['request']>;
  for (const need of rule.needs(request)) {
    if (needMet(context, principal, need)) continue;
    return { allowed: false, message: describeNeed(principal, need, method) };
  }
  return { allowed: true };
}
