/**
 * Bounds of the chaos harness. Every run, queue and history is bounded so that a mistaken
 * argument cannot exhaust the machine the brokers share with the harness.
 */
import { assert } from '@streambus/raft';

/** Longest run the CLI accepts (a nightly soak is 10 minutes). */
export const runDurationMsMax = 60 * 60_000;
/** Brokers of one in-process cluster. */
export const brokersMin = 1;
export const brokersMax = 7;
/** Partitions of the workload's topic. */
export const partitionsMax = 64;
/** Producer workers (each one idempotent producer). */
export const workersMax = 32;
/** Sends one worker keeps outstanding per partition. */
export const inflightPerWorkerMax = 64;
/** Records the whole workload sends at most (each one a history entry). */
export const recordsTotalMax = 2_000_000;
/** Reads recorded at most (further ones are counted but not kept). */
export const readsRecordedMax = 4_000_000;
/** Leadership samples and nemesis events kept at most. */
export const leaderSamplesMax = 1_000_000;
export const faultEventsMax = 100_000;
/** Faults scheduled per run at most. */
export const faultStepsMax = 10_000;

/** Defaults of a run. */
export const runDurationMsDefault = 20_000;
export const brokersDefault = 3;
export const partitionsDefault = 3;
export const workersDefault = 2;
export const inflightPerWorkerDefault = 8;
/** Target produce rate of the whole workload (bounded CPU on a shared 2-core machine). */
export const recordsPerSecondDefault = 300;
/** After faults heal: every partition has a leader and full ISR within this bound. */
export const recoveryMsMaxDefault = 30_000;
/** A produce not acknowledged within this is recorded as unknown (it may still land). */
export const deliveryTimeoutMsDefault = 15_000;
/** How long the final phase waits for readers and replicas to catch up. */
export const settleMsMax = 60_000;
/** Fetch long-poll of a checking reader. */
export const readerFetchWaitMs = 200;
/** Bytes a checking reader asks for per fetch. */
export const readerFetchBytesMax = 1024 * 1024;
/** Raft tick of the in-process brokers (elections within ~0.5 s). */
export const tickMsDefault = 20;

/** Fault timing: how long one fault stays active and the quiet gap after it. */
export const faultActiveMsMin = 800;
export const faultActiveMsMax = 4_000;
export const faultGapMsMin = 300;
export const faultGapMsMax = 2_000;
/** Link faults: delay bound and probabilities while a `delay`/`drop`/`duplicate`/`reorder` fault is active. */
export const linkDelayMsMax = 60;
export const linkDropProbability = 0.2;
export const linkDuplicateProbability = 0.2;
/** A slow disk: extra milliseconds per persist on the faulty broker. */
export const slowDiskMs = 40;
/** Clock faults: skew of one broker's host clock, and the size of a jump. */
export const clockSkewMsMax = 5_000;

/**
 * The real-network mode (broker processes in network namespaces, packages/chaos/src/real).
 * Fault steps are longer than in-process ones: a real election, a process start and TCP's own
 * retransmission timers take hundreds of milliseconds each.
 */
export const realWarmupMs = 3_000;
export const realFaultActiveMsMin = 1_500;
export const realFaultActiveMsMax = 4_000;
export const realFaultGapMsMin = 500;
export const realFaultGapMsMax = 2_000;
/** Random packet loss while a `loss` step is active, per packet. */
export const realLossProbabilityMin = 0.1;
export const realLossProbabilityMax = 0.3;
/** Caps a `bandwidth` step draws from (kbit/s; 3 partitions of ~100 records/s need ~100 kbit/s). */
export const realBandwidthKbit: readonly number[] = [256, 1024, 4096];
/** Longest a packet waits in a capped link's queue (tbf latency): the only source of latency here (no netem). */
export const realBandwidthQueueMs = 300;
/** A `clock` step's jumps (libfaketime), in whole seconds either way. */
export const realClockSkewSecondsMin = 5;
export const realClockSkewSecondsMax = 120;
/** Brokers of a real run (each one process and namespace). */
export const realBrokersMin = 3;
export const realBrokersMax = 7;
/** Produce rate of the SDK producers in total (2 cores shared by 3 broker processes and the harness). */
export const realRecordsPerSecondDefault = 150;
/** Raft tick of the broker processes (as test-cluster's real-process tests). */
export const realTickMs = 50;
/** Delivery timeout of the SDK producers and operation timeout of a CLI produce. */
export const realDeliveryTimeoutMs = 20_000;
/** Records one CLI `produce` run sends on stdin, and the pause between runs. */
export const cliRecordsPerRunMin = 5;
export const cliRecordsPerRunMax = 20;
export const cliPauseMs = 700;
/** A CLI run still going after this is killed by PID and its records are unknown. */
export const cliRunMsMax = 30_000;
/** Poll timeout of an SDK consumer. */
export const pollTimeoutMs = 500;
/**
 * The consumer-group workload (issue 11). The brokers' heartbeat interval is short so that a
 * rebalance takes well under a second (the default 5 s would leave a 10 s run with a handful);
 * a member's session timeout equals the brokers' (a member cut off stops reading no later than the
 * coordinator gives its partitions away) and outlasts every fault step, so faults cause coordinator
 * moves, not expired sessions, unless a step overruns.
 */
export const groupHeartbeatIntervalMs = 300;
export const groupSessionTimeoutMs = 10_000;
/** Longest a member may take to release a revoked partition before the coordinator fences it. */
export const groupRebalanceTimeoutMs = 10_000;
/** Members of the group workload at any time. */
export const groupMembersMax = 16;
export const groupMembersDefault = 3;
/** Milliseconds between two churns (one member leaves, one joins), plus up to half of it as jitter. */
export const groupChurnIntervalMsDefault = 2_000;

/** After healing: how long until every partition is led with a full ISR, and until readers catch up. */
export const realRecoveryMsMaxDefault = 60_000;

/** Deadline of each SCRAM step and of the anonymous probe of a `--secure` run (a broker may be paused). */
export const secureHandshakeDeadlineMs = 3_000;
/** Milliseconds between anonymous probes during a `--secure` run (each must be refused). */
export const secureProbeIntervalMs = 1_000;
/** Longest wait for the controller to seed the workload's user after the cluster is ready. */
export const secureSeedWaitMsMax = 20_000;

assert(brokersMin <= brokersDefault && brokersDefault <= brokersMax, 'default brokers within bounds');
assert(workersDefault <= workersMax, 'default workers within bounds');
assert(inflightPerWorkerDefault <= inflightPerWorkerMax, 'default in-flight within bounds');
assert(partitionsDefault <= partitionsMax, 'default partitions within bounds');
assert(faultActiveMsMin <= faultActiveMsMax, 'fault activity range is ordered');
assert(faultGapMsMin <= faultGapMsMax, 'fault gap range is ordered');
assert(runDurationMsDefault <= runDurationMsMax, 'default duration within bounds');
assert(groupMembersDefault <= groupMembersMax, 'default group members within bounds');
assert(groupHeartbeatIntervalMs < groupSessionTimeoutMs, 'members heartbeat within their session');
assert(realFaultActiveMsMin <= realFaultActiveMsMax, 'real fault activity range is ordered');
assert(realFaultGapMsMin <= realFaultGapMsMax, 'real fault gap range is ordered');
assert(
  realLossProbabilityMin <= realLossProbabilityMax && realLossProbabilityMax < 1,
  'real loss probabilities are ordered and below 1',
);
assert(realClockSkewSecondsMin <= realClockSkewSecondsMax, 'real clock skew range is ordered');
assert(cliRecordsPerRunMin <= cliRecordsPerRunMax, 'CLI records per run are ordered');
assert(realDeliveryTimeoutMs < cliRunMsMax, 'a CLI run outlives its own operation timeout before it is killed');
