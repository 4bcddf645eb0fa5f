/**
 * Defaults and upper bounds of the client SDK. Every queue, batch and wait of the client is
 * bounded by a value here; the load-time checks at the end state how the bounds relate.
 */
import { fetchMaxWaitMsMax, producerDedupeWindowBatches, recordBatchBytesMax } from '@streambus/proto';

/** Deadline of one RPC (Fetch adds its max wait on top). */
export const requestTimeoutMsDefault = 30_000;
/** First retry backoff; it doubles on each attempt, with full jitter. */
export const retryBackoffMsDefault = 100;
/** Largest retry backoff. */
export const retryBackoffMsMaxDefault = 1_000;
/**
 * Longest wait for a connection to a broker (TCP plus the broker's HTTP/2 settings) before the
 * attempt fails and the next broker is tried. A paused broker's kernel still accepts TCP, so
 * only the settings show that a process answers. Kafka: socket.connection.setup.timeout.ms.
 */
export const connectTimeoutMsDefault = 5_000;
/** Brokers an `'any'` call (metadata, admin) connects to at once when none is connected yet. */
export const anyConnectFanoutMax = 3;
/** Deadline of one Metadata attempt (answered from the broker's memory; never long-polls). */
export const metadataRequestTimeoutMsMax = 5_000;
/**
 * HTTP/2 keepalive pings while calls are open: a connection whose broker stops answering (paused,
 * or its network gone) fails its calls after about keepalive time + timeout, not at each deadline.
 */
export const keepaliveTimeMs = 5_000;
export const keepaliveTimeoutMs = 5_000;
/**
 * Shortest time between two DNS resolutions of a broker's name (grpc-js waits 30 s by default): a
 * broker back at a new address under the same name (a recreated Kubernetes pod) is used again
 * within about this long, not half a minute later.
 */
export const dnsResolutionMsMin = 1_000;
/** Broker addresses whose failures the client remembers (known brokers plus bootstrap). */
export const addressesTrackedMax = 2_000;
/** Attempts of one admin or metadata operation before its error surfaces. */
export const adminAttemptsMax = 5;
/** Cached metadata older than this is refreshed before use. */
export const metadataMaxAgeMsDefault = 5 * 60_000;
/** Most brokers the client keeps channels to (one channel each). */
export const brokersMax = 1_000;

/** How long a producer waits for more records before it sends a partial batch. */
export const lingerMsDefault = 5;
/** Largest batch (encoded bytes, before compression) per partition. */
export const batchBytesMaxDefault = 256 * 1024;
/** Largest `batchBytesMax` a user may configure: one batch must fit a Produce's batch bound. */
export const batchBytesMaxLimit = recordBatchBytesMax;
/** Bytes of records a producer buffers (queued and in flight) before `send()` waits. */
export const bufferBytesMaxDefault = 32 * 1024 * 1024;
/** Time from `send()` to its result, retries included, before it fails with DELIVERY_TIMEOUT. */
export const deliveryTimeoutMsDefault = 120_000;
/** Produce requests in flight to one broker at a time. */
export const inFlightRequestsPerBrokerDefault = 5;
/** Upper bound of `inFlightRequestsPerBroker`. */
export const inFlightRequestsPerBrokerLimit = 64;
/**
 * Batches in flight per partition. An idempotent producer may not exceed the broker's dedupe
 * window, or a retry could slip past the duplicate check.
 */
export const inFlightBatchesPerPartitionMax = producerDedupeWindowBatches;
/** Bytes a record costs in the buffer beyond its key, value and headers (varints, attributes). */
export const recordOverheadBytes = 24;
/** Sequences wrap like Kafka's: a partition's next sequence after 2^31 - 1 is 0. */
export const sequenceModulus = 2 ** 31;
/** Extra gRPC deadline over the broker-side timeout (timeout_ms) of a Produce. */
export const produceDeadlineMarginMs = 1_000;
/** Records in one producer batch. */
export const recordsPerBatchMax = 100_000;

/** Longest a Fetch long-polls at the broker. */
export const fetchMaxWaitMsDefault = 500;
/** Bytes a Fetch waits for before returning (1: any data). */
export const fetchMinBytesDefault = 1;
/** Bytes per Fetch response. */
export const fetchMaxBytesDefault = 16 * 1024 * 1024;
/** Bytes per partition per Fetch response. */
export const fetchPartitionMaxBytesDefault = 1024 * 1024;
/** Records one `poll()` returns at most. */
export const pollRecordsMaxDefault = 10_000;
/** Partitions one consumer may be assigned. */
export const assignedPartitionsMax = 10_000;

/**
 * Consumer groups. How long a member may go without a successful heartbeat before it treats its
 * partitions as lost (the broker's default groups.session_timeout_ms: by then the coordinator has
 * removed it and another member may own them).
 */
export const sessionTimeoutMsDefault = 45_000;
/** Longest a member takes to revoke partitions before the coordinator removes it (KIP-848's default). */
export const rebalanceTimeoutMsDefault = 300_000;
/** The protocol's bound of rebalance_timeout_ms. */
export const rebalanceTimeoutMsMax = 300_000;
/** Interval of auto-commits (Kafka's auto.commit.interval.ms). */
export const autoCommitIntervalMsDefault = 5_000;
/** Heartbeat interval until the coordinator's first answer says otherwise. */
export const heartbeatIntervalMsDefault = 3_000;
/** Bounds of the interval a coordinator may ask for: a bad answer can neither spin nor stall the loop. */
export const heartbeatIntervalMsMin = 10;
export const heartbeatIntervalMsMax = 30_000;
/** Deadline of one heartbeat (well inside the session timeout, so that a retry fits). */
export const heartbeatRequestTimeoutMsMax = 10_000;
/** Attempts of one commit or offset fetch against a moving coordinator before its error surfaces. */
export const groupCallAttemptsMax = 8;
/**
 * ListGroups asks every broker; one that does not answer within this is left out of the list (a
 * paused or cut-off broker: its groups move to another coordinator within an election timeout).
 */
export const groupListBrokerDeadlineMs = 3_000;
/** The protocol's bounds: group and instance ids, topics per subscription, partitions per commit. */
export const groupIdLengthMax = 249;
export const groupIdPattern = /^[a-zA-Z0-9._-]+$/;
export const subscribedTopicsMax = 1_000;
export const subscribedRegexLengthMax = 1_000;
export const offsetCommitPartitionsMax = 10_000;
/** Group ids per FindCoordinator, DescribeGroups or DeleteGroups request. */
export const groupIdsPerRequestMax = 1_000;
/** How long close() waits for the final commit and the leave heartbeat. */
export const groupCloseTimeoutMsDefault = 10_000;

/** Instrumentation scope of the SDK's spans. */
export const tracerName = '@streambus/client';
/** Links one span carries to the other records' contexts it stands for (a Produce of many records). */
export const traceLinksMax = 32;

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`client constants: ${message}`);
}
check(retryBackoffMsDefault <= retryBackoffMsMaxDefault, 'backoff must start below its ceiling');
check(connectTimeoutMsDefault <= requestTimeoutMsDefault, 'a connection must be made within one request deadline');
check(addressesTrackedMax >= brokersMax, 'every known broker can be tracked');
check(batchBytesMaxDefault <= batchBytesMaxLimit, 'default batch must fit the protocol bound');
check(batchBytesMaxDefault <= bufferBytesMaxDefault, 'one batch must fit in the buffer');
check(inFlightBatchesPerPartitionMax <= producerDedupeWindowBatches, 'in-flight batches must fit the dedupe window');
check(fetchMaxWaitMsDefault <= fetchMaxWaitMsMax, 'fetch wait must be within the protocol bound');
check(fetchPartitionMaxBytesDefault <= fetchMaxBytesDefault, 'a partition fetch must fit the response bound');
check(heartbeatIntervalMsDefault >= heartbeatIntervalMsMin, 'default heartbeat interval within its bounds');
check(heartbeatIntervalMsDefault <= heartbeatIntervalMsMax, 'default heartbeat interval within its bounds');
check(heartbeatRequestTimeoutMsMax < sessionTimeoutMsDefault, 'a heartbeat and its retry fit in a session');
check(rebalanceTimeoutMsDefault <= rebalanceTimeoutMsMax, 'default rebalance timeout within the protocol bound');
check(offsetCommitPartitionsMax >= assignedPartitionsMax, 'one commit covers every assigned partition');
