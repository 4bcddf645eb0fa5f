/**
 * What the client verbs need from a StreamBus client. The CLI is written against this small
 * interface so that argument parsing, output and exit codes are tested with a fake, and the real
 * SDK (@streambus/client) is plugged in by a thin adapter (client-adapter.ts).
 *
 * Failures are thrown as errors with a stable string `code` (the SDK's codes: TOPIC_ALREADY_EXISTS,
 * UNKNOWN_TOPIC_OR_PARTITION, BROKER_NOT_AVAILABLE, REQUEST_TIMED_OUT, ...); see exit-codes.ts
 * for how they map to exit codes.
 */

export interface CliPartitionDescription {
  readonly partition: number;
  /** 0 while an election is under way. */
  readonly leaderId: number;
  readonly replicas: readonly number[];
  readonly inSyncReplicas: readonly number[];
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export interface CliTopicDescription {
  readonly name: string;
  readonly partitions: readonly CliPartitionDescription[];
}

export interface CliTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface CliBrokerStatus {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly alive: boolean;
  readonly leaderCount: number;
  readonly replicaCount: number;
  /** In maintenance mode (`broker drain`). */
  readonly drained: boolean;
}

/** Where a broker stands in maintenance mode (`broker drain`, `broker undrain`). */
export interface CliDrainStatus {
  readonly brokerId: number;
  readonly drained: boolean;
  /** Raft groups it still leads, the controller group included. */
  readonly groupsLed: number;
  readonly controllerLeader: boolean;
  /** Some of the partitions it still leads. */
  readonly partitionsLed: readonly CliTopicPartition[];
}

export interface CliClusterStatus {
  readonly clusterId: string;
  /** 0 when the controller has no leader. */
  readonly controllerId: number;
  readonly brokers: readonly CliBrokerStatus[];
  readonly underReplicatedPartitions: readonly CliTopicPartition[];
  readonly offlinePartitions: readonly CliTopicPartition[];
  readonly topicCount: number;
  readonly partitionCount: number;
}

export interface CliProduceRecord {
  readonly topic: string;
  /** Absent: the client's partitioner chooses (by key hash, else spread). */
  readonly partition?: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
}

export interface CliProduceResult {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export type CliConsumeStart = 'beginning' | 'end' | { readonly offset: number };

export interface CliConsumeRequest {
  readonly topic: string;
  /** Absent: every partition of the topic. */
  readonly partition?: number;
  /**
   * Consume as a member of this consumer group: the group assigns the partitions, each starts at
   * the group's committed offset (else `start`: 'beginning' or 'end'), and positions are committed
   * as records are printed (at least once). Excludes `partition` and an explicit offset.
   */
  readonly group?: string;
  readonly start: CliConsumeStart;
  /** Stop consuming (the iterator ends) when aborted. */
  readonly signal: AbortSignal;
}

export interface CliRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
}

export interface CliNewTopic {
  readonly name: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
}

/** A partition's new replica list, the preferred leader first. */
export interface CliPartitionReassignment {
  readonly partition: number;
  readonly replicas: readonly number[];
}

/** Which feature levels one broker reads. */
export interface CliBrokerFeatures {
  readonly brokerId: number;
  /** Empty when it predates feature levels (it reads level 1 only). */
  readonly version: string;
  readonly levelMin: number;
  readonly levelMax: number;
  readonly reachable: boolean;
  readonly errorMessage: string;
}

/** The cluster's feature levels. */
export interface CliClusterFeatures {
  readonly finalizedLevel: number;
  /** 0 when a broker did not answer. */
  readonly finalizableLevel: number;
  readonly brokers: readonly CliBrokerFeatures[];
  readonly levels: readonly { readonly level: number; readonly summary: string }[];
}

/** A consumer group as listed. */
export interface CliGroupListing {
  readonly groupId: string;
  readonly state: string;
  readonly memberCount: number;
  readonly coordinatorId: number;
}

export interface CliGroupMember {
  readonly memberId: string;
  readonly instanceId: string;
  readonly clientId: string;
  readonly clientHost: string;
  readonly memberEpoch: number;
  readonly assignment: readonly CliTopicPartition[];
}

/** One partition of a described group; -1: no commit (offset), unknown (end, lag). */
export interface CliGroupPartition {
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: number;
  readonly logEndOffset: number;
  readonly lag: number;
  /** '' when no member owns it. */
  readonly memberId: string;
  readonly clientHost: string;
}

export interface CliGroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly groupEpoch: number;
  readonly assignor: string;
  readonly coordinatorId: number;
  readonly members: readonly CliGroupMember[];
  readonly partitions: readonly CliGroupPartition[];
}

/** Where reset-offsets moves a group. */
export type CliOffsetResetTarget =
  'earliest' | 'latest' | { readonly offset: number } | { readonly timestampMs: number };

export interface CliOffsetResetPlan {
  readonly groupId: string;
  readonly topic: string;
  readonly partitions: readonly {
    readonly partition: number;
    /** -1: nothing committed. */
    readonly currentOffset: number;
    readonly newOffset: number;
  }[];
  readonly executed: boolean;
  readonly memberCount: number;
}

/** A user as listed (never its credential). */
export interface CliUser {
  readonly name: string;
  readonly mechanism: string;
  readonly iterations: number;
}

/** One ACL, in the protocol's words (security.proto). */
export interface CliAcl {
  /** `user:NAME` or `user:*`. */
  readonly principal: string;
  readonly permission: 'allow' | 'deny';
  /** read, write, create, delete, describe, alter, cluster-action or all. */
  readonly operation: string;
  /** `topic:NAME`, `topic:PREFIX*`, `group:NAME`, `group:PREFIX*` or `cluster`. */
  readonly resource: string;
}

export interface CliClient {
  /** Absent counts take the cluster's defaults. */
  createTopic(topic: CliNewTopic): Promise<void>;
  listTopics(): Promise<readonly string[]>;
  describeTopic(name: string): Promise<CliTopicDescription>;
  deleteTopic(name: string): Promise<void>;
  /**
   * Records new replica lists for partitions of `topic`, all or none. Resolves once the
   * controller recorded the targets; the partition leaders then move the replicas in the
   * background (describeTopic shows the progress). Fails with UNKNOWN_TOPIC_OR_PARTITION,
   * INVALID_PARTITIONS or INVALID_REQUEST (a bad replica list).
   */
  reassignPartitions(topic: string, reassignments: readonly CliPartitionReassignment[]): Promise<void>;
  /** Sends records with acks=all; results are in the order of `records`. */
  produce(records: readonly CliProduceRecord[]): Promise<readonly CliProduceResult[]>;
  /** Committed records in offset order per partition, until the signal aborts. */
  consume(request: CliConsumeRequest): AsyncIterable<CliRecord>;
  clusterStatus(): Promise<CliClusterStatus>;
  /**
   * Drains (maintenance mode on) or undrains broker `brokerId`; null: the broker at the single
   * bootstrap address. A drain waits up to `waitMs` for the broker to lead nothing and answers
   * what it still leads. Fails with INVALID_REQUEST (unknown broker), UNSUPPORTED_VERSION.
   */
  setBrokerDrained(brokerId: number | null, drained: boolean, waitMs: number): Promise<CliDrainStatus>;
  /** Fails with UNSUPPORTED_VERSION when the broker predates feature levels. */
  describeFeatures(): Promise<CliClusterFeatures>;
  /** Finalizes `level` (null: the highest every broker reads); resolves with the level finalized. INVALID_REQUEST says why not. */
  finalizeFeatureLevel(
    level: number | null,
    validateOnly: boolean,
  ): Promise<{
    readonly finalizedLevel: number;
    /** The level before: equal to finalizedLevel when nothing changed. */
    readonly previousLevel: number;
    readonly brokers: readonly CliBrokerFeatures[];
  }>;
  /** The controller's state as a checksummed snapshot (backup create). UNSUPPORTED_VERSION on older brokers. */
  exportControllerState(): Promise<{
    readonly clusterId: string;
    readonly appliedIndex: number;
    readonly finalizedLevel: number;
    readonly snapshot: Uint8Array;
  }>;
  /** Earliest (log start) or latest (high watermark) offsets of partitions. */
  listOffsets(
    partitions: readonly CliTopicPartition[],
    spec: 'earliest' | 'latest',
  ): Promise<readonly { readonly topic: string; readonly partition: number; readonly offset: number }[]>;
  /** Committed batches of a partition from `offset`, as stored, about `bytesMax` of them. */
  readBatches(
    tp: CliTopicPartition,
    offset: number,
    bytesMax: number,
  ): Promise<{ readonly batches: readonly Uint8Array[]; readonly highWatermark: number }>;
  /** Every consumer group of the cluster. */
  listGroups(): Promise<readonly CliGroupListing[]>;
  /** Members, offsets and lag of a group; GROUP_ID_NOT_FOUND. */
  describeGroup(groupId: string): Promise<CliGroupDescription>;
  /** Deletes an empty group and its offsets; GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP. */
  deleteGroup(groupId: string): Promise<void>;
  /** The plan of moving the group's offsets of `topic`; applied with `execute` (NON_EMPTY_GROUP while it has members). */
  resetOffsets(groupId: string, topic: string, to: CliOffsetResetTarget, execute: boolean): Promise<CliOffsetResetPlan>;
  /** Creates a user or replaces its password; the SDK derives the credential, the password is not sent. */
  createUser(name: string, password: string): Promise<void>;
  /** USER_NOT_FOUND when there is no such user. */
  deleteUser(name: string): Promise<void>;
  listUsers(): Promise<readonly CliUser[]>;
  createAcls(acls: readonly CliAcl[]): Promise<void>;
  /** Resolves with how many ACLs were removed. */
  deleteAcls(acls: readonly CliAcl[]): Promise<number>;
  /** ACLs of a principal and/or an exact resource; every ACL without either. */
  listAcls(filter: { readonly principal?: string; readonly resource?: string }): Promise<readonly CliAcl[]>;
  close(): Promise<void>;
}

export interface CliClientOptions {
  /** host:port of brokers to bootstrap from. */
  readonly bootstrap: readonly string[];
  /** Per-operation deadline. */
  readonly timeoutMs: number;
  /** TLS to the brokers: the PEM contents of the files named (absent: plaintext). */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** SCRAM-SHA-256 credentials (absent: no authentication). */
  readonly sasl?: { readonly username: string; readonly password: string };
}

/** Async so that main.ts can load the SDK (and gRPC) only when a client verb runs. */
export type CliClientFactory = (options: CliClientOptions) => Promise<CliClient>;
