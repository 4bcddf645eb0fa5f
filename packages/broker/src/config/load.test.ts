import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dumpConfig, renderValue, secretMask } from './dump.js';
import type { KeySpec } from './schema.js';
import { unsupportedKeys } from './schema.js';
import type { ConfigFile, ConfigSources, LoadedConfig } from './load.js';
import { formatConfigProblem, loadConfig, resolveConfig } from './load.js';
import type { ConfigFlags } from './types.js';
import { generatePki } from '../security/pki.js';
import type { PkiFiles } from '../security/pki.js';

/** The seed's server.yaml without the keys this broker refuses (see unsupportedKeys). */
const serverYaml = `
server:
  broker_id: 1
  listen: "0.0.0.0:9092"
  data_dir: "/var/lib/streambus"
  log_level: "info"
storage:
  wal_sync: "periodic"
  wal_sync_interval: "10ms"
  memtable_flush_threshold: 67108864
  max_sstable_size: 268435456
  retention:
    max_age: "168h"
    max_bytes: 107374182400
network:
  max_request_size: 1048576
  connection_timeout: "30s"
  max_connections: 10000
monitoring:
  metrics_enabled: true
  metrics_port: 9090
  profiling_enabled: false
  profiling_port: 6060
security:
  tls_enabled: false
  auth_enabled: false
tracing:
  enabled: true
  exporter: jaeger
  endpoint: http://jaeger:14268/api/traces
  sampling_rate: 0.1
`;

/** What else the seed's server.yaml sets: keys that would change nothing here. */
const seedUnsupportedYaml = `
storage:
  compaction_policy: "size-tiered"
network:
  read_timeout: "30s"
  write_timeout: "30s"
performance:
  io_threads: 8
  socket_send_buffer: 131072
  socket_receive_buffer: 131072
  batch_timeout: "10ms"
  max_batch_size: 1000
`;

function resolve(sources: Partial<ConfigSources>): LoadedConfig {
  const result = resolveConfig({ env: {}, flags: {}, ...sources });
  if (!result.ok) throw new Error(result.problems.map(formatConfigProblem).join('\n'));
  return result.loaded;
}

function problemsOf(sources: Partial<ConfigSources>): string[] {
  const result = resolveConfig({ env: {}, flags: {}, ...sources });
  if (result.ok) throw new Error('expected config problems');
  return result.problems.map(formatConfigProblem);
}

const file = (text: string): ConfigFile => ({ path: 'server.yaml', text });

describe('defaults', () => {
  it('gives a valid single-broker config with wal_sync always', () => {
    const { config } = resolve({});
    expect(config.server.brokerId).toBe(1);
    expect(config.server.peers).toEqual([]);
    expect(config.storage.walSync).toBe('always');
    expect(config.storage.walSyncIntervalMs).toBe(10);
    expect(config.storage.retentionAgeMsMax).toBe(168 * 3600_000);
    expect(config.server.adminListen).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(config.raft).toEqual({ tickMs: 50, electionTicks: 10, heartbeatTicks: 1, appendBeforePersist: true });
  });
});

describe('the seed server.yaml', () => {
  it('loads every key with its unit', () => {
    const { config, origins } = resolve({ file: file(serverYaml) });
    expect(config.server.dataDir).toBe('/var/lib/streambus');
    expect(config.storage.walSync).toBe('periodic');
    expect(config.storage.memtableFlushThresholdBytes).toBe(64 * 1024 ** 2);
    expect(config.storage.sstableBytesMax).toBe(256 * 1024 ** 2);
    expect(config.storage.retentionBytesMax).toBe(107374182400);
    expect(config.network.connectionTimeoutMs).toBe(30_000);
    expect(config.network.connectionsMax).toBe(10_000);
    expect(config.monitoring.profilingPort).toBe(6060);
    expect(origins.get('storage.wal_sync')).toEqual({ kind: 'file', file: 'server.yaml' });
    expect(origins.get('raft.tick_ms')).toEqual({ kind: 'default' });
    expect(origins.get('server.admin_listen')).toEqual({ kind: 'derived', from: 'monitoring.metrics_port' });
  });

  it('refuses every key that would change nothing, one line each saying why', () => {
    const problems = problemsOf({ file: file(seedUnsupportedYaml) });
    expect(problems).toHaveLength(8);
    expect(problems).toContain(
      'config error: storage.compaction_policy: not supported (server.yaml line 3): LevelDB always compacts leveled; there is no policy to choose; remove it',
    );
    expect(problems).toContain(
      "config error: performance.io_threads: not supported (server.yaml line 8): LevelDB runs on libuv's thread pool: size it with UV_THREADPOOL_SIZE in the broker's environment; remove it",
    );
    expect(problems.every((line) => !line.includes('\n'))).toBe(true);
    expect(problemsOf({ env: { STREAMBUS_READ_TIMEOUT: '30s', STREAMBUS_IO_THREADS: '8' } })).toEqual([
      "config error: STREAMBUS_IO_THREADS: not supported: LevelDB runs on libuv's thread pool: size it with UV_THREADPOOL_SIZE in the broker's environment; remove it",
      'config error: STREAMBUS_READ_TIMEOUT: not supported: gRPC calls carry their own deadlines (the client request timeout, the fetch max wait); remove it',
    ]);
  });

  it('accepts peers as a YAML map and as a list', () => {
    const asMap = resolve({ file: file('server:\n  broker_id: 2\n  peers:\n    1: "a:1"\n    2: "b:2"\n') });
    expect(asMap.config.server.peers.map((peer) => peer.id)).toEqual([1, 2]);
    const asList = resolve({ file: file('server:\n  broker_id: 2\n  peers: ["1=a:1", "2=b:2"]\n') });
    expect(asList.config.server.peers).toEqual(asMap.config.server.peers);
  });

  it('treats an empty file or empty section as defaults', () => {
    expect(resolve({ file: file('') }).config.storage.walSync).toBe('always');
    expect(resolve({ file: file('storage:\n') }).config.storage.walSync).toBe('always');
  });
});

describe('precedence: file < env < flags', () => {
  const yaml =
    'server:\n  broker_id: 1\n  data_dir: /from/file\n  log_level: warn\n  listen: "127.0.0.1:1000"\nstorage:\n  wal_sync: none\n';

  it('env overrides the file and flags override env', () => {
    const { config, origins } = resolve({
      file: file(yaml),
      env: {
        STREAMBUS_DATA_DIR: '/from/env',
        STREAMBUS_LOG_LEVEL: 'debug',
        STREAMBUS_WAL_SYNC: 'periodic',
        STREAMBUS_BROKER_ID: '2',
      },
      flags: { dataDir: '/from/flag', id: '3' },
    });
    expect(config.server.dataDir).toBe('/from/flag');
    expect(config.server.brokerId).toBe(3);
    expect(config.server.logLevel).toBe('debug');
    expect(config.storage.walSync).toBe('periodic');
    expect(config.server.listen).toEqual({ host: '127.0.0.1', port: 1000 });
    expect(origins.get('server.data_dir')).toEqual({ kind: 'flag', name: '--data-dir' });
    expect(origins.get('server.log_level')).toEqual({ kind: 'env', name: 'STREAMBUS_LOG_LEVEL' });
    expect(origins.get('server.listen')).toEqual({ kind: 'file', file: 'server.yaml' });
  });

  it('derives every environment variable name from the key path', () => {
    const { config } = resolve({
      env: {
        STREAMBUS_RETENTION_MAX_AGE: '24h',
        STREAMBUS_MAX_CONNECTIONS: '5',
        STREAMBUS_CONNECTION_TIMEOUT: '5s',
        STREAMBUS_METRICS_ENABLED: 'false',
        STREAMBUS_MEMTABLE_FLUSH_THRESHOLD: '32MiB',
        STREAMBUS_ELECTION_TICKS: '20',
        STREAMBUS_PEERS: '1=a:1,2=b:2,3=c:3',
        STREAMBUS_ADMIN_LISTEN: '127.0.0.1:0',
      },
    });
    expect(config.storage.retentionAgeMsMax).toBe(24 * 3600_000);
    expect(config.network.connectionsMax).toBe(5);
    expect(config.network.connectionTimeoutMs).toBe(5000);
    expect(config.monitoring.metricsEnabled).toBe(false);
    expect(config.storage.memtableFlushThresholdBytes).toBe(32 * 1024 ** 2);
    expect(config.raft.electionTicks).toBe(20);
    expect(config.server.peers).toHaveLength(3);
    expect(config.server.adminListen).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('takes a StatefulSet pod name as broker id', () => {
    const { config } = resolve({
      env: { STREAMBUS_BROKER_ID: 'streambus-2', STREAMBUS_PEERS: '1=s0:9093,2=s1:9093,3=s2:9093' },
    });
    expect(config.server.brokerId).toBe(3);
  });

  it('warns about unknown STREAMBUS_ variables but ignores Kubernetes service links and client variables', () => {
    const { warnings } = resolve({
      env: {
        STREAMBUS_WAL_SINK: 'always',
        STREAMBUS_PORT: 'tcp://10.0.0.1:9092',
        STREAMBUS_PORT_9092_TCP_ADDR: '10.0.0.1',
        STREAMBUS_SERVICE_HOST: '10.0.0.1',
        STREAMBUS_BOOTSTRAP: 'a:1',
        OTHER: 'x',
      },
    });
    expect(warnings).toEqual([
      'config warning: STREAMBUS_WAL_SINK: unknown variable, ignored; did you mean STREAMBUS_WAL_SYNC?',
    ]);
  });
});

describe('one clear line per problem', () => {
  it('unknown key, with a suggestion', () => {
    expect(problemsOf({ file: file('storage:\n  wal_sink: always\n') })).toEqual([
      'config error: storage.wal_sink: unknown key (server.yaml line 2); did you mean storage.wal_sync?',
    ]);
    expect(problemsOf({ file: file('server:\n  wal_sync: always\n') })).toEqual([
      'config error: server.wal_sync: unknown key (server.yaml line 2); did you mean storage.wal_sync?',
    ]);
    expect(problemsOf({ file: file('consumer:\n  max_fetch_bytes: 1\n') })).toEqual([
      'config error: consumer: unknown key (server.yaml line 2); remove it; "streambus config keys" lists every key',
    ]);
  });

  it('wrong type', () => {
    expect(problemsOf({ file: file('network:\n  max_connections: "lots"\n') })).toEqual([
      'config error: network.max_connections: expected a whole number in 1..1000000, got the string "lots" (server.yaml line 2); set it to a whole number in 1..1000000',
    ]);
    expect(problemsOf({ file: file('monitoring:\n  metrics_enabled: "yes"\n') })[0]).toMatch(
      /^config error: monitoring.metrics_enabled: expected true or false/,
    );
    expect(problemsOf({ file: file('storage: 5\n') })).toEqual([
      'config error: storage: expected a map of keys, got the number 5 (server.yaml line 1); indent the keys of storage under it',
    ]);
  });

  it('bad duration', () => {
    expect(problemsOf({ file: file('network:\n  connection_timeout: 30\n') })).toEqual([
      'config error: network.connection_timeout: expected a duration like "10ms", "30s" or "168h", got the number 30 (server.yaml line 2); set it to a duration like "10ms", "30s" or "168h"',
    ]);
    expect(problemsOf({ env: { STREAMBUS_CONNECTION_TIMEOUT: '30 seconds' } })).toEqual([
      'config error: STREAMBUS_CONNECTION_TIMEOUT: "30 seconds" is not a duration; set it to a duration like "10ms", "30s" or "168h"',
    ]);
  });

  it("bounds network.max_request_size by the protocol's record batch bound", () => {
    expect(resolve({ env: { STREAMBUS_MAX_REQUEST_SIZE: '4194304' } }).config.network.requestBytesMax).toBe(
      4 * 1024 * 1024,
    );
    expect(problemsOf({ env: { STREAMBUS_MAX_REQUEST_SIZE: '4194305' } })[0]).toMatch(
      /^config error: STREAMBUS_MAX_REQUEST_SIZE: .*4194304/,
    );
  });

  it('bad enum', () => {
    expect(problemsOf({ env: { STREAMBUS_WAL_SYNC: 'sometimes' } })).toEqual([
      'config error: STREAMBUS_WAL_SYNC: "sometimes" is not one of always, periodic, none; set it to one of always, periodic, none',
    ]);
    expect(problemsOf({ flags: { logLevel: 'loud' } })).toEqual([
      'config error: --log-level: "loud" is not one of debug, info, warn, error; set it to one of debug, info, warn, error',
    ]);
  });

  it('bad peers list', () => {
    expect(problemsOf({ flags: { peers: '1=a:1,2=b' } })).toEqual([
      'config error: --peers: peer 2: "b" is not HOST:PORT (IPv6 as [::1]:PORT); set it to a peer list 1=HOST:PORT,2=HOST:PORT or a map of id to HOST:PORT',
    ]);
  });

  it("takes seed 004's tracing block, and its STREAMBUS_TRACING_ variables", () => {
    const { config } = resolve({ file: file(serverYaml) });
    expect(config.tracing).toEqual({
      enabled: true,
      exporter: 'jaeger',
      endpoint: 'http://jaeger:14268/api/traces',
      samplingRatio: 0.1,
    });
    const fromEnv = resolve({
      env: {
        STREAMBUS_TRACING_ENABLED: 'true',
        STREAMBUS_TRACING_EXPORTER: 'otlp',
        STREAMBUS_TRACING_ENDPOINT: 'http://collector:4318',
        STREAMBUS_TRACING_SAMPLING_RATE: '0',
      },
    });
    expect(fromEnv.config.tracing).toEqual({
      enabled: true,
      exporter: 'otlp',
      endpoint: 'http://collector:4318',
      samplingRatio: 0,
    });
    expect(resolve({}).config.tracing).toEqual({ enabled: false, exporter: 'otlp', endpoint: '', samplingRatio: 0.1 });
  });

  it('bad tracing values', () => {
    expect(
      problemsOf({
        file: file('tracing:\n  exporter: zipkin\n  endpoint: jaeger:14268\n'),
        env: { STREAMBUS_TRACING_SAMPLING_RATE: '1.5' },
      }),
    ).toEqual([
      'config error: tracing.exporter: "zipkin" is not one of otlp, jaeger (server.yaml line 2); set it to one of otlp, jaeger',
      'config error: tracing.endpoint: "jaeger:14268" is not an http:// or https:// URL (server.yaml line 3); set it to an http:// or https:// URL, or empty',
      'config error: STREAMBUS_TRACING_SAMPLING_RATE: 1.5 is outside 0..1; set it to a number from 0 to 1, like 0.1',
    ]);
  });

  it('takes the groups block and its STREAMBUS_GROUPS_ variables, with the defaults of groups.proto', () => {
    expect(resolve({}).config.groups).toEqual({
      offsetsTopicPartitions: 12,
      offsetsTopicReplicationFactor: 3,
      sessionTimeoutMs: 45_000,
      heartbeatIntervalMs: 500,
      groupMembersMax: 1000,
      offsetsRetentionMs: 604_800_000,
      defaultAssignor: 'uniform',
    });
    const fromFile = resolve({
      file: file(
        'groups:\n  offsets_topic_partitions: 50\n  offsets_topic_replication_factor: 1\n  session_timeout_ms: 10000\n  heartbeat_interval_ms: 3000\n  max_size: 20\n  offsets_retention_ms: 86400000\n  default_assignor: range\n',
      ),
    });
    expect(fromFile.config.groups).toEqual({
      offsetsTopicPartitions: 50,
      offsetsTopicReplicationFactor: 1,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 3_000,
      groupMembersMax: 20,
      offsetsRetentionMs: 86_400_000,
      defaultAssignor: 'range',
    });
    const fromEnv = resolve({
      env: {
        STREAMBUS_GROUPS_OFFSETS_TOPIC_PARTITIONS: '6',
        STREAMBUS_GROUPS_OFFSETS_TOPIC_REPLICATION_FACTOR: '5',
        STREAMBUS_GROUPS_SESSION_TIMEOUT_MS: '30000',
        STREAMBUS_GROUPS_HEARTBEAT_INTERVAL_MS: '1000',
        STREAMBUS_GROUPS_MAX_SIZE: '7',
        STREAMBUS_GROUPS_OFFSETS_RETENTION_MS: '3600000',
        STREAMBUS_GROUPS_DEFAULT_ASSIGNOR: 'range',
      },
    });
    expect(fromEnv.config.groups).toEqual({
      offsetsTopicPartitions: 6,
      offsetsTopicReplicationFactor: 5,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 1_000,
      groupMembersMax: 7,
      offsetsRetentionMs: 3_600_000,
      defaultAssignor: 'range',
    });
    expect(fromEnv.origins.get('groups.max_size')).toEqual({ kind: 'env', name: 'STREAMBUS_GROUPS_MAX_SIZE' });
  });

  it('bad groups values', () => {
    expect(
      problemsOf({
        file: file('groups:\n  offsets_topic_partitions: 0\n  default_assignor: sticky\n'),
        env: { STREAMBUS_GROUPS_MAX_SIZE: 'many', STREAMBUS_GROUPS_OFFSETS_RETENTION_MS: '1000' },
      }),
    ).toEqual([
      'config error: groups.offsets_topic_partitions: 0 is outside 1..1000 (server.yaml line 2); set it to a whole number in 1..1000',
      'config error: groups.default_assignor: "sticky" is not one of uniform, range (server.yaml line 3); set it to one of uniform, range',
      'config error: STREAMBUS_GROUPS_MAX_SIZE: "many" is not a whole number; set it to a whole number in 1..100000',
      'config error: STREAMBUS_GROUPS_OFFSETS_RETENTION_MS: 1000 is outside 60000..315360000000; set it to a whole number in 60000..315360000000',
    ]);
    expect(
      problemsOf({
        env: { STREAMBUS_GROUPS_SESSION_TIMEOUT_MS: '5000', STREAMBUS_GROUPS_HEARTBEAT_INTERVAL_MS: '5000' },
      }),
    ).toEqual([
      'config error: groups.heartbeat_interval_ms: 5000 is not less than groups.session_timeout_ms (5000); make heartbeats more frequent than the session timeout (Kafka: a third of it)',
    ]);
  });

  it('missing id in peers', () => {
    expect(problemsOf({ flags: { id: '4', peers: '1=a:1,2=b:2,3=c:3' } })).toEqual([
      "config error: server.peers: this broker's id 4 (flag --id) is not in the peer list; add 4=HOST:PORT to the peers or fix the broker id",
    ]);
  });

  it('security.auth_enabled needs security.tls_enabled, saying why', () => {
    expect(problemsOf({ env: { STREAMBUS_AUTH_ENABLED: 'true' } })).toEqual([
      'config error: security.auth_enabled: needs security.tls_enabled: true: without TLS a session id and a broker identity can be stolen off the wire; enable TLS (security.tls_enabled, tls_cert, tls_key, tls_ca) or turn authentication off',
    ]);
    const on = resolve({
      file: file(
        'security:\n  tls_enabled: true\n  tls_cert: c.pem\n  tls_key: k.pem\n  tls_ca: ca.pem\n  auth_enabled: true\n  super_users: "user:admin, user:ops"\n',
      ),
    });
    expect(on.config.security).toMatchObject({
      tlsEnabled: true,
      authEnabled: true,
      authMechanism: 'SCRAM-SHA-256',
      superUsers: ['user:admin', 'user:ops'],
      tlsClientAuth: false,
    });
    expect(problemsOf({ file: file('security:\n  auth_mechanism: PLAIN\n') })[0]).toContain('one of SCRAM-SHA-256');
    expect(problemsOf({ env: { STREAMBUS_SUPER_USERS: 'admin' } })).toEqual([
      'config error: security.super_users: "admin" is not a principal user:NAME; write user:admin,user:ops',
    ]);
  });

  it('the acls list: one binding per operation and resource, errors with their line', () => {
    const text = [
      'server:',
      '  broker_id: 1',
      'acls:',
      '  - principal: "user:alice"',
      '    operations: ["read", "write"]',
      '    resources: ["topic:events"]',
      '  - principal: "user:*"',
      '    operations: [describe]',
      '    resources: ["topic:*", "cluster"]',
      '    permission: deny',
      '',
    ].join('\n');
    expect(resolve({ file: file(text) }).config.security.acls).toEqual([
      { principal: 'user:alice', operation: 'read', resource: 'topic:events', permission: 'allow' },
      { principal: 'user:alice', operation: 'write', resource: 'topic:events', permission: 'allow' },
      { principal: 'user:*', operation: 'describe', resource: 'topic:*', permission: 'deny' },
      { principal: 'user:*', operation: 'describe', resource: 'cluster', permission: 'deny' },
    ]);
    const bad = 'acls:\n  - principal: "user:alice"\n    operations: [read]\n    resources: ["topic:ev*nts"]\n';
    expect(problemsOf({ file: file(bad) })).toEqual([
      'config error: acls.0: resource "topic:ev*nts" is not topic:NAME, topic:PREFIX*, group:NAME, group:PREFIX* or cluster (server.yaml line 2); write - {principal: "user:NAME", operations: [read], resources: ["topic:NAME"]}',
    ]);
    const second =
      'acls:\n  - principal: "user:a"\n    operations: [read]\n    resources: [cluster]\n  - principal: alice\n    operations: [read]\n    resources: [cluster]\n';
    expect(problemsOf({ file: file(second) })[0]).toContain(
      'acls.1: principal "alice" is not user:NAME or user:* (server.yaml line 5)',
    );
  });

  it('collects every problem, from every source, instead of stopping at the first', () => {
    const problems = problemsOf({
      file: file(
        'storage:\n  wal_sync: sometimes\nnetwork:\n  max_conections: 5\nraft:\n  election_ticks: 3\n  heartbeat_ticks: 3\n',
      ),
      env: { STREAMBUS_MAX_CONNECTIONS: '0' },
      flags: { listen: 'nowhere' },
    });
    expect(problems).toHaveLength(5);
    expect(problems.every((line) => line.startsWith('config error: '))).toBe(true);
    expect(problems.every((line) => !line.includes('\n'))).toBe(true);
  });

  it('YAML syntax errors and duplicate keys name the line', () => {
    expect(problemsOf({ file: file('server:\n  broker_id: 1\n  broker_id: 2\n') })[0]).toMatch(
      /^config error: server.yaml:3:\d+: .*; fix the YAML syntax$/,
    );
    expect(problemsOf({ file: file('server: [\n') })[0]).toMatch(/^config error: server.yaml:\d+:\d+: /);
  });

  it('--port sets the port of server.listen and keeps its host', () => {
    const fromFile = resolve({ file: file('server:\n  listen: 10.1.2.3:9092\n'), flags: { port: '9093' } });
    expect(fromFile.config.server.listen).toEqual({ host: '10.1.2.3', port: 9093 });
    expect(fromFile.origins.get('server.listen')).toEqual({ kind: 'flag', name: '--port' });
    expect(resolve({ flags: { port: '9093' } }).config.server.listen).toEqual({ host: '0.0.0.0', port: 9093 });
    expect(resolve({ flags: { port: '9093', listen: '127.0.0.1:9093' } }).config.server.listen).toEqual({
      host: '127.0.0.1',
      port: 9093,
    });
    expect(problemsOf({ flags: { port: '90930' } })).toEqual([
      'config error: --port: "90930" is not a port; set it to a whole number in 0..65535',
    ]);
    expect(problemsOf({ flags: { port: '-1' } })).toHaveLength(1);
    expect(problemsOf({ flags: { port: '9093', listen: 'nowhere' } })).toEqual([
      'config error: --listen: "nowhere" is not HOST:PORT (IPv6 as [::1]:PORT); set it to an address HOST:PORT',
    ]);
  });

  it('admin and metrics ports that disagree', () => {
    expect(problemsOf({ flags: { admin: '127.0.0.1:9644' }, env: { STREAMBUS_METRICS_PORT: '9100' } })).toEqual([
      'config error: monitoring.metrics_port: 9100 differs from the port of server.admin_listen (127.0.0.1:9644); /metrics is served on the admin address: set only server.admin_listen',
    ]);
  });
});

describe('config dump', () => {
  it('shows only keys that work, and round-trips through the loader', () => {
    const loaded = resolve({ file: file(serverYaml), env: { STREAMBUS_PEERS: '1=a:1,2=b:2' } });
    const text = dumpConfig(loaded, { showOrigin: false });
    const reparsed = parse(text) as Record<string, Record<string, unknown>>;
    expect(reparsed['storage']?.['wal_sync']).toBe('periodic');
    expect(Object.keys(reparsed)).toEqual([
      'server',
      'storage',
      'network',
      'monitoring',
      'raft',
      'tracing',
      'groups',
      'security',
    ]);
    for (const unsupported of unsupportedKeys) expect(text).not.toContain(unsupported.path.split('.').at(-1));
    const reloaded = resolve({ file: file(text) });
    expect(reloaded.config).toEqual(loaded.config);
  });

  it('masks secrets', () => {
    const spec: KeySpec = {
      path: 'x.password',
      kind: { type: 'string', emptyAllowed: true },
      defaultValue: '',
      secret: true,
      help: '',
    };
    expect(renderValue(spec, 'hunter2')).toBe(secretMask);
    expect(renderValue(spec, '')).toBe('');
  });

  it('shows where each value came from', () => {
    const loaded = resolve({ file: file(serverYaml), env: { STREAMBUS_WAL_SYNC: 'none' }, flags: { id: '1' } });
    const text = dumpConfig(loaded, { showOrigin: true });
    expect(text).toContain('wal_sync: none # env STREAMBUS_WAL_SYNC\n');
    expect(text).toContain('broker_id: 1 # flag --id\n');
    expect(text).toContain('tick_ms: 50 # default; override with STREAMBUS_TICK_MS\n');
    expect(text).toContain('connection_timeout: 30s # file server.yaml\n');
  });
});

describe('loading from disk', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads --config, or STREAMBUS_CONFIG', async () => {
    const path = join(dir, 'server.yaml');
    await writeFile(path, 'server:\n  data_dir: /x\n');
    const byFlag = await loadConfig({ env: {}, flags: { config: path } });
    expect(byFlag.ok && byFlag.loaded.config.server.dataDir).toBe('/x');
    const byEnv = await loadConfig({ env: { STREAMBUS_CONFIG: path }, flags: {} });
    expect(byEnv.ok && byEnv.loaded.config.server.dataDir).toBe('/x');
  });

  it('reports a missing file as one problem', async () => {
    const missing = join(dir, 'nope.yaml');
    const result = await loadConfig({ env: {}, flags: { config: missing } });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.problems.map(formatConfigProblem)).toEqual([
        `config error: ${missing}: no such file; check the path given to --config`,
      ]);
  });
});

describe('security.tls_*', () => {
  let dir = '';
  let pki: PkiFiles;
  let otherPki: PkiFiles;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-config-tls-'));
    pki = await generatePki({ dir: join(dir, 'pki'), brokerIds: [1, 2] });
    otherPki = await generatePki({ dir: join(dir, 'other'), brokerIds: [1], caName: 'Another CA' });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const tlsEnv = (brokerId = 1, files: PkiFiles = pki): Record<string, string> => {
    const broker = files.brokers.get(brokerId);
    if (broker === undefined) throw new Error(`no certificate for broker ${brokerId}`);
    return {
      STREAMBUS_TLS_ENABLED: 'true',
      STREAMBUS_TLS_CERT: broker.cert,
      STREAMBUS_TLS_KEY: broker.key,
      STREAMBUS_TLS_CA: pki.caCert,
    };
  };

  async function tlsProblems(env: Record<string, string>, flags: ConfigFlags = {}): Promise<string[]> {
    const result = await loadConfig({ env, flags });
    return result.ok ? [] : result.problems.map(formatConfigProblem);
  }

  it('is off by default, 1.3 at least once on, with the derived variable names', () => {
    expect(resolve({}).config.security).toEqual({
      tlsEnabled: false,
      tlsCertPath: '',
      tlsKeyPath: '',
      tlsCaPath: '',
      tlsKeyPassword: '',
      tlsVersionMin: '1.3',
      tlsAdminEnabled: false,
      authEnabled: false,
      authMechanism: 'SCRAM-SHA-256',
      usersFile: '',
      superUsers: [],
      tlsClientAuth: false,
      acls: [],
      seedUsers: [],
    });
    const loaded = resolve({
      env: { ...tlsEnv(), STREAMBUS_MIN_TLS_VERSION: '1.2', STREAMBUS_TLS_ADMIN_ENABLED: 'true' },
    });
    expect(loaded.config.security).toMatchObject({
      tlsEnabled: true,
      tlsCertPath: pki.brokers.get(1)?.cert,
      tlsCaPath: pki.caCert,
      tlsVersionMin: '1.2',
      tlsAdminEnabled: true,
    });
    expect(loaded.origins.get('security.tls_cert')).toEqual({ kind: 'env', name: 'STREAMBUS_TLS_CERT' });
  });

  it('takes min_tls_version as YAML writes it (a number) and refuses 1.1', () => {
    expect(resolve({ file: file('security:\n  min_tls_version: 1.2\n') }).config.security.tlsVersionMin).toBe('1.2');
    expect(resolve({ file: file('security:\n  min_tls_version: "1.3"\n') }).config.security.tlsVersionMin).toBe('1.3');
    expect(problemsOf({ env: { STREAMBUS_MIN_TLS_VERSION: '1.1' } })).toEqual([
      'config error: STREAMBUS_MIN_TLS_VERSION: "1.1" is not one of 1.2, 1.3; set it to one of 1.2, 1.3',
    ]);
  });

  it('needs the three files once on, and TLS for HTTPS on the admin port', () => {
    expect(problemsOf({ env: { STREAMBUS_TLS_ENABLED: 'true' } })).toEqual([
      "config error: security.tls_cert: is required when security.tls_enabled is true; set it to the PEM file of this broker's certificate",
      "config error: security.tls_key: is required when security.tls_enabled is true; set it to the PEM file of this broker's private key",
      'config error: security.tls_ca: is required when security.tls_enabled is true; set it to the PEM file of the cluster CA',
    ]);
    expect(problemsOf({ env: { STREAMBUS_TLS_ADMIN_ENABLED: 'true' } })).toEqual([
      'config error: security.tls_admin_enabled: needs security.tls_enabled (the admin port serves the same certificate); turn security.tls_enabled on, or tls_admin_enabled off',
    ]);
  });

  it('masks the key password in config dump', () => {
    const loaded = resolve({ env: { ...tlsEnv(), STREAMBUS_TLS_KEY_PASSWORD: 'hunter2' } });
    expect(loaded.config.security.tlsKeyPassword).toBe('hunter2');
    const text = dumpConfig(loaded, { showOrigin: true });
    expect(text).not.toContain('hunter2');
    expect(text).toContain(`tls_key_password: "${secretMask}" # env STREAMBUS_TLS_KEY_PASSWORD\n`);
  });

  it('loads files that are right, at start', async () => {
    expect(await tlsProblems(tlsEnv())).toEqual([]);
    expect(await tlsProblems(tlsEnv(2), { id: '2', peers: '1=a:1,2=b:2' })).toEqual([]);
  });

  it('refuses a missing, unreadable or wrong file with one line naming it', async () => {
    const missing = join(dir, 'missing.crt');
    expect(await tlsProblems({ ...tlsEnv(), STREAMBUS_TLS_CERT: missing })).toEqual([
      `config error: security.tls_cert: ${missing}: no such file; fix the file or the path (the broker re-reads it every few seconds once running)`,
    ]);
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    expect(await tlsProblems({ ...tlsEnv(), STREAMBUS_TLS_CA: garbage })).toEqual([
      `config error: security.tls_ca: ${garbage}: holds no PEM certificate; fix the file or the path (the broker re-reads it every few seconds once running)`,
    ]);
    expect(await tlsProblems({ ...tlsEnv(), STREAMBUS_TLS_KEY: garbage })).toEqual([
      `config error: security.tls_key: ${garbage}: is not a PEM private key; fix the file or the path (the broker re-reads it every few seconds once running)`,
    ]);
    const other = pki.brokers.get(2)?.key ?? '';
    expect((await tlsProblems({ ...tlsEnv(), STREAMBUS_TLS_KEY: other }))[0]).toContain(
      `security.tls_key: ${other}: is not the key of the certificate in ${pki.brokers.get(1)?.cert}`,
    );
  });

  it('refuses a certificate another CA signed', async () => {
    const problems = await tlsProblems(tlsEnv(1, otherPki));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      `config error: security.tls_cert: ${otherPki.brokers.get(1)?.cert}: is not signed by the CA in ${pki.caCert}`,
    );
    expect(problems[0]).toContain('issued by CN=Another CA');
  });

  it("refuses, in a cluster, a certificate naming another broker's id", async () => {
    expect(await tlsProblems(tlsEnv(2), { id: '3', peers: '1=a:1,2=b:2,3=c:3' })).toEqual([
      `config error: security.tls_cert: ${pki.brokers.get(2)?.cert} names broker 2, not this broker 3; give each broker its own certificate with the URI SAN streambus://broker/3`,
    ]);
  });
});
