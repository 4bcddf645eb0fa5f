/**
 * Bounds of the broker's configuration, in one place, with load-time checks of how they relate.
 * Names carry units last.
 */
import { recordBatchBytesMax } from '@streambus/proto';
import { assert } from '@streambus/raft';

/** A config file larger than this is surely not a config file. */
export const configFileBytesMax = 1024 * 1024;
/** Static peer lists longer than this are refused (one Raft group spans every broker). */
export const peersMax = 64;
/** Broker ids are positive unsigned 31-bit integers; 0 means "none" in Raft. */
export const brokerIdMax = 2 ** 31 - 1;
/** Longest accepted duration: ten years, far beyond any sensible retention. */
export const durationMsMax = 10 * 365 * 24 * 3600 * 1000;
/** Largest accepted size: 1 PiB. */
export const sizeBytesMax = 2 ** 50;
/** Problems reported at start are capped so that a wrong file does not flood the terminal. */
export const configProblemsMax = 50;
/** Suggestions ("did you mean") are offered only within this edit distance. */
export const suggestionDistanceMax = 3;
/** The largest TCP port. */
export const portMax = 65535;

export const tickMsMin = 1;
export const tickMsMax = 1000;
export const electionTicksMax = 1000;
export const walSyncIntervalMsMax = 10_000;
/** network.max_request_size bounds one Produce batch, and the protocol's batch bound caps it. */
export const requestBytesMax = recordBatchBytesMax;
export const connectionsMax = 1_000_000;
/** LevelDB clips its write buffer to [64 KiB, 1 GiB] (ClipToRange in db_impl.cc): the key says so. */
export const memtableFlushThresholdBytesMin = 64 * 1024;
export const memtableFlushThresholdBytesMax = 1024 ** 3;
/** And its table file size to [1 MiB, 1 GiB]. */
export const sstableBytesMin = 1024 ** 2;
export const sstableBytesMax = 1024 ** 3;
/** __consumer_offsets partitions (Kafka caps offsets.topic.num.partitions nowhere; 1000 is plenty). */
export const offsetsTopicPartitionsMax = 1000;
/** Its replication factor: at most a Raft group's voters. */
export const offsetsTopicReplicationFactorMax = 7;
/** groups.session_timeout_ms bounds (Kafka's group.consumer.min/max.session.timeout.ms). */
export const groupSessionTimeoutMsMin = 1_000;
export const groupSessionTimeoutMsMax = 30 * 60 * 1000;
/** groups.heartbeat_interval_ms bounds. */
export const groupHeartbeatIntervalMsMin = 100;
export const groupHeartbeatIntervalMsMax = 15 * 60 * 1000;
/** groups.max_size upper bound: one group's members are held and assigned in memory. */
export const groupMembersMax = 100_000;
/** groups.offsets_retention_ms floor: one minute (less would expire offsets between two polls). */
export const offsetsRetentionMsMin = 60_000;

assert(groupHeartbeatIntervalMsMin < groupSessionTimeoutMsMin, 'the smallest heartbeat fits the smallest session');
assert(groupSessionTimeoutMsMax <= durationMsMax, 'session timeouts fit the duration bound');
assert(tickMsMin <= tickMsMax, 'tick bounds are ordered');
assert(walSyncIntervalMsMax <= durationMsMax, 'sync interval fits the duration bound');
assert(requestBytesMax <= sizeBytesMax, 'request bound fits the size bound');
assert(memtableFlushThresholdBytesMin < memtableFlushThresholdBytesMax, 'write buffer bounds are ordered');
assert(sstableBytesMin < sstableBytesMax, 'table file bounds are ordered');
assert(sizeBytesMax <= Number.MAX_SAFE_INTEGER, 'sizes are exact doubles');
assert(durationMsMax <= Number.MAX_SAFE_INTEGER, 'durations are exact doubles');
