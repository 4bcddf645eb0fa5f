/**
 * Quorum arithmetic, as pure functions over member ids: the index a majority has acknowledged
 * (the commit index) and the outcome of an election. A joint configuration needs both halves.
 * An empty majority config agrees with anything (so a non-joint config is a joint config whose
 * outgoing half is empty).
 */
import type { NodeId } from '../types.js';

export type VoteResult = 'pending' | 'lost' | 'won';

/** The acknowledged index of a member, undefined when the member has not answered. */
export type AckedIndex = (id: NodeId) => number | undefined;

/** The largest index acknowledged by a majority of `voters`; +Infinity for an empty config. */
export function majorityCommittedIndex(voters: ReadonlySet<NodeId>, acked: AckedIndex): number {
  if (voters.size === 0) return Number.POSITIVE_INFINITY;
  const indexes: number[] = [];
  for (const id of voters) indexes.push(acked(id) ?? 0);
  indexes.sort((a, b) => b - a);
  const quorum = Math.floor(voters.size / 2) + 1;
  return indexes[quorum - 1] ?? 0;
}

/** The election outcome in `voters` given the votes received (true = granted). */
export function majorityVoteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = Math.floor(voters.size / 2) + 1;
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

/** The commit index of a joint config: what both halves agree on. */
export function jointCommittedIndex(
  incoming: ReadonlySet<NodeId>,
  outgoing: ReadonlySet<NodeId>,
  acked: AckedIndex,
): number {
  return Math.min(majorityCommittedIndex(incoming, acked), majorityCommittedIndex(outgoing, acked));
}

/** A joint election is won when both halves are won and lost when either half is lost. */
export function jointVoteResult(
  incoming: ReadonlySet<NodeId>,
  outgoing: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const a = majorityVoteResult(incoming, votes);
  const b = majorityVoteResult(outgoing, votes);
  if (a === b) return a;
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}
