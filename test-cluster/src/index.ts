// Public API of @streambus/test-cluster: real broker processes for end-to-end tests and benchmarks.
export { TestCluster, brokerBinPath } from './cluster.js';
export type { BrokerAddress, BrokerState, TestClusterOptions } from './cluster.js';
