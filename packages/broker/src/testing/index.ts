// Test-only: in-process brokers for tests and the chaos harness. Never used in production.
export { InProcessCluster } from './in-process-cluster.js';
export type { InProcessClusterOptions } from './in-process-cluster.js';
export type { UnsafeTestingKnobs } from '../partition/partition-replica.js';
export { freePorts } from './ports.js';
// A throwaway CA, broker and client certificates (openssl): TLS tests, `--secure` clusters.
export { generatePki } from '../security/pki.js';
export type { PkiFiles, PkiOptions } from '../security/pki.js';
