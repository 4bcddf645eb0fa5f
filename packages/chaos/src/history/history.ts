/**
 * The history of one chaos run: every produce with its invocation time, completion time and
 * outcome; every record a checking reader saw with the high watermark reported with it; every
 * record a polling consumer (the SDK's) returned, poll by poll; every leadership claim
 * (partition, term, broker); every nemesis event; and of the consumer-group workload, every record a
 * member processed, every rebalance callback and every commit with its outcome. Times are milliseconds since
 * the start of the run. All lists are bounded (constants.ts); what overflows is counted.
 */
import { faultEventsMax, leaderSamplesMax, readsRecordedMax, recordsTotalMax } from '../constants.js';

/** `ok`: acknowledged at partition/offset; `failed`: a definite refusal; `unknown`: may or may not have landed (timeout, lost connection). */
export type ProduceOutcome =
  | { readonly kind: 'ok'; readonly partition: number; readonly offset: number }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'unknown'; readonly error: string };

export interface ProduceOp {
  readonly worker: number;
  /** Unique in the run: `w{worker}-{n}` (other workloads use other prefixes). */
  readonly value: string;
  readonly topic: string;
  readonly partition: number;
  /**
   * Whether the sender deduplicates its retries (an idempotent producer). Unset: as the run's
   * expectations say. A non-idempotent sender may legitimately land a value twice.
   */
  readonly idempotent?: boolean;
  readonly invokedMs: number;
  completedMs: number;
  outcome: ProduceOutcome | null;
}

export interface ReadObservation {
  readonly reader: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
  /** The high watermark in the fetch response that carried this record. */
  readonly highWatermark: number;
  /** The broker that served it. */
  readonly brokerId: number;
  readonly atMs: number;
}

/** A record a polling consumer returned to the application. */
export interface PollObservation {
  readonly consumer: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
  /** Which poll of this consumer returned it (1, 2, ...). */
  readonly poll: number;
  readonly atMs: number;
}

/** A record a consumer-group member returned from a poll (processed by the workload at `atMs`). */
export interface GroupPollObservation {
  readonly member: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
  readonly atMs: number;
}

/** A rebalance callback of a group member, with the partitions it was given. */
export interface GroupCallbackEvent {
  readonly member: number;
  readonly kind: 'assigned' | 'revoked' | 'lost';
  readonly topic: string;
  readonly partitions: readonly number[];
  readonly atMs: number;
}

/**
 * One partition's offset in a member's commit: `ok` once acknowledged (in a quorum's log),
 * `refused` with the error code, `unknown` when the outcome never came (a timeout).
 */
export interface GroupCommitOp {
  readonly member: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly invokedMs: number;
  completedMs: number;
  outcome: { readonly kind: 'ok' } | { readonly kind: 'refused' | 'unknown'; readonly code: string } | null;
}

/** A broker announcing it leads a group in a term (from its host's leader-change events). */
export interface LeaderClaim {
  readonly groupId: number;
  readonly term: number;
  readonly brokerId: number;
  readonly atMs: number;
}

export interface FaultEvent {
  readonly atMs: number;
  readonly description: string;
}

export class History {
  readonly startedAtMs: number;
  readonly produces: ProduceOp[] = [];
  readonly reads: ReadObservation[] = [];
  readonly polls: PollObservation[] = [];
  readonly leaderClaims: LeaderClaim[] = [];
  readonly faults: FaultEvent[] = [];
  readonly groupPolls: GroupPollObservation[] = [];
  readonly groupCallbacks: GroupCallbackEvent[] = [];
  readonly groupCommits: GroupCommitOp[] = [];
  /** Group history entries over the bounds (polls, callbacks, commits), counted: the group checks then say so. */
  groupDropped = 0;
  readsDropped = 0;
  pollsDropped = 0;
  leaderClaimsDropped = 0;

  constructor(private readonly clock: () => number = Date.now) {
    this.startedAtMs = clock();
  }

  nowMs(): number {
    return this.clock() - this.startedAtMs;
  }

  invokeProduce(
    worker: number,
    value: string,
    topic: string,
    partition: number,
    idempotent?: boolean,
  ): ProduceOp | null {
    if (this.produces.length >= recordsTotalMax) return null;
    const op: ProduceOp = {
      worker,
      value,
      topic,
      partition,
      ...(idempotent === undefined ? {} : { idempotent }),
      invokedMs: this.nowMs(),
      completedMs: -1,
      outcome: null,
    };
    this.produces.push(op);
    return op;
  }

  completeProduce(op: ProduceOp, outcome: ProduceOutcome): void {
    op.completedMs = this.nowMs();
    op.outcome = outcome;
  }

  read(observation: Omit<ReadObservation, 'atMs'>): void {
    if (this.reads.length >= readsRecordedMax) {
      this.readsDropped += 1;
      return;
    }
    this.reads.push({ ...observation, atMs: this.nowMs() });
  }

  poll(observation: Omit<PollObservation, 'atMs'>): void {
    if (this.polls.length >= readsRecordedMax) {
      this.pollsDropped += 1;
      return;
    }
    this.polls.push({ ...observation, atMs: this.nowMs() });
  }

  groupPoll(observation: Omit<GroupPollObservation, 'atMs'>): void {
    if (this.groupPolls.length >= readsRecordedMax) {
      this.groupDropped += 1;
      return;
    }
    this.groupPolls.push({ ...observation, atMs: this.nowMs() });
  }

  groupCallback(event: Omit<GroupCallbackEvent, 'atMs'>): void {
    if (this.groupCallbacks.length >= leaderSamplesMax) {
      this.groupDropped += 1;
      return;
    }
    this.groupCallbacks.push({ ...event, atMs: this.nowMs() });
  }

  invokeGroupCommit(member: number, topic: string, partition: number, offset: number): GroupCommitOp | null {
    if (this.groupCommits.length >= recordsTotalMax) {
      this.groupDropped += 1;
      return null;
    }
    const op: GroupCommitOp = {
      member,
      topic,
      partition,
      offset,
      invokedMs: this.nowMs(),
      completedMs: -1,
      outcome: null,
    };
    this.groupCommits.push(op);
    return op;
  }

  completeGroupCommit(op: GroupCommitOp, outcome: NonNullable<GroupCommitOp['outcome']>): void {
    op.completedMs = this.nowMs();
    op.outcome = outcome;
  }

  leaderClaim(groupId: number, term: number, brokerId: number): void {
    if (this.leaderClaims.length >= leaderSamplesMax) {
      this.leaderClaimsDropped += 1;
      return;
    }
    this.leaderClaims.push({ groupId, term, brokerId, atMs: this.nowMs() });
  }

  fault(description: string): void {
    if (this.faults.length >= faultEventsMax) return;
    this.faults.push({ atMs: this.nowMs(), description });
  }
}
