import { describe, expect, it } from 'vitest';
import { MessageType } from '../types.js';
import { TestNetwork } from './test-network.js';

describe('elections', () => {
  it('elects a leader after an election timeout and commits its no-op', () => {
    const net = new TestNetwork([1, 2, 3]);
    for (let i = 0; i < 30 && net.leaders().length === 0; i++) net.tickAll(1);
    expect(net.leaders()).toHaveLength(1);
    const leader = net.leaders()[0] as number;
    const status = net.node(leader).status();
    expect(status.hardState.term).toBe(1);
    expect(status.hardState.commit).toBe(1);
    for (const id of [1, 2, 3]) {
      expect(net.node(id).status().leaderId).toBe(leader);
      expect(net.member(id).applied.map((e) => [e.index, e.term, e.data.byteLength])).toEqual([[1, 1, 0]]);
    }
  });

  it('campaigns at a randomized timeout in [electionTicks, 2*electionTicks)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const net = new TestNetwork([1, 2, 3], { preVote: false }, seed);
      let ticks = 0;
      while (net.node(1).status().role === 'follower') {
        net.tick(1);
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
    }
  });

  it('a single voter elects itself at once', () => {
    const net = new TestNetwork([1]);
    net.elect(1);
    expect(net.node(1).status().role).toBe('leader');
    expect(net.node(1).status().hardState.commit).toBe(1);
  });

  it('a candidate with a stale log loses (Raft §5.4.1)', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).propose(new Uint8Array([1]));
    net.stabilize();
    net.heal();
    net.isolate(1);
    for (let i = 0; i < 100 && !net.leaders().some((id) => id !== 1); i++) {
      net.tick(2);
      net.tick(3);
      net.stabilize();
    }
    expect(net.leaders().filter((id) => id !== 1)).toEqual([2]);
    expect(net.node(3).status().leaderId).toBe(2);
  });

  it('rejects a vote for a second candidate in the same term, even after a restart', () => {
    const net = new TestNetwork([1, 2, 3], { preVote: false, checkQuorum: false });
    net.isolate(3);
    net.node(1).campaign();
    net.stabilize();
    expect(net.node(1).status().role).toBe('leader');
    expect(net.node(2).status().hardState.vote).toBe(1);
    net.restart(2, { preVote: false, checkQuorum: false });
    // Node 3 campaigns in the same term 1 (it never heard of term 1): node 2 must refuse.
    net.heal();
    net.isolate(1);
    net.node(3).campaign();
    net.stabilize();
    expect(net.node(3).status().role).toBe('candidate');
    expect(net.node(2).status().hardState.vote).toBe(1);
  });
});

describe('pre-vote', () => {
  it('an isolated node does not bump its term', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.tickAll(100);
    expect(net.node(3).status().hardState.term).toBe(1);
    expect(net.node(3).status().role).toBe('pre-candidate');
  });

  it('without pre-vote an isolated node does bump its term', () => {
    const net = new TestNetwork([1, 2, 3], { preVote: false });
    net.elect(1);
    net.isolate(3);
    net.tickAll(100);
    expect(net.node(3).status().hardState.term).toBeGreaterThan(2);
  });

  it('a voter that heard from a leader recently rejects a pre-vote (CheckQuorum lease)', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    // Node 3 campaigns at once: node 2 heard from leader 1 within the election timeout.
    net.node(3).campaign();
    net.stabilize();
    expect(net.node(1).status().role).toBe('leader');
    expect(net.node(1).status().hardState.term).toBe(1);
    expect(net.node(3).status().hardState.term).toBe(1);
    expect(net.countDelivered(MessageType.preVoteResponse, 3)).toBe(0);
    net.tickAll(1);
    expect(net.node(3).status().role).toBe('follower');
  });
});

describe('check quorum', () => {
  it('a leader cut off from the quorum steps down within two election timeouts', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    for (let i = 0; i < 20; i++) net.tick(1);
    net.drain(1);
    expect(net.node(1).status().role).toBe('follower');
    expect(net.node(1).status().hardState.term).toBe(1);
  });

  it('a leader that hears from the quorum stays', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.tickAll(50);
    expect(net.node(1).status().role).toBe('leader');
  });
});

describe('a rejoining partitioned node', () => {
  it('does not disrupt a healthy leader', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.tickAll(60);
    net.node(1).propose(new Uint8Array([7]));
    net.stabilize();
    net.heal();
    net.tickAll(30);
    expect(net.leaders()).toEqual([1]);
    expect(net.node(1).status().hardState.term).toBe(1);
    expect(net.node(3).status().leaderId).toBe(1);
    expect(net.node(3).status().hardState.commit).toBe(2);
  });

  it('is not disrupted by a vote request of a higher term while in the lease (no pre-vote)', () => {
    const net = new TestNetwork([1, 2, 3], { preVote: false });
    net.elect(1);
    net.isolate(3);
    net.tickAll(60);
    const term3 = net.node(3).status().hardState.term;
    expect(term3).toBeGreaterThan(1);
    net.heal();
    // Node 3 campaigns again: 1 and 2 ignore it (lease), so no leader changes.
    net.node(3).campaign();
    net.stabilize();
    expect(net.countDelivered(MessageType.voteResponse, 3)).toBe(0);
    expect(net.node(2).status().hardState.term).toBe(1);
  });
});
