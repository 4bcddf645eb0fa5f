/**
 * Topic administration and cluster status. Requests go to any broker (brokers forward admin
 * requests to the controller); retriable failures are retried with backoff a bounded number of
 * times, the rest surface as typed errors.
 */
import {
  ErrorCode,
  drainWaitMsMax,
  fetchBytesMax,
  offsetTimestampEarliest,
  offsetTimestampLatest,
  type BrokerFeatures as WireBrokerFeatures,
  type SetBrokerDrainedResponse,
  type TopicMetadata,
} from '@streambus/proto';
import { Cluster } from '../cluster/cluster.js';
import { listOffsetsAtLeaders, type OffsetAnswer } from '../cluster/list-offsets.js';
import { readBatchesAtLeader, type StoredBatches } from '../cluster/read-batches.js';
import type { ClientOptions } from '../cluster/options.js';
import { InvalidConfigError, errorFromCode } from '../errors.js';
import type { TopicPartition } from '../records.js';
import {
  deleteGroups,
  describeGroup,
  fetchGroupOffsets,
  listGroups,
  resetOffsets,
  type GroupDescription,
  type GroupListing,
  type GroupOffset,
  type OffsetResetPlan,
  type OffsetResetTarget,
} from './groups.js';
import {
  createAcls,
  createUser,
  deleteAcls,
  deleteUser,
  listAcls,
  listUsers,
  type AclEntry,
  type AclFilter,
  type UserDescription,
} from './security.js';

/** Bytes one readBatches call asks for by default. */
const readBatchesBytesDefault = 4 * 1024 * 1024;

/** How long a drain call waits for the broker's leaderships to move, by default. */
const drainWaitMsDefault = 5_000;

/** Admin options: the common client options. */
export type AdminOptions = ClientOptions;

/** A topic to create. */
export interface NewTopic {
  name: string;
  /** Partition count (default: the broker's default). */
  partitions?: number;
  /** Replicas per partition (default: the broker's default, 3 or fewer brokers). */
  replicationFactor?: number;
  /** Topic configs, for example `{ 'retention.ms': '86400000' }`. */
  configs?: Record<string, string>;
}

/** One partition as described by the cluster. */
export interface PartitionDescription {
  partition: number;
  /** Leader broker id, 0 while an election is under way. */
  leaderId: number;
  /** Raft term of the leader. */
  leaderEpoch: number;
  replicas: number[];
  inSyncReplicas: number[];
  highWatermark: number;
  logStartOffset: number;
}

/** A topic as described by the cluster. */
export interface TopicDescription {
  name: string;
  partitions: PartitionDescription[];
  configs: Record<string, string>;
}

/** Cluster status as reported by the controller. */
export interface ClusterStatus {
  clusterId: string;
  controllerId: number;
  brokers: {
    id: number;
    host: string;
    port: number;
    rack: string;
    alive: boolean;
    leaderCount: number;
    replicaCount: number;
    /** In maintenance mode (`drainBroker`): leads nothing, gets no new replicas. */
    drained: boolean;
  }[];
  underReplicatedPartitions: TopicPartition[];
  offlinePartitions: TopicPartition[];
  topicCount: number;
  partitionCount: number;
}

/** A partition's new replica list, the preferred leader first. */
export interface PartitionReassignment {
  partition: number;
  replicas: number[];
}

/** Where a broker stands in maintenance mode (`drainBroker`, `undrainBroker`). */
export interface BrokerDrainStatus {
  brokerId: number;
  /** The maintenance flag as the controller recorded it. */
  drained: boolean;
  /** Raft groups the broker still leads (partitions and the controller group). */
  groupsLed: number;
  /** True while it leads the controller group. */
  controllerLeader: boolean;
  /** Up to 100 of the partitions it still leads. */
  partitionsLed: TopicPartition[];
  /** The broker that counted: exact when it is `brokerId`, else the controller's last reports. */
  answeredBy: number;
}

/** Which cluster feature levels one broker reads (`describeFeatures`). */
export interface BrokerFeatures {
  brokerId: number;
  /** Its StreamBus version; empty when it predates feature levels (it reads level 1 only). */
  version: string;
  levelMin: number;
  levelMax: number;
  /** False when it did not answer; its levels are then 0. */
  reachable: boolean;
  errorMessage: string;
}

/** The cluster's feature levels (Kafka's metadata.version). */
export interface ClusterFeatures {
  /** The finalized level: formats above it stay off. */
  finalizedLevel: number;
  /** The highest level every registered broker reads; 0 when one did not answer. */
  finalizableLevel: number;
  brokers: BrokerFeatures[];
  /** The levels the answering broker knows, with what each turns on. */
  levels: { level: number; summary: string }[];
}

/** Which offset to look up: earliest, latest, or the first at or after a timestamp (ms). */
export type OffsetSpec = 'earliest' | 'latest' | { timestampMs: number };

/** Manages topics and reads cluster state. */
export class Admin {
  private readonly cluster: Cluster;

  constructor(options: AdminOptions) {
    this.cluster = new Cluster(options);
  }

  /**
   * Creates topics. Throws the typed error of the first topic that failed
   * (TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_REQUEST, ...).
   */
  async createTopics(
    topics: readonly NewTopic[],
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    const response = await this.cluster.callWithRetries('any', 'CreateTopics', {
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions ?? 0,
        replicationFactor: t.replicationFactor ?? 0,
        configs: t.configs ?? {},
      })),
      timeoutMs: options.timeoutMs ?? 0,
      validateOnly: options.validateOnly ?? false,
    });
    for (const result of response.topics) {
      if (result.errorCode !== ErrorCode.NONE)
        throw errorFromCode(result.errorCode, `topic "${result.name}": ${result.errorMessage}`);
    }
    for (const t of topics) this.cluster.invalidateTopic(t.name);
  }

  /** Creates one topic. */
  createTopic(topic: NewTopic): Promise<void> {
    return this.createTopics([topic]);
  }

  /** Deletes topics and their data. Throws UNKNOWN_TOPIC_OR_PARTITION for a missing topic. */
  async deleteTopics(names: readonly string[], options: { timeoutMs?: number } = {}): Promise<void> {
    const response = await this.cluster.callWithRetries('any', 'DeleteTopics', {
      topics: [...names],
      timeoutMs: options.timeoutMs ?? 0,
    });
    for (const name of names) this.cluster.invalidateTopic(name);
    for (const result of response.topics) {
      if (result.errorCode !== ErrorCode.NONE)
        throw errorFromCode(result.errorCode, `topic "${result.name}": ${result.errorMessage}`);
    }
  }

  /** Deletes one topic. */
  deleteTopic(name: string): Promise<void> {
    return this.deleteTopics([name]);
  }

  /**
   * Moves partitions of `topic` to new replica lists, all or none (Kafka's
   * alterPartitionReassignments). Resolves once the controller recorded the targets; each
   * partition's leader then changes the Raft membership one replica at a time (new replicas
   * join as learners and are promoted once caught up; only then are the old ones removed).
   * Watch the move with `describeTopic` (replicas are the target; inSyncReplicas the voters
   * caught up). Throws the typed error of the first partition that failed: UNKNOWN_TOPIC_OR_PARTITION,
   * INVALID_PARTITIONS, INVALID_REQUEST (a bad replica list).
   */
  async reassignPartitions(
    topic: string,
    reassignments: readonly PartitionReassignment[],
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const response = await this.cluster.callWithRetries('any', 'ReassignPartitions', {
      topic,
      partitions: reassignments.map((r) => ({ partition: r.partition, replicas: [...r.replicas] })),
      timeoutMs: options.timeoutMs ?? 0,
    });
    this.cluster.invalidateTopic(topic);
    // All or nothing: the broker answers the valid partitions of a refused request "not recorded";
    // report the partition that caused the refusal.
    const failures = response.partitions.filter((result) => result.errorCode !== ErrorCode.NONE);
    const cause = failures.find((result) => !result.errorMessage.startsWith('not recorded')) ?? failures[0];
    if (cause !== undefined)
      throw errorFromCode(cause.errorCode, `topic "${topic}" partition ${cause.partition}: ${cause.errorMessage}`);
  }

  /** Names of all topics, sorted. */
  async listTopics(): Promise<string[]> {
    const topics = await this.cluster.allTopics();
    return topics.map((t) => t.name).sort();
  }

  /** Partitions, leaders, replicas and offsets of a topic. Throws UNKNOWN_TOPIC_OR_PARTITION. */
  async describeTopic(name: string): Promise<TopicDescription> {
    const response = await this.cluster.callWithRetries('any', 'Metadata', { topics: [name], brokersOnly: false });
    const topic = response.topics.find((t) => t.name === name);
    if (topic === undefined)
      throw errorFromCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
    if (topic.errorCode !== ErrorCode.NONE) throw errorFromCode(topic.errorCode, `topic "${name}"`);
    return describe(topic);
  }

  /** Brokers with liveness and leader counts, the controller, under-replicated partitions. */
  async clusterStatus(): Promise<ClusterStatus> {
    const r = await this.cluster.callWithRetries('any', 'ClusterStatus', {});
    return {
      clusterId: r.clusterId,
      controllerId: r.controllerId,
      brokers: r.brokers.map((b) => ({
        ...b.broker,
        alive: b.alive,
        leaderCount: b.leaderCount,
        replicaCount: b.replicaCount,
        drained: b.drained,
      })),
      underReplicatedPartitions: r.underReplicatedPartitions.map(({ topic, partition }) => ({ topic, partition })),
      offlinePartitions: r.offlinePartitions.map(({ topic, partition }) => ({ topic, partition })),
      topicCount: r.topicCount,
      partitionCount: r.partitionCount,
    };
  }

  /**
   * Puts a broker in maintenance mode (`streambus broker drain`): the controller records it, and
   * the broker hands every leadership it holds to in-sync peers, stops being a preferred leader
   * and gets no new replicas. `brokerId` undefined means the broker this client reaches (give
   * one bootstrap server). The call goes to that broker and waits up to `waitMs` (at most
   * 10000, default 5000) for it to lead nothing; call again until `groupsLed` is 0. Throws
   * INVALID_REQUEST for an unknown broker, UNSUPPORTED_VERSION when the broker predates drain.
   */
  async drainBroker(brokerId?: number, options: { waitMs?: number } = {}): Promise<BrokerDrainStatus> {
    const waitMs = options.waitMs ?? drainWaitMsDefault;
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > drainWaitMsMax)
      throw new InvalidConfigError(`waitMs must be in 0..${drainWaitMsMax}, got ${waitMs}`);
    return this.setBrokerDrained(brokerId, true, waitMs);
  }

  /**
   * Takes a broker out of maintenance mode (`streambus broker undrain`): leaders hand its
   * preferred partitions back to it once it is in sync. Served by any broker.
   */
  undrainBroker(brokerId?: number): Promise<BrokerDrainStatus> {
    return this.setBrokerDrained(brokerId, false, 0);
  }

  private async setBrokerDrained(
    brokerId: number | undefined,
    drained: boolean,
    waitMs: number,
  ): Promise<BrokerDrainStatus> {
    if (brokerId !== undefined && (!Number.isInteger(brokerId) || brokerId < 1))
      throw new InvalidConfigError(`broker id must be a positive integer, got ${brokerId}`);
    if (brokerId !== undefined && !this.cluster.brokerList().some((broker) => broker.id === brokerId))
      await this.cluster.refreshMetadata();
    const request = { brokerId: brokerId ?? 0, drained, waitMs };
    // The broker being drained answers best; an undrain goes to any broker when it is away.
    const target = brokerId === undefined || (!drained && this.cluster.isBackingOff(brokerId)) ? 'any' : brokerId;
    const response = await this.cluster.callWithRetries(target, 'SetBrokerDrained', request, {
      deadlineMs: this.cluster.options.requestTimeoutMs + waitMs,
    });
    return drainStatus(response);
  }

  /**
   * The finalized feature level and what each broker reads. Throws UNSUPPORTED_VERSION when the
   * broker answering predates feature levels.
   */
  async describeFeatures(options: { timeoutMs?: number } = {}): Promise<ClusterFeatures> {
    const r = await this.cluster.callWithRetries('any', 'DescribeFeatures', {
      localOnly: false,
      timeoutMs: options.timeoutMs ?? 0,
    });
    return {
      finalizedLevel: r.finalizedLevel,
      finalizableLevel: r.finalizableLevel,
      brokers: r.brokers.map(brokerFeatures),
      levels: r.levels.map(({ level, summary }) => ({ level, summary })),
    };
  }

  /**
   * Raises the cluster's finalized feature level (`streambus features finalize`) to `level`, by
   * default the highest every broker reads, and resolves with the level finalized (and the one
   * before: equal when nothing changed). A finalized
   * level never goes down. Throws INVALID_REQUEST (the message says which broker does not read it,
   * or did not answer), REQUEST_TIMED_OUT.
   */
  async finalizeFeatureLevel(
    level?: number,
    options: { validateOnly?: boolean; timeoutMs?: number } = {},
  ): Promise<{ finalizedLevel: number; previousLevel: number; brokers: BrokerFeatures[] }> {
    if (level !== undefined && (!Number.isInteger(level) || level < 1))
      throw new InvalidConfigError(`feature level must be a positive integer, got ${level}`);
    const r = await this.cluster.callWithRetries('any', 'FinalizeFeatureLevel', {
      level: level ?? 0,
      validateOnly: options.validateOnly ?? false,
      timeoutMs: options.timeoutMs ?? 0,
    });
    if (r.errorCode !== ErrorCode.NONE) throw errorFromCode(r.errorCode, r.errorMessage);
    return { finalizedLevel: r.finalizedLevel, previousLevel: r.previousLevel, brokers: r.brokers.map(brokerFeatures) };
  }

  /**
   * The controller's replicated state (brokers, topics, configs, partitions and their replicas,
   * id counters, the finalized feature level) as one checksummed controller snapshot, for backups
   * (`streambus backup create`). Throws UNSUPPORTED_VERSION on brokers that predate it.
   */
  async exportControllerState(): Promise<{
    clusterId: string;
    appliedIndex: number;
    finalizedLevel: number;
    snapshot: Uint8Array;
  }> {
    const r = await this.cluster.callWithRetries('any', 'ExportControllerState', {});
    return {
      clusterId: r.clusterId,
      appliedIndex: r.appliedIndex,
      finalizedLevel: r.finalizedLevel,
      snapshot: new Uint8Array(r.snapshot),
    };
  }

  /**
   * Committed record batches of a partition from `offset`, exactly as stored (the record batch
   * format, CRC-32C included), about `bytesMax` of them (default 4 MiB; the first batch comes whole
   * and may begin before `offset`), without waiting for new data: for backups and mirrors. Throws
   * OFFSET_OUT_OF_RANGE outside [log start offset, high watermark].
   */
  readBatches(tp: TopicPartition, offset: number, options: { bytesMax?: number } = {}): Promise<StoredBatches> {
    const bytesMax = options.bytesMax ?? readBatchesBytesDefault;
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new InvalidConfigError(`offset must be a non-negative integer, got ${offset}`);
    if (!Number.isSafeInteger(bytesMax) || bytesMax < 1 || bytesMax > fetchBytesMax)
      throw new InvalidConfigError(`bytesMax must be in 1..${fetchBytesMax}, got ${bytesMax}`);
    return readBatchesAtLeader(this.cluster, tp, offset, bytesMax);
  }

  /** Offsets of partitions: earliest, latest (the high watermark), or by timestamp. */
  listOffsets(partitions: readonly TopicPartition[], spec: OffsetSpec): Promise<OffsetAnswer[]> {
    let timestampMs: number;
    if (spec === 'earliest') timestampMs = offsetTimestampEarliest;
    else if (spec === 'latest') timestampMs = offsetTimestampLatest;
    else if (Number.isSafeInteger(spec.timestampMs) && spec.timestampMs >= 0) timestampMs = spec.timestampMs;
    else throw new InvalidConfigError(`timestampMs must be >= 0, got ${spec.timestampMs}`);
    return listOffsetsAtLeaders(
      this.cluster,
      partitions.map(({ topic, partition }) => ({ topic, partition, timestampMs })),
    );
  }

  /** Every consumer group of the cluster (each broker answers for the groups it coordinates), sorted by id. */
  listGroups(): Promise<GroupListing[]> {
    return listGroups(this.cluster);
  }

  /**
   * A group's members and assignments, and per partition its committed offset, log end offset
   * and lag (from the log start when nothing is committed). Throws GROUP_ID_NOT_FOUND.
   */
  describeGroup(groupId: string): Promise<GroupDescription> {
    return describeGroup(this.cluster, groupId);
  }

  /** Deletes empty groups and their committed offsets. Throws GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP. */
  deleteGroups(groupIds: readonly string[]): Promise<void> {
    return deleteGroups(this.cluster, groupIds);
  }

  /** A group's committed offsets, sorted by topic and partition. */
  fetchOffsets(groupId: string): Promise<GroupOffset[]> {
    return fetchGroupOffsets(this.cluster, groupId);
  }

  /**
   * Plans moving a group's committed offsets of every partition of `topic` to `to` and returns
   * the plan; applies it only with `execute: true` (refused with NON_EMPTY_GROUP while the group
   * has members: stop its consumers first).
   */
  resetOffsets(
    groupId: string,
    topic: string,
    to: OffsetResetTarget,
    options: { execute?: boolean } = {},
  ): Promise<OffsetResetPlan> {
    return resetOffsets(this.cluster, groupId, topic, to, options.execute ?? false);
  }

  /**
   * Creates user `name`, or replaces its password. The SCRAM-SHA-256 credential (salt,
   * iterations, StoredKey, ServerKey) is derived here: the password never leaves the client.
   * Needs `alter` on `cluster`.
   */
  createUser(name: string, password: string, options: { iterations?: number } = {}): Promise<void> {
    return createUser(this.cluster, name, password, options);
  }

  /** Deletes a user (its ACLs stay). Throws UserNotFoundError when there is none. Needs `alter` on `cluster`. */
  deleteUser(name: string): Promise<void> {
    return deleteUser(this.cluster, name);
  }

  /** Every user's name, mechanism and iterations (never a credential), sorted. Needs `describe` on `cluster`. */
  listUsers(): Promise<UserDescription[]> {
    return listUsers(this.cluster);
  }

  /** Adds ACLs; an identical ACL already there is left as is. Needs `alter` on `cluster`. */
  createAcls(acls: readonly AclEntry[]): Promise<void> {
    return createAcls(this.cluster, acls);
  }

  /** Removes the ACLs equal to the given ones; resolves with how many were removed. Needs `alter` on `cluster`. */
  deleteAcls(acls: readonly AclEntry[]): Promise<number> {
    return deleteAcls(this.cluster, acls);
  }

  /** The ACLs of a principal and/or a resource, or every ACL. Needs `describe` on `cluster`. */
  listAcls(filter: AclFilter = {}): Promise<AclEntry[]> {
    return listAcls(this.cluster, filter);
  }

  /** Closes the connections. */
  close(): Promise<void> {
    this.cluster.close();
    return Promise.resolve();
  }
}

function brokerFeatures(broker: WireBrokerFeatures): BrokerFeatures {
  return {
    brokerId: broker.brokerId,
    version: broker.version,
    levelMin: broker.levelMin,
    levelMax: broker.levelMax,
    reachable: broker.reachable,
    errorMessage: broker.errorMessage,
  };
}

function drainStatus(response: SetBrokerDrainedResponse): BrokerDrainStatus {
  return {
    brokerId: response.brokerId,
    drained: response.drained,
    groupsLed: response.groupsLed,
    controllerLeader: response.controllerLeader,
    partitionsLed: response.partitionsLed.map(({ topic, partition }) => ({ topic, partition })),
    answeredBy: response.answeredBy,
  };
}

function describe(topic: TopicMetadata): TopicDescription {
  return {
    name: topic.name,
    configs: { ...topic.configs },
    partitions: topic.partitions
      .map((p) => ({
        partition: p.partition,
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        replicas: [...p.replicas],
        inSyncReplicas: [...p.inSyncReplicas],
        highWatermark: p.highWatermark,
        logStartOffset: p.logStartOffset,
      }))
      .sort((a, b) => a.partition - b.partition),
  };
}
