import { describe, expect, it } from 'vitest';
import { History } from '../history/history.js';
import { check } from './checker.js';
import type { PartitionFinalState, ReplicaLog } from './final-state.js';

const all = { acksAll: true, idempotent: true, durable: true };

/** A replica holding `values` at offsets 0.., one single-record batch each (bytes: the value). */
function replica(brokerId: number, values: readonly string[], highWatermark = values.length): ReplicaLog {
  return {
    brokerId,
    highWatermark,
    batches: values.map((value, offset) => ({ baseOffset: offset, lastOffset: offset, data: Buffer.from(value) })),
    records: values.map((value, offset) => ({ offset, value })),
    corrupt: false,
  };
}

function state(...replicas: ReplicaLog[]): PartitionFinalState[] {
  return [{ topic: 't', partition: 0, groupId: 1, replicas }];
}

function acked(history: History, value: string, offset: number): void {
  const op = history.invokeProduce(0, value, 't', 0);
  history.completeProduce(op!, { kind: 'ok', partition: 0, offset });
}

describe('checkers', () => {
  it('a clean history passes every check', () => {
    const history = new History();
    acked(history, 'a', 0);
    acked(history, 'b', 1);
    const op = history.invokeProduce(0, 'c', 't', 0)!;
    history.completeProduce(op, { kind: 'unknown', error: 'timeout' });
    history.read({ reader: 0, topic: 't', partition: 0, offset: 0, value: 'a', highWatermark: 2, brokerId: 1 });
    history.read({ reader: 0, topic: 't', partition: 0, offset: 1, value: 'b', highWatermark: 2, brokerId: 1 });
    history.leaderClaim(1, 3, 1);
    history.leaderClaim(1, 4, 2);
    const result = check(history, state(replica(1, ['a', 'b', 'c']), replica(2, ['a', 'b', 'c'])), all);
    expect(result.violations).toEqual([]);
    expect(result.counts).toMatchObject({
      acked: 2,
      unknown: 1,
      unknownLanded: 1,
      lost: 0,
      duplicated: 0,
      divergence: 0,
    });
  });

  it('finds a lost acknowledged record and a moved one', () => {
    const history = new History();
    acked(history, 'a', 0);
    acked(history, 'b', 1);
    acked(history, 'c', 2);
    const result = check(history, state(replica(1, ['a', 'c'])), all);
    expect(result.counts.lost).toBe(1);
    expect(result.counts.offsetMismatch).toBe(1);
    expect(result.violations.join('\n')).toMatch(/^lost: 1/m);
  });

  it('loss is measured, not a violation, with acks=leader', () => {
    const history = new History();
    acked(history, 'a', 0);
    const result = check(history, state(replica(1, [])), { acksAll: false, idempotent: false, durable: true });
    expect(result.counts.lost).toBe(1);
    expect(result.violations).toEqual([]);
  });

  it('finds duplicates, gaps and divergent replicas', () => {
    const history = new History();
    const final = state(replica(1, ['a', 'b', 'a']), replica(2, ['a', 'x', 'a']));
    const result = check(history, final, all);
    expect(result.counts.duplicated).toBe(1);
    expect(result.counts.divergence).toBe(1);
    const gappy: PartitionFinalState[] = [
      {
        topic: 't',
        partition: 0,
        groupId: 1,
        replicas: [
          {
            ...replica(1, ['a', 'b']),
            records: [
              { offset: 0, value: 'a' },
              { offset: 2, value: 'b' },
            ],
          },
        ],
      },
    ];
    expect(check(history, gappy, all).counts.offsetGaps).toBe(1);
  });

  it('replicas that differ only above their common high watermark agree', () => {
    const result = check(new History(), state(replica(1, ['a', 'b', 'c']), replica(2, ['a', 'b'], 2)), all);
    expect(result.counts.divergence).toBe(0);
  });

  it('finds reads above the high watermark, rolled back or out of order', () => {
    const history = new History();
    history.read({ reader: 0, topic: 't', partition: 0, offset: 0, value: 'a', highWatermark: 0, brokerId: 1 });
    history.read({ reader: 0, topic: 't', partition: 0, offset: 2, value: 'z', highWatermark: 5, brokerId: 1 });
    const result = check(history, state(replica(1, ['a', 'b', 'c'])), all);
    expect(result.counts.readAboveHighWatermark).toBe(1);
    expect(result.counts.readRolledBack).toBe(1);
    expect(result.counts.readOutOfOrder).toBe(1);
  });

  it('finds two leaders in one term', () => {
    const history = new History();
    history.leaderClaim(1, 7, 1);
    history.leaderClaim(1, 7, 2);
    const result = check(history, state(replica(1, [])), all);
    expect(result.counts.leaderConflicts).toBe(1);
    expect(result.violations.join()).toMatch(/two leaders|leaderConflicts/);
  });
});

describe('checkers of polling consumers and mixed senders (Jepsen-style anomalies)', () => {
  /** Consumer 0 returns `offsets` of t/0 in one poll each, values from `log` (or `v<offset>`). */
  function polled(history: History, offsets: readonly number[], log: readonly string[]): void {
    offsets.forEach((offset, i) =>
      history.poll({ consumer: 0, topic: 't', partition: 0, offset, value: log[offset] ?? `v${offset}`, poll: i + 1 }),
    );
  }

  it('a consumer that returns every offset once, in order, passes', () => {
    const history = new History();
    const log = ['a', 'b', 'c'];
    polled(history, [0, 1, 2], log);
    const result = check(history, state(replica(1, log)), all);
    expect(result.counts).toMatchObject({ polls: 3, pollNonMonotonic: 0, pollSkipped: 0, inconsistentOffsets: 0 });
    expect(result.violations).toEqual([]);
  });

  it('finds a poll that goes back and a poll that skips offsets', () => {
    const history = new History();
    const log = ['a', 'b', 'c', 'd', 'e', 'f'];
    polled(history, [0, 1, 2, 1, 2, 5], log);
    const result = check(history, state(replica(1, log)), all);
    expect(result.counts.pollNonMonotonic).toBe(1);
    expect(result.counts.pollSkipped).toBe(1);
    expect(result.examples.join('\n')).toMatch(/non-monotonic poll: consumer 0 poll 4 got t\/0@1 after @2/);
    expect(result.examples.join('\n')).toMatch(
      /skipped offsets: consumer 0 poll 6 got t\/0@5 after @2 \(poll 5\): 2 offsets never returned/,
    );
    expect(result.violations.join('\n')).toMatch(/^pollNonMonotonic: 1/m);
    expect(result.violations.join('\n')).toMatch(/^pollSkipped: 1/m);
  });

  it('a consumer whose first poll starts past offset 0 skipped the start of the log', () => {
    const history = new History();
    polled(history, [2, 3], ['a', 'b', 'c', 'd']);
    expect(check(history, state(replica(1, ['a', 'b', 'c', 'd'])), all).counts.pollSkipped).toBe(1);
  });

  it('sequences are per consumer and partition', () => {
    const history = new History();
    history.poll({ consumer: 0, topic: 't', partition: 0, offset: 0, value: 'a', poll: 1 });
    history.poll({ consumer: 1, topic: 't', partition: 0, offset: 0, value: 'a', poll: 1 });
    history.poll({ consumer: 0, topic: 't', partition: 1, offset: 0, value: 'x', poll: 1 });
    history.poll({ consumer: 0, topic: 't', partition: 0, offset: 1, value: 'b', poll: 2 });
    const result = check(
      history,
      [...state(replica(1, ['a', 'b'])), { topic: 't', partition: 1, groupId: 2, replicas: [replica(1, ['x'])] }],
      all,
    );
    expect(result.counts).toMatchObject({ pollNonMonotonic: 0, pollSkipped: 0 });
  });

  it('finds one offset read with two values, across readers and consumers', () => {
    const history = new History();
    history.read({ reader: 0, topic: 't', partition: 0, offset: 0, value: 'a', highWatermark: 2, brokerId: 1 });
    history.poll({ consumer: 0, topic: 't', partition: 0, offset: 0, value: 'q', poll: 1 });
    history.poll({ consumer: 1, topic: 't', partition: 0, offset: 0, value: 'r', poll: 1 });
    history.poll({ consumer: 0, topic: 't', partition: 0, offset: 1, value: 'b', poll: 2 });
    const result = check(history, state(replica(1, ['a', 'b'])), all);
    expect(result.counts.inconsistentOffsets).toBe(1);
    expect(result.examples.join('\n')).toMatch(/inconsistent offset: t\/0@0 was read as a and, by consumer 0, as q/);
    expect(result.violations.join('\n')).toMatch(/^inconsistentOffsets: 1/m);
  });

  it("duplicates of a non-idempotent sender are measured; an idempotent sender's are violations", () => {
    const history = new History();
    const plain = history.invokeProduce(1, 'p1', 't', 0, false)!;
    history.completeProduce(plain, { kind: 'ok', partition: 0, offset: 0 });
    const exact = history.invokeProduce(0, 'i1', 't', 0, true)!;
    history.completeProduce(exact, { kind: 'ok', partition: 0, offset: 2 });
    const result = check(history, state(replica(1, ['p1', 'p1', 'i1'])), all);
    expect(result.counts).toMatchObject({ duplicated: 0, duplicatedNonIdempotent: 1 });
    expect(result.violations).toEqual([]);
    const twice = check(history, state(replica(1, ['p1', 'p1', 'i1', 'i1'])), all);
    expect(twice.counts).toMatchObject({ duplicated: 1, duplicatedNonIdempotent: 1 });
    expect(twice.violations.join('\n')).toMatch(/^duplicated: 1/m);
  });

  it('an acknowledgement without an offset (DUPLICATE_SEQUENCE, offset -1) is checked for presence only', () => {
    const history = new History();
    acked(history, 'a', 0);
    acked(history, 'b', -1);
    acked(history, 'c', -1);
    const result = check(history, state(replica(1, ['a', 'b'])), all);
    expect(result.counts).toMatchObject({ acked: 3, ackedWithoutOffset: 2, offsetMismatch: 0, lost: 1 });
    expect(result.examples.join('\n')).toMatch(/lost: c acknowledged at t\/0@-1/);
  });

  it('counts acknowledged, failed and unknown sends separately', () => {
    const history = new History();
    acked(history, 'a', 0);
    history.completeProduce(history.invokeProduce(0, 'b', 't', 0)!, { kind: 'failed', error: 'INVALID_REQUEST: no' });
    history.completeProduce(history.invokeProduce(0, 'c', 't', 0)!, { kind: 'unknown', error: 'cli timed out' });
    history.invokeProduce(0, 'd', 't', 0); // never completed: unknown
    const result = check(history, state(replica(1, ['a', 'c'])), all);
    expect(result.counts).toMatchObject({ acked: 1, failed: 1, unknown: 2, unknownLanded: 1, lost: 0 });
  });
});

describe('checkers without durability', () => {
  it('measure loss and two leaders per term but still flag reads above the high watermark', () => {
    const history = new History();
    acked(history, 'a', 0);
    history.leaderClaim(1, 1, 1);
    history.leaderClaim(1, 1, 2);
    history.read({ reader: 0, topic: 't', partition: 0, offset: 0, value: 'a', highWatermark: 0, brokerId: 1 });
    const result = check(history, state(replica(1, [])), { acksAll: true, idempotent: true, durable: false });
    expect(result.counts.lost).toBe(1);
    expect(result.counts.leaderConflicts).toBe(1);
    expect(result.violations).toEqual(['readAboveHighWatermark: 1 records served above the high watermark']);
  });
});
