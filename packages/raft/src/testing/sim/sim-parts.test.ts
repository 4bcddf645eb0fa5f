import { describe, expect, it } from 'vitest';
import { EntryType, MessageType } from '../../types.js';
import type { Entry, Message } from '../../types.js';
import { MemoryStorage } from '../memory-storage.js';
import { SafetyChecker } from './checker.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork, quietNetworkFaults } from './network.js';
import { Prng } from './prng.js';
import { SimViolation } from './violation.js';

function entry(index: number, term: number, byte = 0): Entry {
  return { index, term, type: EntryType.normal, data: new Uint8Array([byte]) };
}

function violationOf(fn: () => void): SimViolation {
  try {
    fn();
  } catch (error) {
    if (error instanceof SimViolation) return error;
    throw error;
  }
  throw new Error('expected a SimViolation');
}

describe('Prng', () => {
  it('replays the same stream for the same seed and differs across seeds', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('stays within its bounds', () => {
    const prng = new Prng(7);
    for (let i = 0; i < 1000; i++) {
      const x = prng.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      const n = prng.between(3, 5);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(5);
    }
    expect(prng.shuffled([1, 2, 3, 4]).sort()).toEqual([1, 2, 3, 4]);
  });
});

describe('EventQueue', () => {
  it('orders by virtual time, then by insertion', () => {
    const queue = new EventQueue<string>();
    queue.schedule(5, 'c');
    queue.schedule(1, 'a');
    queue.schedule(5, 'd');
    queue.schedule(1, 'b');
    const seen: Array<[string, number]> = [];
    for (let event = queue.pop(); event !== null; event = queue.pop()) seen.push([event, queue.nowMs()]);
    expect(seen).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 5],
      ['d', 5],
    ]);
  });
});

describe('SimNetwork', () => {
  interface Msg {
    readonly from: number;
    readonly to: number;
    readonly n: number;
  }
  function setup(): { network: SimNetwork<Msg>; queue: EventQueue<Msg>; deliveredNs: () => number[] } {
    const queue = new EventQueue<Msg>();
    const network = new SimNetwork<Msg>(new Prng(1), (delayMs, message) => queue.schedule(delayMs, message));
    const deliveredNs = (): number[] => {
      const out: number[] = [];
      for (let m = queue.pop(); m !== null; m = queue.pop()) {
        const arrived = network.arrive(m);
        if (arrived !== null) out.push(arrived.n);
      }
      return out;
    };
    return { network, queue, deliveredNs };
  }

  it('delivers everything on a quiet network', () => {
    const { network, deliveredNs } = setup();
    for (let n = 0; n < 20; n++) network.send({ from: 1, to: 2, n });
    expect(deliveredNs().sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
  });

  it('cuts symmetric and one-way partitions, also for messages in flight, until healed', () => {
    const { network, deliveredNs } = setup();
    network.send({ from: 1, to: 2, n: 1 });
    network.partition([1], [2, 3]);
    network.send({ from: 2, to: 1, n: 2 });
    network.send({ from: 2, to: 3, n: 3 });
    expect(deliveredNs()).toEqual([3]);
    network.heal();
    network.blockOneWay(1, 2);
    network.send({ from: 1, to: 2, n: 4 });
    network.send({ from: 2, to: 1, n: 5 });
    expect(deliveredNs()).toEqual([5]);
  });

  it('drops, duplicates and reorders under faults, and filters drop scripted messages', () => {
    const { network, deliveredNs } = setup();
    network.faults = { ...quietNetworkFaults, dropRate: 0.2, duplicateRate: 0.2, delayMsMax: 50 };
    for (let n = 0; n < 500; n++) network.send({ from: 1, to: 2, n });
    const got = deliveredNs();
    expect(network.stats.dropped).toBeGreaterThan(0);
    expect(network.stats.duplicated).toBeGreaterThan(0);
    expect(new Set(got).size).toBeLessThan(500);
    expect(got.length).toBeGreaterThan(new Set(got).size);
    expect(got.some((n, i) => i > 0 && n < (got[i - 1] as number))).toBe(true);
    network.faults = quietNetworkFaults;
    const id = network.addFilter((m) => m.n % 2 === 0);
    for (let n = 0; n < 4; n++) network.send({ from: 1, to: 2, n });
    expect(deliveredNs().sort()).toEqual([1, 3]);
    network.removeFilter(id);
    const rewrite = network.addRewrite((m) => ({ ...m, n: m.n * 10 }));
    network.send({ from: 1, to: 2, n: 4 });
    expect(deliveredNs()).toEqual([40]);
    network.removeRewrite(rewrite);
  });
});

describe('SafetyChecker fails on broken histories', () => {
  it('election safety: two leaders in one term', () => {
    const checker = new SafetyChecker();
    checker.observeLeader(1, 3);
    checker.observeLeader(1, 3);
    checker.observeLeader(2, 4);
    expect(violationOf(() => checker.observeLeader(3, 4)).check).toBe('election-safety');
  });

  it('log matching: same index and term, different content or history', () => {
    const checker = new SafetyChecker();
    const a = new MemoryStorage();
    checker.beforeWrite(1, a, [entry(1, 1), entry(2, 2, 7)], null);
    a.append([entry(1, 1), entry(2, 2, 7)]);
    const b = new MemoryStorage();
    expect(violationOf(() => checker.beforeWrite(2, b, [entry(1, 1), entry(2, 2, 8)], null)).check).toBe(
      'log-matching',
    );
    const c = new MemoryStorage();
    expect(violationOf(() => checker.beforeWrite(3, c, [entry(1, 2), entry(2, 2, 7)], null)).check).toBe(
      'log-matching',
    );
  });

  it('state machine safety and committed entries that get lost', () => {
    const checker = new SafetyChecker();
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 1)]);
    let chain = checker.observeApply(1, entry(1, 1), 0, 0);
    chain = checker.observeApply(1, entry(2, 1), 1, chain);
    expect(violationOf(() => checker.observeApply(2, entry(1, 2), 0, 0)).check).toBe('state-machine-safety');
    expect(violationOf(() => checker.observeApply(2, entry(2, 1), 0, 0)).check).toBe('state-machine-safety');
    expect(violationOf(() => checker.beforeWrite(1, storage, [entry(2, 3)], null)).check).toBe('committed-entry-lost');
    expect(chain).toBe(checker.chainAt(2));
  });

  it('leader completeness: a new leader lacks a committed entry', () => {
    const checker = new SafetyChecker();
    checker.observeApply(1, entry(1, 1), 0, 0);
    checker.observeApply(1, entry(2, 2), 1, checker.chainAt(1) ?? 0);
    const storage = new MemoryStorage();
    storage.append([entry(1, 1), entry(2, 3)]);
    checker.observeLeader(3, 4);
    const noop = [entry(3, 4)];
    checker.beforeWrite(3, storage, noop, null);
    storage.append(noop);
    expect(violationOf(() => checker.afterWrite(3, storage, noop)).check).toBe('leader-completeness');
  });

  it('read linearizability: an answer below the commit index known at issue', () => {
    const checker = new SafetyChecker();
    checker.observeCommit(5);
    checker.issueRead(1, 2);
    checker.issueRead(2, 2);
    checker.answerRead(1, 2, 5);
    expect(violationOf(() => checker.answerRead(2, 2, 4)).check).toBe('read-linearizable');
    checker.issueRead(3, 2);
    expect(violationOf(() => checker.answerRead(3, 2, 6)).check).toBe('read-linearizable');
  });

  it('proposals: a receipt whose (index, term) commits with other content', () => {
    const checker = new SafetyChecker();
    checker.recordProposal({ id: 1, index: 1, term: 1, hash: 12345, leader: 1 });
    expect(violationOf(() => checker.observeApply(1, entry(1, 1), 0, 0)).check).toBe('proposal-applied');
  });

  it('durability: a vote, a term or an acknowledgement that is not on disk', () => {
    const checker = new SafetyChecker();
    const storage = new MemoryStorage();
    storage.setHardState({ term: 2, vote: 3, commit: 0 });
    storage.append([entry(1, 1)]);
    const message = (fields: Partial<Message>): Message => ({
      type: MessageType.voteResponse,
      from: 1,
      to: 3,
      term: 2,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: new Uint8Array(0),
      ...fields,
    });
    checker.checkSent(storage, message({}));
    checker.checkSent(storage, message({ type: MessageType.appendResponse, index: 1 }));
    checker.checkSent(storage, message({ type: MessageType.preVote, term: 3 }));
    checker.checkSent(storage, message({ term: 1, to: 2 })); // superseded by term 2 on disk
    expect(violationOf(() => checker.checkSent(storage, message({ to: 2 }))).check).toBe('durability');
    expect(
      violationOf(() => checker.checkSent(storage, message({ type: MessageType.heartbeatResponse, term: 3 }))).check,
    ).toBe('durability');
    expect(
      violationOf(() => checker.checkSent(storage, message({ type: MessageType.appendResponse, index: 2 }))).check,
    ).toBe('durability');
  });
});
