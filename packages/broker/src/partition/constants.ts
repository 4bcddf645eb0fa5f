/** Bounds of a partition replica. Names carry units last. */
import { producerDedupeWindowBatches, recordBatchBytesMax } from '@streambus/proto';
import { assert, frameBytesMax } from '@streambus/raft';

/** Batches remembered per producer for deduplication (≥ the producer's in-flight batches). */
export const producerWindowBatches = producerDedupeWindowBatches;
/** Producers remembered per partition; the least recently used is forgotten beyond this. */
export const producersPerPartitionMax = 10_000;
/** Bytes of produce data proposed but not yet committed, per partition; beyond it producers wait. */
export const uncommittedBytesMax = 32 * 1024 * 1024;
/**
 * Longest a batch ahead of its producer's next sequence waits for the earlier ones, which may be
 * in flight on other HTTP/2 streams of the same connection, before it is refused as out of order.
 */
export const reorderWaitMsMax = 1_000;
/** Batches waiting for reordering per partition. */
export const reorderWaitersMax = 1_000;
/** A new leader whose read of its own log failed (lost leadership, a timed-out read) tries again after this. */
export const leaderReadyRetryMs = 50;
/** Fetch waiters per partition (long polls). */
export const fetchWaitersMax = 10_000;
/** Producer sequences are 31-bit and wrap to 0 (Kafka's non-negative int32). */
export const producerSequenceModulus = 0x8000_0000;
/** First byte of a partition-state snapshot, and its format version. */
export const partitionStateMagic = 0xd1;
export const partitionStateVersion = 1;

assert(producerWindowBatches >= 5, 'the dedup window covers at least 5 in-flight batches per producer');
// A produced batch is proposed as one Raft entry: a larger one than a frame carries would stop the
// leader (its outbox asserts one message fits one frame).
assert(recordBatchBytesMax <= frameBytesMax, 'a produced batch fits one Raft frame');
assert(recordBatchBytesMax <= uncommittedBytesMax, 'a produced batch fits the uncommitted bytes bound');
