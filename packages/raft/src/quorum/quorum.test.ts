import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jointCommittedIndex, jointVoteResult, majorityCommittedIndex, majorityVoteResult } from './quorum.js';
import type { VoteResult } from './quorum.js';

// Deliberately dumb references: try every candidate index / every completion of the missing votes.
function referenceCommitted(voters: readonly number[], acked: ReadonlyMap<number, number>): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  let best = 0;
  const candidates = [0, ...voters.map((id) => acked.get(id) ?? 0)];
  for (const index of candidates) {
    const holding = voters.filter((id) => (acked.get(id) ?? 0) >= index).length;
    if (holding * 2 > voters.length && index > best) best = index;
  }
  return best;
}

function referenceVote(voters: readonly number[], votes: ReadonlyMap<number, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  const missing = voters.filter((id) => !votes.has(id));
  let wins = 0;
  const completions = 1 << missing.length;
  for (let mask = 0; mask < completions; mask++) {
    const yes = voters.filter((id) =>
      votes.has(id) ? votes.get(id) === true : (mask >> missing.indexOf(id)) & 1,
    ).length;
    if (yes * 2 > voters.length) wins++;
  }
  if (wins === completions) return 'won';
  return wins === 0 ? 'lost' : 'pending';
}

const voterIds = fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { maxLength: 7 });
const ackMap = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 20 })), { maxLength: 9 })
  .map((pairs) => new Map(pairs));
const voteMap = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.boolean()), { maxLength: 9 })
  .map((pairs) => new Map(pairs));

describe('quorum (property, against brute force)', () => {
  it('majority committed index', () => {
    fc.assert(
      fc.property(voterIds, ackMap, (voters, acked) => {
        expect(majorityCommittedIndex(new Set(voters), (id) => acked.get(id))).toBe(referenceCommitted(voters, acked));
      }),
    );
  });

  it('joint committed index is what both halves have', () => {
    fc.assert(
      fc.property(voterIds, voterIds, ackMap, (a, b, acked) => {
        const expected = Math.min(referenceCommitted(a, acked), referenceCommitted(b, acked));
        expect(jointCommittedIndex(new Set(a), new Set(b), (id) => acked.get(id))).toBe(expected);
      }),
    );
  });

  it('majority vote result', () => {
    fc.assert(
      fc.property(voterIds, voteMap, (voters, votes) => {
        expect(majorityVoteResult(new Set(voters), votes)).toBe(referenceVote(voters, votes));
      }),
    );
  });

  it('joint vote result: won iff every completion wins both, lost iff none does', () => {
    fc.assert(
      fc.property(voterIds, voterIds, voteMap, (a, b, votes) => {
        const all = [...new Set([...a, ...b])];
        const missing = all.filter((id) => !votes.has(id));
        let wins = 0;
        for (let mask = 0; mask < 1 << missing.length; mask++) {
          const full = new Map(votes);
          missing.forEach((id, bit) => full.set(id, ((mask >> bit) & 1) === 1));
          if (referenceVote(a, full) === 'won' && referenceVote(b, full) === 'won') wins++;
        }
        const expected = wins === 1 << missing.length ? 'won' : wins === 0 ? 'lost' : 'pending';
        expect(jointVoteResult(new Set(a), new Set(b), votes)).toBe(expected);
      }),
    );
  });

  it('examples', () => {
    expect(majorityCommittedIndex(new Set([1, 2, 3]), (id) => [0, 5, 3, 1][id])).toBe(3);
    expect(majorityCommittedIndex(new Set([1, 2, 3, 4]), (id) => [0, 5, 3, 1, 9][id])).toBe(3);
    expect(jointCommittedIndex(new Set([1, 2, 3]), new Set(), (id) => [0, 5, 3, 1][id])).toBe(3);
    expect(majorityVoteResult(new Set([1, 2, 3]), new Map([[1, true]]))).toBe('pending');
    expect(
      majorityVoteResult(
        new Set([1, 2, 3]),
        new Map([
          [1, false],
          [2, false],
        ]),
      ),
    ).toBe('lost');
  });
});
