/**
 * The history of one chaos run: every produce with its invocation time, completion time and
 * outcome; every record a checking reader saw with the high watermark reported with it; every
 * leadership claim (partition, term, broker); every nemesis event. Times are milliseconds since
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
  /** Unique in the run: `w{worker}-{n}`. */
  readonly value: string;
  readonly topic: string;
  readonly partition: number;
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
  readonly leaderClaims: LeaderClaim[] = [];
  readonly faults: FaultEvent[] = [];
  readsDropped = 0;
  leaderClaimsDropped = 0;

  constructor(private readonly clock: () => number = Date.now) {
    this.startedAtMs = clock();
  }

  nowMs(): number {
    return this.clock() - this.startedAtMs;
  }

  invokeProduce(worker: number, value: string, topic: string, partition: number): ProduceOp | null {
    if (this.produces.length >= recordsTotalMax) return null;
    const op: ProduceOp = { worker, value, topic, partition, invokedMs: this.nowMs(), completedMs: -1, outcome: null };
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
