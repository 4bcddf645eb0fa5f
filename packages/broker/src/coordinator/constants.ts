/** Bounds and periods of the group coordinators of a broker. Names carry units last. */
import { recordBatchBytesMax, recordsPerBatchMax } from '@streambus/proto';
import { assert } from '@streambus/raft';

/** The internal topic that holds every group's records (Kafka's name). */
export const offsetsTopicName = '__consumer_offsets';
/** Topic names with this prefix are the broker's own: users neither create, delete nor produce to them. */
export const internalTopicPrefix = '__';
/** How often the coordinators tick (timeouts, retention, metadata changes) and follow leadership. */
export const coordinatorTickMs = 250;
/** How often the controller leader looks whether __consumer_offsets exists yet, and creates it. */
export const offsetsTopicCheckMs = 1_000;
/** Deadline of the controller command that creates __consumer_offsets (retried at the next check). */
export const offsetsTopicCreateDeadlineMs = 10_000;
/** Calls waiting for one coordinator partition at most; one more is answered REQUEST_TIMED_OUT at once. */
export const coordinatorPendingCallsMax = 10_000;
/** Calls run against the shard and appended as one record batch at most (group commit). */
export const callsPerAppendMax = 256;
/** Records per appended batch: the protocol's bound. */
export const recordsPerAppendBatchMax = recordsPerBatchMax;
/** Bytes of records per appended batch before the next batch starts (room left for the batch framing). */
export const appendBatchBytesMax = Math.min(1024 * 1024, Math.floor(recordBatchBytesMax / 2));
/** Longest one append waits for its commit (acks all) before the call answers REQUEST_TIMED_OUT. */
export const appendTimeoutMs = 10_000;
/** Bytes read per fetch while loading a partition. */
export const loadReadBytesMax = 1024 * 1024;
/** How often a loading coordinator looks whether its partition leader is ready and its log applied. */
export const loadPollMs = 20;
/** The log is compacted once it holds more than 2x the last checkpoint's records plus this many. */
export const compactionSlackRecords = 10_000;
/**
 * Key of the broker's own checkpoint marker, the last record of every checkpoint append: its value
 * (8 bytes, big-endian) counts the checkpoint's records before it, so every replica finds where
 * the checkpoint starts (marker offset minus that count) and may cut its log below it. The 0xff
 * first byte is reserved: group records start with their version byte (0).
 */
export const checkpointMarkerKey: Buffer = Buffer.concat([Buffer.from([0xff]), Buffer.from('streambus.checkpoint')]);
/** How often replicas that do not lead an offsets partition look for new checkpoint markers in their log. */
export const checkpointFollowMs = 5_000;
/** Bytes of its log one such look reads at most per partition (it goes on from there the next time). */
export const checkpointFollowBytesMax = 4 * 1024 * 1024;
/** Group ids per FindCoordinator / DescribeGroups / DeleteGroups request (groups.proto). */
export const groupIdsPerRequestMax = 1000;
/** Group id length bound (groups.proto: 1..249 chars of [a-zA-Z0-9._-]). */
export const groupIdLengthMax = 249;

/**
 * How often a coordinator looks up the age of the oldest unconsumed record of its groups (the
 * streambus_consumer_group_oldest_unconsumed_age_seconds gauge): in the background, never on a scrape.
 */
export const unconsumedAgeSampleMs = 10_000;
/** Partitions whose first unconsumed record one look reads at most; the others keep their last value until a later look. */
export const unconsumedAgeReadsPerPassMax = 256;
/** Such reads in flight at once (local reads and Fetches to partition leaders). */
export const unconsumedAgeReadsInFlightMax = 4;
/** Deadline of one such read; a read that misses it keeps the partition's last value. */
export const unconsumedAgeReadDeadlineMs = 2_000;

assert(callsPerAppendMax > 0, 'an append carries calls');
assert(appendBatchBytesMax < recordBatchBytesMax, 'an append batch fits the protocol bound with its framing');
assert(loadPollMs < coordinatorTickMs, 'a load looks more often than the coordinators tick');
assert(unconsumedAgeReadDeadlineMs < unconsumedAgeSampleMs, 'an unconsumed-age read ends before the next look is due');
assert(unconsumedAgeReadsInFlightMax <= unconsumedAgeReadsPerPassMax, 'reads in flight are a part of a look');
