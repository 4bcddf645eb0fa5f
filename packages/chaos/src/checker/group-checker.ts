/**
 * Checks of the consumer-group workload over a run's history (issue 11):
 * - every acknowledged record of the topic was processed (polled by a member) at least once;
 * - no partition was owned by two members at once, as the members report it through their
 *   rebalance callbacks (assigned opens an ownership, revoked closes it);
 * - a fenced member's commit is refused: no commit of a partition is acknowledged when the member
 *   sent it after another member had been given that partition since its own assignment;
 * - committed offsets never go backward (the workload never resets them) and no acknowledged
 *   commit is lost: a new owner starts at or above every commit acknowledged before it was given
 *   the partition, and the group's final offsets are at or above every acknowledged commit.
 *
 * A member that lost its partitions (fenced, or its session ran out) may still have processed
 * some records after the coordinator gave them away: KIP-848's zombie window, which the epochs
 * make harmless by refusing its commits. Its ownership is therefore not compared with the next
 * owner's (the fenced-commit check covers it).
 */
import type { GroupCallbackEvent, History } from '../history/history.js';

export interface GroupCheckCounts {
  readonly members: number;
  /** Acknowledged records of the topic (with an offset) and how many a member processed. */
  readonly groupAcked: number;
  readonly groupProcessed: number;
  /** Acknowledged records no member ever processed. */
  readonly groupUnprocessed: number;
  /** Records processed more than once (at-least-once: measured, allowed). */
  readonly groupReprocessed: number;
  readonly callbacks: number;
  /** Pairs of ownerships of one partition by two members that overlap in time. */
  readonly ownershipOverlaps: number;
  readonly commitsAcked: number;
  readonly commitsRefused: number;
  readonly commitsUnknown: number;
  /** Commits acknowledged although another member had been given the partition since the committer's assignment. */
  readonly fencedCommitsAccepted: number;
  /** Acknowledged commits below a commit of the partition acknowledged before they were sent. */
  readonly commitsBackward: number;
  /** New owners that started below an acknowledged commit, and final offsets below one. */
  readonly commitsLost: number;
}

export interface GroupCheckResult {
  readonly counts: GroupCheckCounts;
  readonly violations: string[];
  readonly examples: string[];
  /** Refused commits by error code (expected ones: fenced members, coordinator moves). */
  readonly refusedByCode: ReadonlyMap<string, number>;
}

export interface GroupCheckInput {
  readonly topic: string;
  /** The group's committed offset per partition at the end (from OffsetFetch), or null if unknown. */
  readonly finalCommitted: ReadonlyMap<number, number> | null;
  /** Loss of acknowledged records or commits is a violation (acks=all and a durable sync policy). */
  readonly durable: boolean;
}

interface Ownership {
  readonly member: number;
  readonly partition: number;
  readonly startMs: number;
  endMs: number;
  end: 'revoked' | 'lost' | 'open';
}

const examplesPerCheck = 3;

export function checkGroup(history: History, input: GroupCheckInput): GroupCheckResult {
  const examples: string[] = [];
  const example = (counter: { n: number }, line: string): void => {
    counter.n += 1;
    if (counter.n <= examplesPerCheck) examples.push(line);
  };
  const { topic } = input;

  // At least once: every acknowledged value was polled by some member.
  const processedTimes = new Map<string, number>();
  for (const polled of history.groupPolls)
    if (polled.topic === topic) processedTimes.set(polled.value, (processedTimes.get(polled.value) ?? 0) + 1);
  const unprocessed = { n: 0 };
  let groupAcked = 0;
  let groupProcessed = 0;
  let groupReprocessed = 0;
  for (const op of history.produces) {
    if (op.topic !== topic || op.outcome?.kind !== 'ok') continue;
    groupAcked += 1;
    const times = processedTimes.get(op.value) ?? 0;
    if (times === 0)
      example(
        unprocessed,
        `unprocessed: ${op.value} acknowledged at ${topic}/${op.outcome.partition}@${op.outcome.offset} (t=${op.completedMs} ms) was never processed by the group`,
      );
    else groupProcessed += 1;
    if (times > 1) groupReprocessed += 1;
  }

  // Ownerships from the callbacks, member by member in time order.
  const ownerships = ownershipsOf(history.groupCallbacks, topic, history);
  const overlaps = { n: 0 };
  const byPartition = new Map<number, Ownership[]>();
  for (const own of ownerships) byPartition.set(own.partition, [...(byPartition.get(own.partition) ?? []), own]);
  for (const [partition, list] of byPartition) {
    for (let i = 0; i < list.length; i++) {
      for (let k = i + 1; k < list.length; k++) {
        const a = list[i] as Ownership;
        const b = list[k] as Ownership;
        if (a.member === b.member || a.end === 'lost' || b.end === 'lost') continue;
        if (a.startMs < b.endMs && b.startMs < a.endMs)
          example(
            overlaps,
            `two owners: ${topic}/${partition} owned by member ${a.member} [${a.startMs}, ${describeEnd(a)}] and member ${b.member} [${b.startMs}, ${describeEnd(b)}] ms`,
          );
      }
    }
  }

  // Commits: fenced ones refused, never backward, never lost.
  const fenced = { n: 0 };
  const backward = { n: 0 };
  const lost = { n: 0 };
  let commitsAcked = 0;
  let commitsRefused = 0;
  let commitsUnknown = 0;
  const refusedByCode = new Map<string, number>();
  const ackedCommits = history.groupCommits.filter((op) => op.topic === topic && op.outcome?.kind === 'ok');
  for (const op of history.groupCommits) {
    if (op.topic !== topic) continue;
    const outcome = op.outcome;
    if (outcome === null || outcome.kind === 'unknown') {
      commitsUnknown += 1;
      continue;
    }
    if (outcome.kind === 'refused') {
      commitsRefused += 1;
      refusedByCode.set(outcome.code, (refusedByCode.get(outcome.code) ?? 0) + 1);
      continue;
    }
    commitsAcked += 1;
    const list = byPartition.get(op.partition) ?? [];
    const own = latestStartedBy(list, op.member, op.invokedMs);
    const since = list.find(
      (other) =>
        other.member !== op.member &&
        other.startMs < op.invokedMs &&
        (own === undefined || other.startMs > own.startMs),
    );
    if (since !== undefined)
      example(
        fenced,
        `fenced commit accepted: member ${op.member} committed ${topic}/${op.partition}@${op.offset} at t=${op.invokedMs} ms (acknowledged at ${op.completedMs}) after member ${since.member} was given the partition at t=${since.startMs} ms`,
      );
    const before = ackedCommits.filter(
      (other) => other.partition === op.partition && other.completedMs < op.invokedMs && other.offset > op.offset,
    );
    const highest = before.reduce<(typeof before)[number] | undefined>(
      (best, other) => (best === undefined || other.offset > best.offset ? other : best),
      undefined,
    );
    if (highest !== undefined)
      example(
        backward,
        `commit backward: member ${op.member} committed ${topic}/${op.partition}@${op.offset} (t=${op.invokedMs} ms) after member ${highest.member}'s @${highest.offset} was acknowledged (t=${highest.completedMs} ms)`,
      );
  }
  for (const own of ownerships) {
    const first = history.groupPolls.find(
      (polled) =>
        polled.member === own.member &&
        polled.topic === topic &&
        polled.partition === own.partition &&
        polled.atMs >= own.startMs &&
        polled.atMs <= own.endMs,
    );
    if (first === undefined) continue;
    const floor = highestOffset(
      ackedCommits.filter((op) => op.partition === own.partition && op.completedMs < own.startMs),
    );
    if (floor !== undefined && first.offset < floor.offset)
      example(
        lost,
        `commit lost: member ${own.member}, given ${topic}/${own.partition} at t=${own.startMs} ms, started at @${first.offset} below member ${floor.member}'s commit @${floor.offset} acknowledged at t=${floor.completedMs} ms`,
      );
  }
  if (input.finalCommitted !== null) {
    const partitions = new Set(ackedCommits.map((op) => op.partition));
    for (const partition of partitions) {
      const highest = highestOffset(ackedCommits.filter((op) => op.partition === partition));
      const final = input.finalCommitted.get(partition) ?? -1;
      if (highest !== undefined && final < highest.offset)
        example(
          lost,
          `commit lost: the group's final offset of ${topic}/${partition} is ${final}, below member ${highest.member}'s commit @${highest.offset} acknowledged at t=${highest.completedMs} ms`,
        );
    }
  }

  const counts: GroupCheckCounts = {
    members: new Set(history.groupCallbacks.map((event) => event.member)).size,
    groupAcked,
    groupProcessed,
    groupUnprocessed: unprocessed.n,
    groupReprocessed,
    callbacks: history.groupCallbacks.length,
    ownershipOverlaps: overlaps.n,
    commitsAcked,
    commitsRefused,
    commitsUnknown,
    fencedCommitsAccepted: fenced.n,
    commitsBackward: backward.n,
    commitsLost: lost.n,
  };
  const violations: string[] = [];
  if (history.groupDropped > 0)
    violations.push(`groupHistory: ${history.groupDropped} group events over the history bounds (checks incomplete)`);
  if (input.durable && counts.groupUnprocessed > 0)
    violations.push(`groupUnprocessed: ${counts.groupUnprocessed} acknowledged records never processed by the group`);
  if (counts.ownershipOverlaps > 0)
    violations.push(`groupOwnership: ${counts.ownershipOverlaps} times a partition had two owners at once`);
  if (counts.fencedCommitsAccepted > 0)
    violations.push(`groupFencedCommit: ${counts.fencedCommitsAccepted} commits of fenced members were accepted`);
  if (input.durable && counts.commitsBackward > 0)
    violations.push(`groupCommitBackward: ${counts.commitsBackward} committed offsets went backward`);
  if (input.durable && counts.commitsLost > 0)
    violations.push(`groupCommitLost: ${counts.commitsLost} acknowledged commits were lost`);
  return { counts, violations, examples, refusedByCode };
}

/**
 * Ownership intervals per member and partition: `assigned` opens, `revoked` or `lost` closes.
 * One still open at the end closes at the member's last recorded poll or callback.
 */
function ownershipsOf(callbacks: readonly GroupCallbackEvent[], topic: string, history: History): Ownership[] {
  const out: Ownership[] = [];
  const open = new Map<string, Ownership>();
  const lastSeenMs = new Map<number, number>();
  for (const event of callbacks) lastSeenMs.set(event.member, Math.max(lastSeenMs.get(event.member) ?? 0, event.atMs));
  for (const polled of history.groupPolls)
    lastSeenMs.set(polled.member, Math.max(lastSeenMs.get(polled.member) ?? 0, polled.atMs));
  for (const event of callbacks) {
    if (event.topic !== topic) continue;
    for (const partition of event.partitions) {
      const key = `${event.member}/${partition}`;
      if (event.kind === 'assigned') {
        if (open.has(key)) continue;
        const own: Ownership = { member: event.member, partition, startMs: event.atMs, endMs: Infinity, end: 'open' };
        open.set(key, own);
        out.push(own);
        continue;
      }
      const own = open.get(key);
      if (own === undefined) continue;
      own.endMs = event.atMs;
      own.end = event.kind;
      open.delete(key);
    }
  }
  for (const own of open.values()) own.endMs = lastSeenMs.get(own.member) ?? own.startMs;
  return out;
}

function latestStartedBy(list: readonly Ownership[], member: number, atMs: number): Ownership | undefined {
  let best: Ownership | undefined;
  for (const own of list)
    if (own.member === member && own.startMs <= atMs && (best === undefined || own.startMs > best.startMs)) best = own;
  return best;
}

function highestOffset<T extends { readonly offset: number }>(list: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const item of list) if (best === undefined || item.offset > best.offset) best = item;
  return best;
}

function describeEnd(own: Ownership): string {
  return own.end === 'open' ? `${own.endMs} (still owned)` : `${own.endMs} ${own.end}`;
}
