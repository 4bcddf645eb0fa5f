/**
 * Raft benchmark (deliverable 6): a 3-node cluster of RaftHosts in one process over the
 * in-memory transport, each node with a MemoryRaftStore, on real timers (tickMs 100).
 *
 *  1. throughput: committed entries per second for 256-byte entries, many concurrent
 *     `proposeBatch` calls per group, all groups led by node 1; an entry counts once its batch
 *     resolved (committed by a quorum and applied on the leader);
 *  2. idle cost (measured first, before the throughput runs leave garbage behind): CPU time (process.cpuUsage) per wall-clock second with 1,000 quiesced groups on
 *     each node, as a percentage of one core.
 *
 * Run: `npm run bench:raft` (builds, then `node packages/raft/dist/bench/raft-bench.js`).
 * Flags: --reps N, --seconds S (throughput run), --idle-seconds S, --groups N, --batch N,
 * --inflight N (batches in flight per group), --idle-groups N.
 */
import { cpus } from 'node:os';
import { realTimer } from '../host/timer.js';
import { MemoryHostCluster } from '../testing/host-cluster.js';
import { Role } from '../types.js';
import type { GroupId } from '../types.js';

interface BenchOptions {
  readonly reps: number;
  readonly seconds: number;
  readonly idleSeconds: number;
  readonly groups: number;
  readonly batch: number;
  readonly inflight: number;
  readonly idleGroups: number;
  readonly entryBytes: number;
}

const throughputTargetPerSecond = 500_000;
const idleTargetPercent = 2;
/** Compact every group's log once this many entries were applied on the leader since the last time. */
const compactEveryEntries = 200_000;

function parseOptions(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, number>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = Number(argv[i + 1]);
    if (name === undefined || !name.startsWith('--') || !Number.isFinite(value) || value <= 0) {
      throw new Error(`bad flag near "${name ?? ''}": use --name positive-number (see the file header)`);
    }
    flags.set(name.slice(2), value);
  }
  return {
    reps: flags.get('reps') ?? 3,
    seconds: flags.get('seconds') ?? 3,
    idleSeconds: flags.get('idle-seconds') ?? 10,
    groups: flags.get('groups') ?? 8,
    batch: flags.get('batch') ?? 256,
    inflight: flags.get('inflight') ?? 8,
    idleGroups: flags.get('idle-groups') ?? 1000,
    entryBytes: 256,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle] ?? 0;
  return ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A real-time cluster with `groups` groups; node `leaderOf(group)` campaigns for each. */
async function startCluster(groups: number, leaderOf: (groupId: GroupId) => number): Promise<MemoryHostCluster> {
  const cluster = new MemoryHostCluster({ timer: realTimer, tickMs: 100, seed: 42 });
  for (const machine of cluster.machines.values()) machine.keepEntries = false;
  for (const groupId of range(groups)) cluster.createGroup(groupId);
  await cluster.settle();
  for (const groupId of range(groups)) cluster.host(leaderOf(groupId)).campaign(groupId);
  await waitUntil(
    'leaders',
    () =>
      range(groups).every(
        (groupId) => cluster.host(leaderOf(groupId)).roleOf(groupId) === Role.leader && cluster.leaderOf(groupId) !== 0,
      ),
    30_000,
  );
  return cluster;
}

interface ThroughputResult {
  readonly entriesPerSecond: number;
  /** Entries per second of CPU time this process got: the figure that survives a busy machine. */
  readonly entriesPerCpuSecond: number;
  /** CPU time over wall time, in % of one core. */
  readonly cpuPercentOfCore: number;
  readonly persistsPerSecond: number;
  readonly groupsPerPersist: number;
  readonly entriesPerFrame: number;
}

async function throughputOnce(options: BenchOptions): Promise<ThroughputResult> {
  const cluster = await startCluster(options.groups, () => 1);
  const leader = cluster.host(1);
  const payload = new Uint8Array(options.entryBytes).fill(7);
  const batch = Array.from({ length: options.batch }, () => payload);
  let committed = 0;
  let running = true;
  const outcome: { failure: Error | null } = { failure: null };

  const proposer = async (groupId: GroupId): Promise<void> => {
    while (running) {
      await leader.proposeBatch(groupId, batch);
      committed += batch.length;
    }
  };
  let sinceCompact = 0;
  const compactor = async (): Promise<void> => {
    while (running) {
      await sleep(100);
      if (committed - sinceCompact < compactEveryEntries) continue;
      sinceCompact = committed;
      const jobs: Promise<void>[] = [];
      for (const host of cluster.live()) {
        for (const groupId of range(options.groups)) {
          const applied = host.status(groupId).applied;
          if (applied > 0) jobs.push(host.compact(groupId, new Uint8Array(0), applied));
        }
      }
      await Promise.all(jobs);
    }
  };

  const metricsBefore = { ...leader.metrics };
  const cpuBefore = process.cpuUsage();
  const startMs = performance.now();
  const workers = range(options.groups).flatMap((groupId) =>
    Array.from({ length: options.inflight }, () => proposer(groupId)),
  );
  const all = Promise.all([...workers, compactor()]).catch((error: unknown) => {
    outcome.failure = error instanceof Error ? error : new Error(String(error));
  });
  await sleep(options.seconds * 1000);
  const committedAtEnd = committed;
  const elapsedSeconds = (performance.now() - startMs) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  running = false;
  await all;
  if (outcome.failure !== null) throw outcome.failure;
  const persists = leader.metrics.persistCalls - metricsBefore.persistCalls;
  const writes = leader.metrics.groupWrites - metricsBefore.groupWrites;
  const frames = leader.metrics.framesSent - metricsBefore.framesSent;
  await cluster.stop();
  return {
    entriesPerSecond: committedAtEnd / elapsedSeconds,
    entriesPerCpuSecond: committedAtEnd / cpuSeconds,
    cpuPercentOfCore: (cpuSeconds / elapsedSeconds) * 100,
    persistsPerSecond: persists / elapsedSeconds,
    groupsPerPersist: persists === 0 ? 0 : writes / persists,
    entriesPerFrame: frames === 0 ? 0 : (2 * committedAtEnd) / frames,
  };
}

interface IdleResult {
  readonly cpuPercentOfCore: number;
  readonly groupTicksDuring: number;
  readonly framesPerSecond: number;
}

async function idleOnce(options: BenchOptions): Promise<IdleResult> {
  // Leaders spread over the three nodes, as a broker balances them.
  const cluster = await startCluster(options.idleGroups, (groupId) => 1 + (groupId % 3));
  await waitUntil(
    'all groups quiesced',
    () => cluster.live().every((host) => range(options.idleGroups).every((groupId) => host.isQuiesced(groupId))),
    60_000,
  );
  // Let the garbage of setting up 3,000 groups be collected before measuring.
  await sleep(2000);
  const beforeTicks = cluster.live().reduce((sum, host) => sum + host.metrics.groupTicks, 0);
  const framesBefore = cluster.network.stats.framesDelivered;
  const cpuBefore = process.cpuUsage();
  const startMs = performance.now();
  await sleep(options.idleSeconds * 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const elapsedMs = performance.now() - startMs;
  const groupTicksDuring = cluster.live().reduce((sum, host) => sum + host.metrics.groupTicks, 0) - beforeTicks;
  const frames = cluster.network.stats.framesDelivered - framesBefore;
  await cluster.stop();
  return {
    cpuPercentOfCore: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    groupTicksDuring,
    framesPerSecond: frames / (elapsedMs / 1000),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`raft-bench: node ${process.version}, ${cpus().length} cores (${cpu}), ${new Date().toISOString()}`);
  console.log(`raft-bench: options ${JSON.stringify(options)}`);

  const idles: IdleResult[] = [];
  for (let rep = 1; rep <= options.reps; rep++) {
    const result = await idleOnce(options);
    idles.push(result);
    console.log(
      `idle rep ${rep}/${options.reps}: ${result.cpuPercentOfCore.toFixed(2)}% of one core for 3 x ${options.idleGroups} quiesced groups ` +
        `(${result.groupTicksDuring} group ticks, ${result.framesPerSecond.toFixed(0)} frames/s)`,
    );
  }
  const throughputs: ThroughputResult[] = [];
  for (let rep = 1; rep <= options.reps; rep++) {
    const result = await throughputOnce(options);
    throughputs.push(result);
    console.log(
      `throughput rep ${rep}/${options.reps}: ${Math.round(result.entriesPerSecond).toLocaleString('en-US')} entries/s ` +
        `(${Math.round(result.entriesPerCpuSecond).toLocaleString('en-US')} per CPU-second at ${result.cpuPercentOfCore.toFixed(0)}% of a core; ` +
        `${Math.round(result.persistsPerSecond)} persists/s on the leader, ${result.groupsPerPersist.toFixed(1)} groups per persist, ` +
        `${result.entriesPerFrame.toFixed(0)} entries per frame)`,
    );
  }
  const entriesPerSecond = median(throughputs.map((result) => result.entriesPerSecond));
  const entriesPerCpuSecond = median(throughputs.map((result) => result.entriesPerCpuSecond));
  const idlePercent = median(idles.map((result) => result.cpuPercentOfCore));
  const verdict = (ok: boolean): string => (ok ? 'target met' : 'TARGET MISSED');
  console.log(
    `raft-bench summary: ${Math.round(entriesPerSecond).toLocaleString('en-US')} committed entries/s (256 B, median of ${options.reps}; ` +
      `target ${throughputTargetPerSecond.toLocaleString('en-US')}: ${verdict(entriesPerSecond >= throughputTargetPerSecond)}; ` +
      `${Math.round(entriesPerCpuSecond).toLocaleString('en-US')} per CPU-second); ` +
      `idle ${idlePercent.toFixed(2)}% of one core for ${options.idleGroups} quiesced groups per node x 3 nodes ` +
      `(target < ${idleTargetPercent}%: ${verdict(idlePercent < idleTargetPercent)})`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
