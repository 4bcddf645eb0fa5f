/**
 * Every configuration key: its path in server.yaml, its type and bounds, its default and whether
 * it is secret; and the keys of the seeds' server.yaml this broker does not support
 * (`unsupportedKeys`), refused at start with a line saying why, and never shown by
 * `config dump`: no key is accepted that changes nothing. The environment variable of a key is derived from its path:
 * `STREAMBUS_` + the path after its section, upper-cased, dots as underscores
 * (`storage.wal_sync` -> STREAMBUS_WAL_SYNC, `storage.retention.max_age` ->
 * STREAMBUS_RETENTION_MAX_AGE, `raft.tick_ms` -> STREAMBUS_TICK_MS), except where a key names
 * its own (`tracing.enabled` -> STREAMBUS_TRACING_ENABLED, not STREAMBUS_ENABLED).
 */
import { assert } from '@streambus/raft';
import { levelTableFileBytesDefault, levelWriteBufferBytes } from '@streambus/storage';
import type { HostPort, Peer } from './address.js';
import { parseBrokerId, parseHostPort, parsePeerEntries, parsePeerList } from './address.js';
import {
  brokerIdMax,
  connectionsMax,
  groupHeartbeatIntervalMsMax,
  groupHeartbeatIntervalMsMin,
  groupMembersMax,
  groupSessionTimeoutMsMax,
  groupSessionTimeoutMsMin,
  offsetsRetentionMsMin,
  offsetsTopicPartitionsMax,
  offsetsTopicReplicationFactorMax,
  durationMsMax,
  electionTicksMax,
  memtableFlushThresholdBytesMax,
  memtableFlushThresholdBytesMin,
  requestBytesMax,
  sizeBytesMax,
  sstableBytesMax,
  sstableBytesMin,
  tickMsMax,
  tickMsMin,
  walSyncIntervalMsMax,
} from './constants.js';
import type { Parsed } from './units.js';
import { parseDurationMs, parseSizeBytes } from './units.js';

export type ConfigValue = number | boolean | string | HostPort | readonly Peer[];

export type KeyKind =
  | { readonly type: 'int'; readonly min: number; readonly max: number }
  | { readonly type: 'ratio' }
  | { readonly type: 'url' }
  | { readonly type: 'bool' }
  | { readonly type: 'string'; readonly emptyAllowed: boolean }
  | { readonly type: 'duration'; readonly floorMs: number; readonly ceilingMs: number }
  | { readonly type: 'size'; readonly floorBytes: number; readonly ceilingBytes: number }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  | { readonly type: 'address'; readonly portZeroAllowed: boolean }
  | { readonly type: 'peers' }
  | { readonly type: 'broker-id' };

export interface KeySpec {
  /** Dotted path in server.yaml, e.g. `storage.retention.max_age`. */
  readonly path: string;
  readonly kind: KeyKind;
  readonly defaultValue: ConfigValue;
  /** Masked by `config dump`. */
  readonly secret: boolean;
  /** Its STREAMBUS_ variable when the derived one would be unclear (`tracing.enabled`). */
  readonly envName?: string;
  readonly help: string;
}

/**
 * A key of the seeds' server.yaml that would change nothing here. Setting it (in the file or as
 * its STREAMBUS_ variable) stops start-up with `reason`; only `inertValue`, which says what is
 * true anyway (`tls_enabled: false`), is accepted, and it is not shown by `config dump` either.
 */
export interface UnsupportedKey {
  readonly path: string;
  /** Why the key does nothing here, and what to use instead; one line. */
  readonly reason: string;
  readonly inertValue?: boolean;
}

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export const walSyncPolicies = ['always', 'periodic', 'none'] as const;
export const tracingExporters = ['otlp', 'jaeger'] as const;
/** The server-side assignors a group may use (groups.proto: server_assignor). */
export const groupAssignors = ['uniform', 'range'] as const;
/** SASL mechanisms of Authenticate (security.proto). */
export const authMechanisms = ['SCRAM-SHA-256'] as const;
/** security.min_tls_version: the oldest TLS version a connection may speak. */
export const tlsVersions = ['1.2', '1.3'] as const;

const int = (min: number, max: number): KeyKind => ({ type: 'int', min, max });
const duration = (floorMs: number, ceilingMs: number): KeyKind => ({ type: 'duration', floorMs, ceilingMs });
const size = (floorBytes: number, ceilingBytes: number): KeyKind => ({ type: 'size', floorBytes, ceilingBytes });
const enumOf = (values: readonly string[]): KeyKind => ({ type: 'enum', values });
const bool: KeyKind = { type: 'bool' };
const text = (emptyAllowed: boolean): KeyKind => ({ type: 'string', emptyAllowed });
const ratio: KeyKind = { type: 'ratio' };
const url: KeyKind = { type: 'url' };

function key(
  path: string,
  kind: KeyKind,
  defaultValue: ConfigValue,
  help: string,
  extra: Partial<KeySpec> = {},
): KeySpec {
  return {
    path,
    kind,
    defaultValue,
    help,
    secret: extra.secret ?? false,
    ...(extra.envName === undefined ? {} : { envName: extra.envName }),
  };
}

const defaultMetricsPort = 9090;

export const keySpecs: readonly KeySpec[] = [
  key(
    'server.broker_id',
    { type: 'broker-id' },
    1,
    "this broker's id (1..2^31-1), or a StatefulSet pod name: streambus-N is broker N+1",
  ),
  key(
    'server.listen',
    { type: 'address', portZeroAllowed: true },
    { host: '0.0.0.0', port: 9092 },
    'client and peer gRPC address',
  ),
  key(
    'server.admin_listen',
    { type: 'address', portZeroAllowed: true },
    { host: '0.0.0.0', port: defaultMetricsPort },
    'admin HTTP address (/live, /ready, /health, /metrics)',
  ),
  key('server.data_dir', text(false), './data', "directory of this broker's database"),
  key('server.log_level', enumOf(logLevels), 'info', 'log level'),
  key('server.peers', { type: 'peers' }, [], 'static cluster members, ID=HOST:PORT,...; empty for a single broker'),
  key('server.cluster_id', text(false), 'streambus', 'name shared by every broker of one cluster'),
  key(
    'storage.wal_sync',
    enumOf(walSyncPolicies),
    'always',
    'fsync policy: always (acks=all means on disk on a quorum), periodic, none',
  ),
  key('storage.wal_sync_interval', duration(1, walSyncIntervalMsMax), 10, 'sync interval of the periodic policy'),
  key(
    'storage.memtable_flush_threshold',
    size(memtableFlushThresholdBytesMin, memtableFlushThresholdBytesMax),
    levelWriteBufferBytes,
    "LevelDB's write buffer (memtable): written out to a table file once this full",
  ),
  key(
    'storage.max_sstable_size',
    size(sstableBytesMin, sstableBytesMax),
    levelTableFileBytesDefault,
    'LevelDB table files are cut at this size',
  ),
  key(
    'storage.retention.max_age',
    duration(0, durationMsMax),
    168 * 3600 * 1000,
    'delete log prefixes older than this (0: keep forever)',
  ),
  key(
    'storage.retention.max_bytes',
    size(0, sizeBytesMax),
    0,
    'delete log prefixes beyond this size per partition (0: no limit)',
  ),
  key(
    'network.max_request_size',
    size(1024, requestBytesMax),
    1024 * 1024,
    "largest record batch one Produce partition may carry (at most the protocol's 4 MiB)",
  ),
  key(
    'network.connection_timeout',
    duration(1, durationMsMax),
    30_000,
    'a new connection to server.listen must send its first request bytes within this, or it is closed',
  ),
  key(
    'network.max_connections',
    int(1, connectionsMax),
    10_000,
    'connections server.listen accepts at once (clients and peers); more are closed at once',
  ),
  key('monitoring.metrics_enabled', bool, true, 'serve /metrics on the admin address and feed the metrics'),
  key(
    'monitoring.metrics_port',
    int(0, 65535),
    defaultMetricsPort,
    'port of the admin address when server.admin_listen is not set',
  ),
  key(
    'monitoring.profiling_enabled',
    bool,
    false,
    'serve /debug/pprof/profile (CPU) and /debug/pprof/heap on 127.0.0.1:profiling_port only',
  ),
  key('monitoring.profiling_port', int(0, 65535), 6060, 'port of the profiling server (bound to 127.0.0.1)'),
  key('raft.tick_ms', int(tickMsMin, tickMsMax), 50, 'Raft logical clock period'),
  key('raft.election_ticks', int(2, electionTicksMax), 10, 'ticks without a leader before an election'),
  key('raft.heartbeat_ticks', int(1, electionTicksMax - 1), 1, 'ticks between heartbeats; fewer than election_ticks'),
  key(
    'raft.append_before_persist',
    bool,
    true,
    'a leader replicates while its own write is in flight (followers fsync in parallel); off: after it',
  ),
  key('tracing.enabled', bool, false, 'export OpenTelemetry spans of produce, fetch and Raft replication', {
    envName: 'STREAMBUS_TRACING_ENABLED',
  }),
  key(
    'tracing.exporter',
    enumOf(tracingExporters),
    'otlp',
    "otlp (OTLP/HTTP protobuf) or jaeger (Jaeger's Thrift collector)",
    {
      envName: 'STREAMBUS_TRACING_EXPORTER',
    },
  ),
  key(
    'tracing.endpoint',
    url,
    '',
    'collector URL; empty: http://localhost:4318/v1/traces (otlp), http://localhost:14268/api/traces (jaeger)',
    { envName: 'STREAMBUS_TRACING_ENDPOINT' },
  ),
  key(
    'tracing.sampling_rate',
    ratio,
    0.1,
    "share of traces started at this broker that are recorded (0..1); a client's sampled flag wins",
    { envName: 'STREAMBUS_TRACING_SAMPLING_RATE' },
  ),
  key(
    'groups.offsets_topic_partitions',
    int(1, offsetsTopicPartitionsMax),
    12,
    'partitions of __consumer_offsets, created at cluster start (a group lives in one; changing it later moves no group)',
    { envName: 'STREAMBUS_GROUPS_OFFSETS_TOPIC_PARTITIONS' },
  ),
  key(
    'groups.offsets_topic_replication_factor',
    int(1, offsetsTopicReplicationFactorMax),
    3,
    'replicas of each __consumer_offsets partition (the broker count when the cluster is smaller)',
    { envName: 'STREAMBUS_GROUPS_OFFSETS_TOPIC_REPLICATION_FACTOR' },
  ),
  key(
    'groups.session_timeout_ms',
    int(groupSessionTimeoutMsMin, groupSessionTimeoutMsMax),
    45_000,
    'a member that does not heartbeat within this (ms) is removed from its group',
    { envName: 'STREAMBUS_GROUPS_SESSION_TIMEOUT_MS' },
  ),
  key(
    'groups.heartbeat_interval_ms',
    int(groupHeartbeatIntervalMsMin, groupHeartbeatIntervalMsMax),
    // Not Kafka's 5000: members learn of a rebalance only at a heartbeat, and issue 11 asks for a
    // rebalance within 1 s. A heartbeat that changes nothing is answered from memory (no record).
    500,
    'how often members heartbeat (ms), told to them in every answer; less than the session timeout',
    { envName: 'STREAMBUS_GROUPS_HEARTBEAT_INTERVAL_MS' },
  ),
  key('groups.max_size', int(1, groupMembersMax), 1000, 'members per group; a join beyond is GROUP_MAX_SIZE_REACHED', {
    envName: 'STREAMBUS_GROUPS_MAX_SIZE',
  }),
  key(
    'groups.offsets_retention_ms',
    int(offsetsRetentionMsMin, durationMsMax),
    604_800_000,
    'offsets of a group empty this long (ms) expire, and the group with them',
    { envName: 'STREAMBUS_GROUPS_OFFSETS_RETENTION_MS' },
  ),
  key(
    'groups.default_assignor',
    enumOf(groupAssignors),
    'uniform',
    'server assignor of a group whose members name none: uniform or range',
    { envName: 'STREAMBUS_GROUPS_DEFAULT_ASSIGNOR' },
  ),
  key(
    'security.tls_enabled',
    bool,
    false,
    'server.listen speaks TLS only (clients, peers, probes); peers use mutual TLS',
  ),
  key(
    'security.tls_cert',
    text(true),
    '',
    "PEM file of this broker's certificate (and chain); reloaded when it changes",
  ),
  key('security.tls_key', text(true), '', "PEM file of this broker's private key; reloaded when it changes"),
  key('security.tls_key_password', text(true), '', 'password of an encrypted tls_key (never logged)', {
    secret: true,
  }),
  key('security.tls_ca', text(true), '', 'PEM file of the cluster CA: verifies peers and client certificates'),
  key('security.min_tls_version', enumOf(tlsVersions), '1.3', 'oldest TLS version accepted and spoken: 1.2 or 1.3'),
  key(
    'security.tls_admin_enabled',
    bool,
    false,
    'server.admin_listen serves HTTPS with the same certificate (needs tls_enabled)',
  ),
  key(
    'security.auth_enabled',
    bool,
    false,
    'every call needs an authenticated principal (SCRAM-SHA-256 session or client certificate) and an ACL; needs security.tls_enabled',
    { envName: 'STREAMBUS_AUTH_ENABLED' },
  ),
  key(
    'security.auth_mechanism',
    enumOf(authMechanisms),
    'SCRAM-SHA-256',
    'SASL mechanism of Authenticate: SCRAM-SHA-256 only',
    {
      envName: 'STREAMBUS_AUTH_MECHANISM',
    },
  ),
  key(
    'security.users_file',
    text(true),
    '',
    'YAML file of users seeded into the controller at cluster start (users: [{name, password | password_file | scram}]); empty: none',
    { envName: 'STREAMBUS_USERS_FILE' },
  ),
  key('security.super_users', text(true), '', 'comma-separated principals that may do everything, e.g. "user:admin"', {
    envName: 'STREAMBUS_SUPER_USERS',
  }),
  key(
    'security.tls_client_auth',
    bool,
    false,
    'a client certificate signed by the CA (not a broker certificate) authenticates as user:<CN>',
    { envName: 'STREAMBUS_TLS_CLIENT_AUTH' },
  ),
];

const producerBatches =
  "batching is the producer's (the SDK producer's lingerMs and batchBytesMax); the broker writes each loop turn's batches with one fsync without waiting";

export const unsupportedKeys: readonly UnsupportedKey[] = [
  { path: 'storage.compaction_policy', reason: 'LevelDB always compacts leveled; there is no policy to choose' },
  {
    path: 'network.read_timeout',
    reason: 'gRPC calls carry their own deadlines (the client request timeout, the fetch max wait)',
  },
  {
    path: 'network.write_timeout',
    reason: 'gRPC calls carry their own deadlines (the client request timeout, the fetch max wait)',
  },
  {
    path: 'performance.io_threads',
    reason: "LevelDB runs on libuv's thread pool: size it with UV_THREADPOOL_SIZE in the broker's environment",
  },
  {
    path: 'performance.socket_send_buffer',
    reason: 'Node.js cannot size TCP socket buffers; the kernel tunes them (net.ipv4.tcp_wmem)',
  },
  {
    path: 'performance.socket_receive_buffer',
    reason: 'Node.js cannot size TCP socket buffers; the kernel tunes them (net.ipv4.tcp_rmem)',
  },
  { path: 'performance.batch_timeout', reason: producerBatches },
  { path: 'performance.max_batch_size', reason: producerBatches },
];

/** The sections of server.yaml, in order. */
export const sections: readonly string[] = [...new Set(keySpecs.map((spec) => spec.path.split('.')[0] ?? ''))];

export const specsByPath: ReadonlyMap<string, KeySpec> = new Map(keySpecs.map((spec) => [spec.path, spec]));

export function envNameOf(path: string): string {
  return specsByPath.get(path)?.envName ?? `STREAMBUS_${path.split('.').slice(1).join('_').toUpperCase()}`;
}

export const specsByEnvName: ReadonlyMap<string, KeySpec> = new Map(
  keySpecs.map((spec) => [envNameOf(spec.path), spec]),
);
export const unsupportedByPath: ReadonlyMap<string, UnsupportedKey> = new Map(
  unsupportedKeys.map((unsupported) => [unsupported.path, unsupported]),
);
export const unsupportedByEnvName: ReadonlyMap<string, UnsupportedKey> = new Map(
  unsupportedKeys.map((unsupported) => [envNameOf(unsupported.path), unsupported]),
);

assert(specsByPath.size === keySpecs.length, 'config key paths are unique');
assert(specsByEnvName.size === keySpecs.length, 'derived environment variable names are unique');
assert(unsupportedByEnvName.size === unsupportedKeys.length, 'unsupported keys have unique variables');
for (const unsupported of unsupportedKeys) {
  assert(!specsByPath.has(unsupported.path), `${unsupported.path} is either a key or unsupported`);
  assert(!specsByEnvName.has(envNameOf(unsupported.path)), `${unsupported.path}'s variable is not a key's`);
}
assert(brokerIdMax > 0, 'broker ids have room');

/** Describes the type of a key for error messages ("a duration like 30s"). */
export function describeKind(kind: KeyKind): string {
  switch (kind.type) {
    case 'int':
      return `a whole number in ${kind.min}..${kind.max}`;
    case 'ratio':
      return 'a number from 0 to 1, like 0.1';
    case 'url':
      return 'an http:// or https:// URL, or empty';
    case 'bool':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'duration':
      return 'a duration like "10ms", "30s" or "168h"';
    case 'size':
      return 'a size in bytes, or like "64MiB"';
    case 'enum':
      return `one of ${kind.values.join(', ')}`;
    case 'address':
      return 'an address HOST:PORT';
    case 'peers':
      return 'a peer list 1=HOST:PORT,2=HOST:PORT or a map of id to HOST:PORT';
    case 'broker-id':
      return 'a broker id (whole number >= 1) or a pod name like streambus-0';
  }
}

/** Parses a value given as text (an environment variable or a flag). */
export function parseTextValue(spec: KeySpec, raw: string): Parsed<ConfigValue> {
  const kind = spec.kind;
  switch (kind.type) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) return { ok: false, reason: `"${raw}" is not a whole number` };
      return checkInt(kind, Number(raw.trim()));
    }
    case 'ratio': {
      if (!/^\d*\.?\d+(e-?\d+)?$/i.test(raw.trim())) return { ok: false, reason: `"${raw}" is not a number` };
      return checkRatio(Number(raw.trim()));
    }
    case 'url':
      return checkUrl(raw.trim());
    case 'bool': {
      const lowered = raw.trim().toLowerCase();
      if (lowered === 'true') return { ok: true, value: true };
      if (lowered === 'false') return { ok: true, value: false };
      return { ok: false, reason: `"${raw}" is not true or false` };
    }
    case 'string':
      return checkString(kind, raw);
    case 'duration': {
      const parsed = parseDurationMs(raw);
      return parsed.ok ? checkRange(parsed.value, kind.floorMs, kind.ceilingMs, 'ms') : parsed;
    }
    case 'size': {
      const parsed = parseSizeBytes(raw);
      return parsed.ok ? checkRange(parsed.value, kind.floorBytes, kind.ceilingBytes, ' bytes') : parsed;
    }
    case 'enum':
      return kind.values.includes(raw.trim())
        ? { ok: true, value: raw.trim() }
        : { ok: false, reason: `"${raw}" is not ${describeKind(kind)}` };
    case 'address':
      return parseHostPort(raw, kind.portZeroAllowed);
    case 'peers':
      return parsePeerList(raw);
    case 'broker-id':
      return parseBrokerId(raw);
  }
}

/** Parses a value as YAML gave it: numbers, booleans and strings keep their YAML type. */
export function parseYamlValue(spec: KeySpec, raw: unknown): Parsed<ConfigValue> {
  const kind = spec.kind;
  if (raw === null || raw === undefined) return { ok: false, reason: 'has no value' };
  switch (kind.type) {
    case 'int':
      if (typeof raw !== 'number' || !Number.isInteger(raw)) return wrongType(kind, raw);
      return checkInt(kind, raw);
    case 'ratio':
      return typeof raw === 'number' ? checkRatio(raw) : wrongType(kind, raw);
    case 'url':
      return typeof raw === 'string' ? checkUrl(raw.trim()) : wrongType(kind, raw);
    case 'bool':
      return typeof raw === 'boolean' ? { ok: true, value: raw } : wrongType(kind, raw);
    case 'enum':
      // `min_tls_version: 1.3` is a YAML number; its text is the value meant.
      if (typeof raw === 'number' && kind.values.includes(String(raw))) return { ok: true, value: String(raw) };
      return typeof raw === 'string' ? parseTextValue(spec, raw) : wrongType(kind, raw);
    case 'string':
    case 'address':
      return typeof raw === 'string' ? parseTextValue(spec, raw) : wrongType(kind, raw);
    case 'duration':
      if (raw === 0) return checkRange(0, kind.floorMs, kind.ceilingMs, 'ms');
      return typeof raw === 'string' ? parseTextValue(spec, raw) : wrongType(kind, raw);
    case 'size':
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0)
        return checkRange(raw, kind.floorBytes, kind.ceilingBytes, ' bytes');
      return typeof raw === 'string' ? parseTextValue(spec, raw) : wrongType(kind, raw);
    case 'broker-id':
      if (typeof raw === 'number' && Number.isInteger(raw)) return parseBrokerId(String(raw));
      return typeof raw === 'string' ? parseBrokerId(raw) : wrongType(kind, raw);
    case 'peers':
      return parseYamlPeers(kind, raw);
  }
}

function parseYamlPeers(kind: KeyKind, raw: unknown): Parsed<ConfigValue> {
  if (typeof raw === 'string') return parsePeerList(raw);
  if (Array.isArray(raw)) {
    if (!raw.every((item): item is string => typeof item === 'string')) return wrongType(kind, raw);
    return parsePeerList(raw.join(','));
  }
  if (typeof raw === 'object' && raw !== null) {
    const entries: Array<readonly [string, string]> = [];
    for (const [id, address] of Object.entries(raw)) {
      if (typeof address !== 'string')
        return { ok: false, reason: `peer ${id}: expected HOST:PORT, got ${typeName(address)}` };
      entries.push([id, address]);
    }
    return parsePeerEntries(entries);
  }
  return wrongType(kind, raw);
}

function checkInt(kind: { readonly min: number; readonly max: number }, value: number): Parsed<ConfigValue> {
  if (!Number.isSafeInteger(value) || value < kind.min || value > kind.max) {
    return { ok: false, reason: `${value} is outside ${kind.min}..${kind.max}` };
  }
  return { ok: true, value };
}

function checkRatio(value: number): Parsed<ConfigValue> {
  if (!Number.isFinite(value) || value < 0 || value > 1) return { ok: false, reason: `${value} is outside 0..1` };
  return { ok: true, value };
}

function checkUrl(raw: string): Parsed<ConfigValue> {
  if (raw === '') return { ok: true, value: '' };
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return { ok: false, reason: `"${raw}" is not a URL` };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return { ok: false, reason: `"${raw}" is not an http:// or https:// URL` };
  return { ok: true, value: raw };
}

function checkRange(value: number, min: number, max: number, unit: string): Parsed<ConfigValue> {
  if (value < min) return { ok: false, reason: `${value}${unit} is below the minimum ${min}${unit}` };
  if (value > max) return { ok: false, reason: `${value}${unit} is above the maximum ${max}${unit}` };
  return { ok: true, value };
}

function checkString(kind: { readonly emptyAllowed: boolean }, raw: string): Parsed<ConfigValue> {
  if (!kind.emptyAllowed && raw.trim() === '') return { ok: false, reason: 'is empty' };
  return { ok: true, value: raw };
}

function wrongType(kind: KeyKind, raw: unknown): Parsed<ConfigValue> {
  return { ok: false, reason: `expected ${describeKind(kind)}, got ${typeName(raw)}` };
}

export function typeName(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  if (typeof raw === 'object') return 'a map';
  if (typeof raw === 'string') return `the string "${raw}"`;
  if (typeof raw === 'number') return Number.isInteger(raw) ? `the number ${raw}` : `the fraction ${raw}`;
  if (typeof raw === 'boolean') return `the boolean ${raw}`;
  return typeof raw;
}
