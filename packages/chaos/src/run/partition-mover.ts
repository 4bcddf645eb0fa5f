/**
 * The `reassign` nemesis: moves one replica of one partition while other faults run, through the
 * public admin API (ReassignPartitions), so that the partition's Raft group goes through learner
 * addition, promotion and removal (and a leader hand-over when the leader is the one moved).
 *
 * Which partition and which replica come from the step's seeded draws. With a broker outside the
 * partition's replicas, the chosen replica moves there: {a,b,c} -> {a,b,d} (the newcomer last, so
 * that the preferred leader stays an existing voter unless it is the one moved). With every broker
 * already a replica (3 brokers, RF 3), the replica is removed and then added back:
 * {a,b,c} -> {a,b} -> {a,b,c}, which drops c's copy and rebuilds it from the log as a learner.
 *
 * A move goes on in the background (one at a time); the run awaits it before its final checks.
 */
import { Admin } from '@streambus/client';
import { Role } from '@streambus/raft';
import type { History } from '../history/history.js';
import type { FaultStep } from '../nemesis/schedule.js';
import type { ChaosCluster } from './chaos-cluster.js';
import { rethrowBug } from '../bugs.js';

// Bounds of a move (kept here: src/constants.ts belongs to the harness's other owners).
/** One ReassignPartitions call: its deadline and the broker's controller timeout. */
const reassignCallMsMax = 3_000;
/** A whole move (both steps of a shrink-and-grow) gives up after this; the run's checks still run. */
const reassignMoveMsMax = 60_000;

/** One reassignment the nemesis had the controller record. */
export interface ReplicaMove {
  readonly partition: number;
  readonly groupId: number;
  readonly from: readonly number[];
  readonly to: readonly number[];
}

export class PartitionMover {
  private current: Promise<void> | null = null;
  private stopped = false;
  /** Every reassignment recorded, in order (a shrink-and-grow is two). */
  readonly moves: ReplicaMove[] = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly history: History,
    private readonly topic: string,
  ) {}

  /** Starts the move the step draws, unless one is still under way. */
  begin(step: FaultStep): void {
    if (this.current !== null) {
      this.history.fault(`reassign #${step.index} skipped: the previous move is still under way`);
      return;
    }
    this.current = this.move(step)
      .catch((error: unknown) => this.history.fault(`reassign #${step.index} gave up: ${(error as Error).message}`))
      .finally(() => {
        this.current = null;
      });
  }

  /** Waits for the move under way (bounded by the move's own deadline). */
  async finish(): Promise<void> {
    await this.current;
  }

  /** Makes a move under way give up at its next check (the cluster is closing). */
  stop(): void {
    this.stopped = true;
  }

  private async move(step: FaultStep): Promise<void> {
    const controller = this.cluster.running()[0]?.controller.state;
    const partitions = controller?.partitionsOf(this.topic) ?? [];
    const info = partitions[step.partitionIndex % Math.max(1, partitions.length)];
    if (info === undefined) {
      this.history.fault(`reassign #${step.index} skipped: no partition known`);
      return;
    }
    const replicas = [...info.replicas];
    const moved = replicas[step.brokerIndex % replicas.length] as number;
    const outside = this.cluster.ids().filter((id) => !replicas.includes(id));
    const deadline = Date.now() + reassignMoveMsMax;
    if (outside.length > 0) {
      const newcomer = outside[step.shuffleSeed % outside.length] as number;
      await this.reassign(
        step,
        info.partition,
        info.groupId,
        replicas,
        [...replicas.filter((id) => id !== moved), newcomer],
        deadline,
      );
      return;
    }
    if (replicas.length < 2) {
      this.history.fault(
        `reassign #${step.index} skipped: partition ${info.partition} has one replica and no broker to move it to`,
      );
      return;
    }
    const shrunk = replicas.filter((id) => id !== moved);
    await this.reassign(step, info.partition, info.groupId, replicas, shrunk, deadline);
    await this.waitVoters(info.groupId, shrunk, deadline);
    await this.reassign(step, info.partition, info.groupId, shrunk, [...shrunk, moved], deadline);
  }

  /** Has the controller record `to`, retrying (faults may hide the controller) until `deadline`. */
  private async reassign(
    step: FaultStep,
    partition: number,
    groupId: number,
    from: readonly number[],
    to: readonly number[],
    deadline: number,
  ): Promise<void> {
    const admin = new Admin({
      bootstrapServers: this.cluster.bootstrapServers,
      requestTimeoutMs: reassignCallMsMax,
      ...this.cluster.clientSecurity,
    });
    try {
      let lastError = '';
      while (!this.stopped && Date.now() < deadline) {
        try {
          await admin.reassignPartitions(this.topic, [{ partition, replicas: [...to] }], {
            timeoutMs: reassignCallMsMax,
          });
          this.moves.push({ partition, groupId, from, to });
          this.history.fault(
            `reassign #${step.index}: partition ${partition} (group ${groupId}) [${from.join(',')}] -> [${to.join(',')}]`,
          );
          return;
        } catch (error) {
          rethrowBug(error);
          lastError = (error as Error).message;
          await sleep(250);
        }
      }
      throw new Error(
        `partition ${partition} [${from.join(',')}] -> [${to.join(',')}] not recorded: ${lastError || 'stopped'}`,
      );
    } finally {
      await admin.close();
    }
  }

  /** Waits until the group's leader has applied exactly `voters` (and no learner). */
  private async waitVoters(groupId: number, voters: readonly number[], deadline: number): Promise<void> {
    const want = [...voters].sort((a, b) => a - b).join(',');
    while (!this.stopped && Date.now() < deadline) {
      const leader = this.cluster
        .running()
        .find((broker) => broker.host.hasGroup(groupId) && broker.host.roleOf(groupId) === Role.leader);
      const conf = leader?.host.status(groupId).confState;
      if (conf !== undefined && conf.learners.length === 0 && [...conf.voters].sort((a, b) => a - b).join(',') === want)
        return;
      await sleep(100);
    }
    throw new Error(`group ${groupId} did not reach voters [${want}] in time`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
