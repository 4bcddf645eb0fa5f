import { ConfChangeType, ProposalDroppedError, Role } from '@streambus/raft';
import type { ConfChange, GroupId, HostGroupStatus, NodeId, ProgressStatus, ProposalReceipt } from '@streambus/raft';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { confChangeWaitMsMax, promoteLagEntriesMax } from './constants.js';
import { planMembershipStep, Reconfigurer } from './reconfigurer.js';
import type { ReconfigurerHost } from './reconfigurer.js';

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
    confState: {
      voters: shape.voters,
      learners,
      votersOutgoing: shape.outgoing ?? [],
      learnersNext: [],
      autoLeave: false,
    },
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
    expect(
      planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3], learners: [4], match: { 4: 10 } })),
    ).toMatchObject({ kind: 'wait' });
    expect(
      planMembershipStep(
        1,
        [1, 2, 4],
        status({ voters: [1, 2, 3], learners: [4], match: { 4: lastIndex - promoteLagEntriesMax } }),
      ),
    ).toEqual({ kind: 'promote', nodeId: 4 });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3, 4] }))).toEqual({ kind: 'remove', nodeId: 3 });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 4] }))).toEqual({ kind: 'done' });
  });

  it('does not promote a learner it has not heard from recently', () => {
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3], learners: [4], inactive: [4] }))).toMatchObject(
      { kind: 'wait' },
    );
  });

  it('removes nothing while a target replica is not yet a voter (the group never shrinks below the target)', () => {
    expect(
      planMembershipStep(1, [1, 4, 5], status({ voters: [1, 2, 3, 4], learners: [5], match: { 5: 0 } })),
    ).toMatchObject({ kind: 'wait' });
    expect(planMembershipStep(1, [1, 4, 5], status({ voters: [1, 2, 3, 4] }))).toEqual({
      kind: 'addLearner',
      nodeId: 5,
    });
  });

  it('a leader leaving the group hands leadership to a caught-up target voter (the preferred first) and never removes itself', () => {
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4] }))).toEqual({ kind: 'transfer', to: 2 });
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4], match: { 2: 5 } }))).toEqual({
      kind: 'transfer',
      to: 3,
    });
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4], inactive: [2, 3, 4] }))).toMatchObject({
      kind: 'wait',
    });
    expect(planMembershipStep(1, [2, 3, 4], status({ voters: [1, 2, 3, 4], leadTransferee: 2 }))).toMatchObject({
      kind: 'wait',
    });
  });

  it('removes other voters before learners, and stale learners last', () => {
    expect(planMembershipStep(1, [1, 2], status({ voters: [1, 2, 3], learners: [5] }))).toEqual({
      kind: 'remove',
      nodeId: 3,
    });
    expect(planMembershipStep(1, [1, 2], status({ voters: [1, 2], learners: [5] }))).toEqual({
      kind: 'remove',
      nodeId: 5,
    });
  });

  it('shrinks and grows: {1,2,3} -> {1,2} -> {1,2,4}', () => {
    expect(planMembershipStep(1, [1, 2], status({ voters: [1, 2, 3] }))).toEqual({ kind: 'remove', nodeId: 3 });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2] }))).toEqual({ kind: 'addLearner', nodeId: 4 });
  });

  it('waits when not leading or in a joint configuration', () => {
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 3], role: Role.follower }))).toMatchObject({
      kind: 'wait',
    });
    expect(planMembershipStep(1, [1, 2, 4], status({ voters: [1, 2, 4], outgoing: [1, 2, 3] }))).toMatchObject({
      kind: 'wait',
    });
  });
});

/** A host whose group 7 this broker (1) leads; proposals wait until the test settles them. */
class FakeHost implements ReconfigurerHost {
  shape: Shape = { voters: [1, 2, 3] };
  readonly proposed: ConfChange[] = [];
  readonly transfers: NodeId[] = [];
  statusCalls = 0;
  private settle: { resolve: (receipt: ProposalReceipt) => void; reject: (error: Error) => void } | null = null;
  hasGroup(groupId: GroupId): boolean {
    return groupId === 7;
  }
  roleOf(): Role {
    return this.shape.role ?? Role.leader;
  }
  isLeader(groupId: GroupId): boolean {
    return this.hasGroup(groupId) && this.roleOf() === Role.leader;
  }
  status(): HostGroupStatus {
    this.statusCalls += 1;
    return status(this.shape);
  }
  proposeConfChange(_groupId: GroupId, change: ConfChange): Promise<ProposalReceipt> {
    this.proposed.push(change);
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }
  transferLeadership(_groupId: GroupId, to: NodeId): void {
    this.transfers.push(to);
  }
  /** Applies (or fails) the pending proposal. */
  async finish(shape: Shape | Error): Promise<void> {
    const settle = this.settle;
    this.settle = null;
    if (shape instanceof Error) settle?.reject(shape);
    else {
      this.shape = shape;
      settle?.resolve({ index: 1, term: 1 });
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('Reconfigurer', () => {
  const silent = pino({ level: 'silent' });
  const changes = (host: FakeHost): string[] =>
    host.proposed.map(
      (c) =>
        `${c.changes.map((one) => `${one.type === ConfChangeType.addLearner ? 'learner' : one.type === ConfChangeType.addVoter ? 'voter' : 'remove'} ${one.nodeId}`).join()}`,
    );

  it('proposes one change at a time, each after the previous one applied, and then leaves the group alone', async () => {
    const host = new FakeHost();
    const reconfigurer = new Reconfigurer(1, host, silent);
    const target = [{ groupId: 7, replicas: [1, 2, 4] }];
    reconfigurer.run(target);
    reconfigurer.run(target);
    expect(changes(host)).toEqual(['learner 4']);
    await host.finish({ voters: [1, 2, 3], learners: [4] });
    reconfigurer.run(target);
    await host.finish({ voters: [1, 2, 3, 4] });
    reconfigurer.run(target);
    await host.finish({ voters: [1, 2, 4] });
    reconfigurer.run(target);
    expect(changes(host)).toEqual(['learner 4', 'voter 4', 'remove 3']);
    const calls = host.statusCalls;
    reconfigurer.run(target);
    reconfigurer.run(target);
    expect(host.statusCalls).toBe(calls);
  });

  it('a target that goes back while a step is in flight is followed back ({1,2,3} -> {1,2} -> {1,2,3}; chaos seed 798619)', async () => {
    const host = new FakeHost();
    host.shape = { voters: [1, 2, 3] };
    const reconfigurer = new Reconfigurer(1, host, silent);
    reconfigurer.run([{ groupId: 7, replicas: [1, 2, 3] }]);
    expect(changes(host)).toEqual([]);
    reconfigurer.run([{ groupId: 7, replicas: [1, 2] }]);
    expect(changes(host)).toEqual(['remove 3']);
    // The controller takes 3 back before the removal is applied.
    reconfigurer.run([{ groupId: 7, replicas: [1, 2, 3] }]);
    await host.finish({ voters: [1, 2] });
    reconfigurer.run([{ groupId: 7, replicas: [1, 2, 3] }]);
    expect(changes(host)).toEqual(['remove 3', 'learner 3']);
  });

  it('retries a step whose proposal failed, and gives up waiting on one never reported', async () => {
    let nowMs = 0;
    const host = new FakeHost();
    const reconfigurer = new Reconfigurer(1, host, silent, () => nowMs);
    const target = [{ groupId: 7, replicas: [1, 2, 4] }];
    reconfigurer.run(target);
    await host.finish(new ProposalDroppedError('a membership change is already pending'));
    reconfigurer.run(target);
    expect(changes(host)).toEqual(['learner 4', 'learner 4']);
    nowMs += confChangeWaitMsMax - 1;
    reconfigurer.run(target);
    expect(host.proposed).toHaveLength(2);
    nowMs += 1;
    reconfigurer.run(target);
    expect(host.proposed).toHaveLength(3);
  });

  it('a leader that must leave asks for a transfer and proposes nothing', () => {
    const host = new FakeHost();
    host.shape = { voters: [1, 2, 3, 4] };
    new Reconfigurer(1, host, silent).run([{ groupId: 7, replicas: [2, 3, 4] }]);
    expect(host.transfers).toEqual([2]);
    expect(host.proposed).toEqual([]);
  });
});
