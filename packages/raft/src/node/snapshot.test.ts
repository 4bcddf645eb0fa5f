import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../testing/memory-storage.js';
import { ConfChangeTransition, ConfChangeType, MessageType } from '../types.js';
import type { Snapshot } from '../types.js';
import { TestNetwork, text } from './test-network.js';

/** Compacts node `id`'s storage at its applied index, with `data` as the application state. */
function compact(net: TestNetwork, id: number, data: Uint8Array): Snapshot {
  const status = net.node(id).status();
  const storage = net.member(id).storage;
  const snapshot: Snapshot = {
    metadata: { index: status.applied, term: storage.term(status.applied), confState: status.confState },
    data,
  };
  storage.compact(snapshot);
  return snapshot;
}

describe('snapshots', () => {
  it('sends a compacted log to a lagging follower as InstallSnapshot chunks, in order', () => {
    const net = new TestNetwork([1, 2, 3], { snapshotChunkBytes: 4 });
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.node(1).propose(text(`e${i}`));
    net.stabilize();
    const state = text('state-of-10-b');
    const snapshot = compact(net, 1, state);
    expect(snapshot.metadata.index).toBe(6);
    net.node(1).propose(text('after'));
    net.stabilize();
    net.heal();
    net.tickAll(5);

    const chunks = net.delivered.filter((m) => m.type === MessageType.snapshot && m.to === 3).map((m) => m.snapshot);
    expect(chunks.map((c) => c?.offset)).toEqual([0, 4, 8, 12]);
    expect(chunks.map((c) => c?.done)).toEqual([false, false, false, true]);
    expect(net.countDelivered(MessageType.snapshotResponse, 1)).toBe(3);
    const received = net.member(3).snapshots;
    expect(received).toHaveLength(1);
    expect(received[0]?.metadata.index).toBe(6);
    expect(new TextDecoder().decode(received[0]?.data)).toBe('state-of-10-b');
    expect(net.member(3).storage.firstIndex()).toBe(7);
    // After the snapshot, the follower replicates normally and applies the rest.
    expect(net.appliedData(3)).toEqual(['after']);
    expect(net.node(3).status().applied).toBe(7);
    expect(net.node(1).status().progress.get(3)?.state).toBe('replicate');
  });

  it('resends a lost chunk after an election timeout without restarting the transfer', () => {
    const net = new TestNetwork([1, 2, 3], { snapshotChunkBytes: 2 });
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 3; i++) net.node(1).propose(text(`e${i}`));
    net.stabilize();
    compact(net, 1, text('abcdef'));
    net.heal();
    let dropped = false;
    net.filter = (m) => {
      if (m.type === MessageType.snapshot && m.snapshot?.offset === 2 && !dropped) {
        dropped = true;
        return false;
      }
      return true;
    };
    net.tickAll(30);
    expect(dropped).toBe(true);
    const offsets = net.delivered.filter((m) => m.type === MessageType.snapshot).map((m) => m.snapshot?.offset);
    expect(offsets).toEqual([0, 2, 4]);
    expect(new TextDecoder().decode(net.member(3).snapshots[0]?.data)).toBe('abcdef');
  });

  it('retries when the storage cannot produce a snapshot yet', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).propose(text('x'));
    net.stabilize();
    compact(net, 1, text('s'));
    net.member(1).storage.snapshotUnavailable = true;
    net.heal();
    net.tickAll(5);
    expect(net.countDelivered(MessageType.snapshot)).toBe(0);
    net.member(1).storage.snapshotUnavailable = false;
    net.tickAll(5);
    expect(net.member(3).snapshots).toHaveLength(1);
  });

  it('reportSnapshot(false) returns the follower to probing', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).propose(text('x'));
    net.stabilize();
    compact(net, 1, text('s'));
    net.heal();
    net.filter = (m) => m.type !== MessageType.snapshot;
    net.tickAll(2);
    expect(net.node(1).status().progress.get(3)?.state).toBe('snapshot');
    net.node(1).reportSnapshot(3, false);
    expect(net.node(1).status().progress.get(3)?.state).toBe('probe');
    net.filter = null;
    net.tickAll(4);
    expect(net.member(3).snapshots).toHaveLength(1);
  });

  it('waits for entries the storage reports pending, then delivers them', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).propose(text('x'));
    net.stabilize();
    // Follower 3 needs entries from index 1; the leader's storage must load them first.
    net.member(1).storage.makePendingBelow(3);
    net.heal();
    net.tickAll(1);
    expect(net.appliedData(3)).toEqual([]);
    net.node(1).entriesLoaded();
    net.tickAll(2);
    expect(net.appliedData(3)).toEqual(['x']);
  });

  it('hands committed entries only after storage loaded them (EntriesPendingError)', () => {
    const net = new TestNetwork([1]);
    net.elect(1);
    net.node(1).propose(text('a'));
    net.drain(1);
    expect(net.appliedData(1)).toEqual(['a']);
    const storage = net.member(1).storage;
    const restarted = net.restart(1, { applied: 0 });
    storage.makePendingBelow(3);
    expect(restarted.node.hasReady()).toBe(true);
    const ready = restarted.node.ready();
    expect(ready.committedEntries).toEqual([]);
    restarted.node.advance(ready);
    expect(restarted.node.hasReady()).toBe(false);
    restarted.node.entriesLoaded();
    expect(restarted.node.ready().committedEntries.map((e) => e.index)).toEqual([1, 2]);
  });
});

describe('a learner added after the leader’s last snapshot', () => {
  it('installs a snapshot whose membership predates it, then learns of its addition', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.node(1).propose(text('a'));
    net.stabilize();
    compact(net, 1, text('state'));
    net.add(4, MemoryStorage.withVoters([1, 2, 3]));
    net.node(1).proposeConfChange({
      transition: ConfChangeTransition.auto,
      changes: [{ type: ConfChangeType.addLearner, nodeId: 4 }],
      context: new Uint8Array(0),
    });
    net.stabilize();
    net.tickAll(3);
    expect(net.member(4).snapshots.map((s) => s.metadata.confState.learners)).toEqual([[]]);
    expect(net.node(4).status().confState.learners).toEqual([4]);
    expect(net.node(4).status().applied).toBe(net.node(1).status().applied);
  });
});

describe('restart with an applied index', () => {
  it('replays membership changes up to applied, or hands back what the storage must load first', () => {
    const net = new TestNetwork([1, 2, 3]);
    net.elect(1);
    net.add(4, MemoryStorage.withVoters([1, 2, 3]));
    net.node(1).proposeConfChange({
      transition: ConfChangeTransition.auto,
      changes: [{ type: ConfChangeType.addLearner, nodeId: 4 }],
      context: new Uint8Array(0),
    });
    net.stabilize();
    net.node(1).propose(text('x'));
    net.stabilize();
    net.tickAll(1);
    const applied = net.node(2).status().applied;
    const restarted = net.restart(2, { applied });
    expect(restarted.node.status().confState.learners).toEqual([4]);
    expect(restarted.node.hasReady()).toBe(false);
    net.member(2).storage.makePendingBelow(3);
    const again = net.restart(2, { applied });
    expect(again.node.status().applied).toBe(0);
    expect(again.node.ready().committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);
  });
});
