import { describe, expect, it } from 'vitest';
import { History } from '../history/history.js';
import { checkGroup } from './group-checker.js';

/** A history whose clock the test moves by hand. */
function history(): { history: History; at: (ms: number) => void } {
  let now = 0;
  return { history: new History(() => now), at: (ms) => (now = ms) };
}

function acked(h: History, value: string, offset: number, partition = 0): void {
  const op = h.invokeProduce(0, value, 't', partition);
  h.completeProduce(op!, { kind: 'ok', partition, offset });
}

function polled(h: History, member: number, offset: number, value: string, partition = 0): void {
  h.groupPoll({ member, topic: 't', partition, offset, value });
}

function commit(
  h: History,
  member: number,
  offset: number,
  outcome: 'ok' | 'FENCED_MEMBER_EPOCH',
  partition = 0,
): void {
  const op = h.invokeGroupCommit(member, 't', partition, offset)!;
  h.completeGroupCommit(op, outcome === 'ok' ? { kind: 'ok' } : { kind: 'refused', code: outcome });
}

const input = { topic: 't', finalCommitted: new Map([[0, 2]]), durable: true };

describe('group checker', () => {
  it('a clean hand-over passes: revoke, then the next owner starts at the commit', () => {
    const { history: h, at } = history();
    acked(h, 'a', 0);
    acked(h, 'b', 1);
    at(10);
    h.groupCallback({ member: 0, kind: 'assigned', topic: 't', partitions: [0] });
    at(20);
    polled(h, 0, 0, 'a');
    commit(h, 0, 1, 'ok');
    at(30);
    h.groupCallback({ member: 0, kind: 'revoked', topic: 't', partitions: [0] });
    at(40);
    h.groupCallback({ member: 1, kind: 'assigned', topic: 't', partitions: [0] });
    at(50);
    polled(h, 1, 1, 'b');
    commit(h, 1, 2, 'ok');
    const result = checkGroup(h, input);
    expect(result.violations).toEqual([]);
    expect(result.counts).toMatchObject({ groupAcked: 2, groupProcessed: 2, commitsAcked: 2, members: 2 });
  });

  it('finds an acknowledged record never processed', () => {
    const { history: h } = history();
    acked(h, 'a', 0);
    acked(h, 'b', 1);
    polled(h, 0, 0, 'a');
    const result = checkGroup(h, { ...input, finalCommitted: null });
    expect(result.counts.groupUnprocessed).toBe(1);
    expect(result.violations.join('\n')).toMatch(/^groupUnprocessed: 1/m);
    expect(result.examples.join('\n')).toMatch(/unprocessed: b acknowledged at t\/0@1/);
  });

  it('finds two owners at once, but not a fenced member still reading (its commits are refused)', () => {
    const { history: h, at } = history();
    at(10);
    h.groupCallback({ member: 0, kind: 'assigned', topic: 't', partitions: [0, 1] });
    at(20);
    h.groupCallback({ member: 1, kind: 'assigned', topic: 't', partitions: [0] });
    at(30);
    h.groupCallback({ member: 0, kind: 'revoked', topic: 't', partitions: [0] });
    h.groupCallback({ member: 2, kind: 'assigned', topic: 't', partitions: [1] });
    at(40);
    commit(h, 0, 5, 'FENCED_MEMBER_EPOCH', 1);
    h.groupCallback({ member: 0, kind: 'lost', topic: 't', partitions: [1] });
    const result = checkGroup(h, { ...input, finalCommitted: null });
    expect(result.counts.ownershipOverlaps).toBe(1);
    expect(result.counts.fencedCommitsAccepted).toBe(0);
    expect(result.violations).toEqual(['groupOwnership: 1 times a partition had two owners at once']);
    expect(result.examples[0]).toMatch(/two owners: t\/0 owned by member 0 \[10, 30 revoked\] and member 1/);
  });

  it("finds a fenced member's commit accepted after another member was given the partition", () => {
    const { history: h, at } = history();
    at(10);
    h.groupCallback({ member: 0, kind: 'assigned', topic: 't', partitions: [0] });
    at(20);
    h.groupCallback({ member: 1, kind: 'assigned', topic: 't', partitions: [0] });
    at(30);
    commit(h, 0, 2, 'ok');
    at(40);
    h.groupCallback({ member: 0, kind: 'lost', topic: 't', partitions: [0] });
    const result = checkGroup(h, input);
    expect(result.counts.fencedCommitsAccepted).toBe(1);
    expect(result.violations).toEqual(['groupFencedCommit: 1 commits of fenced members were accepted']);
  });

  it('finds a commit going backward and a new owner starting below an acknowledged commit', () => {
    const { history: h, at } = history();
    at(10);
    h.groupCallback({ member: 0, kind: 'assigned', topic: 't', partitions: [0] });
    commit(h, 0, 5, 'ok');
    at(20);
    h.groupCallback({ member: 0, kind: 'revoked', topic: 't', partitions: [0] });
    at(30);
    h.groupCallback({ member: 1, kind: 'assigned', topic: 't', partitions: [0] });
    at(40);
    polled(h, 1, 3, 'd');
    commit(h, 1, 4, 'ok');
    const result = checkGroup(h, { ...input, finalCommitted: new Map([[0, 4]]) });
    expect(result.counts.commitsBackward).toBe(1);
    // Member 1 started at 3 below the commit 5, and the final offset 4 is below 5.
    expect(result.counts.commitsLost).toBe(2);
    expect(result.violations).toEqual([
      'groupCommitBackward: 1 committed offsets went backward',
      'groupCommitLost: 2 acknowledged commits were lost',
    ]);
  });

  it('loss and backward commits are measured, not violations, without durability', () => {
    const { history: h } = history();
    acked(h, 'a', 0);
    commit(h, 0, 5, 'ok');
    const result = checkGroup(h, { topic: 't', finalCommitted: new Map([[0, 1]]), durable: false });
    expect(result.counts.commitsLost).toBe(1);
    expect(result.counts.groupUnprocessed).toBe(1);
    expect(result.violations).toEqual([]);
  });
});
