import { Role } from '@streambus/raft';
import type { HostGroupStatus, NodeId, ProgressStatus } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import { promoteLagEntriesMax } from './constants.js';
import { planMembershipStep } from './reconfigurer.js';

interface Shape {
  voters: NodeId[];
  learners?: NodeId[];
  /** match per member (default: lastIndex, i.e. caught up). */
  match?: Record<number, number>;
  inactive?: NodeId[];
  role?: Role;
  leadTransferee?: NodeId;
  outgoing?: NodeId[];
}

const lastIndex = 1_000;

function status(shape: Shape): HostGroupStatus {
  const learners = shape.learners ?? [];
  const progress = new Map<NodeId, ProgressStatus>();
  for (const id of [...shape.voters, ...learners]) {
    progress.set(id, {
      match: shape.match?.[id] ?? lastIndex,
      next: lastIndex + 1,
      state: 'replicate',
      inflightMessages: 0,
      recentActive: !(shape.inactive ?? []).includes(id),
      isLearner: learners.includes(id),
    });
  }
  return {
    id: 1,
    hardState: { term: 3, vote: 1, commit: lastIndex },
    role: shape.role ?? Role.leader,
    leaderId: 1,
    applied: lastIndex,
    lastIndex,
    confState: { voters: shape.voters, learners, votersOutgoing: shape.outgoing ?? [], learnersNext: [], autoLeave: false },
    progress,
    leadTransferee: shape.leadTransferee ?? 0,
    repairIndex: 0,
    quiesced: false,
    proposalsPending: 0,
  };
}

describe('planMembershipStep (leader 1)', () => {
  it('walks {1,2,3} to {1,2,4}: add learner, promote once caught up, then remove', () => {
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3] }))).toEqual({ kind: 'addLearner', nodeId: 4 });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3], learners: [4], match: { 4: 10 } }))).toMatchObject({ kind: 'wait' });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3], learners: [4], match: { 4: lastIndex - promoteLagEntriesMax } }))).toEqual({ kind: 'promote', nodeId: 4 });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3, 4] }))).toEqual({ kind: 'remove', nodeId: 3 });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 4] }))).toEqual({ kind: 'done' });
  });

  it('does not promote a learner it has not heard from recently', () => {
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3], learners: [4], inactive: [4] }))).toMatchObject({ kind: 'wait' });
  });

  it('removes nothing while a target replica is not yet a voter (the group never shrinks below the target)', () => {
    expect(planMembershipStep(1, [1, 4, 5], status({ voters: [1, 2, 3, 4], learners: [5], match: { 5: 0 } }))).toMatchObject({ kind: 'wait' });
    expect(planMembershipStep(1, [1, 4, 5], status({ voters: [1, 2, 3, 4] }))).toEqual({ kind: 'addLearner', nodeId: 5 });
  });

  it('a leader leaving the group hands leadership to a caught-up target voter (the preferred first) and never removes itself', () => {
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4] }))).toEqual({ kind: 'transfer', to: 2 });
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4], match: { 2: 5 } }))).toEqual({ kind: 'transfer', to: 3 });
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4], inactive: [2, 3, 4] }))).toMatchObject({ kind: 'wait' });
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4], leadTransferee: 2 }))).toMatchObject({ kind: 'wait' });
  });

  it('removes other voters before learners, and stale learners last', () => {
    expect(planMembershipStep(1, [1, 2], status({ voters: [1, 2, 3], learners: [5] }))).toEqual({ kind: 'remove', nodeId: 3 });
    expect(planMembershipStep(1, [1, 2], status({ voters: [1, 2], learners: [5] }))).toEqual({ kind: 'remove', nodeId: 5 });
  });

  it('shrinks and grows: {1,2,3} -> {1,2} -> {1,2,4}', () => {
    expect(planMembershipStep(1, [1, 2], status({ voters: [1, 2, 3] }))).toEqual({ kind: 'remove', nodeId: 3 });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2] }))).toEqual({ kind: 'addLearner', nodeId: 4 });
  });

  it('waits when not leading or in a joint configuration', () => {
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3], role: Role.follower }))).toMatchObject({ kind: 'wait' });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 4], outgoing: [1, 2, 3] }))).toMatchObject({ kind: 'wait' });
  });
});
