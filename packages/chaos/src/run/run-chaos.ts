/**
 * One chaos run against an in-process cluster: start brokers, create the workload's topic, run
 * producers and checking readers while the nemesis plays its seeded schedule, heal, measure
 * recovery, let everything settle, read every replica, check, report.
 */
import { Admin } from '@streambus/client';
import { logLevels } from '@streambus/broker';
import type { LogLevel } from '@streambus/broker';
import type { UnsafeTestingKnobs } from '@streambus/broker/testing';
import { assert } from '@streambus/raft';
import { check } from '../checker/checker.js';
import { checkGroup } from '../checker/group-checker.js';
import type { GroupCheckCounts } from '../checker/group-checker.js';
import {
  brokersDefault,
  clockSkewMsMax,
  brokersMax,
  brokersMin,
  deliveryTimeoutMsDefault,
  groupChurnIntervalMsDefault,
  inflightPerWorkerDefault,
  linkDelayMsMax,
  linkDropProbability,
  linkDuplicateProbability,
  slowDiskMs,
  partitionsDefault,
  partitionsMax,
  recordsPerSecondDefault,
  recoveryMsMaxDefault,
  secureProbeIntervalMs,
  runDurationMsDefault,
  runDurationMsMax,
  settleMsMax,
  tickMsDefault,
  workersDefault,
} from '../constants.js';
import { History } from '../history/history.js';
import type { WalSyncPolicy } from '../nemesis/crash-store.js';
import { describeStep, nemesisKinds, planSchedule, shuffled } from '../nemesis/schedule.js';
import type { FaultStep, NemesisKind } from '../nemesis/schedule.js';
import type { ChaosReport } from '../report.js';
import { ProducerWorkload } from '../workload/producers.js';
import type { WorkloadAcks } from '../workload/producers.js';
import { ReaderWorkload } from '../workload/readers.js';
import { GroupWorkload, fetchGroupOffsets } from '../workload/group-members.js';
import { ChaosCluster } from './chaos-cluster.js';
import { PartitionMover } from './partition-mover.js';
import { replayFlags, replayLine } from './replay-command.js';
import { rethrowBug } from '../bugs.js';

export interface ChaosRunOptions {
  readonly seed: number;
  readonly durationMs?: number;
  readonly brokers?: number;
  readonly partitions?: number;
  readonly nemesis?: readonly NemesisKind[];
  readonly acks?: WorkloadAcks;
  readonly walSync?: WalSyncPolicy;
  readonly workers?: number;
  readonly readers?: number;
  readonly recordsPerSecond?: number;
  readonly recoveryMsMax?: number;
  readonly tickMs?: number;
  /** Members of the consumer-group workload (0, the default: no group workload). */
  readonly groupMembers?: number;
  /** Milliseconds between churns of the group (one member leaves, one joins); 0: none. */
  readonly groupChurnIntervalMs?: number;
  /** Planted bug of the group workload: commit before processing (a self-test). NEVER in production. */
  readonly unsafeCommitBeforeProcessing?: boolean;
  /** Planted faults (self-tests of the checkers). NEVER in production. */
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
  /**
   * TLS and SCRAM-SHA-256 auth on every broker (a throwaway PKI), every workload client with the
   * SDK's `tls` and `sasl` options, and anonymous calls probed (each must be refused).
   */
  readonly secure?: boolean;
  /** Progress lines while the run goes (default: none). */
  readonly onProgress?: (line: string) => void;
  readonly progressIntervalMs?: number;
}

/** Every kind: kills, partitions, pauses, disks, clocks, transfers, topics, reassignments, corruption. */
export const defaultNemesis: readonly NemesisKind[] = [...nemesisKinds];

const topic = 'chaos';
const groupId = 'chaos-group';

export function replayCommand(options: ChaosRunOptions): string {
  const parts = [
    ...replayFlags('npx streambus-chaos run', options, runDurationMsDefault, brokersDefault),
    `--nemesis ${(options.nemesis ?? defaultNemesis).join(',') || 'none'}`,
    `--acks ${options.acks ?? 'all'}`,
    `--wal-sync ${options.walSync ?? 'always'}`,
    `--workers ${options.workers ?? workersDefault}`,
    `--rate ${options.recordsPerSecond ?? recordsPerSecondDefault}`,
    ...((options.groupMembers ?? 0) > 0
      ? [
          `--group-members ${options.groupMembers}`,
          `--group-churn-ms ${options.groupChurnIntervalMs ?? groupChurnIntervalMsDefault}`,
        ]
      : []),
    ...(options.unsafeCommitBeforeProcessing === true ? ['--unsafe-commit-before-processing'] : []),
    ...(options.secure === true ? ['--secure'] : []),
  ];
  return replayLine(parts, options);
}

export async function runChaos(options: ChaosRunOptions): Promise<ChaosReport> {
  const durationMs = options.durationMs ?? runDurationMsDefault;
  const brokers = options.brokers ?? brokersDefault;
  const partitions = options.partitions ?? partitionsDefault;
  const acks = options.acks ?? 'all';
  const walSync = options.walSync ?? 'always';
  const nemesis = options.nemesis ?? defaultNemesis;
  const recoveryMsMax = options.recoveryMsMax ?? recoveryMsMaxDefault;
  const progress = options.onProgress ?? (() => undefined);
  assert(durationMs > 0 && durationMs <= runDurationMsMax, 'run duration within bounds');
  assert(brokers >= brokersMin && brokers <= brokersMax, 'brokers within bounds');
  assert(partitions >= 1 && partitions <= partitionsMax, 'partitions within bounds');

  const schedule = planSchedule({ seed: options.seed, durationMs, kinds: nemesis });
  const history = new History();
  const started = Date.now();
  progress(
    `seed ${options.seed}: ${brokers} brokers, ${partitions} partitions, acks=${acks}, wal_sync=${walSync}, ${schedule.length} faults planned over ${durationMs} ms`,
  );
  const cluster = await ChaosCluster.start({
    size: brokers,
    seed: options.seed,
    history,
    walSync,
    tickMs: options.tickMs ?? tickMsDefault,
    ...(options.secure === true ? { secure: true } : {}),
    ...(options.unsafeTestingKnobs === undefined ? {} : { unsafeTestingKnobs: options.unsafeTestingKnobs }),
    // The brokers' own logs (to stderr) when a run needs explaining: CHAOS_LOG_LEVEL=info.
    ...(isLogLevel(process.env.CHAOS_LOG_LEVEL) ? { logLevel: process.env.CHAOS_LOG_LEVEL } : {}),
  });
  const notes: string[] = [];
  // The brokers run in this process: an error nobody handled in broker code would end a real
  // broker process. It is recorded as a violation and the run goes on, so the data checks still
  // report what happened to the data.
  const unhandled: string[] = [];
  const onUnhandled = (error: unknown): void => {
    const text =
      error instanceof Error
        ? `${error.name}: ${error.message} @ ${(error.stack ?? '')
            .split('\n')
            .slice(1, 3)
            .map((line) => line.trim())
            .join(' < ')}`
        : String(error);
    unhandled.push(text);
    progress(`unhandled rejection in broker code: ${text}`);
  };
  process.on('unhandledRejection', onUnhandled);
  let producers: ProducerWorkload | null = null;
  let readers: ReaderWorkload | null = null;
  let group: GroupWorkload | null = null;
  let ticker: NodeJS.Timeout | null = null;
  let prober: NodeJS.Timeout | null = null;
  const mover = new PartitionMover(cluster, history, topic);
  try {
    await cluster.waitReady(30_000);
    const security = cluster.clientSecurity;
    const admin = new Admin({ bootstrapServers: cluster.bootstrapServers, ...security });
    await admin.createTopic({ name: topic, partitions, replicationFactor: Math.min(3, brokers) });
    await admin.close();
    await waitFor(
      () =>
        cluster.groupsOf(topic).every((groupId) => cluster.leaderOf(groupId) > 0) &&
        cluster.groupsOf(topic).length === partitions,
      60_000,
      () =>
        `topic ${topic}: groups ${cluster
          .groupsOf(topic)
          .map((groupId) => `${groupId} led by ${cluster.leaderOf(groupId)}`)
          .join(', ')}`,
    );

    producers = new ProducerWorkload({
      bootstrapServers: cluster.bootstrapServers,
      security,
      topic,
      partitions,
      workers: options.workers ?? workersDefault,
      inflightPerWorker: inflightPerWorkerDefault,
      recordsPerSecond: options.recordsPerSecond ?? recordsPerSecondDefault,
      acks,
      deliveryTimeoutMs: deliveryTimeoutMsDefault,
      history,
      seed: options.seed,
    });
    readers = new ReaderWorkload({
      bootstrapServers: cluster.bootstrapServers,
      topic,
      partitions,
      readers: options.readers ?? 1,
      history,
      security,
      securityStats: cluster.security?.stats,
    });
    const groupMembers = options.groupMembers ?? 0;
    if (groupMembers > 0)
      group = new GroupWorkload({
        bootstrapServers: cluster.bootstrapServers,
        security,
        topic,
        groupId,
        members: groupMembers,
        churnIntervalMs: options.groupChurnIntervalMs ?? groupChurnIntervalMsDefault,
        history,
        seed: options.seed,
        ...(options.unsafeCommitBeforeProcessing === true ? { commitBeforeProcessing: true } : {}),
      });
    const runStarted = Date.now();
    let current = 'quiet';
    ticker = setInterval(() => {
      const acked = history.produces.filter((op) => op.outcome?.kind === 'ok').length;
      const pending = history.produces.filter((op) => op.outcome === null).length;
      progress(
        `t=${((Date.now() - runStarted) / 1000).toFixed(1)}s sent=${history.produces.length} acked=${acked} pending=${pending} reads=${history.reads.length} faults=${history.faults.length} now: ${current}`,
      );
    }, options.progressIntervalMs ?? 2_000);
    ticker.unref();
    const secured = cluster.security;
    if (secured !== null) {
      // Anonymous calls over TLS, round robin over the brokers, through the faults: each must be refused.
      let probe = 0;
      prober = setInterval(() => {
        const address = cluster.bootstrapServers[probe++ % cluster.bootstrapServers.length] as string;
        void secured.probeAnonymous(address);
      }, secureProbeIntervalMs);
      prober.unref();
    }
    producers.start();
    readers.start();
    group?.start();

    for (const step of schedule) {
      const waitMs = runStarted + step.atMs - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      current = describeStep(step, cluster.ids());
      history.fault(`start #${step.index}: ${current}`);
      await runStep(cluster, step, history, options.seed, mover);
      history.fault(`end #${step.index}`);
      current = 'quiet';
    }
    const restMs = runStarted + durationMs - Date.now();
    if (restMs > 0) await sleep(restMs);

    // Heal, then measure how long until every partition is led and fully replicated again (on
    // its final replica list: a move under way finishes first).
    await cluster.healAll();
    history.fault('heal all');
    await mover.finish();
    const recoveryMs = await cluster.waitRecovered(recoveryMsMax);
    await producers.stop();
    const converged = await cluster.waitConverged(topic, settleMsMax);
    if (!converged) notes.push('replicas did not converge on one high watermark within the settle bound');
    const ends = await cluster.finalState(topic);
    const endOffsets = ends.map((state) => Math.max(0, ...state.replicas.map((replica) => replica.highWatermark)));
    await waitFor(() => readers?.caughtUp(endOffsets) ?? true, settleMsMax).catch(() =>
      notes.push('readers did not reach the final high watermark within the settle bound'),
    );
    await readers.stop();
    readers = null;
    let finalCommitted: Map<number, number> | null = null;
    if (group !== null) {
      group.stopChurn();
      const workload = group;
      await waitFor(() => workload.caughtUp(endOffsets), settleMsMax).catch(() =>
        notes.push('the group did not process up to the final high watermark within the settle bound'),
      );
      await group.stop();
      group = null;
      finalCommitted = await fetchGroupOffsets(cluster.bootstrapServers, groupId, topic, security).catch(
        (error: unknown) => {
          rethrowBug(error);
          notes.push(`the group's final offsets were not read: ${(error as Error).message}`);
          return null;
        },
      );
    }
    const finalState = await cluster.finalState(topic);
    const membership = await cluster.membershipProblems(topic, settleMsMax);
    // Losing acknowledged writes to a crash is a violation only where the sync policy promised otherwise.
    const crashes = nemesis.includes('crash') || nemesis.includes('power');
    const durable = walSync === 'always' || !crashes;
    const result = check(history, finalState, { acksAll: acks === 'all', idempotent: acks === 'all', durable });
    const violations = [...result.violations];
    let groupCounts: GroupCheckCounts | undefined;
    if (groupMembers > 0) {
      const groupResult = checkGroup(history, { topic, finalCommitted, durable: durable && acks === 'all' });
      groupCounts = groupResult.counts;
      violations.push(...groupResult.violations);
      result.examples.push(...groupResult.examples);
      if (groupResult.refusedByCode.size > 0)
        notes.push(
          `group commits refused: ${[...groupResult.refusedByCode].map(([code, count]) => `${code} ${count}`).join(', ')}`,
        );
    }
    if (recoveryMs === null)
      violations.push(`recovery: partitions not led and fully replicated within ${recoveryMsMax} ms of healing`);
    if (membership.length > 0) {
      violations.push(
        `membership: ${membership.length} partitions whose Raft membership is not their final replica list`,
      );
      result.examples.push(...membership.map((problem) => `membership: ${problem}`));
    }
    if (mover.moves.length > 0) {
      notes.push(
        `reassignments: ${mover.moves.map((move) => `p${move.partition} [${move.from.join(',')}]->[${move.to.join(',')}]`).join(', ')}`,
      );
      for (const groupId of new Set(mover.moves.map((move) => move.groupId))) {
        const former = [
          ...new Set(mover.moves.filter((move) => move.groupId === groupId).flatMap((move) => move.from)),
        ];
        const end = cluster.membershipOf(groupId, former);
        const off = former.filter((id) => !end.replicas.includes(id));
        notes.push(
          `moved group ${groupId}: final replicas [${end.replicas.join(',')}], Raft voters [${end.voters.join(',')}], moved off [${off.join(',')}] still hosting [${end.stillHosting.join(',')}]`,
        );
      }
    }
    if (unhandled.length > 0) {
      violations.push(
        `unhandledRejections: ${unhandled.length} errors escaped broker code (each would end a broker process)`,
      );
      for (const text of new Set(unhandled)) result.examples.push(`unhandled: ${text}`);
    }
    if (cluster.crashes.count > 0) {
      notes.push(
        `crashes: ${cluster.crashes.count}, unsynced entries dropped: ${cluster.crashes.entriesDropped}, groups rewound: ${cluster.crashes.groupsRewound}, not rewindable: ${cluster.crashes.unrollbackable}`,
      );
    }
    if (acks !== 'all' && result.counts.lost > 0)
      notes.push(
        `acks=${acks} lost ${result.counts.lost} acknowledged records (measured; not a violation in this mode)`,
      );
    if (!durable) {
      const c = result.counts;
      notes.push(
        `wal_sync=${walSync} with crashes (measured; the policy does not survive a power loss): lost ${c.lost}, rolled back reads ${c.readRolledBack}, divergent partitions ${c.divergence}, terms with two leaders ${c.leaderConflicts}`,
      );
    }
    const errors = new Map<string, number>();
    for (const op of history.produces) {
      if (op.outcome === null || op.outcome.kind === 'ok') continue;
      const code = op.outcome.error.split(':')[0] ?? 'ERROR';
      errors.set(code, (errors.get(code) ?? 0) + 1);
    }
    if (errors.size > 0)
      notes.push(`produce errors: ${[...errors].map(([code, count]) => `${code} ${count}`).join(', ')}`);
    if (prober !== null) clearInterval(prober);
    const securityStats = cluster.security === null ? undefined : { ...cluster.security.stats };
    if (securityStats !== undefined) {
      if (securityStats.anonymousServed > 0)
        violations.push(`security: ${securityStats.anonymousServed} anonymous calls were served in a secure run`);
      notes.push(
        `security: TLS and SCRAM-SHA-256 on; readers' SCRAM handshakes ${securityStats.handshakes}, anonymous calls refused ${securityStats.anonymousRefused}, served ${securityStats.anonymousServed}`,
      );
    }
    const net = cluster.network.stats;
    notes.push(
      `frames: sent ${net.framesSent}, blocked ${net.framesBlocked}, dropped ${net.framesDropped}, duplicated ${net.framesDuplicated}, delayed ${net.framesDelayed}`,
    );
    return {
      seed: options.seed,
      ok: violations.length === 0,
      replayCommand: replayCommand(options),
      settings: `brokers=${brokers} partitions=${partitions} acks=${acks} wal_sync=${walSync} nemesis=${nemesis.join(',') || 'none'}${options.secure === true ? ' secure' : ''}`,
      counts: result.counts,
      ...(groupCounts === undefined ? {} : { group: groupCounts }),
      ...(securityStats === undefined ? {} : { security: securityStats }),
      recoveryMs,
      recoveryMsMax,
      faultsInjected: schedule.length,
      runMs: Date.now() - started,
      violations,
      examples: result.examples,
      notes,
    };
  } finally {
    mover.stop();
    if (prober !== null) clearInterval(prober);
    process.off('unhandledRejection', onUnhandled);
    if (ticker !== null) clearInterval(ticker);
    await producers?.stop().catch(() => undefined);
    await readers?.stop().catch(() => undefined);
    await group?.stop().catch(() => undefined);
    await mover.finish();
    await cluster.close();
  }
}

/** Plays one fault step: inject, hold for its active time (with its extra action midway), heal it. */
async function runStep(
  cluster: ChaosCluster,
  step: FaultStep,
  history: History,
  seed: number,
  mover: PartitionMover,
): Promise<void> {
  const ids = cluster.ids();
  const broker = ids[step.brokerIndex % ids.length] as number;
  const groups = cluster.groupsOf(topic);
  const groupId = groups.length === 0 ? 0 : (groups[step.partitionIndex % groups.length] as number);
  const leader = groupId === 0 ? 0 : cluster.leaderOf(groupId);
  let undo: () => Promise<void> = async () => undefined;
  switch (step.kind) {
    case 'kill':
      await cluster.kill(broker);
      undo = () => cluster.restart(broker);
      break;
    case 'stop':
      await cluster.stop(broker);
      undo = () => cluster.restart(broker);
      break;
    case 'crash': {
      const result = await cluster.crash(broker);
      history.fault(`crash of broker ${broker} dropped ${result.entriesDropped} unsynced entries`);
      undo = () => cluster.restart(broker);
      break;
    }
    case 'power': {
      const results = await cluster.crashAll();
      history.fault(`power loss dropped ${results.reduce((sum, r) => sum + r.entriesDropped, 0)} unsynced entries`);
      undo = async () => {
        for (const id of ids) await cluster.restart(id);
      };
      break;
    }
    case 'corrupt': {
      // A follower of the partition: corruption on a minority of replicas.
      const follower =
        ids.find((id) => id !== leader && cluster.isRunning(id) && (ids.indexOf(id) + step.brokerIndex) % 2 === 0) ??
        ids.find((id) => id !== leader) ??
        broker;
      const what = await cluster.corrupt(follower, groupId);
      history.fault(
        what === null ? `corrupt: no stored batch found on broker ${follower}` : `corrupt: flipped a bit: ${what}`,
      );
      undo = () => cluster.restart(follower);
      break;
    }
    case 'disk-fail':
      // Writes throw; the host stops itself. The operator's answer is a restart on a good disk.
      cluster.failDisk(broker, true);
      undo = async () => {
        await cluster.kill(broker);
        cluster.failDisk(broker, false);
        await cluster.restart(broker);
      };
      break;
    case 'disk':
      cluster.slowDisk(broker, slowDiskMs);
      undo = async () => cluster.slowDisk(broker, 0);
      break;
    case 'pause':
      cluster.pause(broker);
      undo = async () => cluster.resume(broker);
      break;
    case 'clock': {
      // A jump, and a rate skew in [0.5, 2] for the fault window, both from the step's draw.
      const timer = cluster.timer(broker);
      timer?.jump(step.clockJumpMs);
      timer?.setRate(2 ** (step.clockJumpMs / clockSkewMsMax));
      undo = async () => cluster.timer(broker)?.setRate(1);
      break;
    }
    case 'delay':
    case 'reorder':
      cluster.network.setLinkFaults({ dropProbability: 0, duplicateProbability: 0, delayMsMax: linkDelayMsMax });
      undo = async () => cluster.network.setLinkFaults({ dropProbability: 0, duplicateProbability: 0, delayMsMax: 0 });
      break;
    case 'drop':
      cluster.network.setLinkFaults({ dropProbability: linkDropProbability, duplicateProbability: 0, delayMsMax: 0 });
      undo = async () => cluster.network.setLinkFaults({ dropProbability: 0, duplicateProbability: 0, delayMsMax: 0 });
      break;
    case 'duplicate':
      cluster.network.setLinkFaults({
        dropProbability: 0,
        duplicateProbability: linkDuplicateProbability,
        delayMsMax: 5,
      });
      undo = async () => cluster.network.setLinkFaults({ dropProbability: 0, duplicateProbability: 0, delayMsMax: 0 });
      break;
    case 'partition':
      applyPartition(cluster, step, ids, leader > 0 ? leader : broker);
      undo = async () => cluster.network.heal();
      break;
  }
  const half = Math.floor(step.activeMs / 2);
  await sleep(half);
  if (step.extra !== null) await runExtra(cluster, step, history, seed, groupId, mover);
  await sleep(step.activeMs - half);
  try {
    await undo();
  } catch (error) {
    rethrowBug(error);
    history.fault(`undo of #${step.index} failed: ${(error as Error).message}; healed at the end`);
  }
}

function applyPartition(cluster: ChaosCluster, step: FaultStep, ids: readonly number[], target: number): void {
  const others = ids.filter((id) => id !== target);
  switch (step.shape) {
    case 'isolate-leader':
      cluster.network.split([target], others);
      return;
    case 'one-way':
      // The target's frames go nowhere; it still hears everyone.
      for (const other of others) cluster.network.block(target, other);
      return;
    case 'majority-minority': {
      const order = shuffled(ids, step.shuffleSeed);
      const minority = order.slice(0, Math.max(1, Math.floor((ids.length - 1) / 2)));
      cluster.network.split(minority, order.slice(minority.length));
      return;
    }
    case 'bridge': {
      const order = shuffled(ids, step.shuffleSeed);
      if (order.length < 3) {
        cluster.network.split(order.slice(0, 1), order.slice(1));
        return;
      }
      // order[0] is the bridge: it sees both sides, which do not see each other.
      const rest = order.slice(1);
      const half = Math.ceil(rest.length / 2);
      cluster.network.split(rest.slice(0, half), rest.slice(half));
      return;
    }
  }
}

async function runExtra(
  cluster: ChaosCluster,
  step: FaultStep,
  history: History,
  seed: number,
  groupId: number,
  mover: PartitionMover,
): Promise<void> {
  if (step.extra === 'reassign') {
    mover.begin(step);
    return;
  }
  if (step.extra === 'transfer') {
    const leader = groupId === 0 ? 0 : cluster.leaderOf(groupId);
    if (leader <= 0 || !cluster.isRunning(leader)) {
      history.fault(`transfer of group ${groupId} skipped: no leader`);
      return;
    }
    // Only a voter can take over (a reassignment may have changed who they are).
    const targets = cluster.inner
      .broker(leader)
      .host.status(groupId)
      .confState.voters.filter((id) => id !== leader);
    if (targets.length === 0) {
      history.fault(`transfer of group ${groupId} skipped: no other voter`);
      return;
    }
    const target = targets[step.brokerIndex % targets.length] as number;
    try {
      cluster.inner.broker(leader).host.transferLeadership(groupId, target);
      history.fault(`transfer of group ${groupId} from ${leader} to ${target}`);
    } catch (error) {
      rethrowBug(error);
      history.fault(`transfer of group ${groupId} from ${leader} to ${target} refused: ${(error as Error).message}`);
    }
    return;
  }
  const name = `chaos-extra-${seed}-${step.index}`;
  const admin = new Admin({
    bootstrapServers: cluster.bootstrapServers,
    requestTimeoutMs: 3_000,
    ...cluster.clientSecurity,
  });
  try {
    await admin.createTopics([{ name, partitions: 1, replicationFactor: Math.min(3, cluster.ids().length) }], {
      timeoutMs: 3_000,
    });
    history.fault(`topic ${name} created`);
  } catch (error) {
    rethrowBug(error);
    history.fault(`topic ${name} not created during the fault: ${(error as Error).message}`);
  } finally {
    await admin.close();
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms ${describe()}`.trim());
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isLogLevel(value: string | undefined): value is LogLevel {
  return (logLevels as readonly (string | undefined)[]).includes(value);
}
