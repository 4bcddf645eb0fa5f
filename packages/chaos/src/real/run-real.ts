/**
 * A Jepsen-style run on a real kernel network: brokers as OS processes, each in its own network
 * namespace (test-cluster's NetnsCluster), under a seeded schedule of partitions, packet loss,
 * bandwidth caps, SIGKILL, SIGSTOP, restarts, full disks and clock skew, while a workload of
 * SDK producers (idempotent and not), CLI producers and polling consumers records a history.
 * Then: heal, measure recovery, let everything settle, stop the brokers, read their data
 * directories, check, report.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, AuthenticationError } from '@streambus/client';
import type { UnsafeTestingKnobs } from '@streambus/broker/testing';
import { NetnsCluster, brokerBinPath } from '@streambus/test-cluster';
import { check } from '../checker/checker.js';
import { readStoppedReplicas } from '../checker/offline-logs.js';
import {
  groupChurnIntervalMsDefault,
  groupHeartbeatIntervalMs,
  groupSessionTimeoutMs,
  partitionsDefault,
  partitionsMax,
  realBrokersMax,
  realBrokersMin,
  realDeliveryTimeoutMs,
  realRecordsPerSecondDefault,
  realRecoveryMsMaxDefault,
  realTickMs,
  runDurationMsMax,
  secureSeedWaitMsMax,
  settleMsMax,
} from '../constants.js';
import { History } from '../history/history.js';
import type { ChaosReport } from '../report.js';
import { highWatermarksByMetadata, waitRecoveredByMetadata } from '../run/metadata-recovery.js';
import { replayFlags, replayLine } from '../run/replay-command.js';
import { PollerWorkload } from '../workload/pollers.js';
import { GroupWorkload, fetchGroupOffsets } from '../workload/group-members.js';
import { checkGroup } from '../checker/group-checker.js';
import type { GroupCheckCounts } from '../checker/group-checker.js';
import { ProducerWorkload } from '../workload/producers.js';
import { ReaderWorkload } from '../workload/readers.js';
import { CliProducerWorkload } from './cli-producers.js';
import { RealNemesis } from './real-nemesis.js';
import type { RealNemesisStats } from './real-nemesis.js';
import { planRealSchedule, realFaultKinds } from './real-schedule.js';
import type { RealFaultKind } from './real-schedule.js';
import { rethrowBug } from '../bugs.js';
import { ChaosSecurity } from '../security.js';
import type { ClientSecurity } from '../security.js';

export interface RealRunOptions {
  readonly seed: number;
  /** How long faults and load run. Default 60 s. */
  readonly durationMs?: number;
  readonly brokers?: number;
  readonly partitions?: number;
  /** Fault classes (default: every one). */
  readonly faults?: readonly RealFaultKind[];
  /** Records per second of the SDK producers in total. */
  readonly recordsPerSecond?: number;
  /** CLI producers on (default true). */
  readonly cliProducers?: boolean;
  readonly recoveryMsMax?: number;
  /** Members of the consumer-group workload (0, the default: none). */
  readonly groupMembers?: number;
  /** Milliseconds between churns of the group (one member leaves, one joins); 0: none. */
  readonly groupChurnIntervalMs?: number;
  /** Planted faults in every broker process (UNSAFE_STREAMBUS_TESTING_KNOBS). NEVER in production. */
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
  /**
   * TLS (a throwaway CA, each broker process its own certificate) and SCRAM-SHA-256 auth (the
   * workload's user from a users file), every client with tls and sasl, the CLI by its env.
   */
  readonly secure?: boolean;
  /** The brokers' log level (their logs are in the run directory, removed at the end). Default warn. */
  readonly logLevel?: string;
  /** Copy the brokers' logs out of the run directory when the run has a violation (default true). */
  readonly keepLogsOnViolation?: boolean;
  readonly onProgress?: (line: string) => void;
  readonly progressIntervalMs?: number;
}

export interface RealReport extends ChaosReport {
  readonly nemesis: RealNemesisStats;
  readonly faultKinds: readonly RealFaultKind[];
}

export const realDurationMsDefault = 60_000;
const topic = 'jepsen';
const groupId = 'jepsen-group';

export function realReplayCommand(options: RealRunOptions): string {
  const parts = [
    ...replayFlags('npm run chaos -- real', options, realDurationMsDefault, 3),
    `--faults ${(options.faults ?? realFaultKinds).join(',') || 'none'}`,
    `--rate ${options.recordsPerSecond ?? realRecordsPerSecondDefault}`,
  ];
  if (options.cliProducers === false) parts.push('--no-cli');
  if ((options.groupMembers ?? 0) > 0)
    parts.push(
      `--group-members ${options.groupMembers}`,
      `--group-churn-ms ${options.groupChurnIntervalMs ?? groupChurnIntervalMsDefault}`,
    );
  if (options.secure === true) parts.push('--secure');
  return replayLine(parts, options);
}

export async function runReal(options: RealRunOptions): Promise<RealReport> {
  const durationMs = options.durationMs ?? realDurationMsDefault;
  const brokers = options.brokers ?? 3;
  const partitions = options.partitions ?? partitionsDefault;
  const kinds = options.faults ?? realFaultKinds;
  const recoveryMsMax = options.recoveryMsMax ?? realRecoveryMsMaxDefault;
  const progress = options.onProgress ?? (() => undefined);
  if (!(durationMs > 0 && durationMs <= runDurationMsMax))
    throw new Error(`duration must be in (0, ${runDurationMsMax}] ms`);
  if (!(brokers >= realBrokersMin && brokers <= realBrokersMax))
    throw new Error(`brokers must be in [${realBrokersMin}, ${realBrokersMax}]`);
  if (!(partitions >= 1 && partitions <= partitionsMax)) throw new Error(`partitions must be in [1, ${partitionsMax}]`);
  if (!existsSync(brokerBinPath()))
    throw new Error(`the broker is not built (${brokerBinPath()} is missing): run npm run build first`);
  const knobs = Object.entries(options.unsafeTestingKnobs ?? {})
    .filter(([, on]) => on === true)
    .map(([name]) => name);
  const replay = realReplayCommand(options);
  const schedule = planRealSchedule({ seed: options.seed, durationMs, kinds });
  const started = Date.now();
  progress(
    `real-network run seed ${options.seed}: ${brokers} broker processes in network namespaces, ${partitions} partitions, ${schedule.length} faults planned over ${durationMs} ms (${kinds.join(',')})`,
  );
  progress(`replay: ${replay}`);
  if (knobs.length > 0) progress(`UNSAFE: every broker runs with planted fault(s) ${knobs.join(',')}`);

  // Made once the brokers' addresses are known (their certificates name them), before any starts.
  let secured: ChaosSecurity | null = null;
  const real = await NetnsCluster.create({
    size: brokers,
    ...(options.secure === true
      ? {
          brokerEnv: (id: number) => {
            if (secured === null) throw new Error(`broker ${id} started before its certificate was made`);
            return { ...secured.env, ...secured.brokerEnv(id) };
          },
        }
      : {}),
    logLevel: options.logLevel ?? 'warn',
    env: {
      STREAMBUS_TICK_MS: String(realTickMs),
      // The group workload's rebalances in well under a second (see constants.ts).
      STREAMBUS_GROUPS_HEARTBEAT_INTERVAL_MS: String(groupHeartbeatIntervalMs),
      STREAMBUS_GROUPS_SESSION_TIMEOUT_MS: String(groupSessionTimeoutMs),
      ...(knobs.length > 0 ? { UNSAFE_STREAMBUS_TESTING_KNOBS: knobs.join(',') } : {}),
    },
    onProgress: progress,
  });
  const history = new History();
  const notes: string[] = [];
  const unhandled: string[] = [];
  const onUnhandled = (error: unknown): void => {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    unhandled.push(text);
    progress(`unhandled rejection in client code: ${text}`);
  };
  process.on('unhandledRejection', onUnhandled);
  let ticker: NodeJS.Timeout | null = null;
  const producers: ProducerWorkload[] = [];
  let cli: CliProducerWorkload | null = null;
  let readers: ReaderWorkload | null = null;
  let pollers: PollerWorkload | null = null;
  let group: GroupWorkload | null = null;
  const groupMembers = options.groupMembers ?? 0;
  try {
    if (options.secure === true)
      secured = await ChaosSecurity.create(
        Array.from({ length: brokers }, (_, index) => index + 1),
        options.seed,
        { hosts: real.bootstrapServers.map((address) => address.slice(0, address.lastIndexOf(':'))), usersFile: true },
      );
    const security = secured?.client;
    await real.cluster.startAll(60_000);
    const bootstrap = real.bootstrapServers;
    if (secured !== null) await waitSeeded(bootstrap, secured);
    const admin = new Admin({ bootstrapServers: bootstrap, ...security });
    try {
      await admin.createTopic({ name: topic, partitions, replicationFactor: Math.min(3, brokers) });
    } finally {
      await admin.close();
    }
    if ((await waitRecoveredByMetadata(bootstrap, topic, 30_000, security)) === null)
      throw new Error(`topic ${topic} did not get a leader and a full ISR on every partition within 30 s`);

    const rate = options.recordsPerSecond ?? realRecordsPerSecondDefault;
    const common = {
      bootstrapServers: bootstrap,
      security,
      topic,
      partitions,
      history,
      seed: options.seed,
      deliveryTimeoutMs: realDeliveryTimeoutMs,
      inflightPerWorker: 4,
      acks: 'all' as const,
    };
    // Two thirds of the rate idempotent (2 workers), a third at-least-once (acks=all, no idempotence).
    producers.push(
      new ProducerWorkload({
        ...common,
        workers: 2,
        recordsPerSecond: Math.max(1, Math.round((rate * 2) / 3)),
        idempotent: true,
        valuePrefix: 'i',
        workerBase: 0,
      }),
    );
    producers.push(
      new ProducerWorkload({
        ...common,
        workers: 1,
        recordsPerSecond: Math.max(1, Math.round(rate / 3)),
        idempotent: false,
        valuePrefix: 'n',
        workerBase: 10,
      }),
    );
    if (options.cliProducers !== false)
      cli = new CliProducerWorkload({
        cliPath: brokerBinPath(),
        bootstrapServers: bootstrap,
        env: secured?.cliEnv,
        topic,
        partitions,
        history,
        seed: options.seed,
        worker: 20,
      });
    readers = new ReaderWorkload({
      bootstrapServers: bootstrap,
      security,
      securityStats: secured?.stats,
      topic,
      partitions,
      readers: 1,
      history,
    });
    pollers = new PollerWorkload({ bootstrapServers: bootstrap, security, topic, partitions, consumers: 2, history });
    if (groupMembers > 0)
      group = new GroupWorkload({
        bootstrapServers: bootstrap,
        security,
        topic,
        groupId,
        members: groupMembers,
        churnIntervalMs: options.groupChurnIntervalMs ?? groupChurnIntervalMsDefault,
        history,
        seed: options.seed,
      });
    const cliRef = cli;
    const removeHook = real.onTeardown(() => cliRef?.killSync());
    const nemesis = new RealNemesis(real, history, topic, partitions, progress, security);

    const runStarted = Date.now();
    let current = 'quiet';
    ticker = setInterval(() => {
      let acked = 0;
      let pending = 0;
      for (const op of history.produces) {
        if (op.outcome === null) pending += 1;
        else if (op.outcome.kind === 'ok') acked += 1;
      }
      progress(
        `t=${((Date.now() - runStarted) / 1000).toFixed(1)}s sent=${history.produces.length} acked=${acked} pending=${pending} reads=${history.reads.length} polls=${history.polls.length} cli-runs=${cli?.stats.runs ?? 0} now: ${current}`,
      );
    }, options.progressIntervalMs ?? 2_000);
    ticker.unref();
    for (const producer of producers) producer.start();
    cli?.start();
    readers.start();
    pollers.start();
    group?.start();

    for (const step of schedule) {
      const waitMs = runStarted + step.atMs - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      current = `#${step.index} ${nemesis.describe(step)}`;
      progress(`fault ${current}`);
      history.fault(`start #${step.index}: ${nemesis.describe(step)}`);
      try {
        await nemesis.run(step);
      } catch (error) {
        rethrowBug(error);
        history.fault(`step #${step.index} failed: ${(error as Error).message}`);
        notes.push(`step #${step.index} (${step.kind}) failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
      }
      history.fault(`end #${step.index}`);
      current = 'quiet';
    }
    const restMs = runStarted + durationMs - Date.now();
    if (restMs > 0) await sleep(restMs);

    current = 'healing';
    const undone = await nemesis.healAll();
    history.fault(`heal all${undone.length > 0 ? `: ${undone.join(', ')}` : ''}`);
    const recoveryMs = await waitRecoveredByMetadata(bootstrap, topic, recoveryMsMax, security);
    // One anonymous call (TLS, no session) per broker, every one of them healed and up: each must be refused.
    if (secured !== null) for (const address of bootstrap) await secured.probeAnonymous(address);
    current = 'settling';
    await Promise.all(producers.map((producer) => producer.stop()));
    await cli?.stop();
    const settled = await settle(bootstrap, partitions, readers, pollers, security);
    if (!settled.ok)
      notes.push(
        `readers or consumers did not reach the high watermarks [${settled.ends?.join(',') ?? '?'}] within ${settleMsMax} ms (reader positions ${JSON.stringify(readers.positions())}, consumer positions ${JSON.stringify(pollers.positions())})`,
      );
    await readers.stop();
    await pollers.stop();
    let finalCommitted: Map<number, number> | null = null;
    if (group !== null) {
      group.stopChurn();
      const workload = group;
      const ends = settled.ends;
      if (ends === null) notes.push('the group was not checked against the high watermarks: they were not read');
      else
        await waitUntil(() => workload.caughtUp(ends), settleMsMax).catch(() =>
          notes.push(`the group did not process up to the high watermarks within ${settleMsMax} ms`),
        );
      await group.stop();
      group = null;
      finalCommitted = await fetchGroupOffsets(bootstrap, groupId, topic, security).catch((error: unknown) => {
        rethrowBug(error);
        notes.push(`the group's final offsets were not read: ${(error as Error).message}`);
        return null;
      });
    }
    if (ticker !== null) clearInterval(ticker);
    current = 'reading the stopped brokers';
    const usage = await Promise.all(
      real.cluster.brokers.map(async (broker) => ({ id: broker.id, ...(await real.diskUsage(broker.id)) })),
    );
    notes.push(
      `data disks (tmpfs): ${usage.map((u) => `broker ${u.id} ${(u.usedBytes / 1e6).toFixed(1)} of ${(u.totalBytes / 1e6).toFixed(0)} MB used`).join(', ')}`,
    );
    await real.stopBrokers(15_000);
    const finalState = await readStoppedReplicas(
      real.cluster.brokers.map((broker) => ({ brokerId: broker.id, dataDir: broker.dataDir })),
      topic,
      history,
    );
    removeHook();
    const result = check(history, finalState, { acksAll: true, idempotent: true, durable: true });
    const violations = [...result.violations];
    const examples = [...result.examples];
    let groupCounts: GroupCheckCounts | undefined;
    if (groupMembers > 0) {
      const groupResult = checkGroup(history, { topic, finalCommitted, durable: true });
      groupCounts = groupResult.counts;
      violations.push(...groupResult.violations);
      examples.push(...groupResult.examples);
      if (groupResult.refusedByCode.size > 0)
        notes.push(
          `group commits refused: ${[...groupResult.refusedByCode].map(([code, count]) => `${code} ${count}`).join(', ')}`,
        );
    }
    if (recoveryMs === null)
      violations.push(`recovery: partitions not led with a full ISR within ${recoveryMsMax} ms of healing`);
    const missingReplicas = finalState.filter((state) => state.replicas.length < Math.min(3, brokers));
    if (finalState.length !== partitions || missingReplicas.length > 0) {
      violations.push(
        `replicas: expected ${partitions} partitions with ${Math.min(3, brokers)} replicas each, read ${finalState.map((state) => `p${state.partition}: ${state.replicas.length}`).join(', ')}`,
      );
    }
    const stats = nemesis.stats;
    if (stats.unexpectedExits.length > 0) {
      violations.push(`unexpectedExits: ${stats.unexpectedExits.length} broker processes exited that no fault stopped`);
      examples.push(...stats.unexpectedExits.slice(0, 3));
    }
    if (unhandled.length > 0) {
      violations.push(
        `unhandledRejections: ${unhandled.length} errors escaped client code (each would end an application)`,
      );
      for (const text of new Set(unhandled)) examples.push(`unhandled: ${text}`);
    }
    if (stats.clockUnconfirmed > 0)
      notes.push(`clock skew NOT seen in the broker's Date header on ${stats.clockUnconfirmed} steps`);
    if (violations.length > 0 && options.keepLogsOnViolation !== false) {
      // The run directory goes with the clean-up: keep the brokers' logs of a failed run.
      const kept = join(tmpdir(), `streambus-real-seed-${options.seed}-${process.pid}`);
      await mkdir(kept, { recursive: true });
      for (const broker of real.cluster.brokers)
        await copyFile(real.cluster.logPath(broker.id), join(kept, `broker-${broker.id}.log`)).catch(() => undefined);
      notes.push(`broker logs kept in ${kept}`);
    }
    notes.push(...reportNotes(history, stats, cli, readers, pollers, real.network.names.slot));
    if (secured !== null) {
      const { handshakes, anonymousRefused, anonymousServed } = secured.stats;
      if (anonymousServed > 0)
        violations.push(`security: ${anonymousServed} anonymous calls were served in a secure run`);
      notes.push(
        `security: TLS and SCRAM-SHA-256 on; readers' SCRAM handshakes ${handshakes}, anonymous calls refused ${anonymousRefused}, served ${anonymousServed}`,
      );
    }
    const report: RealReport = {
      seed: options.seed,
      ok: violations.length === 0,
      replayCommand: replay,
      settings: `real network: brokers=${brokers} (processes, netns) partitions=${partitions} acks=all wal_sync=always faults=${kinds.join(',') || 'none'}${knobs.length > 0 ? ` UNSAFE=${knobs.join(',')}` : ''}${options.secure === true ? ' secure' : ''}`,
      counts: result.counts,
      ...(groupCounts === undefined ? {} : { group: groupCounts }),
      ...(secured === null ? {} : { security: { ...secured.stats } }),
      recoveryMs,
      recoveryMsMax,
      faultsInjected: schedule.length,
      runMs: Date.now() - started,
      violations,
      examples,
      notes,
      nemesis: stats,
      faultKinds: kinds,
    };
    return report;
  } finally {
    process.off('unhandledRejection', onUnhandled);
    if (ticker !== null) clearInterval(ticker);
    await Promise.all(producers.map((producer) => producer.stop().catch(() => undefined)));
    await cli?.stop().catch(() => undefined);
    await readers?.stop().catch(() => undefined);
    await pollers?.stop().catch(() => undefined);
    await group?.stop().catch(() => undefined);
    const cleaned = await real.close();
    await secured?.close();
    const left = await real.leftovers().catch((error: unknown) => [`(could not list: ${(error as Error).message})`]);
    progress(
      `cleaned up: ${cleaned.length} items (brokers stopped, faults undone, namespaces, veths, mounts, directories removed)${left.length > 0 ? `; LEFT OVER: ${left.join(', ')}` : ''}`,
    );
  }
}

/** Waits until the readers and consumers reached the (stable) high watermark of every partition. */
async function settle(
  bootstrap: readonly string[],
  partitions: number,
  readers: ReaderWorkload,
  pollers: PollerWorkload,
  security: ClientSecurity | undefined,
): Promise<{ ok: boolean; ends: number[] | null }> {
  const deadline = Date.now() + settleMsMax;
  let previous: number[] | null = null;
  for (;;) {
    const ends = await highWatermarksByMetadata(bootstrap, topic, partitions, security);
    const stable = ends !== null && previous !== null && ends.every((end, i) => end === previous?.[i]);
    if (ends !== null && stable && readers.caughtUp(ends) && pollers.caughtUp(ends)) return { ok: true, ends };
    if (Date.now() > deadline) return { ok: false, ends };
    previous = ends;
    await sleep(500);
  }
}

/**
 * Waits until the workload's user can authenticate: the controller seeds the users file's users
 * once it has a leader, a moment after the processes report ready.
 */
async function waitSeeded(bootstrap: readonly string[], secured: ChaosSecurity): Promise<void> {
  const admin = new Admin({
    bootstrapServers: bootstrap,
    ...secured.client,
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 5_000,
  });
  const deadline = Date.now() + secureSeedWaitMsMax;
  try {
    for (;;) {
      try {
        await admin.listTopics();
        return;
      } catch (error) {
        rethrowBug(error);
        if (!(error instanceof AuthenticationError) || Date.now() >= deadline) throw error;
      }
      await sleep(200);
    }
  } finally {
    await admin.close();
  }
}

function reportNotes(
  history: History,
  stats: RealNemesisStats,
  cli: CliProducerWorkload | null,
  readers: ReaderWorkload,
  pollers: PollerWorkload,
  slot: number,
): string[] {
  const notes: string[] = [];
  notes.push(
    `faults played: ${[...stats.stepsByKind].map(([kind, count]) => `${kind} ${count}`).join(', ') || 'none'}`,
  );
  if (stats.isolatedLeaders.length > 0)
    notes.push(
      `isolate-leader targets: ${stats.isolatedLeaders.map((id) => (id > 0 ? `broker ${id}` : 'no leader known')).join(', ')}`,
    );
  if (stats.diskFullExits + stats.diskFullSurvived > 0)
    notes.push(
      `full disks: ${stats.diskFullExits} brokers exited on ENOSPC and were restarted, ${stats.diskFullSurvived} wrote nothing while full`,
    );
  if (stats.clockMeasurements.length > 0)
    notes.push(`clock skew measured (admin Date header): ${stats.clockMeasurements.join('; ')}`);
  if (stats.restartFailures.length > 0) notes.push(`restarts that failed: ${stats.restartFailures.join('; ')}`);
  const bySource = new Map<string, { acked: number; unknown: number; failed: number }>();
  const errors = new Map<string, number>();
  for (const op of history.produces) {
    const source = op.value.startsWith('c') ? 'cli' : op.idempotent === false ? 'sdk-at-least-once' : 'sdk-idempotent';
    const entry = bySource.get(source) ?? { acked: 0, unknown: 0, failed: 0 };
    if (op.outcome?.kind === 'ok') entry.acked += 1;
    else if (op.outcome?.kind === 'failed') entry.failed += 1;
    else entry.unknown += 1;
    bySource.set(source, entry);
    if (op.outcome !== null && op.outcome.kind !== 'ok') {
      const code = op.outcome.error.split(':')[0] ?? 'ERROR';
      errors.set(code, (errors.get(code) ?? 0) + 1);
    }
  }
  notes.push(
    `sends by producer: ${[...bySource].map(([source, c]) => `${source} acked ${c.acked} unknown ${c.unknown} failed ${c.failed}`).join('; ')}`,
  );
  if (errors.size > 0)
    notes.push(`produce errors: ${[...errors].map(([code, count]) => `${code} ${count}`).join(', ')}`);
  if (cli !== null) {
    const s = cli.stats;
    notes.push(
      `CLI produce runs: ${s.runs} (ok ${s.succeeded}, failed ${s.failed}, killed ${s.killed}, unexpected lines ${s.unexpectedLines})${cli.failures.size > 0 ? `; failures: ${[...cli.failures].map(([reason, count]) => `${count}x ${reason}`).join('; ')}` : ''}`,
    );
  }
  if (pollers.errors.size > 0)
    notes.push(
      `SDK consumer poll errors: ${[...pollers.errors].map(([code, count]) => `${code} ${count}`).join(', ')}`,
    );
  notes.push(
    `SDK consumer longest stretch of empty polls: ${(pollers.longestEmptyStretchMs / 1000).toFixed(1)} s; raw reader errors: ${readers.errors}`,
  );
  if (history.readsDropped + history.pollsDropped > 0)
    notes.push(`history bounds hit: ${history.readsDropped} reads and ${history.pollsDropped} polled records not kept`);
  notes.push(`network slot ${slot} (10.77.0.${16 * slot}/28)`);
  return notes;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(200);
  }
}
