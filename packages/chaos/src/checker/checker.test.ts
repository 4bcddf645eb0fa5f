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
    expect(result.counts).toMatchObject({ acked: 2, unknown: 1, unknownLanded: 1, lost: 0, duplicated: 0, divergence: 0 });
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
    const gappy: PartitionFinalState[] = [{ topic: 't', partition: 0, groupId: 1, replicas: [{ ...replica(1, ['a', 'b']), records: [{ offset: 0, value: 'a' }, { offset: 2, value: 'b' }] }] }];
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
