/** Bounds and periods of the in-process test cluster. Names carry units last. */

/** Brokers of an InProcessCluster unless told. */
export const clusterSizeDefault = 3;
/** Raft tick of an InProcessCluster unless told: elections within about half a second. */
export const clusterTickMsDefault = 20;
/** Longest waitReady waits for every running broker to be ready, unless told. */
export const clusterReadyWaitMsDefault = 30_000;
/** How often waitReady asks the brokers. */
export const clusterReadyPollMs = 25;
