/**
 * The commands of the controller's replicated state machine. The controller leader proposes
 * them to the controller Raft group (id 0); every broker applies them in log order.
 *
 * Commands carry decisions, not requests: the leader computes a placement (see `planCreateTopic`)
 * and the command carries the resulting replicas, so a broker running a newer placement
 * algorithm during a rolling upgrade cannot diverge from the others.
 */
import type { ScramCredential } from '@streambus/proto';
import type { NodeId } from '@streambus/raft';
import type { Acl } from '../security/acl.js';

/** A topic configuration entry; keys are unique within a command. */
export interface ConfigEntry {
  readonly key: string;
  readonly value: string;
}

/**
 * Registers a broker or refreshes its registration (also a heartbeat). A new broker starts
 * unfenced; a known broker keeps its fenced flag (the core unfences it once it caught up).
 */
export interface RegisterBrokerCommand {
  readonly type: 'registerBroker';
  readonly brokerId: NodeId;
  readonly host: string;
  readonly port: number;
  /** host:port of the broker's HTTP admin endpoint. */
  readonly adminAddress: string;
  readonly rack: string | null;
  /** The proposing leader's clock when it proposed. */
  readonly nowMs: number;
}

export interface BrokerHeartbeatCommand {
  readonly type: 'brokerHeartbeat';
  readonly brokerId: NodeId;
  readonly nowMs: number;
}

/** Fences (takes out of placement and leadership) or unfences a registered broker. */
export interface SetBrokerFencedCommand {
  readonly type: 'setBrokerFenced';
  readonly brokerId: NodeId;
  readonly fenced: boolean;
}

export interface CreateTopicCommand {
  readonly type: 'createTopic';
  readonly name: string;
  readonly replicationFactor: number;
  readonly configs: readonly ConfigEntry[];
  /** Replicas of each partition, partition i at index i; replicas[0] is the preferred leader. */
  readonly assignments: readonly (readonly NodeId[])[];
}

export interface DeleteTopicCommand {
  readonly type: 'deleteTopic';
  readonly name: string;
}

export interface UpdateTopicConfigCommand {
  readonly type: 'updateTopicConfig';
  readonly name: string;
  /** Entries to set (added or replaced). */
  readonly set: readonly ConfigEntry[];
  /** Keys to remove; a key may not be both set and removed. */
  readonly remove: readonly string[];
}

/** Adds partitions to a topic; their replicas in order, numbered after the existing ones. */
export interface AddPartitionsCommand {
  readonly type: 'addPartitions';
  readonly name: string;
  readonly assignments: readonly (readonly NodeId[])[];
}

export interface PartitionReassignment {
  readonly partition: number;
  readonly replicas: readonly NodeId[];
}

/** Sets the replicas of some partitions of one topic, all or nothing. */
export interface ReassignPartitionsCommand {
  readonly type: 'reassignPartitions';
  readonly name: string;
  readonly reassignments: readonly PartitionReassignment[];
}

/** What a partition leader reports about its group, so that metadata answers are cheap. */
export interface PartitionReport {
  readonly groupId: number;
  readonly leaderId: NodeId;
  /** The Raft term of the reporting leader. */
  readonly term: number;
  /** Replicas caught up with the leader, leader included. */
  readonly isr: readonly NodeId[];
  readonly highWatermark: number;
}

export interface ReportPartitionsCommand {
  readonly type: 'reportPartitions';
  readonly reports: readonly PartitionReport[];
}

/** Hands out `count` producer ids to a broker; the allocation is durable (never handed out twice). */
export interface AllocateProducerIdsCommand {
  readonly type: 'allocateProducerIds';
  readonly brokerId: NodeId;
  readonly count: number;
}

/** The highest feature level one broker said it reads when the finalize was planned. */
export interface BrokerFeatureLevel {
  readonly brokerId: NodeId;
  readonly levelMax: number;
}

/**
 * Raises the cluster's finalized feature level (see features.ts). It carries what every broker
 * said it reads when the controller planned it; apply refuses it unless every registered broker
 * is listed with `levelMax` at least `level`. The command exists from level 2 on: it is itself a
 * level-2 format, proposed only once every broker reads it.
 */
export interface FinalizeFeatureLevelCommand {
  readonly type: 'finalizeFeatureLevel';
  readonly level: number;
  readonly brokers: readonly BrokerFeatureLevel[];
}

/**
 * Creates a user or replaces its SCRAM credential (never a password: the SDK or the users file
 * derives the credential). Level 3 (features.ts): refused before the cluster finalized it.
 */
export interface UpsertUserCommand {
  readonly type: 'upsertUser';
  readonly name: string;
  readonly credential: ScramCredential;
}

/** Deletes a user; its ACLs stay (Kafka's behaviour). Level 3. */
export interface DeleteUserCommand {
  readonly type: 'deleteUser';
  readonly name: string;
}

/** Adds ACL bindings, all or nothing; an identical binding already there is left as is. Level 3. */
export interface CreateAclsCommand {
  readonly type: 'createAcls';
  readonly acls: readonly Acl[];
}

/** Removes the bindings equal to the given ones. Level 3. */
export interface DeleteAclsCommand {
  readonly type: 'deleteAcls';
  readonly acls: readonly Acl[];
}

export type ControllerCommand =
  | RegisterBrokerCommand
  | BrokerHeartbeatCommand
  | SetBrokerFencedCommand
  | CreateTopicCommand
  | DeleteTopicCommand
  | UpdateTopicConfigCommand
  | AddPartitionsCommand
  | ReassignPartitionsCommand
  | ReportPartitionsCommand
  | AllocateProducerIdsCommand
  | FinalizeFeatureLevelCommand
  | UpsertUserCommand
  | DeleteUserCommand
  | CreateAclsCommand
  | DeleteAclsCommand;

export type ControllerCommandType = ControllerCommand['type'];

/** Why a command was not applied. Stable strings: they cross the wire to admin clients. */
export type ControllerFailureCode =
  | 'TOPIC_ALREADY_EXISTS'
  | 'UNKNOWN_TOPIC'
  | 'INVALID_TOPIC_NAME'
  | 'INVALID_PARTITIONS'
  | 'INVALID_REPLICATION_FACTOR'
  | 'INVALID_REPLICA_ASSIGNMENT'
  | 'INVALID_CONFIG'
  | 'TOPIC_LIMIT_REACHED'
  | 'PARTITION_LIMIT_REACHED'
  | 'UNKNOWN_BROKER'
  | 'BROKER_LIMIT_REACHED'
  | 'INVALID_BROKER'
  | 'INVALID_REQUEST'
  | 'GROUP_IDS_EXHAUSTED'
  | 'PRODUCER_IDS_EXHAUSTED'
  | 'INVALID_FEATURE_LEVEL'
  | 'FEATURE_LEVEL_UNSUPPORTED'
  | 'INVALID_USER'
  | 'USER_NOT_FOUND'
  | 'USER_LIMIT_REACHED'
  | 'INVALID_ACL'
  | 'ACL_LIMIT_REACHED';

/** What applying a command produced beyond "ok". */
export type ControllerResultDetail =
  | { readonly kind: 'none' }
  | { readonly kind: 'topicCreated'; readonly topicId: number; readonly groupIds: readonly number[] }
  | { readonly kind: 'partitionsAdded'; readonly groupIds: readonly number[] }
  | { readonly kind: 'producerIds'; readonly firstProducerId: number; readonly count: number }
  | { readonly kind: 'reports'; readonly accepted: number; readonly ignored: number }
  | { readonly kind: 'aclsRemoved'; readonly removed: number };

export type ControllerResult =
  | {
      readonly ok: true;
      /** False when the command was a no-op (a retry, a heartbeat of a fenced flag already set). */
      readonly changed: boolean;
      readonly detail: ControllerResultDetail;
    }
  | { readonly ok: false; readonly code: ControllerFailureCode; readonly message: string };
