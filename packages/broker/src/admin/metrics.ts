/**
 * The Prometheus registry of one broker and the seed's metric names, declared here so that the
 * dashboard and alert rules can be written against them now; the broker core feeds them.
 * Labels are kept to low cardinality (topic at most): thousands of partitions must stay cheap.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets in seconds: 250 µs (one fdatasync here) up to 10 s. */
export const latencyBucketsSeconds: readonly number[] = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

export interface BrokerMetrics {
  readonly registry: Registry;
  // Throughput
  readonly messagesProducedTotal: Counter<'topic'>;
  readonly messagesConsumedTotal: Counter<'topic'>;
  readonly bytesInTotal: Counter<'topic'>;
  readonly bytesOutTotal: Counter<'topic'>;
  // Latency
  readonly produceLatencySeconds: Histogram<'acks'>;
  readonly fetchLatencySeconds: Histogram;
  // Storage
  readonly storageBytesUsed: Gauge;
  readonly storageBytesAvailable: Gauge;
  readonly walSizeBytes: Gauge;
  readonly memtableSizeBytes: Gauge;
  readonly walSyncsTotal: Counter;
  readonly walSyncLatencySeconds: Histogram;
  // Connections
  readonly connectionsActive: Gauge;
  readonly connectionErrorsTotal: Counter;
  // Raft and replication
  readonly raftLeaderChangesTotal: Counter;
  readonly raftGroups: Gauge;
  readonly raftLeaders: Gauge;
  readonly raftProposalsDroppedTotal: Counter;
  readonly raftCommitLatencySeconds: Histogram;
  readonly underReplicatedPartitions: Gauge;
  readonly controllerLeader: Gauge;
  readonly forwardedProducesTotal: Counter;
}

export interface MetricsOptions {
  /** Default process metrics (CPU, memory, event loop lag, GC). On in production. */
  readonly processMetrics: boolean;
  readonly brokerId?: number;
}

export function createBrokerMetrics(options: MetricsOptions): BrokerMetrics {
  const registry = new Registry();
  if (options.brokerId !== undefined) registry.setDefaultLabels({ broker_id: String(options.brokerId) });
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const buckets = [...latencyBucketsSeconds];
  return {
    registry,
    messagesProducedTotal: new Counter({
      name: 'streambus_messages_produced_total',
      help: 'Total messages produced',
      labelNames: ['topic'],
      registers,
    }),
    messagesConsumedTotal: new Counter({
      name: 'streambus_messages_consumed_total',
      help: 'Total messages consumed',
      labelNames: ['topic'],
      registers,
    }),
    bytesInTotal: new Counter({
      name: 'streambus_bytes_in_total',
      help: 'Total bytes received from producers',
      labelNames: ['topic'],
      registers,
    }),
    bytesOutTotal: new Counter({
      name: 'streambus_bytes_out_total',
      help: 'Total bytes sent to consumers',
      labelNames: ['topic'],
      registers,
    }),
    produceLatencySeconds: new Histogram({
      name: 'streambus_produce_latency_seconds',
      help: 'Produce latency, request to ack',
      labelNames: ['acks'],
      buckets,
      registers,
    }),
    fetchLatencySeconds: new Histogram({
      name: 'streambus_fetch_latency_seconds',
      help: 'Fetch latency, excluding long-poll wait',
      buckets,
      registers,
    }),
    storageBytesUsed: new Gauge({
      name: 'streambus_storage_bytes_used',
      help: 'Disk space used by the data directory',
      registers,
    }),
    storageBytesAvailable: new Gauge({
      name: 'streambus_storage_bytes_available',
      help: 'Disk space available to the data directory',
      registers,
    }),
    walSizeBytes: new Gauge({ name: 'streambus_wal_size_bytes', help: 'Size of the write-ahead log', registers }),
    memtableSizeBytes: new Gauge({
      name: 'streambus_memtable_size_bytes',
      help: 'Size of the in-memory write buffer',
      registers,
    }),
    walSyncsTotal: new Counter({
      name: 'streambus_wal_syncs_total',
      help: 'fdatasync calls on the write-ahead log',
      registers,
    }),
    walSyncLatencySeconds: new Histogram({
      name: 'streambus_wal_sync_latency_seconds',
      help: 'Duration of one write-ahead log sync',
      buckets,
      registers,
    }),
    connectionsActive: new Gauge({
      name: 'streambus_connections_active',
      help: 'Active client connections',
      registers,
    }),
    connectionErrorsTotal: new Counter({
      name: 'streambus_connection_errors_total',
      help: 'Connection errors',
      registers,
    }),
    raftLeaderChangesTotal: new Counter({
      name: 'streambus_raft_leader_changes_total',
      help: 'Leader changes seen by the Raft groups on this broker',
      registers,
    }),
    raftGroups: new Gauge({ name: 'streambus_raft_groups', help: 'Raft groups hosted on this broker', registers }),
    raftLeaders: new Gauge({ name: 'streambus_raft_leaders', help: 'Raft groups this broker leads', registers }),
    raftProposalsDroppedTotal: new Counter({
      name: 'streambus_raft_proposals_dropped_total',
      help: 'Proposals dropped (leadership transfer, size bound)',
      registers,
    }),
    raftCommitLatencySeconds: new Histogram({
      name: 'streambus_raft_commit_latency_seconds',
      help: 'Propose to commit latency',
      buckets,
      registers,
    }),
    underReplicatedPartitions: new Gauge({
      name: 'streambus_under_replicated_partitions',
      help: 'Partitions led here with fewer in-sync replicas than replicas',
      registers,
    }),
    controllerLeader: new Gauge({
      name: 'streambus_controller_leader',
      help: '1 when this broker leads the controller group, else 0',
      registers,
    }),
    forwardedProducesTotal: new Counter({
      name: 'streambus_forwarded_produces_total',
      help: 'Produce requests forwarded to the partition leader',
      registers,
    }),
  };
}
