import { describe, expect, it } from 'vitest';
import { decodeConfChange, encodeConfChange } from '../confchange/codec.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { ConfChangeTransition, ConfChangeType, MessageType } from '../types.js';
import type { ConfChange, ConfChangeSingle } from '../types.js';
import { TestNetwork, text } from './test-network.js';

const change = (transition: ConfChangeTransition, ...changes: ConfChangeSingle[]): ConfChange => ({
  transition,
  changes,
  context: new Uint8Array(0),
});
const addLearner = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.addLearner, nodeId });
const addVoter = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.addVoter, nodeId });
const remove = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.removeNode, nodeId });

describe('conf change codec', () => {
  it('round-trips', () => {
    const cc: ConfChange = {
      transition: ConfChangeTransition.jointExplicit,
      changes: [addVoter(7), remove(2), addLearner(4294967295)],
      context: text('ctx'),
    };
    const decoded = decodeConfChange(encodeConfChange(cc));
    expect(decoded.transition).toBe(cc.transition);
    expect(decoded.changes).toEqual(cc.changes);
    expect(new TextDecoder().decode(decoded.context)).toBe('ctx');
  });

  it('rejects malformed data as a bug', () => {
    expect(() => decodeConfChange(new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/version/);
  });
});

describe('membership changes', () => {
  it('adds a learner that replicates but does not vote, then promotes it', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(1).propose(text('before'));
    net.add(4, MemoryStorage.withVoters([1, 2, 3]));
    net.node(1).proposeConfChange(change(ConfChangeTransition.auto, addLearner(4)));
    net.stabilize();
    net.tickAll(3);
    expect(net.node(1).status().confState).toMatchObject({ voters: [1, 2, 3], learners: [4] });
    expect(net.node(4).status().confState).toMatchObject({ voters: [1, 2, 3], learners: [4] });
    expect(net.appliedData(4)).toEqual(['before']);
    expect(net.node(1).status().progress.get(4)?.isLearner).toBe(true);
    // A learner never campaigns.
    net.tick(4, 100);
    net.stabilize();
    expect(net.node(4).status().role).toBe('follower');
    expect(net.node(4).status().hardState.term).toBe(1);
    // Two voters down: a learner does not make a quorum.
    net.isolate(2);
    net.isolate(3);
    net.node(1).propose(text('stuck'));
    net.stabilize();
    expect(net.node(1).status().hardState.commit).toBe(net.node(4).status().lastIndex - 1);
    net.heal();
    net.tickAll(2);
    net.node(1).proposeConfChange(change(ConfChangeTransition.auto, addVoter(4)));
    net.stabilize();
    net.tickAll(2);
    for (const id of [1, 2, 3, 4])
      expect(net.node(id).status().confState).toMatchObject({ voters: [1, 2, 3, 4], learners: [] });
    expect(net.node(1).status().progress.get(4)?.isLearner).toBe(false);
  });

  it('allows one pending conf change at a time and one voter change without joint consensus', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    expect(() =>
      net.node(1).proposeConfChange(change(ConfChangeTransition.auto, addVoter(4), addVoter(5))),
    ).not.toThrow();
    expect(() => net.node(1).proposeConfChange(change(ConfChangeTransition.auto, addLearner(6)))).toThrow(
      /already pending/,
    );
    net.stabilize();
    const fresh = new TestNetwork([1, 2, 3]);
    fresh.elect(1);
    expect(() =>
      fresh.node(1).proposeConfChange(change(ConfChangeTransition.auto, remove(1), remove(2), remove(3))),
    ).toThrow(/every voter/);
    expect(() => fresh.node(1).proposeConfChange(change(ConfChangeTransition.auto))).toThrow(/not in a joint/);
  });

  it('a removed leader steps down cleanly and hands over', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(1).proposeConfChange(change(ConfChangeTransition.auto, remove(1)));
    net.stabilize();
    expect(net.node(1).status().role).toBe('follower');
    expect(net.node(2).status().confState.voters).toEqual([2, 3]);
    const newLeader = net.leaders();
    expect(newLeader).toHaveLength(1);
    expect([2, 3]).toContain(newLeader[0]);
    // The old leader sends no heartbeats and never campaigns again.
    const deliveredBefore = net.delivered.length;
    net.tickAll(50);
    const leaderish: number[] = [MessageType.heartbeat, MessageType.append, MessageType.vote, MessageType.preVote];
    expect(net.delivered.slice(deliveredBefore).filter((m) => m.from === 1 && leaderish.includes(m.type))).toEqual([]);
    expect(net.delivered.filter((m) => m.from === 1 && m.type === MessageType.heartbeat)).toHaveLength(0);
    expect(net.node(1).status().role).toBe('follower');
    const leader = newLeader[0] as number;
    net.node(leader).propose(text('after-removal'));
    net.stabilize();
    net.tickAll(1);
    const other = leader === 2 ? 3 : 2;
    expect(net.appliedData(other)).toContain('after-removal');
  });

  it('replaces two voters through a joint configuration, left automatically', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.add(4, MemoryStorage.withVoters([1, 2, 3]));
    net.add(5, MemoryStorage.withVoters([1, 2, 3]));
    net
      .node(1)
      .proposeConfChange(change(ConfChangeTransition.jointImplicit, addVoter(4), addVoter(5), remove(2), remove(3)));
    net.drain(1);
    net.stabilize();
    net.tickAll(3);
    for (const id of [1, 4, 5]) {
      expect(net.node(id).status().confState).toEqual({
        voters: [1, 4, 5],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
    }
    // The joint config was entered and then left: two conf change entries were applied.
    const applied = net
      .member(4)
      .applied.filter((e) => e.type === 1)
      .map((e) => decodeConfChange(e.data).changes.length);
    expect(applied).toEqual([4, 0]);
    net.isolate(2);
    net.isolate(3);
    net.node(1).propose(text('new-config'));
    net.stabilize();
    expect(net.appliedData(5)).toEqual(['new-config']);
  });

  it('needs a majority of both halves while joint', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.add(4, MemoryStorage.withVoters([1, 2, 3]));
    net.add(5, MemoryStorage.withVoters([1, 2, 3]));
    net.add(6, MemoryStorage.withVoters([1, 2, 3]));
    net
      .node(1)
      .proposeConfChange(
        change(ConfChangeTransition.jointExplicit, addVoter(4), addVoter(5), addVoter(6), remove(2), remove(3)),
      );
    net.stabilize();
    net.tickAll(3);
    expect(net.node(1).status().confState).toMatchObject({
      voters: [1, 4, 5, 6],
      votersOutgoing: [1, 2, 3],
      autoLeave: false,
    });
    // Old half down to 1 of 3: nothing commits, though the new half has a majority.
    net.isolate(2);
    net.isolate(3);
    const before = net.node(1).status().hardState.commit;
    net.node(1).propose(text('joint'));
    net.stabilize();
    expect(net.node(1).status().hardState.commit).toBe(before);
    net.heal();
    net.tickAll(2);
    expect(net.node(1).status().hardState.commit).toBe(before + 1);
    // Explicit leave.
    net.node(1).proposeConfChange(change(ConfChangeTransition.auto));
    net.stabilize();
    net.tickAll(2);
    expect(net.node(1).status().confState).toMatchObject({ voters: [1, 4, 5, 6], votersOutgoing: [] });
  });

  it('a member opened without the bootstrap membership ignores changes instead of inventing a config', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.add(4, new MemoryStorage());
    net.node(1).proposeConfChange(change(ConfChangeTransition.auto, addVoter(4)));
    net.stabilize();
    net.tickAll(30);
    expect(net.node(4).status().confState.voters).toEqual([]);
    expect(net.node(4).status().role).toBe('follower');
    expect(net.leaders()).toEqual([1]);
  });

  it('demotes a voter to learner through joint consensus (learnersNext)', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(1).proposeConfChange(change(ConfChangeTransition.jointImplicit, addLearner(3)));
    net.stabilize();
    net.tickAll(3);
    expect(net.node(2).status().confState).toEqual({
      voters: [1, 2],
      learners: [3],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
  });
});
