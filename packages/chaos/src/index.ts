// The StreamBus chaos harness: in-process clusters under a seeded nemesis, workloads that record
// a history, and checkers over the history and every replica's final log.
export { runChaos, replayCommand, defaultNemesis } from './run/run-chaos.js';
export type { ChaosRunOptions } from './run/run-chaos.js';
export { ChaosCluster } from './run/chaos-cluster.js';
export type { ChaosClusterOptions } from './run/chaos-cluster.js';
export { History } from './history/history.js';
export type { ProduceOp, ProduceOutcome, ReadObservation, LeaderClaim, FaultEvent } from './history/history.js';
export { check, referenceLog } from './checker/checker.js';
export type { CheckCounts, CheckResult, Expectations } from './checker/checker.js';
export type { PartitionFinalState, ReplicaLog, ReplicaRecord, StoredBatchBytes } from './checker/final-state.js';
export { readReplicaLog } from './checker/replica-logs.js';
export { FaultNetwork, noLinkFaults } from './nemesis/fault-network.js';
export type { LinkFaults, FaultNetworkStats } from './nemesis/fault-network.js';
export { ChaosTimer } from './nemesis/chaos-timer.js';
export { CrashableStore, rollbackStore } from './nemesis/crash-store.js';
export type { WalSyncPolicy, GroupRewind, RollbackResult } from './nemesis/crash-store.js';
export { planSchedule, parseNemesis, describeStep, nemesisKinds, partitionShapes } from './nemesis/schedule.js';
export type { FaultStep, NemesisKind, PartitionShape, ScheduleOptions, ExtraAction } from './nemesis/schedule.js';
export { ProducerWorkload, classifyProduceError } from './workload/producers.js';
export type { ProducerWorkloadOptions, WorkloadAcks } from './workload/producers.js';
export { ReaderWorkload } from './workload/readers.js';
export type { ReaderWorkloadOptions } from './workload/readers.js';
export { formatReport } from './report.js';
export type { ChaosReport } from './report.js';
export { readStoppedReplicas } from './checker/offline-logs.js';
export type { BrokerDataDir } from './checker/offline-logs.js';
export { waitRecoveredByMetadata } from './run/metadata-recovery.js';
