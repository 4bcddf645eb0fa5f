/**
 * Bounds and defaults of the deterministic Raft simulator, with load-time checks of how they
 * relate. Names carry units last.
 */
import { assert } from '../../errors.js';

/** Members a simulated group starts with. */
export const simNodesMin = 3;
export const simNodesMax = 5;
export const simNodesDefault = 3;
/** Membership changes never take a group below this many voters. */
export const simVotersMin = 3;
/** Members a group may ever have, counting the ones added by membership changes. */
export const simMembersMax = 9;
/** Workload and fault actions in one run before the final quiet period. */
export const simStepsDefault = 400;
export const simStepsMax = 100_000;
/** Virtual milliseconds between two ticks of one node. */
export const simTickMs = 10;
/** Each machine's clock runs up to this fraction faster or slower than virtual time. */
export const simClockRateDriftMax = 0.04;
/** The lease drift bound the simulated nodes are configured with, in ticks. */
export const simLeaseDriftBoundTicks = 2;
/** Election timeout of the simulated nodes, in ticks. */
export const simElectionTicksDefault = 10;
/** After faults heal, a leader must be elected and every proposal committed within this many election timeouts. */
export const simQuietElectionTimeoutsMax = 60;
/** Ready → persist → advance turns one host loop runs before yielding to other events. */
export const simHostTurnsMax = 64;
/** Events one run may process: a bound that turns a livelock into a reported failure. */
export const simEventsPerRunMax = 3_000_000;
/** Bytes of a random proposal payload (after its 4-byte id). */
export const simPayloadBytesMax = 48;
/** Entries of one batch proposal. */
export const simBatchEntriesMax = 4;
/** Virtual milliseconds between two workload or fault actions. */
export const simActionGapMsMin = 2;
export const simActionGapMsMax = 40;
/** How long a crashed node stays down, in virtual milliseconds. */
export const simDowntimeMsMin = 1;
export const simDowntimeMsMax = 1500;
/** Virtual milliseconds one persist takes when the disk is asynchronous. */
export const simDiskLatencyMsMax = 8;
/** Trace lines kept for a failure report when not verbose. */
export const simTraceLinesKept = 60;

// The host simulator (host-simulation.ts): real RaftHosts on these disks and this network.
/** Raft groups the hosts of one run share (each on 3 of the hosts, or on all of them). */
export const simHostGroupsMin = 1;
export const simHostGroupsMax = 8;
/** Random actions of one host run before its quiet period (a host costs more per virtual ms than a bare node). */
export const simHostStepsDefault = 200;
/** An `idle` action leaves the hosts alone for this many election timeouts: long enough to quiesce. */
export const simHostIdleElectionTimeoutsMin = 2;
export const simHostIdleElectionTimeoutsMax = 5;
/** After convergence, every group must be quiesced on every member within this many election timeouts. */
export const simHostQuiesceElectionTimeoutsMax = 10;
/** A proposal to a quiesced group must commit within this many election timeouts. */
export const simHostWakeElectionTimeoutsMax = 2;
/** After the host that leads quiesced groups crashes, each must have a new leader within this many. */
export const simHostFailoverElectionTimeoutsMax = 10;

assert(simNodesMin >= 1, 'a group has a member');
assert(simNodesMin <= simNodesDefault && simNodesDefault <= simNodesMax, 'default group size within bounds');
assert(simVotersMin <= simNodesMin, 'membership changes start from a group they may shrink');
assert(simNodesMax <= simMembersMax, 'membership changes start from at most the largest group');
// Two clocks drift apart by at most 2 * rate drift * election timeout ticks: lease reads are safe
// only while that stays under the drift bound the nodes are configured with.
assert(
  2 * simClockRateDriftMax * simElectionTicksDefault < simLeaseDriftBoundTicks,
  'simulated clock drift within the lease drift bound',
);
assert(simActionGapMsMin <= simActionGapMsMax, 'action gap range is ordered');
assert(simDowntimeMsMin <= simDowntimeMsMax, 'downtime range is ordered');
assert(simDiskLatencyMsMax < simTickMs * simElectionTicksDefault, 'a persist is shorter than an election timeout');
assert(simHostGroupsMin >= 1 && simHostGroupsMin <= simHostGroupsMax, 'host run group range is ordered');
assert(simHostIdleElectionTimeoutsMin <= simHostIdleElectionTimeoutsMax, 'idle range is ordered');
assert(simHostStepsDefault <= simStepsMax, 'host run steps within bounds');
// A follower notices a dead leader host after one election timeout of silence, then needs an
// election (up to two timeouts, more with a split vote): the failover bound leaves room for both.
assert(simHostFailoverElectionTimeoutsMax >= 4, 'failover bound allows silence detection and an election');
