import { describe, expect, it } from 'vitest';
import { AssertionError } from '../errors.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { encodeConfChange } from '../confchange/codec.js';
import { ConfChangeTransition, ConfChangeType, EntryType, MessageType } from '../types.js';
import type { Message } from '../types.js';
import { RaftNode } from './raft-node.js';
import { seededRandom, TestNetwork, text } from './test-network.js';

function newNode(id: number, voters: number[], storage = MemoryStorage.withVoters(voters)): RaftNode {
  return new RaftNode({ id, storage, random: seededRandom(id), electionTicks: 10 });
}

describe('persist before send', () => {
  it('releases vote requests only from advance(), after the Ready with the new term and vote', () => {
    const node = newNode(1, [1, 2, 3]);
    node.campaign();
    const ready = node.ready();
    // Only a leader with appendBeforePersist hands out messages before the persist.
    expect(ready.messages).toEqual([]);
    // Pre-vote first: the term does not move, nothing durable changed.
    expect(ready.hardState).toBeNull();
    const preVotes = node.advance(ready);
    expect(preVotes.map((m) => [m.type, m.to, m.term])).toEqual([
      [MessageType.preVote, 2, 1],
      [MessageType.preVote, 3, 1],
    ]);
    node.step({ ...preVotes[0], type: MessageType.preVoteResponse, from: 2, to: 1, term: 1, reject: false } as Message);
    const voteReady = node.ready();
    expect(voteReady.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(voteReady.mustSync).toBe(true);
    expect(voteReady.messages).toEqual([]);
    const votes = node.advance(voteReady);
    expect(votes.map((m) => m.type)).toEqual([MessageType.vote, MessageType.vote]);
  });

  it('a vote granted after ready() waits for the next Ready', () => {
    const voter = newNode(2, [1, 2, 3]);
    const ready = voter.ready();
    const request: Message = {
      type: MessageType.vote,
      from: 1,
      to: 2,
      term: 5,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: new Uint8Array(0),
    };
    voter.step(request);
    expect(voter.advance(ready)).toEqual([]);
    const next = voter.ready();
    expect(next.hardState).toEqual({ term: 5, vote: 1, commit: 0 });
    expect(voter.advance(next).map((m) => [m.type, m.reject])).toEqual([[MessageType.voteResponse, false]]);
  });

  it('asserts that advance() gets the last Ready and that ready() is not called twice', () => {
    const node = newNode(1, [1]);
    node.campaign();
    const ready = node.ready();
    expect(() => node.ready()).toThrow(AssertionError);
    expect(() => node.advance({ ...ready })).toThrow(/last returned/);
    node.advance(ready);
    expect(() => node.advance(ready)).toThrow(/follows ready/);
  });

  it('a leader counts its own entries only once persisted (in advance)', () => {
    const storage = MemoryStorage.withVoters([1]);
    const node = newNode(1, [1], storage);
    node.campaign();
    const ready = node.ready();
    expect(ready.entries.map((e) => e.index)).toEqual([1]);
    storage.write(ready);
    expect(node.status().hardState.commit).toBe(0);
    expect(node.status().progress.get(1)?.match).toBe(0);
    node.advance(ready);
    expect(node.status().progress.get(1)?.match).toBe(1);
    expect(node.status().hardState.commit).toBe(1);
    const next = node.ready();
    expect(next.committedEntries.map((e) => e.index)).toEqual([1]);
    expect(next.hardState?.commit).toBe(1);
  });

  it('skipVotePersistence reports the vote as 0 (unsafe knob)', () => {
    const node = new RaftNode({
      id: 1,
      storage: MemoryStorage.withVoters([1, 2, 3]),
      random: seededRandom(1),
      preVote: false,
      unsafeTestingKnobs: { skipVotePersistence: true },
    });
    node.campaign();
    expect(node.ready().hardState).toEqual({ term: 1, vote: 0, commit: 0 });
  });

  it('bounds committed entries per Ready by committedBytesPerReadyMax', () => {
    const net = new TestNetwork([1], { committedBytesPerReadyMax: 10, messageBytesMax: 10 });
    net.elect(1);
    net.node(1).proposeBatch([new Uint8Array(6), new Uint8Array(6), new Uint8Array(6)]);
    net.drain(1);
    const sizes = net
      .member(1)
      .readies.map((r) => r.committedEntries.length)
      .filter((n) => n > 0);
    expect(sizes).toEqual([1, 1, 1, 1]);
  });
});

describe('restart from storage', () => {
  it('keeps term, vote and log, and the cluster carries on', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    for (const value of ['a', 'b']) net.node(1).propose(text(value));
    net.stabilize();
    net.tickAll(1);
    for (const id of [1, 2, 3]) net.restart(id);
    expect(net.node(2).status().hardState).toMatchObject({ term: 1, vote: 1 });
    expect(net.node(2).status().lastIndex).toBe(3);
    expect(net.node(2).status().applied).toBe(0);
    for (let i = 0; i < 40 && net.leaders().length === 0; i++) net.tickAll(1);
    expect(net.leaders()).toHaveLength(1);
    const leader = net.leaders()[0] as number;
    net.node(leader).propose(text('c'));
    net.stabilize();
    net.tickAll(1);
    // Applied again from the start (applied defaults to the snapshot index), then the new entry.
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(['a', 'b', 'a', 'b', 'c']);
  });

  it('resumes from a given applied index without re-applying', () => {
    const net = new TestNetwork([1]);
    net.elect(1);
    net.node(1).propose(text('a'));
    net.drain(1);
    const restarted = net.restart(1, { applied: 2 });
    expect(restarted.node.status().applied).toBe(2);
    expect(restarted.node.hasReady()).toBe(false);
  });
});

describe('canQuiesce', () => {
  it('is true only for an idle leader whose followers know everything is committed', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    expect(net.node(2).canQuiesce()).toBe(false);
    net.node(1).propose(text('x'));
    expect(net.node(1).canQuiesce()).toBe(false);
    net.stabilize();
    // Followers have the entry but the last message carrying commit may predate it.
    net.tickAll(1);
    expect(net.node(1).canQuiesce()).toBe(true);
    net.node(1).readIndex(text('r'));
    expect(net.node(1).canQuiesce()).toBe(false);
    net.stabilize();
    expect(net.node(1).canQuiesce()).toBe(true);
  });
});

describe('snapshot restore while the host applies membership changes', () => {
  it('waits until handed-out conf changes are applied', () => {
    const storage = MemoryStorage.withVoters([1, 2, 3]);
    const node = newNode(2, [1, 2, 3], storage);
    const cc = {
      transition: ConfChangeTransition.auto,
      changes: [{ type: ConfChangeType.addLearner, nodeId: 4 }],
      context: new Uint8Array(0),
    };
    const base: Message = {
      type: MessageType.append,
      from: 1,
      to: 2,
      term: 1,
      logTerm: 0,
      index: 0,
      commit: 1,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: new Uint8Array(0),
      entries: [{ index: 1, term: 1, type: EntryType.confChange, data: encodeConfChange(cc) }],
    };
    node.step(base);
    const ready = node.ready();
    storage.write(ready);
    expect(ready.committedEntries).toHaveLength(1);
    node.advance(ready);
    const confState = { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const chunk: Message = {
      ...base,
      type: MessageType.snapshot,
      entries: [],
      commit: 0,
      snapshot: {
        metadata: { index: 10, term: 1, confState },
        offset: 0,
        totalBytes: 1,
        data: new Uint8Array([7]),
        done: true,
      },
    };
    node.step(chunk);
    const refused = node.ready();
    expect(refused.snapshot).toBeNull();
    expect(node.advance(refused).map((m) => [m.type, m.index])).toEqual([[MessageType.appendResponse, 1]]);
    node.applyConfChange(cc);
    node.step(chunk);
    const installed = node.ready();
    expect(installed.snapshot?.metadata.index).toBe(10);
    expect(node.advance(installed).map((m) => [m.type, m.index])).toEqual([[MessageType.appendResponse, 10]]);
  });
});

describe('skipVotePersistence lets a restarted voter vote twice in a term (unsafe knob)', () => {
  function voteRequest(from: number, term: number): Message {
    return {
      type: MessageType.vote,
      from,
      to: 2,
      term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: new Uint8Array(0),
    };
  }

  function votesAfterRestart(skipVotePersistence: boolean): boolean[] {
    const storage = MemoryStorage.withVoters([1, 2, 3]);
    const options = { id: 2, storage, random: seededRandom(2), unsafeTestingKnobs: { skipVotePersistence } };
    const granted: boolean[] = [];
    for (const candidate of [1, 3]) {
      const node = new RaftNode(options);
      node.step(voteRequest(candidate, 5));
      const ready = node.ready();
      storage.write(ready);
      granted.push(...node.advance(ready).map((m) => !m.reject));
    }
    return granted;
  }

  it('grants both votes with the knob and only the first without', () => {
    expect(votesAfterRestart(true)).toEqual([true, true]);
    expect(votesAfterRestart(false)).toEqual([true, false]);
  });
});

describe('canQuiesce in lease mode', () => {
  it('is never true: a leader that stops ticking would keep its lease forever', () => {
    const net = new TestNetwork([1, 2, 3], { readOnlyMode: 'lease', leaseDriftBoundTicks: 2 });
    net.elect(1);
    net.tickAll(2);
    expect(net.node(1).canQuiesce()).toBe(false);
  });
});
