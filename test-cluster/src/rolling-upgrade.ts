/**
 * A rolling upgrade of a 3-broker cluster of real processes from the previous release (built from
 * an earlier commit, previous-release.ts) to this build, under produce and consume load, the
 * way an operator runs it (seed 000's procedure, made safe by maintenance mode):
 *
 *   for each broker: streambus broker drain --broker N; SIGTERM; start the new version on the
 *   same data directory; wait for /ready (caught up); streambus broker undrain --broker N; wait
 *   until every partition has its 3 replicas in sync again
 *
 * then `streambus features finalize` (the new level, refused while an old broker remains), and a
 * check that the previous release, started on a copy of an upgraded data directory, refuses to run.
 * What it measures: per broker replaced, the longest gap between two acknowledgements of the
 * producer while that broker is drained, stopped, started and undrained (and the longest gap of
 * one partition); at the end, every acknowledged record is read back ("lost" counts those that
 * are missing or different). All CLI calls are this build's `streambus`.
 */
import { execFile, spawn } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Admin, Consumer, Producer } from '@streambus/client';
import { streambusVersion } from '@streambus/broker';
import { freePorts } from '@streambus/broker/testing';
import { TestCluster, brokerBinPath } from './cluster.js';
import type { PreviousRelease } from './previous-release.js';

export interface RollingUpgradeOptions {
  /** Parent of the brokers' data directories (removed by the caller). */
  readonly dataDir: string;
  readonly previous: PreviousRelease;
  /** Records per second the producer offers (default 1000). */
  readonly ratePerSecond?: number;
  /** Value bytes per record (default 100). */
  readonly recordBytes?: number;
  /** Partitions of the topic (default 6), replication factor 3. */
  readonly partitions?: number;
  /** Load before the first and after each replacement, in ms (default 3000). */
  readonly settleMs?: number;
  readonly onProgress?: (line: string) => void;
}

export interface BrokerReplacement {
  readonly brokerId: number;
  /** `broker drain` until it led nothing. */
  readonly drainMs: number;
  /** SIGTERM to exit. */
  readonly stopMs: number;
  /** Start of the new version to /ready. */
  readonly readyMs: number;
  /** Undrain to every partition in sync on 3 replicas. */
  readonly catchUpMs: number;
  /** Longest gap between two acknowledgements of the producer, drain to caught up. */
  readonly gapMsMax: number;
  /** Longest gap between two acknowledgements of one partition in that time. */
  readonly partitionGapMsMax: number;
  readonly acks: number;
}

export interface UpgradeReport {
  readonly fromCommit: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly brokers: readonly BrokerReplacement[];
  readonly gapMsMax: number;
  readonly acknowledged: number;
  /** Sends that failed (not acknowledged: no promise was made about them). */
  readonly failed: number;
  /** Records the consumer read while the upgrade ran. */
  readonly consumed: number;
  /** Consumer polls that failed (the consumer retried), and why. */
  readonly consumerPollFailures: number;
  readonly consumerPollFailureReasons: readonly string[];
  /** Acknowledged records missing or different when read back at the end. */
  readonly lost: number;
  /** What `features finalize` answered with one broker still on the previous release. */
  readonly mixedFinalizeRefusal: string;
  readonly finalizedLevel: number;
  /** How the previous release refused an upgraded data directory (its exit code and last words). */
  readonly oldBuildRefusal: string;
  readonly ratePerSecond: number;
  readonly partitions: number;
  readonly recordBytes: number;
}

const topic = 'upgrade';
/** Pending sends beyond which the load generator waits (the producer's buffer is bounded too). */
const pendingSendsMax = 5_000;
const loadTickMs = 5;
/** Problems and failure reasons a load keeps, at most. */
const problemsKeptMax = 10;
/** Pause after a failed consumer poll. */
const pollRetryMs = 100;
/** A broker's catch-up after its restart (and every wait of the procedure) ends by this deadline. */
const stepMsMax = 120_000;
/** How long the previous release may take to refuse an upgraded data directory. */
const refusalMsMax = 60_000;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function streambus(args: readonly string[], bootstrap: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [brokerBinPath(), ...args],
      {
        env: { PATH: process.env['PATH'] ?? '', STREAMBUS_BOOTSTRAP: bootstrap },
        timeout: stepMsMax,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
}

async function mustRun(args: readonly string[], bootstrap: string): Promise<CliResult> {
  const result = await streambus(args, bootstrap);
  if (result.code !== 0)
    throw new Error(
      `streambus ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A producer at a fixed offered rate, and what it was acknowledged. */
class Load {
  readonly ackTimes: number[] = [];
  readonly partitionAckTimes = new Map<number, number[]>();
  /** partition -> offset -> value, of every acknowledged record. */
  readonly acknowledged = new Map<number, Map<number, string>>();
  failed = 0;
  private pending = 0;
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly padding: string;

  constructor(
    private readonly producer: Producer,
    private readonly partitions: number,
    private readonly ratePerSecond: number,
    recordBytes: number,
  ) {
    this.padding = 'x'.repeat(Math.max(0, recordBytes - 16));
  }

  get acks(): number {
    return this.ackTimes.length;
  }

  start(): void {
    let owed = 0;
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      owed += ((now - last) * this.ratePerSecond) / 1000;
      last = now;
      while (owed >= 1 && this.pending < pendingSendsMax) {
        owed -= 1;
        this.sendOne();
      }
      if (this.pending >= pendingSendsMax) owed = 0;
    }, loadTickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + stepMsMax;
    while (this.pending > 0 && Date.now() < deadline) await sleep(50);
  }

  private sendOne(): void {
    const sequence = this.sequence++;
    const partition = sequence % this.partitions;
    const value = `u-${sequence}-${this.padding}`;
    this.pending += 1;
    this.producer
      .send({ topic, partition, value })
      .then(
        (metadata) => {
          const at = performance.now();
          this.ackTimes.push(at);
          let times = this.partitionAckTimes.get(metadata.partition);
          if (times === undefined) this.partitionAckTimes.set(metadata.partition, (times = []));
          times.push(at);
          let offsets = this.acknowledged.get(metadata.partition);
          if (offsets === undefined) this.acknowledged.set(metadata.partition, (offsets = new Map<number, string>()));
          offsets.set(metadata.offset, value);
        },
        () => {
          this.failed += 1;
        },
      )
      .finally(() => {
        this.pending -= 1;
      });
  }
}

/** The longest gap between consecutive times (sorted) that overlaps [from, to]. */
export function longestGapMs(times: readonly number[], from: number, to: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let longest = 0;
  let previous = from;
  for (const at of sorted) {
    if (at < from) continue;
    if (at > to) {
      longest = Math.max(longest, at - previous);
      return longest;
    }
    longest = Math.max(longest, at - previous);
    previous = at;
  }
  return Math.max(longest, to - previous);
}

/** A consumer reading every partition from the start while the upgrade runs; offsets must not jump. */
class ConsumeLoad {
  consumed = 0;
  /** Offsets that jumped (at most problemsKeptMax kept). */
  problems: string[] = [];
  /** Polls that failed, and the first few reasons: the consumer retries them. */
  pollFailures = 0;
  readonly pollFailureReasons = new Set<string>();
  private running = true;
  private loop: Promise<void> | undefined;
  private readonly next = new Map<number, number>();

  constructor(private readonly consumer: Consumer) {}

  start(partitions: number): void {
    this.consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    this.loop = (async () => {
      while (this.running) {
        let records: Awaited<ReturnType<Consumer['poll']>> = [];
        try {
          records = await this.consumer.poll(200);
        } catch (error) {
          this.pollFailures += 1;
          if (this.pollFailureReasons.size < problemsKeptMax)
            this.pollFailureReasons.add(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
          // A timer, not a microtask: a poll that fails at once must not starve the event loop.
          await sleep(pollRetryMs);
        }
        for (const record of records) {
          const expected = this.next.get(record.partition) ?? 0;
          if (record.offset !== expected && this.problems.length < problemsKeptMax)
            this.problems.push(`partition ${record.partition}: offset ${record.offset} after ${expected - 1}`);
          this.next.set(record.partition, record.offset + 1);
          this.consumed += 1;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** Reads every partition from the start up to its high watermark; counts acknowledged records not there. */
async function countLost(bootstrap: string[], load: Load, partitions: number): Promise<number> {
  const admin = new Admin({ bootstrapServers: bootstrap });
  const ends = await admin.listOffsets(
    Array.from({ length: partitions }, (_, partition) => ({ topic, partition })),
    'latest',
  );
  await admin.close();
  const consumer = new Consumer({ bootstrapServers: bootstrap, autoOffsetReset: 'earliest' });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const read = new Map<number, Map<number, string>>();
  // Read up to the later of the high watermark and the last acknowledged offset: a leader elected
  // just before ListOffsets may answer a high watermark that still lags its log (it is known only
  // once the leader commits in its term), and a read that stops there would call the records past
  // it lost. A record truly lost is never read, so the read runs to its deadline and counts it.
  const end = new Map(ends.map((answer) => [answer.partition, answer.offset]));
  for (const [partition, offsets] of load.acknowledged)
    for (const offset of offsets.keys()) end.set(partition, Math.max(end.get(partition) ?? 0, offset + 1));
  const done = (): boolean => [...end].every(([partition, offset]) => (read.get(partition)?.size ?? 0) >= offset);
  const deadline = Date.now() + stepMsMax;
  while (!done() && Date.now() < deadline) {
    for (const record of await consumer.poll(500)) {
      let offsets = read.get(record.partition);
      if (offsets === undefined) read.set(record.partition, (offsets = new Map<number, string>()));
      offsets.set(record.offset, Buffer.from(record.value ?? new Uint8Array()).toString());
    }
  }
  await consumer.close();
  let lost = 0;
  for (const [partition, offsets] of load.acknowledged)
    for (const [offset, value] of offsets) if (read.get(partition)?.get(offset) !== value) lost += 1;
  return lost;
}

/** Waits until every partition of the topic has 3 in-sync replicas and a leader. */
async function waitInSync(admin: Admin): Promise<void> {
  const deadline = Date.now() + stepMsMax;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const description = await admin.describeTopic(topic);
      if (description.partitions.every((p) => p.leaderId !== 0 && p.inSyncReplicas.length === 3)) return;
      last = description.partitions.map((p) => `${p.partition}:${p.leaderId}[${p.inSyncReplicas.join(',')}]`).join(' ');
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  throw new Error(`the partitions were not in sync on 3 replicas within ${stepMsMax} ms: ${last}`);
}

/**
 * Starts the previous release on a copy of `dataDir` alone (no peer reachable, so it cannot
 * disturb the cluster) and returns how it refused; throws if it keeps running.
 */
async function oldBuildRefusal(previous: PreviousRelease, copy: string, brokerId: number): Promise<string> {
  const [listenPort, adminPort] = await freePorts(2);
  const listen = `127.0.0.1:${listenPort}`;
  const child = spawn(
    process.execPath,
    [
      previous.bin,
      'server',
      '--id',
      String(brokerId),
      '--data-dir',
      copy,
      '--listen',
      listen,
      '--admin',
      `127.0.0.1:${adminPort}`,
      '--peers',
      `${brokerId}=${listen}`,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, refusalMsMax);
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  if (code === null) throw new Error(`the previous release kept running on an upgraded data directory: ${output}`);
  const reason = /"err":"([^"]*upgrade[^"]*)"/.exec(output)?.[1] ?? output.trim().split('\n').slice(-1)[0] ?? '';
  if (code === 0 || !reason.includes('upgrade'))
    throw new Error(`the previous release did not refuse the upgraded data directory (exit ${code}): ${output}`);
  return `exit ${code}: ${reason}`;
}

export async function runRollingUpgrade(options: RollingUpgradeOptions): Promise<UpgradeReport> {
  const progress = options.onProgress ?? (() => undefined);
  const partitions = options.partitions ?? 6;
  const ratePerSecond = options.ratePerSecond ?? 1000;
  const recordBytes = options.recordBytes ?? 100;
  const settleMs = options.settleMs ?? 3000;
  const previous = options.previous;
  const cluster = await TestCluster.create({
    size: 3,
    dataDir: options.dataDir,
    logLevel: 'warn',
    onProgress: progress,
  });
  const bootstrapList = cluster.bootstrap.split(',');
  const bootstrap = cluster.bootstrap;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  let admin: Admin | undefined;
  try {
    progress(`starting 3 brokers of the previous release (${previous.commit}, StreamBus ${previous.version})`);
    await cluster.startAll(stepMsMax, { bin: previous.bin });
    admin = new Admin({ bootstrapServers: bootstrapList });
    await admin.createTopic({ name: topic, partitions, replicationFactor: 3 });
    await waitInSync(admin);
    const check = await mustRun(['compatibility', 'check', '--version', currentVersion()], bootstrap);
    progress(`compatibility check: ${check.stdout.split('\n')[0] ?? ''}`);

    producer = new Producer({ bootstrapServers: bootstrapList, lingerMs: 2, deliveryTimeoutMs: 60_000 });
    const load = new Load(producer, partitions, ratePerSecond, recordBytes);
    consumer = new Consumer({ bootstrapServers: bootstrapList, autoOffsetReset: 'earliest' });
    const consume = new ConsumeLoad(consumer);
    load.start();
    consume.start(partitions);
    await sleep(settleMs);
    progress(`load running: ${load.acks} acknowledged, ${consume.consumed} consumed`);

    const replacements: BrokerReplacement[] = [];
    let mixedFinalizeRefusal = '';
    for (const broker of cluster.brokers) {
      const id = broker.id;
      const acksBefore = load.acks;
      const from = performance.now();
      await mustRun(['broker', 'drain', '--broker', String(id), '--timeout', '60s'], bootstrap);
      const drained = performance.now();
      const exit = await cluster.stop(id);
      if (exit !== 0) throw new Error(`broker ${id} exited ${exit} on SIGTERM`);
      const stopped = performance.now();
      await cluster.restart(id, stepMsMax);
      const ready = performance.now();
      await mustRun(['broker', 'undrain', '--broker', String(id)], bootstrap);
      await waitInSync(admin);
      const to = performance.now();
      const partitionGapMsMax = Math.max(
        ...[...load.partitionAckTimes.values()].map((times) => longestGapMs(times, from, to)),
      );
      const replacement: BrokerReplacement = {
        brokerId: id,
        drainMs: Math.round(drained - from),
        stopMs: Math.round(stopped - drained),
        readyMs: Math.round(ready - stopped),
        catchUpMs: Math.round(to - ready),
        gapMsMax: Math.round(longestGapMs(load.ackTimes, from, to)),
        partitionGapMsMax: Math.round(partitionGapMsMax),
        acks: load.acks - acksBefore,
      };
      replacements.push(replacement);
      progress(replacementLine(replacement));
      progress(
        `consumer: ${consume.consumed} read, ${consume.pollFailures} polls failed${consume.pollFailures === 0 ? '' : ` (${[...consume.pollFailureReasons].join('; ')})`}`,
      );
      if (id === 1) {
        // Two previous-release brokers remain: the new level must stay off. Asked of the upgraded
        // broker (a previous-release one does not know the call).
        const refused = await streambus(['features', 'finalize', '--level', '2', '--dry-run'], broker.listen);
        if (refused.code === 0 || !refused.stderr.includes('reads feature levels up to 1'))
          throw new Error(
            `features finalize did not refuse the previous-release brokers: ${refused.stdout}${refused.stderr}`,
          );
        mixedFinalizeRefusal = refused.stderr.trim();
        progress(`mixed cluster: ${mixedFinalizeRefusal}`);
      }
      await sleep(settleMs);
    }

    const finalize = await mustRun(['features', 'finalize'], bootstrap);
    progress(finalize.stdout.trim());
    const describe = JSON.parse((await mustRun(['features', 'describe', '--json'], bootstrap)).stdout) as {
      finalized_level: number;
    };
    await sleep(settleMs);
    await load.stop();
    await consume.stop();
    await producer.close();
    producer = undefined;
    await consumer.close();
    consumer = undefined;
    const lost = await countLost(bootstrapList, load, partitions);
    if (consume.problems.length > 0) throw new Error(`the consumer saw: ${consume.problems.join('; ')}`);

    // The previous release on a copy of an upgraded data directory: it must refuse.
    const last = cluster.brokers[2];
    if (last === undefined) throw new Error('no broker 3');
    const copy = join(options.dataDir, 'old-build-on-upgraded-copy');
    if ((await cluster.stop(last.id)) !== 0) throw new Error(`broker ${last.id} did not stop cleanly`);
    await cp(last.dataDir, copy, { recursive: true });
    await cluster.restart(last.id, stepMsMax);
    const oldRefusal = await oldBuildRefusal(previous, copy, last.id);
    await rm(copy, { recursive: true, force: true });
    progress(`previous release on an upgraded data directory: ${oldRefusal}`);

    return {
      fromCommit: previous.commit,
      fromVersion: previous.version,
      toVersion: currentVersion(),
      brokers: replacements,
      gapMsMax: Math.max(...replacements.map((r) => r.gapMsMax)),
      acknowledged: load.acks,
      failed: load.failed,
      consumed: consume.consumed,
      consumerPollFailures: consume.pollFailures,
      consumerPollFailureReasons: [...consume.pollFailureReasons],
      lost,
      mixedFinalizeRefusal,
      finalizedLevel: describe.finalized_level,
      oldBuildRefusal: oldRefusal,
      ratePerSecond,
      partitions,
      recordBytes,
    };
  } finally {
    await producer?.close().catch(() => undefined);
    await consumer?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await cluster.stopAll();
  }
}

function replacementLine(r: BrokerReplacement): string {
  return `broker ${r.brokerId}: drained ${r.drainMs} ms, stopped ${r.stopMs} ms, new version ready ${r.readyMs} ms, undrained and in sync ${r.catchUpMs} ms; max gap ${r.gapMsMax} ms (one partition ${r.partitionGapMsMax} ms), ${r.acks} acks`;
}

/** The report's lines; the last is the one `npm run upgrade-test` is judged by. */
export function formatUpgradeReport(report: UpgradeReport): string[] {
  return [
    `rolling upgrade from ${report.fromCommit} (StreamBus ${report.fromVersion}) to StreamBus ${report.toVersion}: 3 brokers, ${report.partitions} partitions (replication 3), ${report.ratePerSecond} msg/s offered, ${report.recordBytes} B records, acks=all`,
    ...report.brokers.map(replacementLine),
    `with a previous-release broker left, features finalize refused: ${report.mixedFinalizeRefusal}`,
    `finalized feature level ${report.finalizedLevel}; the previous release on an upgraded data directory refused to start (${report.oldBuildRefusal})`,
    `acknowledged ${report.acknowledged} records (${report.failed} sends failed), consumed ${report.consumed} while upgrading (${report.consumerPollFailures} polls failed and were retried); read back every acknowledged record: ${report.lost} lost`,
    `rolling upgrade: 3 brokers, max gap ${report.gapMsMax} ms, lost: ${report.lost}`,
  ];
}

function currentVersion(): string {
  return streambusVersion;
}
