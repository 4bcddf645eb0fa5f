/**
 * The controller's replicated state: brokers, topics, partitions and the id counters. Pure and
 * deterministic: `apply` depends only on the state and the command (time comes inside commands),
 * so every broker applying the same log reaches the same state, byte for byte in a snapshot.
 *
 * Expected failures (a topic that exists, a bad name, too few live brokers) are results, never
 * throws: a committed command must apply the same way everywhere, and a retried create must not
 * crash anyone. Broken invariants are assertion failures.
 *
 * Records handed out are immutable: a change replaces the record, so listeners may keep them.
 */
import { assert } from '@streambus/raft';
import type { NodeId } from '@streambus/raft';
import type {
  AddPartitionsCommand,
  AllocateProducerIdsCommand,
  BrokerHeartbeatCommand,
  ConfigEntry,
  ControllerCommand,
  ControllerResult,
  ControllerResultDetail,
  CreateTopicCommand,
  DeleteTopicCommand,
  FinalizeFeatureLevelCommand,
  PartitionReport,
  ReassignPartitionsCommand,
  RegisterBrokerCommand,
  ReportPartitionsCommand,
  SetBrokerFencedCommand,
  UpdateTopicConfigCommand,
} from './commands.js';
import {
  brokerIdMax,
  brokersMax,
  controllerGroupId,
  groupIdMax,
  isrSizeMax,
  partitionsMax,
  partitionsPerTopicMax,
  producerIdBlockSizeMax,
  producerIdMax,
  replicationFactorMax,
  topicConfigsMax,
  topicIdMax,
  topicsMax,
} from './constants.js';
import { featureLevelInitial, featureLevelMax, securityFeatureLevel } from './features.js';
import { SecurityRecords } from './security-state.js';
import type { UserRecord } from './security-state.js';
import type { Acl } from '../security/acl.js';
import { checkConfigKey, checkConfigs, checkTopicName, distinct, failure } from './validation.js';
import type { ControllerFailure } from './validation.js';

export interface BrokerInfo {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
  readonly adminAddress: string;
  readonly rack: string | null;
  /** A fenced broker gets no new replicas and should lead nothing. */
  readonly fenced: boolean;
  readonly registeredAtMs: number;
  readonly lastHeartbeatMs: number;
}

/** The latest report of a partition's leader. */
export interface PartitionLeaderInfo {
  readonly leaderId: NodeId;
  readonly term: number;
  readonly isr: readonly NodeId[];
  readonly highWatermark: number;
}

export interface PartitionInfo {
  readonly topic: string;
  readonly partition: number;
  /** The partition's Raft group; never reused after the partition is deleted. */
  readonly groupId: number;
  /** The target replica list; replicas[0] is the preferred leader. Brokers move the Raft group's membership towards it. */
  readonly replicas: readonly NodeId[];
  /**
   * The voters the partition's Raft group was bootstrapped with (the replicas at topic creation or
   * addPartitions); a reassignment never changes it. Every broker that creates the group's local
   * state, an original member or a replica added later, bootstraps it with these voters, because
   * the log from index 1 (conf changes included) is replayed on top of that configuration.
   */
  readonly initialReplicas: readonly NodeId[];
  /** Null until its leader first reported. */
  readonly leader: PartitionLeaderInfo | null;
}

export interface TopicInfo {
  readonly name: string;
  /** Never reused: a topic deleted and created again gets a new id. */
  readonly topicId: number;
  readonly replicationFactor: number;
  /** Sorted by key. */
  readonly configs: readonly ConfigEntry[];
  /** Group id of partition i at index i. */
  readonly groupIds: readonly number[];
}

/** What changed, for the broker core (create or remove partition groups, refresh caches). */
export type ControllerEvent =
  | { readonly type: 'brokerRegistered'; readonly broker: BrokerInfo; readonly previous: BrokerInfo | null }
  | { readonly type: 'brokerFencedChanged'; readonly broker: BrokerInfo }
  | { readonly type: 'topicCreated'; readonly topic: TopicInfo; readonly partitions: readonly PartitionInfo[] }
  | { readonly type: 'topicDeleted'; readonly topic: TopicInfo; readonly partitions: readonly PartitionInfo[] }
  | { readonly type: 'topicConfigChanged'; readonly topic: TopicInfo; readonly previous: TopicInfo }
  | { readonly type: 'partitionsAdded'; readonly topic: TopicInfo; readonly partitions: readonly PartitionInfo[] }
  | {
      readonly type: 'assignmentChanged';
      readonly partition: PartitionInfo;
      readonly previousReplicas: readonly NodeId[];
    }
  | { readonly type: 'leaderChanged'; readonly partition: PartitionInfo; readonly previousLeaderId: NodeId }
  | { readonly type: 'featureLevelFinalized'; readonly level: number; readonly previousLevel: number };

/** The counters and records a snapshot carries; see `ControllerState.fromParts`. */
export interface ControllerStateParts {
  readonly nextGroupId: number;
  readonly nextTopicId: number;
  readonly nextProducerId: number;
  /** The cluster's finalized feature level (features.ts). */
  readonly finalizedFeatureLevel: number;
  readonly brokers: readonly BrokerInfo[];
  readonly topics: readonly TopicInfo[];
  readonly partitions: readonly PartitionInfo[];
  /** Users by name (snapshot version 4; empty before). */
  readonly users: readonly UserRecord[];
  /** ACL bindings in canonical order (snapshot version 4; empty before). */
  readonly acls: readonly Acl[];
}

const ok = (changed: boolean, detail: ControllerResultDetail = { kind: 'none' }): ControllerResult => ({
  ok: true,
  changed,
  detail,
});

function sortedConfigs(entries: Iterable<ConfigEntry>): ConfigEntry[] {
  return [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

export class ControllerState {
  private readonly brokerMap = new Map<NodeId, BrokerInfo>();
  private readonly topicMap = new Map<string, TopicInfo>();
  private readonly partitionMap = new Map<number, PartitionInfo>();
  private nextGroup = controllerGroupId + 1;
  private nextTopic = 1;
  private nextProducer = 1;
  private featureLevel = featureLevelInitial;
  private security = new SecurityRecords();

  /** Rebuilds a state from its parts (a decoded snapshot). Asserts that the parts are consistent. */
  static fromParts(parts: ControllerStateParts): ControllerState {
    const state = new ControllerState();
    state.nextGroup = parts.nextGroupId;
    state.nextTopic = parts.nextTopicId;
    state.nextProducer = parts.nextProducerId;
    state.featureLevel = parts.finalizedFeatureLevel;
    for (const broker of parts.brokers) state.brokerMap.set(broker.id, broker);
    for (const topic of parts.topics) state.topicMap.set(topic.name, topic);
    for (const partition of parts.partitions) state.partitionMap.set(partition.groupId, partition);
    state.security = SecurityRecords.fromParts(parts.users, parts.acls);
    state.checkInvariants();
    return state;
  }

  /** The parts in canonical order (brokers by id, topics by name, partitions by group id). */
  toParts(): ControllerStateParts {
    return {
      nextGroupId: this.nextGroup,
      nextTopicId: this.nextTopic,
      nextProducerId: this.nextProducer,
      finalizedFeatureLevel: this.featureLevel,
      brokers: this.brokers(),
      topics: this.topics(),
      partitions: this.partitions(),
      users: this.security.users(),
      acls: this.security.acls(),
    };
  }

  /** Users and ACLs: the ACL evaluator and the SCRAM exchange read them here, on every broker. */
  get securityRecords(): Pick<SecurityRecords, 'user' | 'users' | 'acls' | 'aclValues' | 'userCount' | 'aclCount'> {
    return this.security;
  }

  // ---- queries ----

  get nextGroupId(): number {
    return this.nextGroup;
  }
  get nextTopicId(): number {
    return this.nextTopic;
  }
  /** The first producer id the next allocation hands out. */
  get nextProducerId(): number {
    return this.nextProducer;
  }
  /** The cluster's finalized feature level: formats above it stay off. */
  get finalizedFeatureLevel(): number {
    return this.featureLevel;
  }
  get topicCount(): number {
    return this.topicMap.size;
  }
  get partitionCount(): number {
    return this.partitionMap.size;
  }

  broker(id: NodeId): BrokerInfo | undefined {
    return this.brokerMap.get(id);
  }
  /** All registered brokers, by id. */
  brokers(): BrokerInfo[] {
    return [...this.brokerMap.values()].sort((a, b) => a.id - b.id);
  }
  /** Registered and not fenced, by id. */
  liveBrokers(): BrokerInfo[] {
    return this.brokers().filter((broker) => !broker.fenced);
  }
  isLive(id: NodeId): boolean {
    const broker = this.brokerMap.get(id);
    return broker !== undefined && !broker.fenced;
  }
  topic(name: string): TopicInfo | undefined {
    return this.topicMap.get(name);
  }
  /** All topics, by name. */
  topics(): TopicInfo[] {
    return [...this.topicMap.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  partition(groupId: number): PartitionInfo | undefined {
    return this.partitionMap.get(groupId);
  }
  /** Partition `index` of topic `name`. */
  partitionOf(name: string, index: number): PartitionInfo | undefined {
    const groupId = this.topicMap.get(name)?.groupIds[index];
    return groupId === undefined ? undefined : this.partitionMap.get(groupId);
  }
  /** The partitions of one topic in partition order (empty for an unknown topic). */
  partitionsOf(name: string): PartitionInfo[] {
    const topic = this.topicMap.get(name);
    if (topic === undefined) return [];
    return topic.groupIds.map((groupId) => {
      const partition = this.partitionMap.get(groupId);
      assert(partition !== undefined, 'every group id of a topic has its partition');
      return partition;
    });
  }
  /** All partitions, by group id. */
  partitions(): PartitionInfo[] {
    return [...this.partitionMap.values()].sort((a, b) => a.groupId - b.groupId);
  }

  // ---- apply ----

  /**
   * Applies one committed command. Deterministic; failures are results. When `events` is given,
   * what changed is appended to it.
   */
  apply(command: ControllerCommand, events?: ControllerEvent[]): ControllerResult {
    const sink = events ?? [];
    switch (command.type) {
      case 'registerBroker':
        return this.registerBroker(command, sink);
      case 'brokerHeartbeat':
        return this.heartbeat(command);
      case 'setBrokerFenced':
        return this.setFenced(command, sink);
      case 'createTopic':
        return this.createTopic(command, sink);
      case 'deleteTopic':
        return this.deleteTopic(command, sink);
      case 'updateTopicConfig':
        return this.updateTopicConfig(command, sink);
      case 'addPartitions':
        return this.addPartitions(command, sink);
      case 'reassignPartitions':
        return this.reassignPartitions(command, sink);
      case 'reportPartitions':
        return this.reportPartitions(command, sink);
      case 'allocateProducerIds':
        return this.allocateProducerIds(command);
      case 'finalizeFeatureLevel':
        return this.finalizeFeatureLevel(command, sink);
      case 'upsertUser':
        return this.gateSecurity() ?? this.security.upsertUser(command);
      case 'deleteUser':
        return this.gateSecurity() ?? this.security.deleteUser(command);
      case 'createAcls':
        return this.gateSecurity() ?? this.security.createAcls(command);
      case 'deleteAcls':
        return this.gateSecurity() ?? this.security.deleteAcls(command);
    }
  }

  /**
   * Users and ACLs are level-3 formats: until the cluster finalized level 3 a broker that does not
   * read them may still be a member, so they are refused (the same on every broker).
   */
  private gateSecurity(): ControllerResult | undefined {
    if (this.featureLevel >= securityFeatureLevel) return undefined;
    return failure(
      'FEATURE_LEVEL_UNSUPPORTED',
      `users and ACLs need cluster feature level ${securityFeatureLevel}, the cluster runs at ${this.featureLevel}; upgrade every broker, then run streambus features finalize`,
    );
  }

  private registerBroker(command: RegisterBrokerCommand, events: ControllerEvent[]): ControllerResult {
    const invalid = checkBrokerId(command.brokerId);
    if (invalid !== null) return invalid;
    if (command.host.length === 0)
      return failure('INVALID_BROKER', `broker ${command.brokerId} has an empty host; set its advertised host`);
    if (!Number.isInteger(command.port) || command.port < 1 || command.port > 0xffff) {
      return failure('INVALID_BROKER', `broker ${command.brokerId} port ${command.port} is not in 1..65535`);
    }
    if (command.rack !== null && command.rack.length === 0) {
      return failure('INVALID_BROKER', `broker ${command.brokerId} has an empty rack; omit it or name it`);
    }
    const previous = this.brokerMap.get(command.brokerId) ?? null;
    if (previous === null && this.brokerMap.size >= brokersMax) {
      return failure('BROKER_LIMIT_REACHED', `the cluster already has ${brokersMax} brokers`);
    }
    const broker: BrokerInfo = {
      id: command.brokerId,
      host: command.host,
      port: command.port,
      adminAddress: command.adminAddress,
      rack: command.rack,
      fenced: previous?.fenced ?? false,
      registeredAtMs: previous?.registeredAtMs ?? command.nowMs,
      // A new leader's clock may lag the old one's: never move a heartbeat back.
      lastHeartbeatMs: Math.max(previous?.lastHeartbeatMs ?? 0, command.nowMs),
    };
    this.brokerMap.set(broker.id, broker);
    const endpointChanged =
      previous === null ||
      previous.host !== broker.host ||
      previous.port !== broker.port ||
      previous.adminAddress !== broker.adminAddress ||
      previous.rack !== broker.rack;
    if (endpointChanged) events.push({ type: 'brokerRegistered', broker, previous });
    return ok(endpointChanged || previous.lastHeartbeatMs !== broker.lastHeartbeatMs);
  }

  private heartbeat(command: BrokerHeartbeatCommand): ControllerResult {
    const previous = this.brokerMap.get(command.brokerId);
    if (previous === undefined) return unknownBroker(command.brokerId);
    if (command.nowMs <= previous.lastHeartbeatMs) return ok(false);
    this.brokerMap.set(previous.id, { ...previous, lastHeartbeatMs: command.nowMs });
    return ok(true);
  }

  private setFenced(command: SetBrokerFencedCommand, events: ControllerEvent[]): ControllerResult {
    const previous = this.brokerMap.get(command.brokerId);
    if (previous === undefined) return unknownBroker(command.brokerId);
    if (previous.fenced === command.fenced) return ok(false);
    const broker = { ...previous, fenced: command.fenced };
    this.brokerMap.set(broker.id, broker);
    events.push({ type: 'brokerFencedChanged', broker });
    return ok(true);
  }

  /** Replicas of new partitions: `replicationFactor` distinct live brokers each. */
  private checkNewAssignments(
    assignments: readonly (readonly NodeId[])[],
    replicationFactor: number,
  ): ControllerFailure | null {
    for (const [index, replicas] of assignments.entries()) {
      if (replicas.length !== replicationFactor) {
        return failure(
          'INVALID_REPLICA_ASSIGNMENT',
          `partition ${index} has ${replicas.length} replicas, not the replication factor ${replicationFactor}`,
        );
      }
      if (!distinct(replicas)) return failure('INVALID_REPLICA_ASSIGNMENT', `partition ${index} names a broker twice`);
      const notLive = replicas.find((id) => !this.isLive(id));
      if (notLive !== undefined) {
        return failure(
          'INVALID_REPLICA_ASSIGNMENT',
          `partition ${index} is assigned to broker ${notLive}, which is not a live broker`,
        );
      }
    }
    return null;
  }

  private checkPartitionCapacity(count: number): ControllerFailure | null {
    if (this.partitionMap.size + count > partitionsMax) {
      return failure(
        'PARTITION_LIMIT_REACHED',
        `${count} more partitions would exceed the cluster's ${partitionsMax}; delete topics first`,
      );
    }
    if (this.nextGroup + count - 1 > groupIdMax)
      return failure('GROUP_IDS_EXHAUSTED', 'no partition group ids are left');
    return null;
  }

  /** The checks of a create, in the order a client expects its first error. */
  checkCreateTopic(
    name: string,
    partitionCount: number,
    replicationFactor: number,
    configs: readonly ConfigEntry[],
  ): ControllerFailure | null {
    const badName = checkTopicName(name);
    if (badName !== null) return badName;
    if (this.topicMap.has(name)) return failure('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    if (this.topicMap.size >= topicsMax)
      return failure('TOPIC_LIMIT_REACHED', `the cluster already has ${topicsMax} topics; delete some first`);
    if (this.nextTopic > topicIdMax) return failure('TOPIC_LIMIT_REACHED', 'no topic ids are left');
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > partitionsPerTopicMax) {
      return failure('INVALID_PARTITIONS', `partition count ${partitionCount} is not in 1..${partitionsPerTopicMax}`);
    }
    const capacity = this.checkPartitionCapacity(partitionCount);
    if (capacity !== null) return capacity;
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > replicationFactorMax) {
      return failure(
        'INVALID_REPLICATION_FACTOR',
        `replication factor ${replicationFactor} is not in 1..${replicationFactorMax}`,
      );
    }
    const live = this.liveBrokers().length;
    if (replicationFactor > live) {
      return failure(
        'INVALID_REPLICATION_FACTOR',
        `replication factor ${replicationFactor} is more than the ${live} live brokers; lower it or start brokers`,
      );
    }
    return checkConfigs(configs);
  }

  private allocatePartitions(
    topic: string,
    firstIndex: number,
    assignments: readonly (readonly NodeId[])[],
  ): PartitionInfo[] {
    const created: PartitionInfo[] = [];
    for (const [offset, replicas] of assignments.entries()) {
      const partition: PartitionInfo = {
        topic,
        partition: firstIndex + offset,
        groupId: this.nextGroup++,
        replicas: [...replicas],
        initialReplicas: [...replicas],
        leader: null,
      };
      assert(!this.partitionMap.has(partition.groupId), 'group ids are never reused');
      this.partitionMap.set(partition.groupId, partition);
      created.push(partition);
    }
    return created;
  }

  private createTopic(command: CreateTopicCommand, events: ControllerEvent[]): ControllerResult {
    const invalid =
      this.checkCreateTopic(command.name, command.assignments.length, command.replicationFactor, command.configs) ??
      this.checkNewAssignments(command.assignments, command.replicationFactor);
    if (invalid !== null) return invalid;
    const topicId = this.nextTopic++;
    const partitions = this.allocatePartitions(command.name, 0, command.assignments);
    const topic: TopicInfo = {
      name: command.name,
      topicId,
      replicationFactor: command.replicationFactor,
      configs: sortedConfigs(command.configs),
      groupIds: partitions.map((partition) => partition.groupId),
    };
    this.topicMap.set(topic.name, topic);
    events.push({ type: 'topicCreated', topic, partitions });
    return ok(true, { kind: 'topicCreated', topicId, groupIds: topic.groupIds });
  }

  private deleteTopic(command: DeleteTopicCommand, events: ControllerEvent[]): ControllerResult {
    const topic = this.topicMap.get(command.name);
    if (topic === undefined) return unknownTopic(command.name);
    const partitions = this.partitionsOf(topic.name);
    for (const groupId of topic.groupIds) this.partitionMap.delete(groupId);
    this.topicMap.delete(topic.name);
    events.push({ type: 'topicDeleted', topic, partitions });
    return ok(true);
  }

  private updateTopicConfig(command: UpdateTopicConfigCommand, events: ControllerEvent[]): ControllerResult {
    const previous = this.topicMap.get(command.name);
    if (previous === undefined) return unknownTopic(command.name);
    const invalid = checkConfigs(command.set);
    if (invalid !== null) return invalid;
    for (const key of command.remove) {
      const badKey = checkConfigKey(key);
      if (badKey !== null) return badKey;
      if (command.set.some((entry) => entry.key === key)) {
        return failure('INVALID_CONFIG', `config key ${key} is both set and removed; do one`);
      }
    }
    const configs = new Map(previous.configs.map((entry) => [entry.key, entry.value]));
    for (const key of command.remove) configs.delete(key);
    for (const entry of command.set) configs.set(entry.key, entry.value);
    if (configs.size > topicConfigsMax) {
      return failure(
        'INVALID_CONFIG',
        `topic ${command.name} would have ${configs.size} config entries, more than ${topicConfigsMax}`,
      );
    }
    const next = sortedConfigs([...configs].map(([key, value]) => ({ key, value })));
    const changed =
      next.length !== previous.configs.length ||
      next.some((entry, i) => entry.key !== previous.configs[i]?.key || entry.value !== previous.configs[i]?.value);
    if (!changed) return ok(false);
    const topic = { ...previous, configs: next };
    this.topicMap.set(topic.name, topic);
    events.push({ type: 'topicConfigChanged', topic, previous });
    return ok(true);
  }

  private addPartitions(command: AddPartitionsCommand, events: ControllerEvent[]): ControllerResult {
    const previous = this.topicMap.get(command.name);
    if (previous === undefined) return unknownTopic(command.name);
    const total = previous.groupIds.length + command.assignments.length;
    if (command.assignments.length === 0 || total > partitionsPerTopicMax) {
      return failure(
        'INVALID_PARTITIONS',
        `topic ${command.name} cannot grow from ${previous.groupIds.length} to ${total} partitions (1..${partitionsPerTopicMax})`,
      );
    }
    const invalid =
      this.checkPartitionCapacity(command.assignments.length) ??
      this.checkNewAssignments(command.assignments, previous.replicationFactor);
    if (invalid !== null) return invalid;
    const partitions = this.allocatePartitions(previous.name, previous.groupIds.length, command.assignments);
    const groupIds = partitions.map((partition) => partition.groupId);
    const topic = { ...previous, groupIds: [...previous.groupIds, ...groupIds] };
    this.topicMap.set(topic.name, topic);
    events.push({ type: 'partitionsAdded', topic, partitions });
    return ok(true, { kind: 'partitionsAdded', groupIds });
  }

  private reassignPartitions(command: ReassignPartitionsCommand, events: ControllerEvent[]): ControllerResult {
    const topic = this.topicMap.get(command.name);
    if (topic === undefined) return unknownTopic(command.name);
    if (command.reassignments.length === 0) return failure('INVALID_REQUEST', 'no partitions to reassign');
    if (!distinct(command.reassignments.map((r) => r.partition))) {
      return failure('INVALID_REQUEST', 'a partition is reassigned twice in one request');
    }
    const targets: { partition: PartitionInfo; replicas: readonly NodeId[] }[] = [];
    for (const { partition: index, replicas } of command.reassignments) {
      const partition = this.partitionOf(topic.name, index);
      if (partition === undefined)
        return failure('INVALID_PARTITIONS', `topic ${topic.name} has no partition ${index}`);
      if (replicas.length < 1 || replicas.length > replicationFactorMax) {
        return failure(
          'INVALID_REPLICA_ASSIGNMENT',
          `partition ${index} gets ${replicas.length} replicas, not 1..${replicationFactorMax}`,
        );
      }
      if (!distinct(replicas)) return failure('INVALID_REPLICA_ASSIGNMENT', `partition ${index} names a broker twice`);
      // Replicas it keeps may be down (that is why one reassigns); replicas it gains must be live.
      const bad = replicas.find(
        (id) => !this.brokerMap.has(id) || (!partition.replicas.includes(id) && !this.isLive(id)),
      );
      if (bad !== undefined)
        return failure(
          'INVALID_REPLICA_ASSIGNMENT',
          `partition ${index} cannot move to broker ${bad}: it is not a live broker`,
        );
      targets.push({ partition, replicas });
    }
    let changed = false;
    for (const { partition: previous, replicas } of targets) {
      if (sameIds(previous.replicas, replicas)) continue;
      const partition = { ...previous, replicas: [...replicas] };
      this.partitionMap.set(partition.groupId, partition);
      events.push({ type: 'assignmentChanged', partition, previousReplicas: previous.replicas });
      changed = true;
    }
    return ok(changed);
  }

  /** Why a report is not recorded, or null to record it. */
  private staleOrInvalid(report: PartitionReport, partition: PartitionInfo | undefined): string | null {
    if (partition === undefined) return 'unknown group';
    if (!this.brokerMap.has(report.leaderId)) return 'unknown leader';
    if (report.term < 1) return 'no term';
    if (report.isr.length > isrSizeMax || !distinct(report.isr) || !report.isr.includes(report.leaderId))
      return 'bad isr';
    const last = partition.leader;
    if (last === null) return null;
    if (report.term < last.term) return 'older term';
    if (report.term > last.term) return null;
    // One leader per term (Raft): a different leader in the same term is a confused reporter.
    if (report.leaderId !== last.leaderId) return 'second leader in a term';
    // The high watermark of one leader's term never goes back; a lower one is a reordered report.
    if (report.highWatermark < last.highWatermark) return 'older high watermark';
    return null;
  }

  private reportPartitions(command: ReportPartitionsCommand, events: ControllerEvent[]): ControllerResult {
    let accepted = 0;
    let ignored = 0;
    for (const report of command.reports) {
      const previous = this.partitionMap.get(report.groupId);
      if (this.staleOrInvalid(report, previous) !== null || previous === undefined) {
        ignored++;
        continue;
      }
      const leader: PartitionLeaderInfo = {
        leaderId: report.leaderId,
        term: report.term,
        isr: [...report.isr],
        highWatermark: report.highWatermark,
      };
      const partition = { ...previous, leader };
      this.partitionMap.set(partition.groupId, partition);
      accepted++;
      const previousLeaderId = previous.leader?.leaderId ?? 0;
      if (previousLeaderId !== leader.leaderId) events.push({ type: 'leaderChanged', partition, previousLeaderId });
    }
    return ok(accepted > 0, { kind: 'reports', accepted, ignored });
  }

  private allocateProducerIds(command: AllocateProducerIdsCommand): ControllerResult {
    if (!this.brokerMap.has(command.brokerId)) return unknownBroker(command.brokerId);
    if (!Number.isInteger(command.count) || command.count < 1 || command.count > producerIdBlockSizeMax) {
      return failure('INVALID_REQUEST', `producer id block of ${command.count} is not in 1..${producerIdBlockSizeMax}`);
    }
    if (this.nextProducer + command.count - 1 > producerIdMax)
      return failure('PRODUCER_IDS_EXHAUSTED', 'no producer ids are left');
    const firstProducerId = this.nextProducer;
    this.nextProducer += command.count;
    return ok(true, { kind: 'producerIds', firstProducerId, count: command.count });
  }

  /**
   * Raises the finalized level when every registered broker said it reads it. A level above what
   * this code knows never gets here: the codec refuses to decode it (this broker must be upgraded).
   */
  private finalizeFeatureLevel(command: FinalizeFeatureLevelCommand, events: ControllerEvent[]): ControllerResult {
    assert(command.level <= featureLevelMax, 'the codec only decodes levels this code knows');
    if (!Number.isInteger(command.level) || command.level < featureLevelInitial)
      return failure('INVALID_FEATURE_LEVEL', `feature level ${command.level} is not a level (1..${featureLevelMax})`);
    if (command.level < this.featureLevel) {
      return failure(
        'INVALID_FEATURE_LEVEL',
        `feature level ${this.featureLevel} is finalized; a finalized level never goes down (to ${command.level})`,
      );
    }
    if (command.level === this.featureLevel) return ok(false);
    const said = new Map(command.brokers.map((broker) => [broker.brokerId, broker.levelMax]));
    for (const broker of this.brokers()) {
      const levelMax = said.get(broker.id);
      if (levelMax === undefined)
        return failure('FEATURE_LEVEL_UNSUPPORTED', `broker ${broker.id} was not asked which levels it reads; retry`);
      if (levelMax < command.level) {
        return failure(
          'FEATURE_LEVEL_UNSUPPORTED',
          `broker ${broker.id} reads feature levels up to ${levelMax}, not ${command.level}; upgrade it first`,
        );
      }
    }
    const previousLevel = this.featureLevel;
    this.featureLevel = command.level;
    events.push({ type: 'featureLevelFinalized', level: command.level, previousLevel });
    return ok(true);
  }

  /** Checks every cross-record invariant; O(state). Used after restore and by tests. */
  checkInvariants(): void {
    assert(Number.isSafeInteger(this.nextGroup), 'next group id is a safe integer');
    assert(this.nextGroup > controllerGroupId, 'next group id is past the controller group');
    assert(this.nextGroup <= groupIdMax + 1, 'next group id is a u32 or one past');
    assert(this.nextTopic >= 1, 'topic ids start at 1');
    assert(this.nextProducer >= 1, 'producer ids start at 1');
    assert(this.nextProducer <= producerIdMax + 1, 'next producer id is at most one past the last');
    assert(Number.isInteger(this.featureLevel), 'the finalized feature level is an integer');
    assert(this.featureLevel >= featureLevelInitial, 'the finalized feature level is a level');
    assert(this.featureLevel <= featureLevelMax, 'the finalized feature level is one this code reads');
    this.security.checkInvariants();
    assert(
      this.featureLevel >= securityFeatureLevel || (this.security.userCount === 0 && this.security.aclCount === 0),
      'users and ACLs exist only from feature level 3 on',
    );
    for (const [id, broker] of this.brokerMap) {
      assert(id === broker.id, 'broker keyed by its id');
      assert(checkBrokerId(id) === null, 'broker id is valid');
    }
    let partitionsOfTopics = 0;
    for (const [name, topic] of this.topicMap) {
      assert(name === topic.name, 'topic keyed by its name');
      assert(topic.topicId < this.nextTopic, 'topic id was allocated');
      partitionsOfTopics += topic.groupIds.length;
      for (const [index, groupId] of topic.groupIds.entries()) {
        const partition = this.partitionMap.get(groupId);
        assert(partition !== undefined, 'a topic group id has its partition');
        assert(partition.topic === name, 'a partition knows its topic');
        assert(partition.partition === index, 'a partition knows its index');
      }
    }
    assert(partitionsOfTopics === this.partitionMap.size, 'every partition belongs to one topic');
    for (const [groupId, partition] of this.partitionMap) {
      assert(groupId === partition.groupId, 'partition keyed by its group id');
      assert(groupId > controllerGroupId, 'a partition group is not the controller group');
      assert(groupId < this.nextGroup, 'group id was allocated');
      assert(partition.replicas.length >= 1, 'replicas are not empty');
      assert(distinct(partition.replicas), 'replicas are distinct');
      assert(partition.initialReplicas.length >= 1, 'initial replicas are not empty');
      assert(distinct(partition.initialReplicas), 'initial replicas are distinct');
    }
  }
}

function checkBrokerId(id: NodeId): ControllerFailure | null {
  if (!Number.isInteger(id) || id < 1 || id > brokerIdMax)
    return failure('INVALID_BROKER', `broker id ${id} is not in 1..${brokerIdMax}`);
  return null;
}

function unknownBroker(id: NodeId): ControllerFailure {
  return failure('UNKNOWN_BROKER', `broker ${id} is not registered; register it first`);
}

function unknownTopic(name: string): ControllerFailure {
  return failure('UNKNOWN_TOPIC', `topic ${name} does not exist`);
}
