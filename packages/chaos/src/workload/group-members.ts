/**
 * The consumer-group workload: SDK consumers with one `groupId`, subscribed to the workload's
 * topic, as an application runs them. Each member polls, processes (records every record it got
 * in the history), then commits what it processed (auto-commit off, so every commit and its
 * outcome is in the history); every rebalance callback is recorded with its time. Members churn:
 * at seeded intervals one leaves cleanly (close: revoke, leave) and a new one joins, so the run
 * has rebalances under load and under the nemesis.
 *
 * The planted bug `commitBeforeProcessing` (a self-test of the checker) commits a poll's records
 * before processing them and, when the member is asked to leave, leaves right after the commit:
 * a crash between the two, so the records are committed and never processed.
 */
import { Admin, Consumer, StreamBusError } from '@streambus/client';
import type { ConsumerRecord, RebalanceListener, TopicPartition } from '@streambus/client';
import { assert } from '@streambus/raft';
import { Prng } from '@streambus/raft/testing';
import { groupMembersMax, groupRebalanceTimeoutMs, groupSessionTimeoutMs, pollTimeoutMs } from '../constants.js';
import type { History } from '../history/history.js';
import type { ClientSecurity } from '../security.js';

export interface GroupWorkloadOptions {
  readonly bootstrapServers: readonly string[];
  /** The SDK's `tls` and `sasl` options of a `--secure` run. */
  readonly security?: ClientSecurity | undefined;
  readonly topic: string;
  readonly groupId: string;
  /** Members at any time (one leaves, one joins at each churn). */
  readonly members: number;
  /** Milliseconds between churns; 0: none. */
  readonly churnIntervalMs: number;
  readonly history: History;
  readonly seed: number;
  /** Planted bug: commit before processing; a leaving member leaves in between. NEVER outside self-tests. */
  readonly commitBeforeProcessing?: boolean;
}

interface Member {
  readonly index: number;
  readonly consumer: Consumer;
  loop: Promise<void>;
  leaving: boolean;
}

export class GroupWorkload {
  private running = false;
  private churning = false;
  private readonly members: Member[] = [];
  private readonly retired: Promise<void>[] = [];
  private nextIndex = 0;
  private churnTimer: NodeJS.Timeout | null = null;
  private readonly prng: Prng;
  /** The next offset the group has processed to, per partition (max over members). */
  private readonly processedTo = new Map<number, number>();
  /** The highest offset the group's acknowledged commits reached, per partition. */
  private readonly committedTo = new Map<number, number>();
  /** Poll errors by code. */
  readonly errors = new Map<string, number>();
  churns = 0;

  constructor(private readonly options: GroupWorkloadOptions) {
    assert(options.members >= 1 && options.members <= groupMembersMax, 'group members within bounds');
    this.prng = new Prng(options.seed ^ 0x6a09e667);
  }

  start(): void {
    this.running = true;
    this.churning = this.options.churnIntervalMs > 0;
    for (let i = 0; i < this.options.members; i++) this.join();
    if (this.churning) this.scheduleChurn();
  }

  /** No more churn (the final phase: the members that remain read to the end). */
  stopChurn(): void {
    this.churning = false;
    if (this.churnTimer !== null) clearTimeout(this.churnTimer);
    this.churnTimer = null;
  }

  /**
   * True when the group is done with every partition up to `ends[partition]`: processed, or
   * committed (a member that commits what it did not process is done from the group's view; the
   * checker judges it).
   */
  caughtUp(ends: readonly number[]): boolean {
    return ends.every(
      (end, partition) => Math.max(this.processedTo.get(partition) ?? 0, this.committedTo.get(partition) ?? 0) >= end,
    );
  }

  async stop(): Promise<void> {
    this.stopChurn();
    this.running = false;
    await Promise.all(this.members.map((member) => this.retire(member)));
    await Promise.all(this.retired);
  }

  private scheduleChurn(): void {
    const jitterMs = this.prng.int(Math.max(1, Math.floor(this.options.churnIntervalMs / 2)));
    this.churnTimer = setTimeout(() => {
      if (!this.churning) return;
      const active = this.members.filter((member) => !member.leaving);
      const leaver = active[this.prng.int(active.length)];
      if (leaver !== undefined) this.retired.push(this.retire(leaver));
      this.join();
      this.churns += 1;
      this.scheduleChurn();
    }, this.options.churnIntervalMs + jitterMs);
    this.churnTimer.unref();
  }

  private join(): void {
    const index = this.nextIndex++;
    const { history, topic } = this.options;
    const record =
      (kind: 'assigned' | 'revoked' | 'lost') =>
      (partitions: TopicPartition[]): void =>
        history.groupCallback({
          member: index,
          kind,
          topic,
          partitions: partitions.filter((tp) => tp.topic === topic).map((tp) => tp.partition),
        });
    const listener: RebalanceListener = {
      onPartitionsAssigned: record('assigned'),
      onPartitionsRevoked: record('revoked'),
      onPartitionsLost: record('lost'),
    };
    const consumer = new Consumer({
      bootstrapServers: this.options.bootstrapServers,
      clientId: `chaos-member-${index}`,
      groupId: this.options.groupId,
      enableAutoCommit: false,
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: groupSessionTimeoutMs,
      rebalanceTimeoutMs: groupRebalanceTimeoutMs,
      fetchMaxWaitMs: 200,
      requestTimeoutMs: 5_000,
      retryBackoffMs: 50,
      retryBackoffMsMax: 500,
      metadataMaxAgeMs: 2_000,
      ...this.options.security,
    });
    consumer.subscribe([topic], listener);
    const member: Member = { index, consumer, loop: Promise.resolve(), leaving: false };
    member.loop = this.loop(member);
    this.members.push(member);
  }

  /** Ends a member's loop, then closes it (commit nothing more, revoke, leave). */
  private async retire(member: Member): Promise<void> {
    member.leaving = true;
    await member.loop;
    await member.consumer.close().catch(() => undefined);
    const at = this.members.indexOf(member);
    if (at >= 0) this.members.splice(at, 1);
  }

  private async loop(member: Member): Promise<void> {
    const planted = this.options.commitBeforeProcessing === true;
    while (this.running && !member.leaving) {
      let records: ConsumerRecord[];
      try {
        records = await member.consumer.poll(pollTimeoutMs);
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        this.errors.set(error.code, (this.errors.get(error.code) ?? 0) + 1);
        if (error.code === 'CLIENT_CLOSED') return;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (records.length === 0) continue;
      if (planted) {
        await this.commit(member, records);
        // The crash between the commit and the processing.
        if (member.leaving || !this.running) return;
        this.process(member, records);
        continue;
      }
      this.process(member, records);
      await this.commit(member, records);
    }
  }

  private process(member: Member, records: readonly ConsumerRecord[]): void {
    for (const record of records) {
      this.options.history.groupPoll({
        member: member.index,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        value: record.value === null ? '' : record.value.toString('utf8'),
      });
      if (record.offset + 1 > (this.processedTo.get(record.partition) ?? 0))
        this.processedTo.set(record.partition, record.offset + 1);
    }
  }

  /** Commits the offset after the last record of each partition in `records`; records the outcome per partition. */
  private async commit(member: Member, records: readonly ConsumerRecord[]): Promise<void> {
    const next = new Map<number, number>();
    for (const record of records)
      if (record.topic === this.options.topic)
        next.set(record.partition, Math.max(next.get(record.partition) ?? 0, record.offset + 1));
    const { history, topic } = this.options;
    const ops = [...next].map(([partition, offset]) =>
      history.invokeGroupCommit(member.index, topic, partition, offset),
    );
    try {
      await member.consumer.commit([...next].map(([partition, offset]) => ({ topic, partition, offset })));
      for (const op of ops) if (op !== null) history.completeGroupCommit(op, { kind: 'ok' });
      for (const [partition, offset] of next)
        this.committedTo.set(partition, Math.max(this.committedTo.get(partition) ?? 0, offset));
    } catch (error) {
      if (!(error instanceof StreamBusError)) throw error;
      // A refusal is the coordinator's answer; a timeout or an unreachable coordinator leaves it unknown.
      const kind = error.retriable ? 'unknown' : 'refused';
      for (const op of ops) if (op !== null) history.completeGroupCommit(op, { kind, code: error.code });
    }
  }
}

/** The group's committed offsets of `topic` by partition (OffsetFetch through Admin), at the end of a run. */
export async function fetchGroupOffsets(
  bootstrapServers: readonly string[],
  groupId: string,
  topic: string,
  security?: ClientSecurity,
): Promise<Map<number, number>> {
  const admin = new Admin({ bootstrapServers, requestTimeoutMs: 5_000, ...security });
  try {
    const offsets = await admin.fetchOffsets(groupId);
    return new Map(offsets.filter((o) => o.topic === topic).map((o) => [o.partition, o.offset]));
  } finally {
    await admin.close();
  }
}
