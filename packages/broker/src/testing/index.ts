// Test-only: in-process brokers for tests and the chaos harness. Never used in production.
export { InProcessCluster } from './in-process-cluster.js';
export type { InProcessClusterOptions } from './in-process-cluster.js';
export type { UnsafeTestingKnobs } from '../partition/partition-replica.js';
export { freePorts } from './ports.js';
export { generatePki } from '../security/pki.js';
export type { PkiOptions, PkiFiles } from '../security/pki.js';
