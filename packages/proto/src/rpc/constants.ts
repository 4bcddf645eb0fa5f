/**
 * Bounds of the public protocol, shared by brokers (which enforce them) and clients (which
 * respect them). Documented for other languages in PROTOCOL.md and proto/streambus/v1/streambus.proto.
 */

/** Revision of protocol v1 this code speaks (MetadataResponse.api_version). */
export const apiVersion = 1;
/** Largest gRPC message either side sends or accepts. */
export const messageBytesMax = 64 * 1024 * 1024;
/**
 * Largest single record batch in a Produce. A broker's `network.max_request_size` (default
 * 1 MiB) may lower it, never raise it. A batch is one Raft entry, and one entry must fit one
 * frame between brokers (the broker asserts this bound against the Raft frame bound, 4 MiB).
 */
export const recordBatchBytesMax = 4 * 1024 * 1024;
/**
 * Most partitions in one Produce, Fetch or ListOffsets request, and in one ReassignPartitions.
 * As many as one topic may have: the TypeScript SDK sends all its partitions led by one broker in
 * one request, and a consumer may be assigned that many.
 */
export const partitionsPerRequestMax = 10_000;
/** Most topics in one Metadata, CreateTopics or DeleteTopics request. */
export const topicsPerRequestMax = 4096;
/** Longest topic name. */
export const topicNameLengthMax = 249;
/** Characters a topic name may use. */
export const topicNamePattern = /^[a-zA-Z0-9._-]+$/;
/** Most partitions of one topic. */
export const partitionsPerTopicMax = 10_000;
/** Longest long-poll wait of a Fetch; a Fetch asking for more (or less than 0) is refused. */
export const fetchMaxWaitMsMax = 30_000;
/**
 * Largest Fetch max_bytes; a larger value is served as this. A response holds at most this plus
 * one batch (the first batch beyond the budget is returned whole), and must fit a message.
 */
export const fetchBytesMax = 50 * 1024 * 1024;
/** Partition byte bound used when a Fetch leaves partition_max_bytes at 0. */
export const fetchPartitionBytesDefault = 1024 * 1024;
/** Response byte bound used when a Fetch leaves max_bytes at 0. */
export const fetchBytesDefault = 50 * 1024 * 1024;
/** Broker-side timeout used when a Produce leaves timeout_ms at 0 (or negative). */
export const requestTimeoutMsDefault = 30_000;
/** Longest Produce timeout_ms; a larger value waits this long. */
export const produceTimeoutMsMax = 120_000;
/**
 * Longest timeout_ms of CreateTopics, DeleteTopics and ReassignPartitions (the controller's
 * commit); 0, negative and larger values wait this long.
 */
export const adminTimeoutMsMax = 10_000;
/** Batches per producer and partition the broker remembers to detect duplicates. */
export const producerDedupeWindowBatches = 5;
/** ListOffsets timestamp asking for the latest offset (the high watermark). */
export const offsetTimestampLatest = -1;
/** ListOffsets timestamp asking for the earliest offset (the log start offset). */
export const offsetTimestampEarliest = -2;
/** Longest SetBrokerDrained wait_ms: a drained broker answers within it (callers repeat the call). */
export const drainWaitMsMax = 10_000;
/** Partitions a SetBrokerDrained answer lists at most (partitions_led). */
export const drainPartitionsListedMax = 100;
/** gRPC metadata key carrying the error code name of a failed call. */
export const errorCodeMetadataKey = 'streambus-error-code';
/** gRPC metadata key carrying the leader hint of a NOT_LEADER / NOT_CONTROLLER call failure. */
export const leaderIdMetadataKey = 'streambus-leader-id';

if (recordBatchBytesMax > messageBytesMax) throw new Error('a record batch must fit in a message');
if (fetchPartitionBytesDefault > fetchBytesDefault) throw new Error('fetch defaults are inconsistent');
if (fetchBytesDefault > fetchBytesMax) throw new Error('the fetch default is within its bound');
// A response's records, one batch beyond the budget, and the per-partition fields of a full request.
if (fetchBytesMax + recordBatchBytesMax + partitionsPerRequestMax * 512 > messageBytesMax)
  throw new Error('a Fetch response fits a message');
if (partitionsPerRequestMax < partitionsPerTopicMax) throw new Error('one topic fits one request');
if (requestTimeoutMsDefault > produceTimeoutMsMax) throw new Error('the produce timeout default is within its bound');

/** gRPC metadata key of an authenticated session's id (security.proto). */
export const sessionMetadataKey = 'streambus-session';
/** The only SASL mechanism (security.proto). */
export const scramSha256Mechanism = 'SCRAM-SHA-256';
/** URI SAN a broker certificate carries: `streambus://broker/<id>` (security.proto). */
export const brokerIdentityUriPrefix = 'streambus://broker/';
