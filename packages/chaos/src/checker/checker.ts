/**
 * Checkers over a run's history and the final state of every replica. Each returns counts; the
 * report says which counts are violations for the run's settings (acks, idempotence).
 */
import { Buffer } from 'node:buffer';
import type { History } from '../history/history.js';
import type { PartitionFinalState, ReplicaLog, ReplicaRecord } from './final-state.js';

/** What a run promised, so the checkers know which counts are violations. */
export interface Expectations {
  /** acks=all: nothing acknowledged may be lost. With acks=leader loss is measured, not a violation. */
  readonly acksAll: boolean;
  /** Idempotent producers: no value may appear twice. */
  readonly idempotent: boolean;
  /**
   * The sync policy protects what Raft persists (term, vote, log) against the crashes the nemesis
   * caused. When false, every count is measured and only HW and read-order breaches are violations.
   */
  readonly durable: boolean;
}

export interface CheckCounts {
  readonly acked: number;
  /**
   * Acknowledged without an offset (offset -1: DUPLICATE_SEQUENCE, a retry of a batch written
   * before the broker's dedupe window, whose offsets it no longer knows). Only presence is checked.
   */
  readonly ackedWithoutOffset: number;
  readonly failed: number;
  readonly unknown: number;
  /** Unknown outcomes whose value is in the final log (they did land). */
  readonly unknownLanded: number;
  /** Acknowledged but missing from the final log. */
  readonly lost: number;
  /** Acknowledged at an offset that holds another value in the final log. */
  readonly offsetMismatch: number;
  /** Values of idempotent senders present more than once in a partition's final log (extra copies counted). */
  readonly duplicated: number;
  /** The same for values of non-idempotent senders (at-least-once delivery: measured, allowed). */
  readonly duplicatedNonIdempotent: number;
  /** Partitions whose replicas' logs differ below their common high watermark. */
  readonly divergence: number;
  /** Missing or repeated offsets in a partition's final log. */
  readonly offsetGaps: number;
  /** Records a reader saw at or above the high watermark reported with them. */
  readonly readAboveHighWatermark: number;
  /** Records a reader saw that the final log does not hold at that offset (rolled back). */
  readonly readRolledBack: number;
  /** A reader saw offsets of a partition out of order or skipped some. */
  readonly readOutOfOrder: number;
  /** Offsets that readers or polling consumers saw holding two different values. */
  readonly inconsistentOffsets: number;
  /** A polling consumer returned an offset at or below one it had returned before (per partition). */
  readonly pollNonMonotonic: number;
  /** A polling consumer's next offset of a partition was past the one after its previous (offsets never returned). */
  readonly pollSkipped: number;
  readonly polls: number;
  /** Terms of a partition in which two brokers claimed leadership. */
  readonly leaderConflicts: number;
  /** Replicas that hold a batch failing its CRC (detected; not a violation by itself). */
  readonly corruptReplicas: number;
  readonly reads: number;
}

export interface CheckResult {
  readonly counts: CheckCounts;
  /** One line per violated property; empty when the run kept every promise. */
  readonly violations: string[];
  /** Up to a few examples per property, for the report. */
  readonly examples: string[];
}

const examplesPerCheck = 3;

/** The replica whose log is the reference: the highest high watermark (ties: lowest broker id). */
export function referenceLog(state: PartitionFinalState): ReplicaLog | undefined {
  let best: ReplicaLog | undefined;
  for (const replica of state.replicas) {
    if (replica.corrupt) continue;
    if (best === undefined || replica.highWatermark > best.highWatermark) best = replica;
  }
  return best;
}

export function check(
  history: History,
  finalState: readonly PartitionFinalState[],
  expectations: Expectations,
): CheckResult {
  const examples: string[] = [];
  const example = (counter: { n: number }, line: string): void => {
    counter.n += 1;
    if (counter.n <= examplesPerCheck) examples.push(line);
  };
  const byPartition = new Map<
    string,
    {
      state: PartitionFinalState;
      reference: ReplicaLog | undefined;
      valueOffsets: Map<string, number[]>;
      byOffset: Map<number, string>;
    }
  >();
  for (const state of finalState) {
    const reference = referenceLog(state);
    const valueOffsets = new Map<string, number[]>();
    const byOffset = new Map<number, string>();
    for (const record of reference?.records ?? []) {
      const list = valueOffsets.get(record.value);
      if (list === undefined) valueOffsets.set(record.value, [record.offset]);
      else list.push(record.offset);
      byOffset.set(record.offset, record.value);
    }
    byPartition.set(`${state.topic}/${state.partition}`, { state, reference, valueOffsets, byOffset });
  }

  let acked = 0;
  let ackedWithoutOffset = 0;
  let failed = 0;
  let unknown = 0;
  let unknownLanded = 0;
  const lost = { n: 0 };
  const mismatch = { n: 0 };
  for (const op of history.produces) {
    const partition = byPartition.get(`${op.topic}/${op.partition}`);
    const offsets = partition?.valueOffsets.get(op.value);
    const outcome = op.outcome;
    if (outcome === null || outcome.kind === 'unknown') {
      unknown += 1;
      if (offsets !== undefined) unknownLanded += 1;
      continue;
    }
    if (outcome.kind === 'failed') {
      failed += 1;
      continue;
    }
    acked += 1;
    if (outcome.offset < 0) ackedWithoutOffset += 1;
    if (offsets === undefined) {
      example(
        lost,
        `lost: ${op.value} acknowledged at ${op.topic}/${outcome.partition}@${outcome.offset} (t=${op.completedMs} ms) is not in the final log`,
      );
    } else if (outcome.offset >= 0 && !offsets.includes(outcome.offset)) {
      example(
        mismatch,
        `offset mismatch: ${op.value} acknowledged at offset ${outcome.offset}, final log has it at ${offsets.join(',')}`,
      );
    }
  }

  const duplicated = { n: 0 };
  const duplicatedNonIdempotent = { n: 0 };
  const divergence = { n: 0 };
  const gaps = { n: 0 };
  let corruptReplicas = 0;
  const nonIdempotentValues = new Set<string>();
  for (const op of history.produces) if (op.idempotent === false) nonIdempotentValues.add(op.value);
  for (const { state, reference, valueOffsets } of byPartition.values()) {
    for (const [value, offsets] of valueOffsets) {
      if (offsets.length < 2) continue;
      const counter = nonIdempotentValues.has(value) ? duplicatedNonIdempotent : duplicated;
      for (let i = 1; i < offsets.length; i++)
        example(
          counter,
          `duplicate${counter === duplicated ? '' : ' (non-idempotent sender)'}: ${value} in ${state.topic}/${state.partition} at offsets ${offsets.join(',')}`,
        );
    }
    corruptReplicas += state.replicas.filter((replica) => replica.corrupt).length;
    const diverged = divergentPair(state.replicas);
    if (diverged !== null) example(divergence, `divergence: ${state.topic}/${state.partition}: ${diverged}`);
    const gap = firstGap(reference?.records ?? []);
    if (gap !== null) example(gaps, `offsets: ${state.topic}/${state.partition}: ${gap}`);
  }

  const above = { n: 0 };
  const rolledBack = { n: 0 };
  const outOfOrder = { n: 0 };
  const lastSeen = new Map<string, number>();
  for (const read of history.reads) {
    if (read.offset >= read.highWatermark) {
      example(
        above,
        `read above HW: reader ${read.reader} saw ${read.topic}/${read.partition}@${read.offset} from broker ${read.brokerId} with HW ${read.highWatermark}`,
      );
    }
    const final = byPartition.get(`${read.topic}/${read.partition}`)?.byOffset.get(read.offset);
    if (final !== read.value) {
      example(
        rolledBack,
        `read rolled back: reader ${read.reader} saw ${read.value} at ${read.topic}/${read.partition}@${read.offset}; the final log has ${final ?? 'nothing'} there`,
      );
    }
    const key = `${read.reader}/${read.topic}/${read.partition}`;
    const previous = lastSeen.get(key) ?? -1;
    if (read.offset !== previous + 1)
      example(
        outOfOrder,
        `read order: reader ${read.reader} saw ${read.topic}/${read.partition}@${read.offset} after @${previous}`,
      );
    lastSeen.set(key, read.offset);
  }

  const inconsistent = { n: 0 };
  const seenAt = new Map<string, string>();
  const conflicting = new Set<string>();
  const observe = (who: string, topic: string, partition: number, offset: number, value: string): void => {
    const key = `${topic}/${partition}@${offset}`;
    const first = seenAt.get(key);
    if (first === undefined) seenAt.set(key, value);
    else if (first !== value && !conflicting.has(key)) {
      conflicting.add(key);
      example(inconsistent, `inconsistent offset: ${key} was read as ${first} and, by ${who}, as ${value}`);
    }
  };
  for (const read of history.reads)
    observe(`reader ${read.reader}`, read.topic, read.partition, read.offset, read.value);
  for (const polled of history.polls)
    observe(`consumer ${polled.consumer}`, polled.topic, polled.partition, polled.offset, polled.value);

  const nonMonotonic = { n: 0 };
  const skipped = { n: 0 };
  const lastPolled = new Map<string, { offset: number; poll: number }>();
  for (const polled of history.polls) {
    const key = `${polled.consumer}/${polled.topic}/${polled.partition}`;
    const previous = lastPolled.get(key) ?? { offset: -1, poll: 0 };
    const where = `consumer ${polled.consumer} poll ${polled.poll} got ${polled.topic}/${polled.partition}@${polled.offset}`;
    if (polled.offset <= previous.offset)
      example(nonMonotonic, `non-monotonic poll: ${where} after @${previous.offset} (poll ${previous.poll})`);
    else if (polled.offset > previous.offset + 1)
      example(
        skipped,
        `skipped offsets: ${where} after @${previous.offset} (poll ${previous.poll}): ${polled.offset - previous.offset - 1} offsets never returned`,
      );
    lastPolled.set(key, { offset: polled.offset, poll: polled.poll });
  }

  const conflicts = { n: 0 };
  const claims = new Map<string, Set<number>>();
  for (const claim of history.leaderClaims) {
    const key = `${claim.groupId}/${claim.term}`;
    const set = claims.get(key) ?? new Set<number>();
    set.add(claim.brokerId);
    claims.set(key, set);
  }
  for (const [key, brokers] of claims) {
    if (brokers.size > 1)
      example(conflicts, `two leaders: group/term ${key} claimed by brokers ${[...brokers].join(',')}`);
  }

  const counts: CheckCounts = {
    acked,
    ackedWithoutOffset,
    failed,
    unknown,
    unknownLanded,
    lost: lost.n,
    offsetMismatch: mismatch.n,
    duplicated: duplicated.n,
    duplicatedNonIdempotent: duplicatedNonIdempotent.n,
    divergence: divergence.n,
    offsetGaps: gaps.n,
    readAboveHighWatermark: above.n,
    readRolledBack: rolledBack.n,
    readOutOfOrder: outOfOrder.n,
    inconsistentOffsets: inconsistent.n,
    pollNonMonotonic: nonMonotonic.n,
    pollSkipped: skipped.n,
    polls: history.polls.length,
    leaderConflicts: conflicts.n,
    corruptReplicas,
    reads: history.reads.length,
  };
  const violations: string[] = [];
  // Without durability (a sync policy that does not survive the crashes injected) Raft's own
  // precondition is gone: term, vote and log may roll back, so loss, rollback, divergence and
  // even two leaders in one term are measured consequences, not violations. Serving above the
  // high watermark and reading out of order stay violations in every mode.
  const durable = expectations.durable;
  if (expectations.acksAll && durable && counts.lost > 0)
    violations.push(`lost: ${counts.lost} acknowledged records are missing`);
  if (expectations.acksAll && durable && counts.offsetMismatch > 0)
    violations.push(`offsetMismatch: ${counts.offsetMismatch} acknowledged offsets hold another record`);
  if (expectations.idempotent && durable && counts.duplicated > 0)
    violations.push(`duplicated: ${counts.duplicated} records appear twice`);
  if (durable && counts.divergence > 0)
    violations.push(`divergence: ${counts.divergence} partitions have replicas that disagree`);
  if (durable && counts.offsetGaps > 0)
    violations.push(`offsets: ${counts.offsetGaps} partitions have gaps or repeats`);
  if (counts.readAboveHighWatermark > 0)
    violations.push(`readAboveHighWatermark: ${counts.readAboveHighWatermark} records served above the high watermark`);
  if (durable && counts.readRolledBack > 0)
    violations.push(`readRolledBack: ${counts.readRolledBack} records read were later rolled back`);
  if (counts.readOutOfOrder > 0) violations.push(`readOutOfOrder: ${counts.readOutOfOrder} reads out of order`);
  if (durable && counts.inconsistentOffsets > 0)
    violations.push(`inconsistentOffsets: ${counts.inconsistentOffsets} offsets were read with two different values`);
  if (counts.pollNonMonotonic > 0)
    violations.push(
      `pollNonMonotonic: ${counts.pollNonMonotonic} polled records at or below an offset the consumer already had`,
    );
  if (counts.pollSkipped > 0)
    violations.push(`pollSkipped: ${counts.pollSkipped} times a consumer's polls skipped offsets`);
  if (durable && counts.leaderConflicts > 0)
    violations.push(`leaderConflicts: ${counts.leaderConflicts} terms with two leaders`);
  return { counts, violations, examples };
}

/** A description of the first disagreement between two replicas below their common HW, or null. */
function divergentPair(replicas: readonly ReplicaLog[]): string | null {
  const healthy = replicas.filter((replica) => !replica.corrupt);
  for (let i = 1; i < healthy.length; i++) {
    const a = healthy[0] as ReplicaLog;
    const b = healthy[i] as ReplicaLog;
    const common = Math.min(a.highWatermark, b.highWatermark);
    const left = a.batches.filter((batch) => batch.baseOffset < common);
    const right = b.batches.filter((batch) => batch.baseOffset < common);
    if (left.length !== right.length)
      return `brokers ${a.brokerId} and ${b.brokerId} hold ${left.length} and ${right.length} batches below offset ${common}`;
    for (let k = 0; k < left.length; k++) {
      const x = left[k] as ReplicaLog['batches'][number];
      const y = right[k] as ReplicaLog['batches'][number];
      if (x.baseOffset !== y.baseOffset || !Buffer.from(x.data).equals(Buffer.from(y.data))) {
        return `brokers ${a.brokerId} and ${b.brokerId} differ at the batch at offset ${x.baseOffset}`;
      }
    }
  }
  return null;
}

function firstGap(records: readonly ReplicaRecord[]): string | null {
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as ReplicaRecord;
    if (record.offset !== i) return `record #${i} has offset ${record.offset}`;
  }
  return null;
}
