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
export { FakeSecurity } from './fake-security.js';
export type { FakeSecurityOptions } from './fake-security.js';
export { FaultFront } from './fault-front.js';
export type { BrokerFault } from './fault-front.js';
