/**
 * TypeScript shapes of the messages of `streambus.v1` (proto/streambus/v1/streambus.proto), as
 * @grpc/proto-loader produces and accepts them with the options in `load.ts`: camelCase field
 * names, int64 as `number` (values above 2^53 - 1 are not supported by this code), bytes as
 * `Buffer`/`Uint8Array`, enums as numbers, maps as plain objects, every field present when
 * decoded. See the .proto file for what each field means.
 */
import type { ErrorCode } from './error-code.js';

/** When the broker answers a Produce (proto enum `streambus.v1.Acks`). */
export const Acks = { ALL: 0, LEADER: 1, NONE: 2 } as const;
/** A wire acks value. */
export type Acks = (typeof Acks)[keyof typeof Acks];

export interface MetadataRequest {
  topics: string[];
  brokersOnly: boolean;
}

export interface BrokerInfo {
  id: number;
  host: string;
  port: number;
  rack: string;
}

export interface PartitionMetadata {
  errorCode: ErrorCode;
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  inSyncReplicas: number[];
  highWatermark: number;
  logStartOffset: number;
}

export interface TopicMetadata {
  errorCode: ErrorCode;
  name: string;
  partitions: PartitionMetadata[];
  configs: Record<string, string>;
}

export interface MetadataResponse {
  apiVersion: number;
  clusterId: string;
  controllerId: number;
  brokers: BrokerInfo[];
  topics: TopicMetadata[];
  brokerId: number;
}

export interface CreatableTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

export interface CreateTopicsRequest {
  topics: CreatableTopic[];
  timeoutMs: number;
  validateOnly: boolean;
}

export interface TopicResult {
  name: string;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface CreateTopicsResponse {
  topics: TopicResult[];
}

export interface DeleteTopicsRequest {
  topics: string[];
  timeoutMs: number;
}

export interface DeleteTopicsResponse {
  topics: TopicResult[];
}

export interface PartitionReassignment {
  partition: number;
  /** The new replicas, the preferred leader first. */
  replicas: number[];
}

export interface ReassignPartitionsRequest {
  topic: string;
  partitions: PartitionReassignment[];
  timeoutMs: number;
}

export interface PartitionReassignmentResult {
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface ReassignPartitionsResponse {
  partitions: PartitionReassignmentResult[];
}

/** ClusterStatus takes no arguments today. */
export type ClusterStatusRequest = Record<string, never>;

export interface BrokerStatus {
  broker: BrokerInfo;
  alive: boolean;
  leaderCount: number;
  replicaCount: number;
  drained: boolean;
}

export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface ClusterStatusResponse {
  clusterId: string;
  controllerId: number;
  brokers: BrokerStatus[];
  underReplicatedPartitions: PartitionRef[];
  offlinePartitions: PartitionRef[];
  topicCount: number;
  partitionCount: number;
}

export interface InitProducerIdRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
}

export interface InitProducerIdResponse {
  errorCode: ErrorCode;
  producerId: number;
  producerEpoch: number;
}

export interface PartitionProduceData {
  topic: string;
  partition: number;
  /** Exactly one encoded record batch. */
  records: Uint8Array;
}

export interface ProduceRequest {
  acks: Acks;
  timeoutMs: number;
  partitions: PartitionProduceData[];
  transactionalId: string;
}

export interface PartitionProduceResult {
  topic: string;
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  baseOffset: number;
  logAppendTimeMs: number;
  leaderId: number;
  leaderEpoch: number;
  logStartOffset: number;
}

export interface ProduceResponse {
  partitions: PartitionProduceResult[];
  throttleTimeMs: number;
}

export interface FetchPartition {
  topic: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitions: FetchPartition[];
  replicaId: number;
}

export interface FetchPartitionResult {
  topic: string;
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  highWatermark: number;
  logStartOffset: number;
  /** Zero or more whole record batches, concatenated as stored. */
  records: Uint8Array;
  leaderId: number;
  leaderEpoch: number;
}

export interface FetchResponse {
  partitions: FetchPartitionResult[];
  throttleTimeMs: number;
}

export interface ListOffsetsPartition {
  topic: string;
  partition: number;
  timestampMs: number;
}

export interface ListOffsetsRequest {
  partitions: ListOffsetsPartition[];
}

export interface ListOffsetsPartitionResult {
  topic: string;
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
  offset: number;
  timestampMs: number;
  leaderId: number;
}

export interface ListOffsetsResponse {
  partitions: ListOffsetsPartitionResult[];
}

export interface SetBrokerDrainedRequest {
  brokerId: number;
  drained: boolean;
  waitMs: number;
}

export interface SetBrokerDrainedResponse {
  brokerId: number;
  drained: boolean;
  groupsLed: number;
  controllerLeader: boolean;
  partitionsLed: PartitionRef[];
  answeredBy: number;
}

export interface FeatureLevelInfo {
  level: number;
  summary: string;
}

export interface BrokerFeatures {
  brokerId: number;
  version: string;
  levelMin: number;
  levelMax: number;
  reachable: boolean;
  errorMessage: string;
}

export interface DescribeFeaturesRequest {
  localOnly: boolean;
  timeoutMs: number;
}

export interface DescribeFeaturesResponse {
  brokerId: number;
  finalizedLevel: number;
  finalizableLevel: number;
  brokers: BrokerFeatures[];
  levels: FeatureLevelInfo[];
}

export interface FinalizeFeatureLevelRequest {
  level: number;
  validateOnly: boolean;
  timeoutMs: number;
}

export interface FinalizeFeatureLevelResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  finalizedLevel: number;
  brokers: BrokerFeatures[];
  previousLevel: number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the request has no fields (yet)
export interface ExportControllerStateRequest {}

export interface ExportControllerStateResponse {
  brokerId: number;
  clusterId: string;
  appliedIndex: number;
  finalizedLevel: number;
  snapshot: Uint8Array;
}

/** Request and response types of each RPC of the StreamBus service, keyed by method name. */
// --- Consumer groups (proto/streambus/v1/groups.proto) ---------------------------------------
// Message fields (subscribedTopics, subscribedTopicRegex, owned, assignment) are `null` when
// decoded absent; leave them undefined or null to send them absent ("unchanged").

export interface FindCoordinatorRequest {
  groupIds: string[];
}

export interface Coordinator {
  groupId: string;
  errorCode: ErrorCode;
  errorMessage: string;
  nodeId: number;
  host: string;
  port: number;
  partition: number;
}

export interface FindCoordinatorResponse {
  coordinators: Coordinator[];
}

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface OwnedPartitions {
  topicPartitions: TopicPartitions[];
}

export interface SubscribedTopics {
  names: string[];
}

export interface SubscribedRegex {
  pattern: string;
}

export interface ConsumerGroupHeartbeatRequest {
  groupId: string;
  memberId: string;
  /** 0 join, > 0 the epoch last received, -1 leave, -2 static member leaves temporarily. */
  memberEpoch: number;
  instanceId: string;
  rebalanceTimeoutMs: number;
  subscribedTopics?: SubscribedTopics | null;
  subscribedTopicRegex?: SubscribedRegex | null;
  serverAssignor: string;
  owned?: OwnedPartitions | null;
  clientId: string;
}

export interface ConsumerGroupHeartbeatResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  memberId: string;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment?: OwnedPartitions | null;
  leaderId: number;
}

export interface OffsetCommitPartition {
  topic: string;
  partition: number;
  offset: number;
  metadata: string;
}

export interface OffsetCommitRequest {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  partitions: OffsetCommitPartition[];
}

export interface OffsetCommitPartitionResult {
  topic: string;
  partition: number;
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface OffsetCommitResponse {
  partitions: OffsetCommitPartitionResult[];
  leaderId: number;
}

export interface OffsetFetchRequest {
  groupId: string;
  partitions: TopicPartitions[];
}

export interface OffsetFetchPartitionResult {
  topic: string;
  partition: number;
  committedOffset: number;
  metadata: string;
  commitTimestampMs: number;
}

export interface OffsetFetchResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  partitions: OffsetFetchPartitionResult[];
  leaderId: number;
}

export interface ListGroupsRequest {
  states: string[];
}

export interface ListedGroup {
  groupId: string;
  state: string;
  memberCount: number;
  coordinatorId: number;
}

export interface ListGroupsResponse {
  groups: ListedGroup[];
  partitionsLoading: number;
}

export interface DescribeGroupsRequest {
  groupIds: string[];
}

export interface GroupMember {
  memberId: string;
  instanceId: string;
  clientId: string;
  clientHost: string;
  memberEpoch: number;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string;
  assignment: TopicPartitions[];
  targetAssignment: TopicPartitions[];
  rebalanceTimeoutMs: number;
}

export interface DescribedGroup {
  groupId: string;
  errorCode: ErrorCode;
  errorMessage: string;
  state: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignor: string;
  coordinatorId: number;
  members: GroupMember[];
  leaderId: number;
}

export interface DescribeGroupsResponse {
  groups: DescribedGroup[];
}

export interface DeleteGroupsRequest {
  groupIds: string[];
}

export interface DeletedGroup {
  groupId: string;
  errorCode: ErrorCode;
  errorMessage: string;
  leaderId: number;
}

export interface DeleteGroupsResponse {
  groups: DeletedGroup[];
}

// ---------------------------------------------------------------------------------------------
// Security (security.proto)

export interface AuthenticateRequest {
  /** 'SCRAM-SHA-256'. */
  mechanism: string;
  /** Empty on the first step. */
  sessionId: string;
  /** The SCRAM message of this step (UTF-8). */
  message: Buffer;
}

export interface AuthenticateResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  sessionId: string;
  message: Buffer;
  complete: boolean;
  principal: string;
}

/** A SCRAM-SHA-256 credential (RFC 5802 section 3). */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface UpsertUserRequest {
  name: string;
  credential: ScramCredential | null;
}

export interface UpsertUserResponse {
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface DeleteUserRequest {
  name: string;
}

export interface DeleteUserResponse {
  errorCode: ErrorCode;
  errorMessage: string;
}

export type ListUsersRequest = Record<string, never>;

export interface UserInfo {
  name: string;
  mechanism: string;
  iterations: number;
}

export interface ListUsersResponse {
  users: UserInfo[];
}

/** Wire values of AclPermission. */
export const AclPermission = { UNSPECIFIED: 0, ALLOW: 1, DENY: 2 } as const;
export type AclPermission = (typeof AclPermission)[keyof typeof AclPermission];

export interface AclBinding {
  /** 'user:NAME' or 'user:*'. */
  principal: string;
  /** read, write, create, delete, describe, alter, cluster-action or all. */
  operation: string;
  /** 'topic:NAME', 'topic:PREFIX*', 'group:NAME', 'group:PREFIX*' or 'cluster'. */
  resource: string;
  permission: AclPermission;
}

export interface CreateAclsRequest {
  acls: AclBinding[];
}

export interface CreateAclsResponse {
  errorCode: ErrorCode;
  errorMessage: string;
}

export interface DeleteAclsRequest {
  acls: AclBinding[];
}

export interface DeleteAclsResponse {
  errorCode: ErrorCode;
  errorMessage: string;
  removed: number;
}

export interface ListAclsRequest {
  principal: string;
  resource: string;
}

export interface ListAclsResponse {
  acls: AclBinding[];
}

export interface StreamBusMethods {
  Metadata: { request: MetadataRequest; response: MetadataResponse };
  CreateTopics: { request: CreateTopicsRequest; response: CreateTopicsResponse };
  DeleteTopics: { request: DeleteTopicsRequest; response: DeleteTopicsResponse };
  ReassignPartitions: { request: ReassignPartitionsRequest; response: ReassignPartitionsResponse };
  ClusterStatus: { request: ClusterStatusRequest; response: ClusterStatusResponse };
  InitProducerId: { request: InitProducerIdRequest; response: InitProducerIdResponse };
  Produce: { request: ProduceRequest; response: ProduceResponse };
  Fetch: { request: FetchRequest; response: FetchResponse };
  ListOffsets: { request: ListOffsetsRequest; response: ListOffsetsResponse };
  SetBrokerDrained: { request: SetBrokerDrainedRequest; response: SetBrokerDrainedResponse };
  DescribeFeatures: { request: DescribeFeaturesRequest; response: DescribeFeaturesResponse };
  FinalizeFeatureLevel: { request: FinalizeFeatureLevelRequest; response: FinalizeFeatureLevelResponse };
  ExportControllerState: { request: ExportControllerStateRequest; response: ExportControllerStateResponse };
  FindCoordinator: { request: FindCoordinatorRequest; response: FindCoordinatorResponse };
  ConsumerGroupHeartbeat: { request: ConsumerGroupHeartbeatRequest; response: ConsumerGroupHeartbeatResponse };
  OffsetCommit: { request: OffsetCommitRequest; response: OffsetCommitResponse };
  OffsetFetch: { request: OffsetFetchRequest; response: OffsetFetchResponse };
  ListGroups: { request: ListGroupsRequest; response: ListGroupsResponse };
  DescribeGroups: { request: DescribeGroupsRequest; response: DescribeGroupsResponse };
  DeleteGroups: { request: DeleteGroupsRequest; response: DeleteGroupsResponse };
  Authenticate: { request: AuthenticateRequest; response: AuthenticateResponse };
  UpsertUser: { request: UpsertUserRequest; response: UpsertUserResponse };
  DeleteUser: { request: DeleteUserRequest; response: DeleteUserResponse };
  ListUsers: { request: ListUsersRequest; response: ListUsersResponse };
  CreateAcls: { request: CreateAclsRequest; response: CreateAclsResponse };
  DeleteAcls: { request: DeleteAclsRequest; response: DeleteAclsResponse };
  ListAcls: { request: ListAclsRequest; response: ListAclsResponse };
}

/** Name of one RPC of the StreamBus service. */
export type StreamBusMethodName = keyof StreamBusMethods;
