// Test-only implementations (in-memory storage, transport, simulator). Never used in production.
export { MemoryStorage, MemoryRaftStore } from './memory-storage.js';
export { Simulation, simActionWeightsDefault } from './sim/simulation.js';
export type {
  SimulationOptions,
  SimulationResult,
  SimulationStats,
  SimRaftOptions,
  SimActionWeights,
  ResolvedRaftOptions,
} from './sim/simulation.js';
export { SimNetwork, quietNetworkFaults } from './sim/network.js';
export type { NetworkFaults, NetworkStats, MessageFilter, MessageRewrite, Addressed } from './sim/network.js';
export { EventQueue } from './sim/event-queue.js';
export { Prng } from './sim/prng.js';
export { SafetyChecker } from './sim/checker.js';
export type { ProposalRecord } from './sim/checker.js';
export { SimViolation } from './sim/violation.js';
export type { SimCheck } from './sim/violation.js';
export { runSeed, describeFailure, replayCommand, simScenarios } from './sim/run-seeds.js';
export type { SeedRunOptions, SimScenarioName } from './sim/run-seeds.js';
export { simProfiles, simKnobs } from './sim/profiles.js';
export type { SimProfileName, SimKnob } from './sim/profiles.js';
export { runFigure8 } from './sim/figure8.js';
export type { Figure8Options } from './sim/figure8.js';
export { runLeaseTransfer } from './sim/lease-transfer.js';
export type { LeaseTransferOptions } from './sim/lease-transfer.js';
export { runLeaseRestart } from './sim/lease-restart.js';
export type { LeaseRestartOptions } from './sim/lease-restart.js';
export { runLeaseLateAck } from './sim/lease-late-ack.js';
export type { LeaseLateAckOptions } from './sim/lease-late-ack.js';
export { runDoubleVote } from './sim/double-vote.js';
export type { DoubleVoteOptions } from './sim/double-vote.js';
export { MemoryNetwork, frameMessageCount } from './memory-transport.js';
export type { MemoryNetworkOptions, MemoryNetworkStats, FrameReceiver } from './memory-transport.js';
export { ManualTimer } from './manual-timer.js';
export { MemoryHostCluster, RecordingStateMachine } from './host-cluster.js';
export type { MemoryHostClusterOptions } from './host-cluster.js';
export { HostSimulation, hostSimActionWeightsDefault } from './sim/host-simulation.js';
export type {
  HostSimulationOptions,
  HostSimulationResult,
  HostSimulationStats,
  HostSimActionWeights,
} from './sim/host-simulation.js';
export { SimDisk } from './sim/sim-disk.js';
export type { SimDiskOptions, SimDiskObserver } from './sim/sim-disk.js';
export { SimHostClock } from './sim/sim-host-clock.js';
export type { SimClockPost } from './sim/sim-host-clock.js';
export { runHostSeed, describeHostFailure, hostReplayCommand, simHostKnobs } from './sim/host-run-seeds.js';
export type { HostSeedRunOptions, SimHostKnob } from './sim/host-run-seeds.js';
