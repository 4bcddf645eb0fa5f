// Test doubles of the client package (never used in production).
export { FakeStreamBusCluster } from './fake-cluster.js';
export type {
  CallFault,
  ReceivedBatch,
  StoredRecord,
  FakeClusterOptions,
  FakeClusterStats,
  FakeMethod,
} from './fake-cluster.js';
export { FakeGroupCoordinator } from './fake-group-coordinator.js';
export type { FakeGroupCoordinatorOptions } from './fake-group-coordinator.js';
export { FaultFront } from './fault-front.js';
export type { BrokerFault } from './fault-front.js';
