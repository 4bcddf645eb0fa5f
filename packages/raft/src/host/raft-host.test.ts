import { afterEach, describe, expect, it } from 'vitest';
import { NotLeaderError, ProposalDroppedError, StoppedError } from '../errors.js';
import { MemoryHostCluster } from '../testing/host-cluster.js';
import type { Frame } from './frame.js';
import { frameMessageCount } from '../testing/memory-transport.js';
import { ConfChangeTransition, ConfChangeType, MessageType, Role } from '../types.js';
import type { GroupId, Message, NodeId } from '../types.js';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

let cluster: MemoryHostCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** A 3-node cluster with `groups` groups, all led by node 1 (it campaigns for each). */
async function ledByOne(groups: number, seed = 1): Promise<MemoryHostCluster> {
  const c = new MemoryHostCluster({ seed });
  cluster = c;
  for (const groupId of range(1, groups)) c.createGroup(groupId);
  await c.settle();
  for (const groupId of range(1, groups)) c.host(1).campaign(groupId);
  await c.settle();
  expect(await c.waitLeaders(range(1, groups))).toEqual(range(1, groups).map(() => 1));
  return c;
}

/** Ticks until every group is quiesced on every running host. */
async function waitQuiesced(c: MemoryHostCluster, groupIds: readonly GroupId[], ticksMax = 50): Promise<void> {
  for (let i = 0; i < ticksMax; i++) {
    if (c.live().every((host) => groupIds.every((groupId) => !host.hasGroup(groupId) || host.isQuiesced(groupId))))
      return;
    await c.tick();
  }
  throw new Error('groups did not quiesce');
}

describe('RaftHost over MemoryNetwork', () => {
  it('elects leaders by ticking, commits proposals and applies them on every node', async () => {
    const c = new MemoryHostCluster({ seed: 7 });
    cluster = c;
    const groups = range(1, 4);
    for (const groupId of groups) c.createGroup(groupId);
    const leaders = await c.waitLeaders(groups);
    for (const [i, groupId] of groups.entries()) {
      const leader = leaders[i] as NodeId;
      const receipt = await c.host(leader).propose(groupId, bytes(`g${groupId}-a`));
      expect(receipt.index).toBeGreaterThan(0);
      await c.host(leader).proposeBatch(groupId, [bytes(`g${groupId}-b`), bytes(`g${groupId}-c`)]);
    }
    await c.tick(2);
    for (const nodeId of c.nodeIds) {
      for (const groupId of groups)
        expect(c.machine(nodeId).texts(groupId)).toEqual([`g${groupId}-a`, `g${groupId}-b`, `g${groupId}-c`]);
    }
  });

  it('persists many groups with one store write per loop turn (group commit)', async () => {
    const c = await ledByOne(64);
    const writesBefore = c.host(1).metrics.groupWrites;
    const persistsBefore = c.store(1).persistCalls;
    const followerPersistsBefore = c.store(2).persistCalls;
    const proposals = range(1, 64).map((groupId) => c.host(1).propose(groupId, bytes(`x${groupId}`)));
    await Promise.all(proposals);
    await c.settle();
    const persists = c.store(1).persistCalls - persistsBefore;
    const writes = c.host(1).metrics.groupWrites - writesBefore;
    // One persist for the 64 appends, one for the 64 commit advances; never one per group.
    expect(writes).toBeGreaterThanOrEqual(64);
    expect(persists).toBeLessThanOrEqual(3);
    expect(c.store(2).persistCalls - followerPersistsBefore).toBeLessThanOrEqual(3);
    for (const groupId of range(1, 64)) expect(c.machine(3).texts(groupId)).toEqual([`x${groupId}`]);
  });

  it('answers a commit before the write of the commit index alone (nothing else to write, nothing to sync)', async () => {
    const c = await ledByOne(1);
    const store = c.store(1);
    const persist = store.persist.bind(store);
    // Hold the leader's writes that need no sync (the commit index alone); synced ones go through.
    const held: (() => void)[] = [];
    store.persist = (writes, mustSync) =>
      mustSync
        ? persist(writes, mustSync)
        : new Promise<void>((resolve, reject) => held.push(() => void persist(writes, mustSync).then(resolve, reject)));
    const before = c.host(1).metrics.appliesBeforeWrite;
    const proposal = c.host(1).propose(1, bytes('a'));
    try {
      const outcome = await Promise.race([
        proposal.then(() => 'committed'),
        new Promise((resolve) => setTimeout(() => resolve('still waiting for the commit index write'), 1_000)),
      ]);
      expect(outcome).toBe('committed');
      expect(held.length).toBe(1);
      expect(c.host(1).metrics.appliesBeforeWrite).toBe(before + 1);
      expect(c.machine(1).texts(1)).toEqual(['a']);
    } finally {
      store.persist = persist;
      for (const release of held.splice(0)) release();
    }
    await c.settle();
    expect(store.group(1).hardState().commit).toBe((await proposal).index);
  });

  it('sends each peer one frame per turn, carrying every group', async () => {
    const c = await ledByOne(64);
    const framesToTwo: Frame[] = [];
    c.network.observe((frame) => {
      if (frame.from === 1 && frame.to === 2) framesToTwo.push(frame);
    });
    await Promise.all(range(1, 64).map((groupId) => c.host(1).propose(groupId, bytes('y'))));
    await c.settle();
    const messages = framesToTwo.reduce((sum, frame) => sum + frameMessageCount(frame), 0);
    expect(messages).toBeGreaterThanOrEqual(64);
    expect(framesToTwo.length).toBeLessThanOrEqual(3);
  });

  it('coalesces the heartbeats of all active groups into one frame per peer per tick', async () => {
    const c = await ledByOne(32);
    const framesToThree: Frame[] = [];
    c.network.observe((frame) => {
      if (frame.from === 1 && frame.to === 3) framesToThree.push(frame);
    });
    // Keep the groups awake: a follower cut off from node 1 stops acking, so nothing quiesces.
    c.network.block(3, 1);
    await c.tick(1);
    expect(framesToThree).toHaveLength(1);
    expect(framesToThree[0]?.heartbeats).toHaveLength(32);
    c.network.heal();
  });

  it('quiesces idle groups: no ticks and no messages, then wakes on a proposal', async () => {
    const c = await ledByOne(40);
    await waitQuiesced(c, range(1, 40));
    const messagesBefore = c.network.stats.messagesDelivered;
    const beforeTicks = c.live().map((host) => host.metrics.groupTicks);
    await c.tick(30);
    expect(c.network.stats.messagesDelivered - messagesBefore).toBe(0);
    expect(c.live().map((host) => host.metrics.groupTicks)).toEqual(beforeTicks);
    // Liveness frames keep flowing: one per peer per tick on each host.
    expect(c.network.stats.framesDelivered).toBeGreaterThan(0);

    await c.host(1).propose(7, bytes('wake'));
    expect(c.host(1).isQuiesced(7)).toBe(false);
    await c.settle();
    expect(c.machine(2).texts(7)).toEqual(['wake']);
    expect(c.host(1).isQuiesced(8)).toBe(true);
    await waitQuiesced(c, [7]);
  });

  it('elects new leaders for the quiesced groups of a killed leader host', async () => {
    const c = await ledByOne(20);
    await waitQuiesced(c, range(1, 20));
    await c.kill(1);
    const leaders = await c.waitLeaders(range(1, 20), 300);
    expect(leaders.every((leader) => leader === 2 || leader === 3)).toBe(true);
    for (const [i, groupId] of range(1, 20).entries()) {
      await c.host(leaders[i] as NodeId).propose(groupId, bytes(`after-${groupId}`));
    }
    await c.settle();
    for (const groupId of range(1, 20)) {
      expect(c.machine(2).texts(groupId)).toEqual([`after-${groupId}`]);
      expect(c.machine(3).texts(groupId)).toEqual([`after-${groupId}`]);
    }
  });

  it('wakes the quiesced groups of an isolated leader host so that CheckQuorum deposes it', async () => {
    const c = await ledByOne(10);
    await waitQuiesced(c, range(1, 10));
    c.network.isolate(1, [2, 3]);
    let deposed = false;
    for (let i = 0; i < 100 && !deposed; i++) {
      await c.tick();
      deposed = range(1, 10).every((groupId) => c.host(1).roleOf(groupId) !== Role.leader);
    }
    expect(deposed).toBe(true);
    const majorityLeads = (): boolean =>
      range(1, 10).every(
        (groupId) =>
          [2, 3].includes(c.host(2).leaderOf(groupId)) && c.host(3).leaderOf(groupId) === c.host(2).leaderOf(groupId),
      );
    for (let i = 0; i < 100 && !majorityLeads(); i++) await c.tick();
    expect(majorityLeads()).toBe(true);
    c.network.heal();
    await c.tick(5);
    for (const groupId of range(1, 10)) expect(c.host(1).leaderOf(groupId)).toBe(c.host(2).leaderOf(groupId));
  });

  it('rejects proposals on a follower with NotLeaderError naming the leader', async () => {
    const c = await ledByOne(1);
    const error: unknown = await c
      .host(2)
      .propose(1, bytes('nope'))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect((error as NotLeaderError).leaderId).toBe(1);
    expect((error as NotLeaderError).code).toBe('NOT_LEADER');
  });

  it('transfers leadership and reports it through onLeaderChange', async () => {
    const c = await ledByOne(2);
    await waitQuiesced(c, [1, 2]);
    const seen: string[] = [];
    c.host(3).onLeaderChange((groupId, leaderId, term, role) =>
      seen.push(`${groupId}:${leaderId}:${role}:${term > 0}`),
    );
    c.host(1).transferLeadership(1, 3);
    await c.settle();
    await c.waitLeaders([1]);
    expect(c.leaderOf(1)).toBe(3);
    expect(c.host(3).roleOf(1)).toBe(Role.leader);
    expect(seen).toContain(`1:3:${Role.leader}:true`);
    expect(c.leaderOf(2)).toBe(1);
    await c.host(3).propose(1, bytes('new-leader'));
    await c.settle();
    expect(c.machine(1).texts(1)).toEqual(['new-leader']);
  });

  it('recovers a restarted host from its store and catches it up', async () => {
    const c = await ledByOne(3);
    for (const groupId of range(1, 3)) await c.host(1).propose(groupId, bytes(`before-${groupId}`));
    await c.settle();
    // Group 3 is compacted on node 3: the restarted state machine must be restored from it.
    const applied = c.host(3).status(3).applied;
    await c.host(3).compact(3, bytes('snap-3'), applied);
    await c.kill(3);
    for (const groupId of range(1, 3)) await c.host(1).propose(groupId, bytes(`while-down-${groupId}`));
    const restarted = c.restart(3);
    expect(restarted.groupIds().sort()).toEqual([1, 2, 3]);
    await c.tick(5);
    for (const groupId of range(1, 2)) {
      expect(c.machine(3).texts(groupId)).toEqual([`before-${groupId}`, `while-down-${groupId}`]);
    }
    expect(c.machine(3).restored.get(3)?.data).toEqual(bytes('snap-3'));
    expect(c.machine(3).restored.get(3)?.metadata.index).toBe(applied);
    expect(c.machine(3).texts(3)).toEqual(['while-down-3']);
    await c.host(1).propose(2, bytes('after'));
    await c.settle();
    expect(c.machine(3).texts(2)).toEqual(['before-2', 'while-down-2', 'after']);
  });

  it('wakes quiesced leaders when a member restarts (new session), so it learns its leaders at once', async () => {
    const c = await ledByOne(8);
    await waitQuiesced(c, range(1, 8));
    await c.kill(3);
    await c.tick(2);
    const restarted = c.restart(3);
    expect(range(1, 8).map((groupId) => restarted.leaderOf(groupId))).toEqual(range(1, 8).map(() => 0));
    await c.tick(3);
    expect(range(1, 8).map((groupId) => restarted.leaderOf(groupId))).toEqual(range(1, 8).map(() => 1));
    await waitQuiesced(c, range(1, 8));
  });

  it('wakes the quiesced groups a restarted leader host led, on its followers, at its first frame', async () => {
    const c = await ledByOne(8);
    await waitQuiesced(c, range(1, 8));
    await c.kill(1);
    // Back within an election timeout: its followers never found it silent.
    await c.tick(2);
    c.restart(1);
    await c.tick(1);
    for (const nodeId of [2, 3])
      expect(range(1, 8).filter((groupId) => c.host(nodeId).isQuiesced(groupId))).toEqual([]);
    const leaders = await c.waitLeaders(range(1, 8), 60);
    expect(leaders.every((leader) => leader !== 0)).toBe(true);
    await waitQuiesced(c, range(1, 8), 200);
  });

  it('answers linearizable reads on leader and follower', async () => {
    const c = await ledByOne(1);
    const receipt = await c.host(1).propose(1, bytes('r'));
    const leaderRead = await c.host(1).readIndex(1);
    expect(leaderRead).toBeGreaterThanOrEqual(receipt.index);
    const followerRead = await c.host(2).linearizableRead(1);
    expect(followerRead).toBeGreaterThanOrEqual(receipt.index);
    expect(c.machine(2).texts(1)).toEqual(['r']);
    // A read on a quiesced follower wakes the group on both sides and is answered.
    await waitQuiesced(c, [1]);
    const quiescedRead = c.host(3).linearizableRead(1);
    await c.settle();
    expect(await quiescedRead).toBeGreaterThanOrEqual(receipt.index);
    await waitQuiesced(c, [1]);
  });

  it('answers reads of two followers at once, though each host numbers its reads from 1', async () => {
    const c = await ledByOne(1);
    const receipt = await c.host(1).propose(1, bytes('before-reads'));
    await c.settle();
    // The first read of each follower host: the leader must not take the second for a retry.
    const answers: (number | string)[] = ['pending', 'pending', 'pending'];
    [c.host(2).readIndex(1), c.host(3).readIndex(1), c.host(1).readIndex(1)].forEach((read, i) => {
      read.then(
        (index) => (answers[i] = index),
        (error: unknown) => (answers[i] = String(error)),
      );
    });
    await c.tick(2);
    expect(
      answers.map((answer) => (typeof answer === 'number' && answer >= receipt.index ? 'answered' : answer)),
    ).toEqual(['answered', 'answered', 'answered']);
  });

  it('never resolves a read with the answer to an earlier run of the host (in flight across its restart)', async () => {
    const c = await ledByOne(1);
    await c.host(1).propose(1, bytes('a'));
    await c.settle();
    let earlierContext: Uint8Array | undefined;
    c.network.observe((frame) => {
      for (const { message } of frame.messages)
        if (frame.from === 2 && message.type === MessageType.readIndex) earlierContext ??= message.context;
    });
    // Host 2's first read reaches the leader; its answer is held back, and host 2 restarts.
    c.network.block(1, 2);
    const lost = c
      .host(2)
      .readIndex(1)
      .catch((caught: unknown) => caught);
    await c.settle();
    expect(earlierContext).toBeDefined();
    const staleIndex = c.host(1).status(1).hardState.commit;
    await c.kill(2);
    expect(await lost).toBeInstanceOf(StoppedError);
    c.network.heal();
    const receipt = await c.host(1).propose(1, bytes('b'));
    const restarted = c.restart(2);
    for (let i = 0; i < 20 && restarted.leaderOf(1) !== 1; i++) await c.tick();
    expect(restarted.leaderOf(1)).toBe(1);
    // The restarted host numbers its reads from 1 again; then the old answer arrives.
    let answer: number | string = 'pending';
    restarted.readIndex(1).then(
      (index) => (answer = index),
      (error: unknown) => (answer = String(error)),
    );
    const message: Message = {
      type: MessageType.readIndexResponse,
      from: 1,
      to: 2,
      term: c.host(1).status(1).hardState.term,
      logTerm: 0,
      index: staleIndex,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: earlierContext as Uint8Array,
    };
    restarted.receive({
      from: 1,
      to: 2,
      session: c.host(1).session,
      messages: [{ groupId: 1, message }],
      heartbeats: [],
      heartbeatResponses: [],
      quiesce: [],
    });
    await c.tick(2);
    expect(answer).toBeGreaterThanOrEqual(receipt.index);
  });

  it('drops a read the cut-off leader cannot confirm, and a read without a known leader', async () => {
    const c = await ledByOne(1);
    c.network.partition([1], [2, 3]);
    const read = c
      .host(1)
      .readIndex(1)
      .catch((caught: unknown) => caught);
    await c.tick(40);
    const error = await read;
    expect(error).toBeInstanceOf(ProposalDroppedError);
    expect(c.host(1).roleOf(1)).not.toBe(Role.leader);
    const unknownLeader = new MemoryHostCluster({ seed: 5 });
    unknownLeader.createGroup(1);
    await expect(unknownLeader.host(1).readIndex(1)).rejects.toBeInstanceOf(NotLeaderError);
    await unknownLeader.stop();
  });

  it("resolves waitFor 'persist' once on the leader's disk, before a quorum has it", async () => {
    const c = await ledByOne(1);
    c.network.partition([1], [2, 3]);
    const receipt = await c.host(1).propose(1, bytes('leader-only'), { waitFor: 'persist' });
    expect(c.store(1).group(1).lastIndex()).toBeGreaterThanOrEqual(receipt.index);
    expect(c.machine(1).texts(1)).toEqual([]);
    c.network.heal();
    await c.tick(2);
    expect(c.machine(2).texts(1)).toEqual(['leader-only']);
  });

  it('rejects pending proposals with StoppedError on stop', async () => {
    const c = await ledByOne(1);
    c.network.partition([1], [2, 3]);
    const pending = c.host(1).propose(1, bytes('stuck'));
    await c.settle();
    await c.host(1).stop();
    await expect(pending).rejects.toBeInstanceOf(StoppedError);
    await expect(c.host(1).propose(1, bytes('late'))).rejects.toBeInstanceOf(StoppedError);
  });

  it('supersedes a proposal of a deposed leader', async () => {
    const c = await ledByOne(1);
    c.network.partition([1], [2, 3]);
    const lost = c.host(1).propose(1, bytes('lost'));
    const outcome = lost.catch((caught: unknown) => caught);
    let leader: NodeId = 0;
    for (let i = 0; i < 100 && leader === 0; i++) {
      await c.tick();
      leader = [2, 3].find((nodeId) => c.host(nodeId).roleOf(1) === Role.leader) ?? 0;
    }
    expect(leader).not.toBe(0);
    await c.host(leader).propose(1, bytes('won'));
    c.network.heal();
    await c.tick(3);
    const error: unknown = await outcome;
    expect(error).toBeInstanceOf(ProposalDroppedError);
    expect((error as ProposalDroppedError).reason).toContain('superseded');
    expect(c.machine(1).texts(1)).toEqual(['won']);
  });

  it('compacts a group into a snapshot, and removes a group', async () => {
    const c = await ledByOne(2);
    for (let i = 0; i < 5; i++) await c.host(1).propose(1, bytes(`c${i}`));
    await c.settle();
    const applied = c.host(1).status(1).applied;
    await c.host(1).compact(1, bytes('state'), applied);
    expect(c.store(1).group(1).firstIndex()).toBe(applied + 1);
    expect(c.store(1).group(1).snapshot().data).toEqual(bytes('state'));
    await c.host(2).removeGroup(2);
    expect(c.host(2).hasGroup(2)).toBe(false);
    expect(c.store(2).groupIds()).not.toContain(2);
  });
});

describe('RaftHost with a store that loads entries asynchronously', () => {
  it('calls entriesLoaded on the node and runs a turn when the store says so', async () => {
    const { MemoryRaftStore } = await import('../testing/memory-storage.js');
    const { ManualTimer } = await import('../testing/manual-timer.js');
    const { RaftNode } = await import('../node/raft-node.js');
    const store = new MemoryRaftStore();
    let notify: ((groupId: GroupId) => void) | undefined;
    store.onEntriesLoaded = (listener): void => {
      notify = listener;
    };
    let loadedCalls = 0;
    const host = new (await import('./raft-host.js')).RaftHost({
      nodeId: 1,
      store,
      transport: { send: () => undefined },
      stateMachine: { apply: () => undefined, restore: () => undefined },
      timer: new ManualTimer(),
      createNode: (config) => {
        const node = new RaftNode(config);
        const original = node.entriesLoaded.bind(node);
        node.entriesLoaded = (): void => {
          loadedCalls++;
          original();
        };
        return node;
      },
    });
    host.createGroup(9, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
    host.start();
    host.campaign(9);
    await host.whenIdle();
    expect(host.roleOf(9)).toBe(Role.leader);
    expect(notify).toBeDefined();
    const turns = host.metrics.turns;
    notify?.(9);
    notify?.(12345);
    expect(loadedCalls).toBe(1);
    await host.whenIdle();
    expect(host.metrics.turns).toBeGreaterThan(turns);
    await host.propose(9, bytes('solo'));
    await host.stop();
  });
});

describe('RaftHost peer liveness', () => {
  it('reports a peer alive while its frames arrive, dead after an election timeout of silence', async () => {
    const c = new MemoryHostCluster({ seed: 3 });
    cluster = c;
    c.createGroup(1);
    await c.tick(2);
    expect(c.host(1).peerAlive(2)).toBe(true);
    expect(c.host(1).peerAlive(9)).toBe(false);
    await c.kill(2);
    await c.tick(11);
    expect(c.host(1).peerAlive(2)).toBe(false);
    expect(c.host(1).peerAlive(3)).toBe(true);
  });
});

describe('RaftHost membership changes', () => {
  it('adds a voter on a new host, which catches up, and removes another', async () => {
    const c = new MemoryHostCluster({ nodeIds: [1, 2, 3, 4], seed: 11 });
    cluster = c;
    const initial = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    for (const nodeId of [1, 2, 3]) c.host(nodeId).createGroup(5, initial);
    await c.settle();
    c.host(1).campaign(5);
    await c.settle();
    expect(c.host(1).roleOf(5)).toBe(Role.leader);
    for (const text of ['a', 'b']) await c.host(1).propose(5, bytes(text));
    // The new member starts empty and learns everything from the leader.
    c.host(4).createGroup(5, null);
    await c.host(1).proposeConfChange(5, {
      transition: ConfChangeTransition.auto,
      changes: [{ type: ConfChangeType.addVoter, nodeId: 4 }],
      context: new Uint8Array(0),
    });
    expect(c.host(1).status(5).confState.voters).toEqual([1, 2, 3, 4]);
    await c.host(1).propose(5, bytes('c'));
    await c.tick(3);
    expect(c.machine(4).texts(5)).toEqual(['a', 'b', 'c']);
    await c.host(1).proposeConfChange(5, {
      transition: ConfChangeTransition.auto,
      changes: [{ type: ConfChangeType.removeNode, nodeId: 3 }],
      context: new Uint8Array(0),
    });
    expect(c.host(1).status(5).confState.voters).toEqual([1, 2, 4]);
    await c.kill(3);
    await c.host(1).propose(5, bytes('d'));
    await c.tick(3);
    expect(c.machine(4).texts(5)).toEqual(['a', 'b', 'c', 'd']);
    expect(c.host(1).peerAlive(4)).toBe(true);
  });
});

describe('RaftHost snapshots', () => {
  it('brings a lagging follower up with InstallSnapshot and restores its state machine', async () => {
    const c = await ledByOne(1);
    await c.kill(3);
    for (let i = 0; i < 6; i++) await c.host(1).propose(1, bytes(`s${i}`));
    await c.settle();
    for (const nodeId of [1, 2]) {
      const applied = c.host(nodeId).status(1).applied;
      await c.host(nodeId).compact(1, bytes(`state@${applied}`), applied);
    }
    const snapshotIndex = c.store(1).group(1).firstIndex() - 1;
    c.restart(3);
    await c.tick(5);
    await c.host(1).propose(1, bytes('after-snapshot'));
    await c.tick(2);
    const restored = c.machine(3).restored.get(1);
    expect(restored?.metadata.index).toBe(snapshotIndex);
    expect(restored?.data).toEqual(bytes(`state@${snapshotIndex}`));
    expect(c.machine(3).texts(1)).toEqual(['after-snapshot']);
    expect(c.host(3).status(1).applied).toBe(c.host(1).status(1).applied);
    expect(c.host(1).metrics.snapshotsSent).toBe(1);
    expect(c.host(3).metrics.snapshotsReceived).toBe(1);
    expect(c.host(2).metrics.snapshotsReceived).toBe(0);
  });
});

describe('RaftHost metrics', () => {
  it('counts elections, term changes, proposals and proposals dropped at intake', async () => {
    const c = await ledByOne(2);
    expect(c.host(1).metrics.elections).toBe(2);
    expect(c.host(2).metrics.elections).toBe(0);
    expect(c.host(2).metrics.termChanges).toBe(2);
    await c.host(1).proposeBatch(1, [bytes('a'), bytes('b')]);
    expect(c.host(1).metrics.proposals).toBe(2);
    expect(c.host(2).metrics.proposals).toBe(0);
    c.host(1).transferLeadership(2, 2);
    const dropped = c.host(1).propose(2, bytes('during the transfer'));
    await expect(dropped).rejects.toBeInstanceOf(ProposalDroppedError);
    expect(c.host(1).metrics.proposalsDropped).toBe(1);
    await c.tick(3);
    expect(c.host(2).metrics.elections).toBe(1);
  });
});

describe('appendBeforePersist', () => {
  /** Holds node 1's store writes until released; reports whether a follower got the entry meanwhile. */
  async function followerWritesFirst(appendBeforePersist: boolean): Promise<boolean> {
    const c = new MemoryHostCluster({ seed: 3, groupDefaults: { appendBeforePersist } });
    cluster = c;
    c.createGroup(1);
    await c.settle();
    c.host(1).campaign(1);
    await c.settle();
    expect(await c.waitLeaders([1])).toEqual([1]);
    const leaderStore = c.stores.get(1)!;
    const follower = c.stores.get(2)!.group(1);
    const before = follower.lastIndex();
    const persist = leaderStore.persist.bind(leaderStore);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let leaderWrote = false;
    leaderStore.persist = async (writes, mustSync) => {
      await gate;
      await persist(writes, mustSync);
      leaderWrote = true;
    };
    const proposal = c.host(1).propose(1, bytes('parallel'));
    for (let i = 0; i < 20 && follower.lastIndex() === before; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const followerFirst = follower.lastIndex() > before && !leaderWrote;
    release();
    await proposal;
    expect(c.stores.get(1)!.group(1).lastIndex()).toBe(before + 1);
    return followerFirst;
  }

  it("on: a follower writes the leader's entry while the leader's own write is still in flight", async () => {
    expect(await followerWritesFirst(true)).toBe(true);
  });

  it('off: nothing leaves the leader before its write', async () => {
    expect(await followerWritesFirst(false)).toBe(false);
  });
});

describe('RaftHost with an injected scheduler', () => {
  it('runs its loop turns only when the scheduler runs them, one persist per turn for every group', async () => {
    const { MemoryRaftStore } = await import('../testing/memory-storage.js');
    const { ManualTimer } = await import('../testing/manual-timer.js');
    const { RaftHost } = await import('./raft-host.js');
    const store = new MemoryRaftStore();
    const queued: (() => void)[] = [];
    const host = new RaftHost({
      nodeId: 1,
      store,
      transport: { send: () => undefined },
      stateMachine: { apply: () => undefined, restore: () => undefined },
      timer: new ManualTimer(),
      scheduler: { setImmediate: (callback) => queued.push(callback) },
    });
    const solo = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    for (const groupId of [1, 2, 3]) host.createGroup(groupId, solo);
    host.start();
    for (const groupId of [1, 2, 3]) host.campaign(groupId);
    // Nothing runs behind the scheduler's back: real time passing moves nothing.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(host.metrics.turns).toBe(0);
    expect(host.isIdle()).toBe(false);
    expect(queued).toHaveLength(1);
    while (queued.length > 0) {
      queued.shift()?.();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect([1, 2, 3].map((groupId) => host.roleOf(groupId))).toEqual([Role.leader, Role.leader, Role.leader]);
    expect(store.persistCalls).toBeLessThan(host.metrics.groupWrites);
    expect(host.isIdle()).toBe(true);
    await host.stop();
  });
});
