// Public API of @streambus/broker. Named exports only; each area adds its own lines.

// Application shell: version and configuration.
export { streambusVersion } from './version.js';
export { resolveConfig, loadConfig, loadBrokerConfig, ConfigError, formatConfigProblem, describeOrigin } from './config/load.js';
export type { ConfigFile, ConfigSources, LoadedConfig, LoadResult } from './config/load.js';
export { dumpConfig, secretMask } from './config/dump.js';
export type { DumpOptions } from './config/dump.js';
export { keySpecs, envNameOf, logLevels } from './config/schema.js';
export type { KeySpec, KeyKind, ConfigValue } from './config/schema.js';
export { parseDurationMs, formatDurationMs, parseSizeBytes, formatSizeBytes } from './config/units.js';
export { parseHostPort, formatHostPort, parsePeerList, parseBrokerId } from './config/address.js';
export type { HostPort, Peer } from './config/address.js';
export type {
  BrokerConfig,
  ServerConfig,
  StorageConfig,
  NetworkConfig,
  PerformanceConfig,
  MonitoringConfig,
  SecurityConfig,
  RaftTimingConfig,
  LogLevel,
  WalSyncPolicy,
  CompactionPolicy,
  AuthMechanism,
  ConfigOrigin,
  ConfigProblem,
  ConfigFlags,
} from './config/types.js';

// Application shell: logging.
export { createLogger, componentLogger, raftLogger } from './logging/logger.js';
export type { Logger, LogComponent, LoggerOptions } from './logging/logger.js';

// Application shell: admin HTTP server, health and metrics.
export { startAdminServer } from './admin/server.js';
export type { AdminServer, AdminServerOptions, AdminErrorCode } from './admin/server.js';
export { HealthRegistry, worstStatus } from './admin/health.js';
export type { HealthStatus, ComponentHealth, HealthProvider, Readiness, ReadinessCheck, HealthReport, HealthRegistryOptions } from './admin/health.js';
export { createBrokerMetrics, latencyBucketsSeconds } from './admin/metrics.js';
export type { BrokerMetrics, MetricsOptions } from './admin/metrics.js';

// controller (replicated state machine of the controller group)
export { encodeCommand, decodeCommand, isControllerCommand, commandTypeCodes, commandVersions } from './controller/codec.js';
export { ControllerCodecError } from './controller/errors.js';
export type { ControllerCodecErrorCode } from './controller/errors.js';
export type {
  ConfigEntry,
  RegisterBrokerCommand,
  BrokerHeartbeatCommand,
  SetBrokerFencedCommand,
  CreateTopicCommand,
  DeleteTopicCommand,
  UpdateTopicConfigCommand,
  AddPartitionsCommand,
  PartitionReassignment,
  ReassignPartitionsCommand,
  PartitionReport,
  ReportPartitionsCommand,
  AllocateProducerIdsCommand,
  ControllerCommand,
  ControllerCommandType,
  ControllerFailureCode,
  ControllerResultDetail,
  ControllerResult,
} from './controller/commands.js';
export { ControllerState } from './controller/state.js';
export type { BrokerInfo, PartitionLeaderInfo, PartitionInfo, TopicInfo, ControllerEvent, ControllerStateParts } from './controller/state.js';
export { encodeSnapshot, decodeSnapshot } from './controller/snapshot.js';
export {
  assignReplicas,
  clusterLoad,
  preferredLeaderElections,
  underReplicated,
  offlinePartitions,
  brokersToFence,
} from './controller/placement.js';
export type { PlacementBroker, BrokerLoad, PreferredLeaderMove } from './controller/placement.js';
export { planCreateTopic, planAddPartitions, planMoveReplicasOff } from './controller/plan.js';
export type { Plan, CreateTopicRequest, MoveReplicasPlan } from './controller/plan.js';
export { checkTopicName } from './controller/validation.js';
export type { ControllerFailure } from './controller/validation.js';
export { ControllerStateMachine } from './controller/state-machine.js';
export type {
  AppliedCommand,
  RejectedEntry,
  ControllerEventListener,
  AppliedListener,
  RestoredListener,
  RejectedListener,
  Unsubscribe,
} from './controller/state-machine.js';
export {
  controllerGroupId,
  commandMagic,
  snapshotMagic,
  topicNameLengthMax,
  topicsMax,
  partitionsPerTopicMax,
  partitionsMax,
  replicationFactorMax,
  producerIdBlockSizeMax,
  commandBytesMax,
} from './controller/constants.js';
// end controller

// Application shell: the streambus CLI and its seams.
export { runCli, commands, generalHelp } from './cli/run.js';
export { ExitCode, exitCodeForError, unavailableErrorCodes } from './cli/exit-codes.js';
export { UsageError, NotAvailableError } from './cli/command.js';
export type { CliIo, CliDeps, Command } from './cli/command.js';
export type { BrokerContext, RunningBroker, StartBroker, VerifyWal, WalVerifyReport } from './cli/seams.js';
export type {
  CliClient,
  CliClientFactory,
  CliClientOptions,
  CliNewTopic,
  CliTopicDescription,
  CliPartitionDescription,
  CliPartitionReassignment,
  CliClusterStatus,
  CliBrokerStatus,
  CliTopicPartition,
  CliProduceRecord,
  CliProduceResult,
  CliConsumeRequest,
  CliConsumeStart,
  CliRecord,
} from './cli/client.js';

// peer (broker-to-broker transport: Raft frames and controller commands over gRPC)
export { PeerTransport, addPeerService, peerServerOptions, encodeFrame, decodeFrame, PeerError, MalformedFrameError, UnsupportedVersionError, PeerCallError } from './peer/index.js';
export {
  peerQueueFramesMaxDefault,
  peerQueueBytesMaxDefault,
  peerInFlightBytesMax,
  peerReconnectBackoffMsMin,
  peerReconnectBackoffMsMaxDefault,
  peerKeepaliveMs,
  peerKeepaliveTimeoutMs,
  peerCallDeadlineMsMax,
  peerWarnIntervalMs,
} from './peer/index.js';
export type {
  PeerTransportOptions,
  PeerLinkStats,
  PeerTransportStats,
  PeerServiceHandlers,
  PeerServiceOptions,
  PeerServiceStats,
  PeerServiceHandle,
  PeerErrorCode,
  PeerLogger,
} from './peer/index.js';
// end peer

// Broker core: the broker process, partition replicas, client service.
export { Broker } from './server/broker.js';
export type { BrokerOptions } from './server/broker.js';
export { startBroker } from './server/start.js';
export { ControllerGateway, ControllerUnavailableError } from './server/controller-gateway.js';
export { PartitionReplica } from './partition/partition-replica.js';
export type { AcksMode, ProduceOutcome, FetchOutcome } from './partition/partition-replica.js';
export { PartitionState, PartitionStateError } from './partition/partition-state.js';
export type { ProducerBatch, SequenceCheck } from './partition/partition-state.js';
