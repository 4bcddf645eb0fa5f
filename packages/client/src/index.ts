// The StreamBus client SDK: Producer, Consumer, Admin over the public gRPC protocol.
export { Producer } from './producer/producer.js';
export type { ProducerOptions, ProducerStats, AcksMode, CompressionMode, Partitioner } from './producer/producer.js';
export { Consumer } from './consumer/consumer.js';
export type {
  ConsumerOptions,
  OffsetResetPolicy,
  RebalanceListener,
  OffsetToCommit,
  CommittedOffset,
} from './consumer/consumer.js';
export { Admin } from './admin/admin.js';
export type {
  AdminOptions,
  NewTopic,
  TopicDescription,
  PartitionDescription,
  ClusterStatus,
  BrokerDrainStatus,
  BrokerFeatures,
  ClusterFeatures,
  OffsetSpec,
} from './admin/admin.js';
export type { PartitionReassignment } from './admin/admin.js';
export type {
  GroupListing,
  GroupDescription,
  GroupMemberDescription,
  GroupPartitionLag,
  GroupOffset,
  OffsetResetTarget,
  OffsetResetEntry,
  OffsetResetPlan,
} from './admin/groups.js';
export { aclOperations, checkAcl } from './admin/security.js';
export type { AclEntry, AclFilter, AclOperation, UserDescription } from './admin/security.js';
export type { OffsetAnswer } from './cluster/list-offsets.js';
export type { StoredBatches } from './cluster/read-batches.js';
export type { ClientOptions, TlsOptions, SaslOptions } from './cluster/options.js';
export type { ProducerRecord, RecordMetadata, ConsumerRecord, TopicPartition, BytesLike } from './records.js';
export { murmur2, toPositive, partitionForKey } from './murmur2.js';
export {
  StreamBusError,
  NotLeaderError,
  UnknownTopicOrPartitionError,
  OffsetOutOfRangeError,
  RequestTooLargeError,
  OutOfOrderSequenceError,
  DuplicateSequenceError,
  InvalidProducerEpochError,
  CorruptMessageError,
  TopicAlreadyExistsError,
  InvalidRequestError,
  InvalidPartitionsError,
  InvalidReplicationFactorError,
  NotEnoughReplicasError,
  RequestTimedOutError,
  NotControllerError,
  BrokerNotAvailableError,
  UnknownProducerIdError,
  InternalError,
  ClientClosedError,
  DeliveryTimeoutError,
  InvalidConfigError,
  IllegalStateError,
  UnsupportedVersionError,
  CoordinatorNotAvailableError,
  NotCoordinatorError,
  CoordinatorLoadInProgressError,
  UnknownMemberIdError,
  FencedMemberEpochError,
  StaleMemberEpochError,
  GroupMaxSizeReachedError,
  InvalidGroupIdError,
  GroupIdNotFoundError,
  NonEmptyGroupError,
  UnreleasedInstanceIdError,
  UnsupportedAssignorError,
  OffsetMetadataTooLargeError,
  InvalidCommitOffsetError,
  AuthenticationError,
  SessionExpiredError,
  AuthorizationError,
  UserNotFoundError,
  TlsHandshakeError,
  errorFromCode,
  tlsFailureReason,
} from './errors.js';
export type { StreamBusErrorCode, ClientErrorCode } from './errors.js';
export {
  requestTimeoutMsDefault,
  lingerMsDefault,
  batchBytesMaxDefault,
  bufferBytesMaxDefault,
  deliveryTimeoutMsDefault,
  inFlightRequestsPerBrokerDefault,
  inFlightBatchesPerPartitionMax,
  fetchMaxWaitMsDefault,
} from './constants.js';
