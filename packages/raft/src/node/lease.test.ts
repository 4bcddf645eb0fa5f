/**
 * Lease reads (`readOnlyMode: 'lease'`, Raft thesis §6.4.1) in scripted cases where a lease that
 * looked valid let a deposed leader answer a read below a commit already made elsewhere. Each
 * case checks linearizability directly: every read the old leader answers is at or above every
 * index committed anywhere before the read was issued.
 */
import { describe, expect, it } from 'vitest';
import { MessageType, Role } from '../types.js';
import type { Message, NodeId } from '../types.js';
import { TestNetwork, text } from './test-network.js';

const lease = { readOnlyMode: 'lease', leaseDriftBoundTicks: 2, preVote: true, checkQuorum: true } as const;

/** Drops every message between `a` and `b`, both ways. */
function between(a: NodeId, b: NodeId): (m: Message) => boolean {
  return (m) => (m.from === a && m.to === b) || (m.from === b && m.to === a);
}

/** Drops every message to or from `id`. */
function around(id: NodeId): (m: Message) => boolean {
  return (m) => m.from === id || m.to === id;
}

function cut(net: TestNetwork, ...rules: ((m: Message) => boolean)[]): void {
  net.filter = (m) => !rules.some((rule) => rule(m));
}

/** The highest commit index any member other than `except` knows. */
function committedElsewhere(net: TestNetwork, except: NodeId): number {
  let commit = 0;
  for (const [id, member] of net.members)
    if (id !== except) commit = Math.max(commit, member.node.status().hardState.commit);
  return commit;
}

/** If `id` leads, commits one more entry through it (with whoever it can reach). */
function commitThrough(net: TestNetwork, id: NodeId, value: string): void {
  if (net.node(id).status().role !== Role.leader) return;
  net.node(id).propose(text(value));
  net.stabilize();
}

/** A read on the old leader `id`, issued now: the indexes it answered (none when it waits for a quorum). */
function readOn(net: TestNetwork, id: NodeId): number[] {
  const before = net.member(id).readStates.length;
  net.node(id).readIndex(text('read'));
  net.stabilize();
  return net
    .member(id)
    .readStates.slice(before)
    .map((r) => r.index);
}

describe('lease reads', () => {
  it('a restarted follower, which forgot the lease it granted, does not help elect a new leader within it', () => {
    const net = new TestNetwork([1, 2, 3], lease);
    net.elect(1);
    commitThrough(net, 1, 'a');
    // Node 3 is cut off from the leader for an election timeout: the lease rests on node 2 alone.
    cut(net, between(1, 3));
    net.tickAll(10);
    expect(net.node(1).status().role).toBe(Role.leader);
    // Node 2 acknowledged a heartbeat this tick; then the leader is cut off and node 2 restarts.
    cut(net, around(1));
    net.restart(2);
    // Node 3's election timer has long expired: it campaigns at once, asking node 2.
    net.node(3).campaign();
    net.stabilize();
    commitThrough(net, 3, 'b');
    const commit = committedElsewhere(net, 1);
    expect(readOn(net, 1).filter((index) => index < commit)).toEqual([]);
    // Once node 2 has been up for an election timeout, the group moves on without node 1.
    net.tickAll(30);
    expect(net.leaders().filter((id) => id !== 1)).toHaveLength(1);
  });

  it('a leader whose heartbeat was acknowledged late counts its lease from when it sent that heartbeat', () => {
    const net = new TestNetwork([1, 2, 3], lease);
    net.elect(1);
    commitThrough(net, 1, 'a');
    cut(net, between(1, 3));
    net.tickAll(10);
    // One more heartbeat round: node 2 gets it at once, its answer is held back for 5 ticks.
    const held: Message[] = [];
    net.filter = (m) => {
      if (between(1, 3)(m)) return false;
      if (m.type === MessageType.heartbeatResponse && m.from === 2) {
        held.push(m);
        return false;
      }
      return true;
    };
    net.tickAll(1);
    expect(held).toHaveLength(1);
    cut(net, around(1));
    net.tickAll(5);
    // The late answer arrives: today's heartbeat was sent 5 ticks ago, not now.
    for (const m of held) net.node(1).step(m);
    net.drain(1);
    net.queue.length = 0;
    // Node 2 last heard from the leader an election timeout ago: it may vote for node 3 now.
    net.tickAll(5);
    net.node(3).campaign();
    net.stabilize();
    commitThrough(net, 3, 'b');
    expect(net.node(1).status().role).toBe(Role.leader);
    const commit = committedElsewhere(net, 1);
    expect(commit).toBeGreaterThan(net.node(1).status().hardState.commit);
    expect(readOn(net, 1).filter((index) => index < commit)).toEqual([]);
  });

  it('a TimeoutNow delivered after the transfer was abandoned does not outlive the leader\u2019s lease', () => {
    const net = new TestNetwork([1, 2, 3], lease);
    net.elect(1);
    commitThrough(net, 1, 'a');
    const held: Message[] = [];
    net.filter = (m) => {
      if (m.type !== MessageType.timeoutNow) return true;
      held.push(m);
      return false;
    };
    net.node(1).transferLeadership(2);
    net.stabilize();
    expect(held).toHaveLength(1);
    // The transfer is abandoned after an election timeout; node 1 leads on, heard by everyone.
    net.tickAll(12);
    expect(net.node(1).status().leadTransferee).toBe(0);
    expect(net.node(1).status().role).toBe(Role.leader);
    // Then node 1 is cut off and the old TimeoutNow arrives: node 2 campaigns past the leases.
    cut(net, around(1));
    for (const m of held) net.node(2).step(m);
    net.stabilize();
    commitThrough(net, 2, 'b');
    const commit = committedElsewhere(net, 1);
    expect(commit).toBeGreaterThan(net.node(1).status().hardState.commit);
    expect(readOn(net, 1).filter((index) => index < commit)).toEqual([]);
  });

  it('a follower within a leader\u2019s lease does not campaign when asked to', () => {
    const net = new TestNetwork([1, 2, 3], lease);
    net.elect(1);
    commitThrough(net, 1, 'a');
    // The lease rests on node 3 alone; node 2 has not heard from the leader for an election timeout.
    cut(net, between(1, 2));
    net.tickAll(10);
    cut(net, around(1));
    net.node(3).campaign();
    net.stabilize();
    commitThrough(net, 3, 'b');
    const commit = committedElsewhere(net, 1);
    expect(readOn(net, 1).filter((index) => index < commit)).toEqual([]);
  });

  it('a higher term learned from a non-leader does not void a follower’s promise to the leader', () => {
    const net = new TestNetwork([1, 2, 3], lease);
    net.elect(1);
    commitThrough(net, 1, 'a');
    // The lease rests on node 3 alone; node 2 has not heard from the leader for an election timeout.
    cut(net, between(1, 2));
    net.tickAll(10);
    cut(net, around(1));
    // A late answer to an old pre-vote of node 3 carries a higher term: node 3 follows no one now.
    const term = net.node(3).status().hardState.term;
    const late: Message = {
      type: MessageType.preVoteResponse,
      from: 2,
      to: 3,
      term: term + 1,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: true,
      rejectHint: 0,
      snapshot: null,
      context: new Uint8Array(0),
    };
    net.node(3).step(late);
    expect(net.node(3).status().leaderId).toBe(0);
    net.node(2).campaign();
    net.stabilize();
    commitThrough(net, 2, 'b');
    const commit = committedElsewhere(net, 1);
    expect(readOn(net, 1).filter((index) => index < commit)).toEqual([]);
  });

  it('a restarted member that never joined a term (term 0) votes at once', () => {
    const net = new TestNetwork([1, 2, 3], lease);
    net.restart(2);
    net.elect(1);
    expect(net.leaders()).toEqual([1]);
  });

  it('the only voter campaigns at once after a restart (no other leader to wait for)', () => {
    const net = new TestNetwork([1], lease);
    net.elect(1);
    commitThrough(net, 1, 'a');
    net.restart(1);
    net.elect(1);
    expect(net.leaders()).toEqual([1]);
  });
});
