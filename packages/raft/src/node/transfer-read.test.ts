import { describe, expect, it } from 'vitest';
import { ConfChangeTransition, ConfChangeType, MessageType } from '../types.js';
import { TestNetwork, text } from './test-network.js';

const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date voter with TimeoutNow', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(1).transferLeadership(2);
    net.stabilize();
    expect(net.leaders()).toEqual([2]);
    expect(net.node(2).status().hardState.term).toBe(2);
    expect(net.countDelivered(MessageType.timeoutNow, 2)).toBe(1);
  });

  it('catches a lagging transferee up first and drops proposals meanwhile', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).propose(text('x'));
    net.stabilize();
    net.heal();
    net.node(1).transferLeadership(3);
    expect(net.node(1).status().leadTransferee).toBe(3);
    expect(() => net.node(1).propose(text('dropped'))).toThrow(/transferred/);
    net.stabilize();
    expect(net.leaders()).toEqual([3]);
    expect(net.appliedData(3)).toEqual(['x']);
  });

  it('aborts after an election timeout when the transferee does not answer', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).propose(text('x'));
    net.stabilize();
    net.node(1).transferLeadership(3);
    net.tickAll(10);
    expect(net.node(1).status().leadTransferee).toBe(0);
    expect(net.leaders()).toEqual([1]);
    net.node(1).propose(text('accepted again'));
  });

  it('a transfer campaign bypasses the voters\u2019 leader lease', () => {
    const net = new TestNetwork([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.tickAll(1);
    net.node(1).transferLeadership(3);
    net.stabilize();
    expect(net.leaders()).toEqual([3]);
  });

  it('a follower forwards a transfer request to the leader', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(2).transferLeadership(2);
    net.stabilize();
    expect(net.leaders()).toEqual([2]);
  });

  it('a TimeoutNow that comes with the commit of a membership change campaigns once it is applied', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(1).proposeConfChange({
      transition: ConfChangeTransition.auto,
      changes: [{ type: ConfChangeType.addLearner, nodeId: 4 }],
      context: new Uint8Array(0),
    });
    net.node(1).transferLeadership(2);
    // As a host delivers: everything one turn released, stepped before the receiver's next Ready.
    // The append that commits the change and the TimeoutNow reach node 2 together.
    for (let turn = 0; turn < 10 && net.node(2).status().role !== 'leader'; turn++) {
      net.drainAll();
      for (const m of net.queue.splice(0)) net.members.get(m.to)?.node.step(m);
    }
    expect(net.node(2).status().role).toBe('leader');
    expect(net.node(2).status().confState.learners).toEqual([4]);
  });

  it('a deferred TimeoutNow lapses when the term moves on first', () => {
    // Without PreVote and CheckQuorum, so that node 3 can win a term while node 1 leads.
    const net = new TestNetwork([1, 2, 3], { preVote: false, checkQuorum: false });
    net.elect(1);
    net.node(1).proposeConfChange({
      transition: ConfChangeTransition.auto,
      changes: [{ type: ConfChangeType.addLearner, nodeId: 4 }],
      context: new Uint8Array(0),
    });
    net.node(1).transferLeadership(2);
    let deferred = false;
    for (let turn = 0; turn < 10 && !deferred; turn++) {
      net.drainAll();
      const batch = net.queue.splice(0);
      for (const m of batch) net.members.get(m.to)?.node.step(m);
      deferred = batch.some((m) => m.type === MessageType.timeoutNow);
    }
    expect(deferred).toBe(true);
    // Node 3 campaigns for a new term, and its request reaches node 2 before node 2 applies the
    // change: the TimeoutNow of the old term is void, node 2 must not campaign on it.
    net.drain(3);
    net.node(3).campaign();
    net.drain(3);
    for (const m of net.queue.splice(0)) net.members.get(m.to)?.node.step(m);
    net.stabilize();
    expect(net.leaders()).toEqual([3]);
    expect(net.node(2).status().hardState.term).toBe(net.node(3).status().hardState.term);
  });

  it('refuses a learner or unknown node as transferee', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    expect(() => net.node(1).transferLeadership(9)).toThrow(/not a voter/);
  });
});

describe('ReadIndex', () => {
  it('safe mode: confirms leadership with a heartbeat round before answering', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(1).propose(text('w'));
    net.stabilize();
    const heartbeatsBefore = net.countDelivered(MessageType.heartbeat);
    net.node(1).readIndex(text('r1'));
    net.drain(1);
    expect(net.member(1).readStates).toEqual([]);
    net.stabilize();
    expect(net.countDelivered(MessageType.heartbeat) - heartbeatsBefore).toBe(2);
    expect(net.member(1).readStates.map((r) => [r.index, decode(r.requestContext)])).toEqual([[2, 'r1']]);
  });

  it('safe mode: no answer without a quorum', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.node(1).readIndex(text('r'));
    net.stabilize();
    expect(net.member(1).readStates).toEqual([]);
  });

  it('a follower forwards to the leader and gets the read state back', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(2).readIndex(text('f1'));
    net.stabilize();
    expect(net.member(2).readStates.map((r) => [r.index, decode(r.requestContext)])).toEqual([[1, 'f1']]);
  });

  it('answers two followers that use the same context bytes (contexts are per requester)', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    // Every host numbers its reads from 1: equal bytes from two requesters are two reads.
    net.node(2).readIndex(text('same'));
    net.node(3).readIndex(text('same'));
    net.stabilize();
    expect(net.member(2).readStates.map((r) => [r.index, decode(r.requestContext)])).toEqual([[1, 'same']]);
    expect(net.member(3).readStates.map((r) => [r.index, decode(r.requestContext)])).toEqual([[1, 'same']]);
  });

  it('answers the leader and a follower that use the same context bytes', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(2).readIndex(text('same'));
    net.drain(2);
    // The follower's request reaches the leader and waits there; then the leader's own read.
    for (const m of net.queue.splice(0)) net.node(m.to).step(m);
    net.node(1).readIndex(text('same'));
    net.stabilize();
    expect(net.member(1).readStates.map((r) => [r.index, decode(r.requestContext)])).toEqual([[1, 'same']]);
    expect(net.member(2).readStates.map((r) => [r.index, decode(r.requestContext)])).toEqual([[1, 'same']]);
  });

  it('waits until the new leader has committed an entry of its term', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.isolate(2);
    net.isolate(3);
    net.node(1).campaign();
    net.heal();
    net.drainAll();
    // Leader 1 won? Not yet: deliver the election, but hold back append responses.
    net.filter = (m) => m.type !== MessageType.appendResponse;
    net.stabilize();
    expect(net.node(1).status().role).toBe('leader');
    net.node(1).readIndex(text('early'));
    net.stabilize();
    expect(net.member(1).readStates).toEqual([]);
    net.filter = null;
    net.tickAll(2);
    expect(net.member(1).readStates.map((r) => [r.index, decode(r.requestContext)])).toEqual([[1, 'early']]);
  });

  it('a single voter answers at once', () => {
    const net = new TestNetwork([1]);
    net.elect(1);
    net.node(1).readIndex(text('solo'));
    net.drain(1);
    expect(net.member(1).readStates.map((r) => r.index)).toEqual([1]);
  });

  it('lease mode: answers without a round trip while the lease holds, else falls back to safe', () => {
    const net = new TestNetwork([1, 2, 3], { readOnlyMode: 'lease', leaseDriftBoundTicks: 2 });
    net.elect(1);
    net.tickAll(1);
    const before = net.countDelivered(MessageType.heartbeat);
    net.node(1).readIndex(text('lease'));
    net.drain(1);
    expect(net.member(1).readStates.map((r) => decode(r.requestContext))).toEqual(['lease']);
    expect(net.queue.filter((m) => m.type === MessageType.heartbeat)).toHaveLength(0);
    expect(net.countDelivered(MessageType.heartbeat)).toBe(before);
    // Cut off for longer than electionTicks - drift: the lease is gone, the read needs a quorum.
    net.isolate(1);
    net.tick(1, 8);
    net.stabilize();
    net.node(1).readIndex(text('expired'));
    net.stabilize();
    expect(net.member(1).readStates.map((r) => decode(r.requestContext))).toEqual(['lease']);
  });
});

describe('lease reads and leadership transfer', () => {
  it('a leader that sent TimeoutNow stops serving lease reads', () => {
    const net = new TestNetwork([1, 2, 3], { readOnlyMode: 'lease', leaseDriftBoundTicks: 2 });
    net.elect(1);
    net.tickAll(1);
    // Hold back the transferee's campaign so that node 1 is still leader.
    net.filter = (m) => m.type !== MessageType.timeoutNow;
    net.node(1).transferLeadership(2);
    net.stabilize();
    net.node(1).readIndex(text('after-transfer'));
    net.drain(1);
    expect(net.member(1).readStates).toEqual([]);
    expect(net.queue.some((m) => m.type === MessageType.heartbeat)).toBe(true);
  });
});
