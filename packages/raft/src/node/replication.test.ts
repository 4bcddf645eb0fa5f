import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../testing/memory-storage.js';
import { EntryType, MessageType } from '../types.js';
import type { Entry, Message } from '../types.js';
import { TestNetwork, text } from './test-network.js';
import type { NodeOptions } from './test-network.js';

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++)
    out.push({ index, term, type: EntryType.normal, data: text(`${term}.${index}`) });
  return out;
}

/** A network whose nodes start from the given logs (terms by index) at `term`. */
function fromLogs(logs: Record<number, Entry[]>, term: number, options: NodeOptions = {}): TestNetwork {
  const ids = Object.keys(logs).map(Number);
  const net = new TestNetwork([], options);
  for (const id of ids) {
    const storage = MemoryStorage.withVoters(ids);
    storage.append(logs[id] ?? []);
    storage.setHardState({ term, vote: 0, commit: 0 });
    net.add(id, storage);
  }
  return net;
}

describe('replication and commit', () => {
  it('replicates proposals to every node and applies them in order', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    const receipts = ['a', 'b', 'c'].map((value) => net.node(1).propose(text(value)));
    expect(receipts.map((r) => r.index)).toEqual([2, 3, 4]);
    expect(receipts.every((r) => r.term === 1)).toBe(true);
    net.stabilize();
    net.tickAll(2);
    for (const id of [1, 2, 3]) {
      expect(net.appliedData(id)).toEqual(['a', 'b', 'c']);
      expect(net.node(id).status().hardState.commit).toBe(4);
    }
  });

  it('batches proposals made between two Readies into one append per follower', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    const before = net.countDelivered(MessageType.append, 2);
    net.node(1).proposeBatch([text('x'), text('y')]);
    net.node(1).propose(text('z'));
    net.drain(1);
    const appends = net.queue.filter((m) => m.type === MessageType.append && m.to === 2);
    expect(appends).toHaveLength(1);
    expect(appends[0]?.entries.map((e) => e.index)).toEqual([2, 3, 4]);
    net.stabilize();
    expect(net.countDelivered(MessageType.append, 2) - before).toBeGreaterThanOrEqual(1);
    expect(net.appliedData(2)).toEqual(['x', 'y', 'z']);
  });

  it('a follower rejects proposals with NotLeaderError naming the leader', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    expect(() => net.node(2).propose(text('no'))).toThrow(/leader is node 1/);
  });

  it('drops proposals above uncommittedBytesMax but always accepts the first', () => {
    const net = new TestNetwork([1, 2, 3], { uncommittedBytesMax: 10 });
    net.elect(1);
    net.isolate(1);
    net.node(1).propose(new Uint8Array(8));
    expect(() => net.node(1).propose(new Uint8Array(8))).toThrow(/uncommitted/);
    net.heal();
    net.stabilize();
    net.tickAll(1);
    net.node(1).propose(new Uint8Array(8));
  });
});

describe('the commit rule of Raft §5.4.2 (Figure 8)', () => {
  // Node 1 has an entry of term 2 at index 2 that node 3 lacks; it becomes leader in term 4. A
  // majority (1, 2) holds index 2, but it is of an old term: it commits only with a term-4 entry.
  function scenario(options: NodeOptions) {
    const net = fromLogs(
      { 1: [...entries(1, 1, 1), ...entries(2, 2, 2)], 2: entries(1, 1, 1), 3: entries(1, 1, 1) },
      3,
      options,
    );
    // Node 2 only learns index 2 (the old-term entry), never the new no-op; node 3 gets nothing.
    net.filter = (m: Message) => {
      if (m.type !== MessageType.append) return true;
      if (m.to === 3) return false;
      return { ...m, entries: m.entries.filter((e) => e.index <= 2) };
    };
    net.elect(1);
    return net;
  }

  it('does not commit an old-term entry by counting replicas', () => {
    const net = scenario({});
    expect(net.node(1).status().role).toBe('leader');
    expect(net.node(1).status().progress.get(2)?.match).toBe(2);
    expect(net.node(1).status().hardState.commit).toBe(0);
    net.filter = null;
    net.tickAll(2);
    expect(net.node(1).status().hardState.commit).toBe(3);
  });

  it('commits it with the unsafe knob (so the checkers can catch it)', () => {
    const net = scenario({ unsafeTestingKnobs: { commitOldTermEntries: true } });
    expect(net.node(1).status().hardState.commit).toBe(2);
  });
});

describe('fast backtracking', () => {
  it('finds the agreement point of a long divergent follower in one reject', () => {
    const common = entries(1, 5, 1);
    const leaderLog = [...common, ...entries(6, 40, 3)];
    const net = fromLogs({ 1: leaderLog, 2: [...common, ...entries(6, 60, 2)], 3: leaderLog }, 3);
    net.elect(1);
    net.tickAll(3);
    const rejects = net.delivered.filter((m) => m.type === MessageType.appendResponse && m.from === 2 && m.reject);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ rejectHint: 40, logTerm: 2 });
    const log1 = net.member(1).storage.entries(1, 42, 1e9);
    const log2 = net.member(2).storage.entries(1, net.member(2).storage.lastIndex() + 1, 1e9);
    expect(log2.map((e) => [e.index, e.term])).toEqual(log1.map((e) => [e.index, e.term]));
    expect(net.node(2).status().hardState.commit).toBe(41);
  });

  it('backs up over a follower whose log is longer with a newer old term', () => {
    // Follower's term-2 suffix is longer than the leader's term-3 suffix and older: one reject.
    const common = entries(1, 3, 1);
    const net = fromLogs(
      {
        1: [...common, ...entries(4, 6, 3)],
        2: [...common, ...entries(4, 20, 2)],
        3: [...common, ...entries(4, 6, 3)],
      },
      3,
    );
    net.elect(1);
    net.tickAll(2);
    expect(net.delivered.filter((m) => m.type === MessageType.appendResponse && m.from === 2 && m.reject)).toHaveLength(
      1,
    );
    expect(net.member(2).storage.lastIndex()).toBe(7);
    expect(net.member(2).storage.term(4)).toBe(3);
  });
});

describe('flow control', () => {
  it('pauses a follower at inflightMessagesMax appends and resumes as they are acknowledged', () => {
    const net = new TestNetwork([1, 2], { inflightMessagesMax: 2, messageBytesMax: 1 });
    net.elect(1);
    net.tickAll(1);
    expect(net.node(1).status().progress.get(2)?.state).toBe('replicate');
    for (let i = 0; i < 10; i++) net.node(1).propose(text(`p${i}`));
    net.drain(1);
    const appends = net.queue.filter((m) => m.type === MessageType.append && m.to === 2);
    // One entry per message (bytes bound), two messages in flight (window).
    expect(appends.map((m) => m.entries.length)).toEqual([1, 1]);
    expect(net.node(1).status().progress.get(2)?.inflightMessages).toBe(2);
    net.stabilize();
    expect(net.appliedData(2)).toHaveLength(10);
    const perAppend = net.delivered.filter((m) => m.type === MessageType.append && m.to === 2 && m.entries.length > 0);
    expect(perAppend.every((m) => m.entries.length === 1)).toBe(true);
  });

  it('recovers from appends lost in replicate state', () => {
    const net = new TestNetwork([1, 2, 3], { inflightMessagesMax: 2 });
    net.elect(1);
    net.filter = (m) => !(m.type === MessageType.append && m.to === 3);
    for (let i = 0; i < 6; i++) {
      net.node(1).propose(text(`q${i}`));
      net.stabilize();
    }
    net.filter = null;
    net.tickAll(10);
    expect(net.appliedData(3)).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5']);
  });
});
