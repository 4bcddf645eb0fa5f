/**
 * The Prometheus registry of one broker: the seeds' metric names (000: throughput, latency,
 * storage, connections) and what Kafka and Redpanda operators look for (request errors by code,
 * Raft, replication lag, under-replicated and offline partitions). ops/grafana and
 * ops/prometheus are written against these names; the Prometheus test in test-cluster checks
 * that every one of their queries returns data from a live cluster.
 *
 * Two kinds of feeding: counters and histograms on the request paths (client service, store
 * syncs, listener), and gauges plus the Raft host's counters sampled once per scrape by the
 * samplers registered with `onScrape`: nothing is computed while nobody scrapes.
 * Labels are kept to low cardinality: topic, request, error code, acks, a follower's broker id,
 * and a consumer group (on its coordinator only).
 * No per-partition label: thousands of partitions must stay cheap.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { assert } from '@streambus/raft';
import { scrapeSamplersMax } from './constants.js';
import { rethrowBug } from '../bugs.js';

/** Latency buckets in seconds: 250 µs (one fdatasync here) up to 10 s. */
export const latencyBucketsSeconds: readonly number[] = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** The requests of the client API, as the `request` label names them. */
export type RequestKind = 'produce' | 'fetch' | 'metadata' | 'admin' | 'offsets';

export interface BrokerMetrics {
  readonly registry: Registry;
  // Throughput, by topic.
  readonly messagesProducedTotal: Counter<'topic'>;
  readonly messagesConsumedTotal: Counter<'topic'>;
  readonly bytesInTotal: Counter<'topic'>;
  readonly bytesOutTotal: Counter<'topic'>;
  // Requests.
  readonly requestsTotal: Counter<'request'>;
  readonly requestErrorsTotal: Counter<'request' | 'code'>;
  readonly produceLatencySeconds: Histogram<'acks'>;
  readonly fetchLatencySeconds: Histogram;
  readonly forwardedProducesTotal: Counter;
  // Connections (server.listen: clients and peers).
  readonly connectionsActive: Gauge;
  readonly connectionErrorsTotal: Counter<'reason'>;
  // Storage.
  readonly storageBytesUsed: Gauge;
  readonly storageBytesAvailable: Gauge;
  readonly storageCapacityBytes: Gauge;
  readonly walSizeBytes: Gauge;
  readonly memtableSizeBytes: Gauge;
  readonly walSyncsTotal: Counter;
  readonly walSyncLatencySeconds: Histogram;
  // Raft, per broker.
  readonly raftGroups: Gauge;
  readonly raftLeaders: Gauge;
  readonly raftLeaderlessGroups: Gauge;
  readonly raftLeaderChangesTotal: Counter;
  readonly raftElectionsTotal: Counter;
  readonly raftTermChangesTotal: Counter;
  readonly raftProposalsTotal: Counter;
  readonly raftProposalsDroppedTotal: Counter;
  readonly raftCommitLatencySeconds: Histogram;
  readonly raftSnapshotsSentTotal: Counter;
  readonly raftSnapshotsReceivedTotal: Counter;
  // Partitions and replication.
  readonly partitions: Gauge;
  readonly partitionLeaders: Gauge;
  readonly underReplicatedPartitions: Gauge;
  readonly offlinePartitions: Gauge;
  readonly replicationLagRecords: Gauge<'follower'>;
  readonly replicationLagSeconds: Gauge<'follower'>;
  readonly controllerLeader: Gauge;
  // Consumer groups, exported by each group's coordinator only.
  readonly consumerGroupLagRecords: Gauge<'group' | 'topic'>;
  readonly consumerGroupLagMaxRecords: Gauge<'group' | 'topic'>;
  readonly consumerGroupOldestUnconsumedAgeSeconds: Gauge<'group' | 'topic'>;
  readonly consumerGroups: Gauge<'state'>;
  readonly buildInfo: Gauge<'version'>;
  /**
   * Registers a sampler run before every scrape (gauges, the Raft host's totals); returns the
   * function that removes it. A sampler that throws is logged by the caller of `scrape` and
   * leaves its metrics as they were.
   */
  onScrape(sampler: ScrapeSampler): () => void;
  /** Runs the samplers, then renders the registry: what /metrics serves. */
  scrape(): Promise<string>;
}

export type ScrapeSampler = () => void | Promise<void>;

export interface MetricsOptions {
  /** Default process metrics (CPU, memory, event loop lag, GC). On in production. */
  readonly processMetrics: boolean;
  readonly brokerId?: number;
  readonly version?: string;
  /** Told about a sampler that failed (it does not fail the scrape). */
  readonly onSamplerError?: (error: unknown) => void;
}

export function createBrokerMetrics(options: MetricsOptions): BrokerMetrics {
  const registry = new Registry();
  if (options.brokerId !== undefined) registry.setDefaultLabels({ broker_id: String(options.brokerId) });
  if (options.processMetrics) {
    collectDefaultMetrics({ register: registry });
    removeGaugesEndingInTotal(registry);
  }
  const registers = [registry];
  const buckets = [...latencyBucketsSeconds];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> =>
    new Gauge<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Histogram<L> =>
    new Histogram<L>({ name, help, labelNames, buckets, registers });
  const samplers = new Set<ScrapeSampler>();
  const buildInfo = gauge('streambus_build_info', 'Always 1; the version label says which build runs', ['version']);
  buildInfo.set({ version: options.version ?? 'unknown' }, 1);
  return {
    registry,
    messagesProducedTotal: counter('streambus_messages_produced_total', 'Records produced (acknowledged)', ['topic']),
    messagesConsumedTotal: counter('streambus_messages_consumed_total', 'Records returned to fetches', ['topic']),
    bytesInTotal: counter('streambus_bytes_in_total', 'Record batch bytes produced (acknowledged)', ['topic']),
    bytesOutTotal: counter('streambus_bytes_out_total', 'Record batch bytes returned to fetches', ['topic']),
    requestsTotal: counter('streambus_requests_total', 'Client requests handled, by request', ['request']),
    requestErrorsTotal: counter(
      'streambus_request_errors_total',
      'Client requests (or produce and fetch partitions) answered with an error, by request and error code',
      ['request', 'code'],
    ),
    produceLatencySeconds: histogram(
      'streambus_produce_latency_seconds',
      'Produce latency on this broker, request to acknowledgement (forwarding included)',
      ['acks'],
    ),
    fetchLatencySeconds: histogram(
      'streambus_fetch_latency_seconds',
      'Fetch latency, excluding the long-poll wait for new records',
    ),
    forwardedProducesTotal: counter(
      'streambus_forwarded_produces_total',
      'Produce requests forwarded to the partition leader',
    ),
    connectionsActive: gauge('streambus_connections_active', 'Open connections to server.listen (clients and peers)'),
    connectionErrorsTotal: counter(
      'streambus_connection_errors_total',
      'Connections refused (limit: network.max_connections), closed silent (timeout: network.connection_timeout) or failed (reset)',
      ['reason'],
    ),
    storageBytesUsed: gauge('streambus_storage_bytes_used', 'Bytes of the database files in the data directory'),
    storageBytesAvailable: gauge(
      'streambus_storage_bytes_available',
      "Bytes available to the broker on the data directory's file system (statfs)",
    ),
    storageCapacityBytes: gauge(
      'streambus_storage_capacity_bytes',
      "Size of the data directory's file system in bytes (statfs)",
    ),
    walSizeBytes: gauge('streambus_wal_size_bytes', "Bytes of LevelDB's write-ahead log files"),
    memtableSizeBytes: gauge('streambus_memtable_size_bytes', "LevelDB's estimate of its memtables' bytes"),
    walSyncsTotal: counter('streambus_wal_syncs_total', 'Synced writes (fdatasync) of the write-ahead log'),
    walSyncLatencySeconds: histogram(
      'streambus_wal_sync_latency_seconds',
      'Duration of one synced write of the write-ahead log, fdatasync included',
    ),
    raftGroups: gauge('streambus_raft_groups', 'Raft groups hosted on this broker (partitions and the controller)'),
    raftLeaders: gauge('streambus_raft_leaders', 'Raft groups this broker leads'),
    raftLeaderlessGroups: gauge(
      'streambus_raft_leaderless_groups',
      'Raft groups hosted here that know no leader (an election is due or failing)',
    ),
    raftLeaderChangesTotal: counter(
      'streambus_raft_leader_changes_total',
      'Leader or role changes seen by the Raft groups on this broker',
    ),
    raftElectionsTotal: counter('streambus_raft_elections_total', 'Elections the Raft groups on this broker started'),
    raftTermChangesTotal: counter(
      'streambus_raft_term_changes_total',
      'Term increases seen by the Raft groups on this broker',
    ),
    raftProposalsTotal: counter('streambus_raft_proposals_total', 'Entries proposed to the Raft groups led here'),
    raftProposalsDroppedTotal: counter(
      'streambus_raft_proposals_dropped_total',
      'Proposals refused at intake (queue full, no leader, leadership transfer)',
    ),
    raftCommitLatencySeconds: histogram(
      'streambus_raft_commit_latency_seconds',
      'Propose to commit (and applied on the leader) latency of produced batches',
    ),
    raftSnapshotsSentTotal: counter(
      'streambus_raft_snapshots_sent_total',
      'Snapshots this broker began sending to followers',
    ),
    raftSnapshotsReceivedTotal: counter(
      'streambus_raft_snapshots_received_total',
      'Snapshots from a leader installed on this broker',
    ),
    partitions: gauge('streambus_partitions', 'Partition replicas hosted on this broker'),
    partitionLeaders: gauge('streambus_partition_leaders', 'Partitions this broker leads'),
    underReplicatedPartitions: gauge(
      'streambus_under_replicated_partitions',
      'Partitions led here with fewer in-sync replicas than voters',
    ),
    offlinePartitions: gauge(
      'streambus_offline_partitions',
      'Partitions with no live leader, as the controller leader sees them (0 on other brokers)',
    ),
    replicationLagRecords: gauge(
      'streambus_replication_lag_records',
      "Records a follower lacks of this leader's log, the maximum over the partitions led here",
      ['follower'],
    ),
    replicationLagSeconds: gauge(
      'streambus_replication_lag_seconds',
      "Seconds since a follower last had all of this leader's log, the maximum over the partitions led here",
      ['follower'],
    ),
    controllerLeader: gauge('streambus_controller_leader', '1 when this broker leads the controller group, else 0'),
    consumerGroupLagRecords: gauge(
      'streambus_consumer_group_lag_records',
      'Records of a topic a group has not committed: high watermark minus committed offset (log start without a commit), summed over partitions; from the coordinator',
      ['group', 'topic'],
    ),
    consumerGroupLagMaxRecords: gauge(
      'streambus_consumer_group_lag_max_records',
      "The largest lag of one partition of the topic, in records; from the group's coordinator",
      ['group', 'topic'],
    ),
    consumerGroupOldestUnconsumedAgeSeconds: gauge(
      'streambus_consumer_group_oldest_unconsumed_age_seconds',
      "Age of the oldest record of the topic a group has not committed (now minus its timestamp, largest over partitions with lag), 0 when none; looked up every 10 s by the group's coordinator",
      ['group', 'topic'],
    ),
    consumerGroups: gauge('streambus_consumer_groups', 'Groups coordinated by this broker, by state', ['state']),
    buildInfo,
    onScrape: (sampler) => {
      assert(samplers.size < scrapeSamplersMax, 'scrape samplers are bounded');
      samplers.add(sampler);
      return () => samplers.delete(sampler);
    },
    scrape: async () => {
      for (const sampler of samplers) {
        try {
          await sampler();
        } catch (error) {
          rethrowBug(error);
          options.onSamplerError?.(error);
        }
      }
      return registry.metrics();
    },
  };
}

/**
 * prom-client's default metrics include three gauges named like counters (`nodejs_active_handles_total`,
 * ...), which `promtool check metrics` refuses. They are sums of gauges it serves by type as well
 * (`nodejs_active_handles`, `nodejs_active_requests`, `nodejs_active_resources`): those stay.
 */
function removeGaugesEndingInTotal(registry: Registry): void {
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);
}

/**
 * A counter that mirrors a running total kept elsewhere (the Raft host's HostMetrics): each call
 * adds what the total grew by since the last call.
 */
export function mirrorTotal(target: Counter): (total: number) => void {
  let last = 0;
  return (total) => {
    if (total > last) target.inc(total - last);
    last = total;
  };
}
