/** Bounds and periods of the broker core. Names carry units last. */
import { messageBytesMax, partitionsPerRequestMax, peerMessageBytesMax } from '@streambus/proto';
import { assert } from '@streambus/raft';
import { reassignmentsPerCommandMax } from '../controller/constants.js';

/** How often partition leaders report leader/ISR/high watermark to the controller. */
export const partitionReportIntervalMs = 250;
/** A report is re-sent at least this often even when nothing but the high watermark moved. */
export const partitionReportRefreshMs = 5_000;
/** How often leaders hand partitions back to their preferred (first) replica when it is in sync. */
export const preferredLeaderCheckMs = 3_000;
/** How often the broker reconciles its partition groups with the controller's assignments. */
export const reconcileIntervalMs = 1_000;
/** Controller entries applied since the last snapshot before the controller log is compacted. */
export const controllerCompactEntries = 10_000;
/** A follower this many entries behind the leader's last index is out of the ISR. */
export const isrLagEntriesMax = 1_000;
/** Longest an admin request waits for this broker's controller state to catch up before planning. */
export const controllerCatchUpMsMax = 2_000;
/** Deadline of a controller command proposed on behalf of a client request. */
export const controllerCommandDeadlineMs = 10_000;
/** A controller command not yet proposed (no leader, a refusal) is tried again after this. */
export const controllerRetryPauseMs = 50;
/** Longest a broker waits to apply a command it forwarded, before answering the client anyway. */
export const forwardedApplyWaitMsMax = 2_000;
/** Results of applied controller commands kept for their proposers (the oldest goes first). */
export const controllerResultsKeptMax = 4096;
/** Longest CreateTopics waits for the new partitions to have leaders before it answers. */
export const createTopicsLeaderWaitMsMax = 10_000;
/** How often CreateTopics looks whether the new partitions have leaders. */
export const leaderWaitPollMs = 25;
/** A topic created with replication factor 0 gets this many replicas (fewer when fewer brokers are live). */
export const replicationFactorDefault = 3;
/** Partitions one ReassignPartitions request moves at most (one controller command). */
export const reassignmentsPerRequestMax = Math.min(partitionsPerRequestMax, reassignmentsPerCommandMax);
/** A broker whose registration the controller refused asks again after this. */
export const registrationRefusedRetryMs = 1_000;
/** A registration that did not reach the controller (no leader, a timeout) is retried after this. */
export const registrationRetryMs = 500;
/** Producer ids a broker takes from the controller at a time. */
export const producerIdBlockSize = 1_000;
/** Longest a graceful stop waits for partition leadership to move away. */
export const leadershipHandoffMsMax = 10_000;
/** How often a stopping broker looks whether its leaderships moved, and asks again. */
export const leadershipHandoffPollMs = 100;
/** How often a drained broker hands away the leaderships it holds (an election may give it one again). */
export const drainHandOffPollMs = 250;
/** DescribeFeatures waits this long for the other brokers unless the request says otherwise. */
export const featuresDescribeMsDefault = 5_000;
/** A finalize asks the brokers what they read for at most this long (the rest of its time is the commit's). */
export const featuresAskMsMax = 5_000;
/** On a graceful stop, in-flight calls (long polls) get this long to finish; then the server closes regardless. */
export const shutdownCallsGraceMs = 2_000;
/** /health's storage component is degraded below this fraction of the disk free (the alert fires at 20%). */
export const diskFreeRatioDegraded = 0.1;
/** How often a leader notes which followers have its whole log (replication lag in seconds). */
export const replicationLagSampleMs = 1_000;
/** Retention is enforced this often. */
export const retentionCheckMs = 60_000;
/** How often the scrubber CRC-checks a slice of the stored partition logs (background verification). */
export const scrubIntervalMs = 1_000;
/** Bytes of stored batches one scrub pass reads from disk, across all groups (about 4 MB/s). */
export const scrubBytesPerPassMax = 4 * 1024 * 1024;
/** How often a corrupt replica checks whether it can be repaired (it must follow a healthy leader). */
export const repairRetryMs = 250;
/** Deadline of a produce forwarded to the leader, on top of the produce's own timeout. */
export const forwardSlackMs = 2_000;
/** How often a forwarded produce checks that its leader is still heard from (else it is cancelled). */
export const forwardWatchMs = 100;
/** How often partition leaders step their group's membership towards the controller's replicas. */
export const reconfigureIntervalMs = 250;
/** Groups one reconfigure run proposes a membership step for, at most. */
export const reconfigureGroupsPerRunMax = 256;
/** A learner (or a leadership successor) within this many entries of the leader's last index has caught up. */
export const promoteLagEntriesMax = 64;
/**
 * A replica the controller moved away drops its local group once its own ConfState no longer has
 * it, or once the partition's leader has reported an ISR without it for this long (a removed
 * follower may never apply its own removal: the leader stops replicating to it).
 */
export const removedReplicaGraceMs = 3_000;
/** A proposed conf change whose outcome was never reported is given up (and the step retried) after this. */
export const confChangeWaitMsMax = 30_000;

/** A refused connection (plaintext to a TLS port, a certificate of another CA) warns at most this often. */
export const listenerWarnIntervalMs = 10_000;

assert(partitionReportIntervalMs < partitionReportRefreshMs, 'reports are checked more often than they are refreshed');
assert(producerIdBlockSize > 0, 'a producer id block is not empty');
assert(promoteLagEntriesMax < isrLagEntriesMax, 'a promoted learner is in sync');
assert(removedReplicaGraceMs > 4 * partitionReportIntervalMs, 'a removed replica waits for several leader reports');
assert(leadershipHandoffPollMs < leadershipHandoffMsMax, 'a stopping broker asks more than once');
assert(drainHandOffPollMs < preferredLeaderCheckMs, 'a drained broker hands away faster than leaders hand back');
assert(leaderWaitPollMs < createTopicsLeaderWaitMsMax, 'CreateTopics looks more than once');
assert(controllerRetryPauseMs < controllerCommandDeadlineMs, 'a controller command is tried more than once');
assert(forwardedApplyWaitMsMax < controllerCommandDeadlineMs, 'a forwarded command leaves time to answer');
assert(reassignmentsPerRequestMax >= 1, 'a reassignment request moves at least one partition');
// One gRPC server takes client and peer calls, with the client protocol's message bound.
assert(peerMessageBytesMax <= messageBytesMax, "the broker's gRPC server takes the largest peer message");
