/** Bounds and periods of the in-process test cluster. Names carry units last. */

/** Brokers of an InProcessCluster unless told. */
export const clusterSizeDefault = 3;
/** Raft tick of an InProcessCluster unless told: elections within about half a second. */
export const clusterTickMsDefault = 20;
/** Longest waitReady waits for every running broker to be ready, unless told. */
export const clusterReadyWaitMsDefault = 30_000;
/** How often waitReady asks the brokers. */
export const clusterReadyPollMs = 25;
/**
 * __consumer_offsets partitions of an InProcessCluster unless its env says otherwise: 3, not the
 * production 12, so that every test cluster does not carry 36 more Raft groups it rarely uses.
 */
export const clusterOffsetsTopicPartitionsDefault = 3;
