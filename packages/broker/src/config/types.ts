/** The broker's effective configuration, typed, with units in the names. */
import type { HostPort, Peer } from './address.js';
import type { ScramCredential } from '@streambus/proto';
import type { Acl } from '../security/acl.js';
import type {
  authMechanisms,
  groupAssignors,
  logLevels,
  tlsVersions,
  tracingExporters,
  walSyncPolicies,
} from './schema.js';

export type LogLevel = (typeof logLevels)[number];
export type WalSyncPolicy = (typeof walSyncPolicies)[number];
export type TracingExporter = (typeof tracingExporters)[number];
export type GroupAssignor = (typeof groupAssignors)[number];
export type AuthMechanism = (typeof authMechanisms)[number];
export type TlsVersion = (typeof tlsVersions)[number];

export interface SeedUserCredential {
  readonly name: string;
  readonly credential: ScramCredential;
}

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
  /** LevelDB's writeBufferSize. */
  readonly memtableFlushThresholdBytes: number;
  /** LevelDB's maxFileSize. */
  readonly sstableBytesMax: number;
  /** 0 keeps records forever. */
  readonly retentionAgeMsMax: number;
  /** 0 means no limit. */
  readonly retentionBytesMax: number;
}

export interface NetworkConfig {
  readonly requestBytesMax: number;
  /** A new connection sends its first bytes within this, or it is closed. */
  readonly connectionTimeoutMs: number;
  /** Connections to server.listen open at once; one more is closed on arrival. */
  readonly connectionsMax: number;
}

export interface MonitoringConfig {
  readonly metricsEnabled: boolean;
  readonly metricsPort: number;
  readonly profilingEnabled: boolean;
  /** The profiling server binds 127.0.0.1 on this port only. */
  readonly profilingPort: number;
}

export interface RaftTimingConfig {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Leaders send appends before their own write completes (Raft thesis §10.2.1). */
  readonly appendBeforePersist: boolean;
}

export interface TracingConfig {
  readonly enabled: boolean;
  /** otlp: OTLP/HTTP protobuf (Jaeger and collectors ingest it); jaeger: Jaeger's Thrift collector API. */
  readonly exporter: TracingExporter;
  /** Collector URL; empty means the exporter's default (see tracing/constants.ts). */
  readonly endpoint: string;
  /** Share of traces started here that are recorded, 0..1; a caller's sampled flag wins. */
  readonly samplingRatio: number;
}

/** Consumer groups: the internal topic __consumer_offsets and the coordinators' settings. */
export interface GroupsConfig {
  readonly offsetsTopicPartitions: number;
  /** Capped by the broker count when the cluster is smaller. */
  readonly offsetsTopicReplicationFactor: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** groups.max_size. */
  readonly groupMembersMax: number;
  readonly offsetsRetentionMs: number;
  readonly defaultAssignor: GroupAssignor;
}

/** TLS on server.listen (and optionally server.admin_listen), mutual TLS between brokers. */
export interface SecurityConfig {
  readonly tlsEnabled: boolean;
  /** PEM files, all three set when tlsEnabled; re-read when they change (security/tls). */
  readonly tlsCertPath: string;
  readonly tlsKeyPath: string;
  readonly tlsCaPath: string;
  /** Password of an encrypted key; '' when the key is not encrypted. A secret: never logged. */
  readonly tlsKeyPassword: string;
  readonly tlsVersionMin: TlsVersion;
  /** server.admin_listen serves HTTPS (the same certificate) instead of HTTP. */
  readonly tlsAdminEnabled: boolean;
  /** Every call needs a principal and an ACL; requires tlsEnabled. */
  readonly authEnabled: boolean;
  readonly authMechanism: AuthMechanism;
  /** Path of the users file; empty: none. */
  readonly usersFile: string;
  /** Principals ("user:admin") that may do everything. */
  readonly superUsers: readonly string[];
  /** A CA-signed client certificate that is not a broker's makes principal user:<CN>. */
  readonly tlsClientAuth: boolean;
  /** The top-level `acls:` of server.yaml, one binding per operation and resource. */
  readonly acls: readonly Acl[];
  /** The users of usersFile, as SCRAM credentials (never a password); filled by loadConfig. */
  readonly seedUsers: readonly SeedUserCredential[];
}

export interface BrokerConfig {
  readonly server: ServerConfig;
  readonly storage: StorageConfig;
  readonly network: NetworkConfig;
  readonly monitoring: MonitoringConfig;
  readonly raft: RaftTimingConfig;
  readonly tracing: TracingConfig;
  readonly groups: GroupsConfig;
  readonly security: SecurityConfig;
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
  /** The port of server.listen alone (the seed's `streambus server --port 9093`); its host stays. */
  readonly port?: string;
  readonly admin?: string;
  readonly peers?: string;
  readonly logLevel?: string;
}
