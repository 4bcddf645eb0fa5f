/**
 * Bounds of the public protocol, shared by brokers (which enforce them) and clients (which
 * respect them). Documented for other languages in proto/streambus/v1/streambus.proto.
 */

/** Revision of protocol v1 this code speaks (MetadataResponse.api_version). */
export const apiVersion = 1;
/** Largest gRPC message either side sends or accepts. */
export const messageBytesMax = 64 * 1024 * 1024;
/** Largest single record batch in a Produce (a topic may lower it). */
export const recordBatchBytesMax = 8 * 1024 * 1024;
/** Most partitions in one Produce, Fetch or ListOffsets request. */
export const partitionsPerRequestMax = 4096;
/** Most topics in one Metadata, CreateTopics or DeleteTopics request. */
export const topicsPerRequestMax = 4096;
/** Longest topic name. */
export const topicNameLengthMax = 249;
/** Characters a topic name may use. */
export const topicNamePattern = /^[a-zA-Z0-9._-]+$/;
/** Most partitions of one topic. */
export const partitionsPerTopicMax = 10_000;
/** Longest long-poll wait of a Fetch. */
export const fetchMaxWaitMsMax = 30_000;
/** Partition byte bound used when a Fetch leaves partition_max_bytes at 0. */
export const fetchPartitionBytesDefault = 1024 * 1024;
/** Response byte bound used when a Fetch leaves max_bytes at 0. */
export const fetchBytesDefault = 50 * 1024 * 1024;
/** Broker-side timeout used when a request leaves timeout_ms at 0. */
export const requestTimeoutMsDefault = 30_000;
/** Batches per producer and partition the broker remembers to detect duplicates. */
export const producerDedupeWindowBatches = 5;
/** ListOffsets timestamp asking for the latest offset (the high watermark). */
export const offsetTimestampLatest = -1;
/** ListOffsets timestamp asking for the earliest offset (the log start offset). */
export const offsetTimestampEarliest = -2;
/** gRPC metadata key carrying the error code name of a failed call. */
export const errorCodeMetadataKey = 'streambus-error-code';
/** gRPC metadata key carrying the leader hint of a NOT_LEADER / NOT_CONTROLLER call failure. */
export const leaderIdMetadataKey = 'streambus-leader-id';

if (recordBatchBytesMax > messageBytesMax) throw new Error('a record batch must fit in a message');
if (fetchPartitionBytesDefault > fetchBytesDefault) throw new Error('fetch defaults are inconsistent');
