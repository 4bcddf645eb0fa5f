/** Bounds of a partition replica. Names carry units last. */
import { producerDedupeWindowBatches } from '@streambus/proto';
import { assert } from '@streambus/raft';

/** Batches remembered per producer for deduplication (≥ the producer's in-flight batches). */
export const producerWindowBatches = producerDedupeWindowBatches;
/** Producers remembered per partition; the least recently used is forgotten beyond this. */
export const producersPerPartitionMax = 10_000;
/** Bytes of produce data proposed but not yet committed, per partition; beyond it producers wait. */
export const uncommittedBytesMax = 32 * 1024 * 1024;
/** Fetch waiters per partition (long polls). */
export const fetchWaitersMax = 10_000;
/** First byte of a partition-state snapshot, and its format version. */
export const partitionStateMagic = 0xd1;
export const partitionStateVersion = 1;

assert(producerWindowBatches >= 5, 'the dedup window covers at least 5 in-flight batches per producer');
