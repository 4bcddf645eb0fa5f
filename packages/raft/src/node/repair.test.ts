/**
 * A follower that drops a corrupt suffix of its log (entries it had acknowledged) must not help
 * elect a leader that lacks them, and must get them back from the leader, which believes it still
 * holds them. Scenario: 1 leads, 3 is cut off while entries 3..12 commit on {1, 2}; 2 drops 3..12.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../testing/memory-storage.js';
import { EntryType, MessageType } from '../types.js';
import type { Message } from '../types.js';
import { RaftNode } from './raft-node.js';
import { TestNetwork, seededRandom, text } from './test-network.js';

function setUp(): TestNetwork {
  const net = new TestNetwork([1, 2, 3]);
  net.elect(1);
  net.node(1).propose(text('a'));
  net.stabilize();
  net.isolate(3);
  for (let i = 0; i < 10; i++) net.node(1).propose(text(`b${i}`));
  net.stabilize();
  expect(net.node(1).status().hardState.commit).toBe(12);
  expect(net.node(2).status().lastIndex).toBe(12);
  expect(net.node(3).status().lastIndex).toBe(2);
  // Broker 2 finds a corrupt batch at index 3: its host drops 3.. and reopens the group.
  net.member(2).storage.discardFrom(3);
  net.restart(2);
  return net;
}

describe('a follower repairing a corrupt suffix', () => {
  it('grants no vote while its log is shorter than what it acknowledged (no leader lacking committed entries)', () => {
    const net = setUp();
    expect(net.node(2).status().repairIndex).toBe(12);
    expect(net.node(2).status().hardState.commit).toBe(2);
    net.heal();
    net.isolate(1);
    const before = net.delivered.length;
    // 3 (log up to 2) campaigns against 2 (log up to 2 after the drop, as long as 3's): without the repair rule 2
    // could vote for a candidate missing 3..12, which a majority {1, 2} committed.
    for (let i = 0; i < 60; i++) {
      net.tick(2);
      net.tick(3);
      net.stabilize();
    }
    expect(net.leaders()).toEqual([1]);
    expect(net.node(2).status().role).toBe('follower');
    expect(net.node(3).status().role).not.toBe('leader');
    // The repairing node answered no vote request with a grant.
    const grants = net.delivered
      .slice(before)
      .filter(
        (m) =>
          m.from === 2 && (m.type === MessageType.voteResponse || m.type === MessageType.preVoteResponse) && !m.reject,
      );
    expect(grants).toEqual([]);
  });

  it('is re-replicated by the leader, which moves its stale match back, then votes again', () => {
    const net = setUp();
    // The leader's heartbeat carries commit 12 (its view of 2's match); 2 answers that it lost its log.
    for (let i = 0; i < 5; i++) net.tickAll(1);
    expect(net.countDelivered(MessageType.appendResponse, 1)).toBeGreaterThan(0);
    expect(net.node(2).status().lastIndex).toBe(12);
    expect(net.node(2).status().repairIndex).toBe(0);
    expect(net.node(2).status().hardState.commit).toBe(12);
    expect(net.appliedData(2).slice(-10)).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
    // Now whole again, 2 votes normally: 3 heals and catches up, and 2 can lead.
    net.heal();
    net.tickAll(3);
    net.node(1).transferLeadership(2);
    net.stabilize();
    expect(net.leaders()).toEqual([2]);
    for (const id of [1, 2, 3]) expect(net.node(id).status().hardState.commit).toBeGreaterThanOrEqual(12);
  });

  it('wakes a leader that sends nothing: after an election timeout it tells the voters it lost its log', () => {
    const net = setUp();
    // Drop everything the leader sends to 2; 2 must still not campaign, and it reports its loss.
    net.filter = (m) => !(m.from === 1 && m.to === 2);
    for (let i = 0; i < 40; i++) {
      net.tick(2);
      net.stabilize();
    }
    expect(net.node(2).status().role).toBe('follower');
    const notices = net.delivered.filter((m) => m.from === 2 && m.type === MessageType.appendResponse && m.reject);
    expect(notices.length).toBeGreaterThan(0);
    net.filter = null;
    net.tickAll(3);
    expect(net.node(2).status().lastIndex).toBe(12);
    expect(net.node(2).status().repairIndex).toBe(0);
  });
});

describe('a member that lost its whole state (a replica re-added to a broker that deleted its copy)', () => {
  /** A vote request of term 1 from node 2, arriving late. */
  const lateVoteRequest: Message = {
    type: MessageType.vote,
    from: 2,
    to: 3,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  };
  const heartbeat: Message = { ...lateVoteRequest, type: MessageType.heartbeat, from: 1 };

  function fresh(joining: boolean): RaftNode {
    const storage = MemoryStorage.withVoters([1, 2, 3]);
    if (joining) storage.markJoining();
    return new RaftNode({ id: 3, storage, random: seededRandom(3), electionTicks: 10 });
  }

  function granted(node: RaftNode): boolean {
    const ready = node.ready();
    const answers = [...ready.messages, ...node.advance(ready)].filter((m) => m.type === MessageType.voteResponse);
    return answers.length === 1 && answers[0]?.reject === false;
  }

  it('without joining, grants a late vote in a term its earlier self may have voted in (the hole)', () => {
    const node = fresh(false);
    node.step(lateVoteRequest);
    expect(granted(node)).toBe(true);
  });

  it('joining: grants no vote and never campaigns until a leader was heard; then its vote for that leader is durable', () => {
    const node = fresh(true);
    node.step(lateVoteRequest);
    expect(granted(node)).toBe(false);
    for (let i = 0; i < 50; i++) node.tick();
    expect(node.status().role).toBe('follower');
    node.step(heartbeat);
    const ready = node.ready();
    expect(ready.hardState).toMatchObject({ term: 1, vote: 1 });
    expect(ready.mustSync).toBe(true);
    node.advance(ready);
    node.step(lateVoteRequest);
    expect(granted(node)).toBe(false);
  });

  it('joining survives a restart before any leader was heard (the store holds it, not the node)', () => {
    const storage = MemoryStorage.withVoters([1, 2, 3]);
    storage.markJoining();
    const first = new RaftNode({ id: 3, storage, random: seededRandom(3), electionTicks: 10 });
    for (let i = 0; i < 5; i++) first.tick();
    // Restarted from the same storage: still joining.
    const again = new RaftNode({ id: 3, storage, random: seededRandom(3), electionTicks: 10 });
    again.step(lateVoteRequest);
    expect(granted(again)).toBe(false);
    // An append from the leader of term 1: entries and the vote for the leader are written together.
    again.step({
      ...heartbeat,
      type: MessageType.append,
      index: 0,
      logTerm: 0,
      entries: [{ index: 1, term: 1, type: EntryType.normal, data: new Uint8Array(0) }],
    });
    const ready = again.ready();
    expect(ready.hardState).toMatchObject({ term: 1, vote: 1 });
    expect(ready.entries).toHaveLength(1);
    storage.write(ready);
    again.advance(ready);
    expect(storage.initialState().repairIndex).toBeUndefined();
  });
});
