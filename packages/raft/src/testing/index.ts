// Test-only implementations (in-memory storage, transport, simulator). Never used in production.
export { MemoryStorage, MemoryRaftStore } from './memory-storage.js';
export { Simulation, simActionWeightsDefault } from './sim/simulation.js';
export type { SimulationOptions, SimulationResult, SimulationStats, SimRaftOptions, SimActionWeights } from './sim/simulation.js';
export { SimNetwork, quietNetworkFaults } from './sim/network.js';
export type { NetworkFaults, NetworkStats, MessageFilter, MessageRewrite, Addressed } from './sim/network.js';
export { EventQueue } from './sim/event-queue.js';
export { Prng } from './sim/prng.js';
export { SafetyChecker } from './sim/checker.js';
export type { ProposalRecord } from './sim/checker.js';
export { SimViolation } from './sim/violation.js';
export type { SimCheck } from './sim/violation.js';
export { runSeed, describeFailure, replayCommand } from './sim/run-seeds.js';
export type { SeedRunOptions } from './sim/run-seeds.js';
export { MemoryNetwork, frameMessageCount } from './memory-transport.js';
export type { MemoryNetworkOptions, MemoryNetworkStats, FrameReceiver } from './memory-transport.js';
export { ManualTimer } from './manual-timer.js';
export { MemoryHostCluster, RecordingStateMachine } from './host-cluster.js';
export type { MemoryHostClusterOptions } from './host-cluster.js';
