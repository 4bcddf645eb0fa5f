/**
 * Plays real-network fault steps on a NetnsCluster: inject, hold, undo, then make sure nothing
 * is left in force and every broker runs again. Every action is written to the history's fault
 * events; what a step saw (a broker exiting on a full disk, a clock offset measured) is counted
 * for the report.
 */
import { rpcClient } from '../security.js';
import type { ClientSecurity } from '../security.js';
import type { NetnsCluster } from '@streambus/test-cluster';
import { realBandwidthQueueMs } from '../constants.js';
import type { History } from '../history/history.js';
import { describeRealStep, splitSides, stepBroker } from './real-schedule.js';
import type { RealFaultKind, RealFaultStep } from './real-schedule.js';
import { rethrowBug } from '../bugs.js';

export interface RealNemesisStats {
  readonly stepsByKind: Map<RealFaultKind, number>;
  /** Brokers that exited on ENOSPC during a disk-full step, and steps whose broker did not. */
  diskFullExits: number;
  diskFullSurvived: number;
  /** Clock steps whose skew the broker's Date header showed (±1.5 s), and those it did not. */
  clockConfirmed: number;
  clockUnconfirmed: number;
  /** Offsets measured on clock steps, as `broker N: +40.3 s for +40 s`. */
  readonly clockMeasurements: string[];
  /** Leaders isolated by `isolate-leader` (0 when no leader was known and a broker was drawn instead). */
  readonly isolatedLeaders: number[];
  /** Brokers found stopped that no step stopped (a crash of its own), with their log tails. */
  readonly unexpectedExits: string[];
  /** Restarts that failed (the broker did not become ready). */
  readonly restartFailures: string[];
}

const restartReadyMs = 60_000;

export class RealNemesis {
  readonly stats: RealNemesisStats = {
    stepsByKind: new Map(),
    diskFullExits: 0,
    diskFullSurvived: 0,
    clockConfirmed: 0,
    clockUnconfirmed: 0,
    clockMeasurements: [],
    isolatedLeaders: [],
    unexpectedExits: [],
    restartFailures: [],
  };
  /** Brokers a step stopped on purpose and has not restarted yet. */
  private readonly stoppedOnPurpose = new Set<number>();

  constructor(
    private readonly real: NetnsCluster,
    private readonly history: History,
    private readonly topic: string,
    private readonly partitions: number,
    private readonly progress: (line: string) => void = () => undefined,
    /** A `--secure` run's client options, for the raw Metadata calls. */
    private readonly security?: ClientSecurity,
  ) {}

  /** A fault event: into the history and the progress lines. */
  private event(line: string): void {
    this.history.fault(line);
    this.progress(`  ${line}`);
  }

  private get ids(): number[] {
    return this.real.cluster.brokers.map((broker) => broker.id);
  }

  describe(step: RealFaultStep): string {
    return describeRealStep(step, this.ids);
  }

  /** Plays one step: inject, hold for its active time, undo; then heals whatever is left. */
  async run(step: RealFaultStep): Promise<void> {
    this.stats.stepsByKind.set(step.kind, (this.stats.stepsByKind.get(step.kind) ?? 0) + 1);
    await this.checkRunning();
    const { faults, cluster } = this.real;
    const ids = this.ids;
    const broker = stepBroker(step, ids);
    const hold = (ms = step.activeMs): Promise<void> => sleep(ms);
    switch (step.kind) {
      case 'isolate':
        await faults.isolate(broker);
        await hold();
        await faults.healPartition();
        break;
      case 'isolate-leader': {
        const partition = step.partitionIndex % this.partitions;
        const leader = await this.leaderOf(partition);
        const target = leader > 0 ? leader : broker;
        this.stats.isolatedLeaders.push(leader);
        this.event(
          leader > 0
            ? `broker ${leader} leads partition ${partition}: isolated`
            : `no leader known for partition ${partition}: isolating broker ${broker}`,
        );
        await faults.isolate(target);
        await hold();
        await faults.healPartition();
        break;
      }
      case 'majority-minority':
      case 'bridge': {
        const { left, right, bridge } = splitSides(step, ids);
        this.event(
          `sides [${left.join(',')}] | [${right.join(',')}]${bridge === null ? '' : `, bridge ${bridge} sees both`}`,
        );
        await faults.split(left, right);
        await hold();
        await faults.healPartition();
        break;
      }
      case 'one-way':
        await faults.oneWay(broker);
        await hold();
        await faults.healPartition();
        break;
      case 'loss':
        await faults.loss(step.lossProbability);
        await hold();
        await faults.clearLoss();
        break;
      case 'bandwidth':
        await faults.capBandwidth(broker, {
          rate: `${step.bandwidthKbit}kbit`,
          burst: '32kb',
          latency: `${realBandwidthQueueMs}ms`,
        });
        await hold();
        await faults.clearBandwidth();
        break;
      case 'kill':
        this.stoppedOnPurpose.add(broker);
        await cluster.kill(broker);
        await hold();
        await this.restart(broker);
        break;
      case 'restart':
        this.stoppedOnPurpose.add(broker);
        await cluster.stop(broker).catch(async (error: unknown) => {
          this.event(`SIGTERM of broker ${broker} did not end it (${(error as Error).message}): SIGKILL`);
          await cluster.kill(broker);
        });
        await hold();
        await this.restart(broker);
        break;
      case 'pause':
        cluster.pause(broker);
        await hold();
        cluster.resume(broker);
        break;
      case 'disk-full': {
        this.stoppedOnPurpose.add(broker);
        const fillStarted = Date.now();
        const bytes = await faults.fillDisk(broker);
        this.event(`broker ${broker}'s disk filled with ${bytes} bytes in ${Date.now() - fillStarted} ms`);
        await hold();
        const exited = cluster.state(broker) === 'stopped';
        if (exited) this.stats.diskFullExits += 1;
        else this.stats.diskFullSurvived += 1;
        this.event(
          exited
            ? `broker ${broker} exited on the full disk`
            : `broker ${broker} still runs on its full disk (nothing it wrote failed)`,
        );
        await faults.freeDisk(broker);
        if (exited) await this.restart(broker);
        else this.stoppedOnPurpose.delete(broker);
        break;
      }
      case 'clock': {
        const [first, second] = step.clockSkewSeconds;
        await faults.skewClock(broker, first);
        const half = Math.floor(step.activeMs / 2);
        const [measured] = await Promise.all([faults.confirmClock(broker, first), hold(half)]);
        this.recordClock(broker, first, measured);
        await faults.skewClock(broker, second);
        await hold(step.activeMs - half);
        await faults.skewClock(broker, 0);
        break;
      }
    }
    const left = await faults.healAll();
    if (left.length > 0) this.event(`after step #${step.index}: undid ${left.join(', ')}`);
    await this.ensureAllRunning();
  }

  /** Undoes every fault and brings every broker back (end of the run). */
  async healAll(): Promise<string[]> {
    const undone = await this.real.faults.healAll();
    for (const id of this.ids) {
      if (this.real.cluster.state(id) === 'paused') {
        this.real.cluster.resume(id);
        undone.push(`SIGCONT broker ${id}`);
      }
    }
    await this.ensureAllRunning();
    return undone;
  }

  private recordClock(broker: number, seconds: number, measuredMs: number | null): void {
    const ok = measuredMs !== null && Math.abs(measuredMs - seconds * 1000) <= 1_500;
    if (ok) this.stats.clockConfirmed += 1;
    else this.stats.clockUnconfirmed += 1;
    const line = `broker ${broker}: ${measuredMs === null ? 'no answer' : `${(measuredMs / 1000).toFixed(1)} s`} for ${seconds > 0 ? '+' : ''}${seconds} s`;
    if (this.stats.clockMeasurements.length < 50) this.stats.clockMeasurements.push(line);
    this.event(`clock measured (admin Date header): ${line}`);
  }

  /** A broker found stopped that no step stopped crashed on its own: recorded, then restarted. */
  private async checkRunning(): Promise<void> {
    for (const id of this.ids) {
      if (this.real.cluster.state(id) !== 'stopped' || this.stoppedOnPurpose.has(id)) continue;
      const tail = await this.real.cluster.logTail(id, 5);
      this.stats.unexpectedExits.push(
        `broker ${id} exited on its own; its log ends with: ${tail.split('\n').slice(-3).join(' | ').slice(0, 600)}`,
      );
      this.event(`broker ${id} found stopped (not by the nemesis)`);
    }
  }

  private async ensureAllRunning(): Promise<void> {
    await this.checkRunning();
    for (const id of this.ids) if (this.real.cluster.state(id) === 'stopped') await this.restart(id);
  }

  private async restart(id: number): Promise<void> {
    try {
      if (this.real.cluster.state(id) === 'stopped') await this.real.cluster.restart(id, restartReadyMs);
      else await this.real.cluster.waitReady(id, restartReadyMs);
      this.stoppedOnPurpose.delete(id);
    } catch (error) {
      rethrowBug(error);
      this.stats.restartFailures.push(`broker ${id}: ${(error as Error).message.split('\n')[0] ?? ''}`);
      this.event(`restart of broker ${id} failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
      // Still stopped on purpose: the next step (or the final heal) tries again.
    }
  }

  /** The leader of `partition` from Metadata (any broker that answers), or 0. */
  private async leaderOf(partition: number): Promise<number> {
    for (const address of this.real.bootstrapServers) {
      const client = rpcClient(address, this.security);
      try {
        const metadata = await client.Metadata({ topics: [this.topic], brokersOnly: false }, { deadlineMs: 2_000 });
        const leader =
          metadata.topics.find((t) => t.name === this.topic)?.partitions.find((p) => p.partition === partition)
            ?.leaderId ?? 0;
        if (leader > 0) return leader;
      } catch {
        // the next broker
      } finally {
        client.close();
      }
    }
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
