/** The broker's effective configuration, typed, with units in the names. */
import type { HostPort, Peer } from './address.js';
import type { authMechanisms, compactionPolicies, logLevels, walSyncPolicies } from './schema.js';

export type LogLevel = (typeof logLevels)[number];
export type WalSyncPolicy = (typeof walSyncPolicies)[number];
export type CompactionPolicy = (typeof compactionPolicies)[number];
export type AuthMechanism = (typeof authMechanisms)[number];

export interface ServerConfig {
  readonly brokerId: number;
  /** Client and peer gRPC address. */
  readonly listen: HostPort;
  /** Admin HTTP address: /live, /ready, /health, /metrics. */
  readonly adminListen: HostPort;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /** Static members, sorted by id; empty means a single-broker cluster of this broker alone. */
  readonly peers: readonly Peer[];
  readonly clusterId: string;
}

export interface StorageConfig {
  readonly walSync: WalSyncPolicy;
  readonly walSyncIntervalMs: number;
  readonly memtableFlushThresholdBytes: number;
  readonly compactionPolicy: CompactionPolicy;
  readonly sstableBytesMax: number;
  /** 0 keeps records forever. */
  readonly retentionAgeMsMax: number;
  /** 0 means no limit. */
  readonly retentionBytesMax: number;
}

export interface NetworkConfig {
  readonly requestBytesMax: number;
  readonly connectionTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly connectionsMax: number;
}

export interface PerformanceConfig {
  readonly ioThreads: number;
  readonly socketSendBufferBytes: number;
  readonly socketReceiveBufferBytes: number;
  readonly batchTimeoutMs: number;
  readonly batchRecordsMax: number;
}

export interface MonitoringConfig {
  readonly metricsEnabled: boolean;
  readonly metricsPort: number;
  readonly profilingEnabled: boolean;
  readonly profilingPort: number;
}

export interface SecurityConfig {
  readonly tlsEnabled: boolean;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly tlsKeyPassword: string;
  readonly tlsCaFile: string;
  readonly authEnabled: boolean;
  readonly authMechanism: AuthMechanism;
  readonly usersFile: string;
}

export interface RaftTimingConfig {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Leaders send appends before their own write completes (Raft thesis §10.2.1). */
  readonly appendBeforePersist: boolean;
}

export interface BrokerConfig {
  readonly server: ServerConfig;
  readonly storage: StorageConfig;
  readonly network: NetworkConfig;
  readonly performance: PerformanceConfig;
  readonly monitoring: MonitoringConfig;
  readonly security: SecurityConfig;
  readonly raft: RaftTimingConfig;
}

/** Where an effective value came from. */
export type ConfigOrigin =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly name: string }
  | { readonly kind: 'derived'; readonly from: string };

/** One thing wrong with the configuration; printed as `config error: <path>: <message>; <hint>`. */
export interface ConfigProblem {
  /** The key as the user wrote it: a YAML path, an environment variable, a flag, or the file. */
  readonly path: string;
  readonly message: string;
  readonly hint: string;
}

/** Values of the server flags that override config keys (strings as typed). */
export interface ConfigFlags {
  readonly config?: string;
  readonly id?: string;
  readonly dataDir?: string;
  readonly listen?: string;
  readonly admin?: string;
  readonly peers?: string;
  readonly logLevel?: string;
}
