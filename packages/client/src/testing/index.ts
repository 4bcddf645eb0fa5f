// Test doubles of the client package (never used in production).
export { FakeStreamBusCluster } from './fake-cluster.js';
export type { CallFault, ReceivedBatch, StoredRecord, FakeClusterOptions, FakeClusterStats } from './fake-cluster.js';
export { FaultFront } from './fault-front.js';
export type { BrokerFault } from './fault-front.js';
