/**
 * Randomized cluster runs over the in-test network: drops, partitions, restarts, proposals,
 * transfers, reads, log compaction (so snapshots are sent) and membership changes (simple
 * and joint), checking Raft's safety properties after every step:
 *  - at most one leader per term;
 *  - every node applies a prefix of one and the same sequence of entries (state machine safety);
 *  - a node's commit index never goes back, not even across restarts.
 * Replay one seed: RAFT_CLUSTER_SEED=<seed> npx vitest run src/node/random-cluster.test.ts
 * Wider sweep (seeds 1..N): RAFT_CLUSTER_SEEDS=<N> npx vitest run src/node/random-cluster.test.ts --testTimeout 900000
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../testing/memory-storage.js';
import { ConfChangeTransition, ConfChangeType, EntryType, MessageType } from '../types.js';
import type { ConfChangeSingle, ConfState, Entry, NodeId } from '../types.js';
import { seededRandom, TestNetwork, text } from './test-network.js';

function runSeed(seed: number): { commit: number; terms: number; confChanges: number; snapshots: number } {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const ids = [1, 2, 3, 4, 5].slice(0, 3 + pick(3));
  const options = {
    preVote: random() < 0.7,
    checkQuorum: random() < 0.7,
    // Small bounds exercise chunked snapshots, one-entry appends and a closed inflight window.
    snapshotChunkBytes: [2, 5, 1 << 18][pick(3)] as number,
    messageBytesMax: [1, 16, 1 << 20][pick(3)] as number,
    inflightMessagesMax: [1, 2, 256][pick(3)] as number,
  };
  const net = new TestNetwork(ids, options, seed);
  // Two spare nodes that membership changes may add (opened with the group's bootstrap membership).
  const all = [...ids, ids.length + 1, ids.length + 2];
  for (const spare of all.slice(ids.length)) net.add(spare, MemoryStorage.withVoters(ids));
  const leaderOfTerm = new Map<number, number>();
  /** The term of the entry applied at each index, by whichever node applied it first. */
  const reference = new Map<number, number>();
  const commitFloor = new Map<number, number>();
  /** How many applied entries of each member were checked already. */
  const checked = new WeakMap<object, number>();
  let dropRate = 0;
  net.filter = (m) => m.type === MessageType.timeoutNow || random() >= dropRate;

  const check = (): void => {
    for (const [id, member] of net.members) {
      const status = member.node.status();
      if (status.role === 'leader') {
        const known = leaderOfTerm.get(status.hardState.term);
        expect(known === undefined || known === id, `seed ${seed}: two leaders in term ${status.hardState.term}`).toBe(
          true,
        );
        leaderOfTerm.set(status.hardState.term, id);
      }
      expect(status.hardState.commit).toBeGreaterThanOrEqual(commitFloor.get(id) ?? 0);
      commitFloor.set(id, status.hardState.commit);
      const from = checked.get(member) ?? 0;
      let previous: Entry | undefined = member.applied[from - 1];
      checked.set(member, member.applied.length);
      for (const entry of member.applied.slice(from)) {
        // No gaps, except over an installed snapshot (a restart re-applies from its snapshot).
        if (previous !== undefined && entry.index > previous.index + 1) {
          const jumped = member.snapshots.some((snap) => snap.metadata.index === entry.index - 1);
          expect(jumped, `seed ${seed}: node ${id} skipped entries ${previous.index + 1}..${entry.index - 1}`).toBe(
            true,
          );
        }
        previous = entry;
        const term = reference.get(entry.index);
        if (term === undefined) reference.set(entry.index, entry.term);
        else expect(entry.term, `seed ${seed}: node ${id} applied a different entry at ${entry.index}`).toBe(term);
      }
    }
  };

  for (let step = 0; step < 300; step++) {
    const id = all[pick(all.length)] as number;
    const action = pick(100);
    if (action < 50) for (const each of ids) net.tick(each);
    else if (action < 70) {
      try {
        net.node(id).propose(text(`${seed}.${step}`));
      } catch {
        // Not the leader, or dropped: fine.
      }
    } else if (action < 75) net.isolate(id);
    else if (action < 82) net.heal();
    else if (action < 86) dropRate = [0, 0.1, 0.3][pick(3)] as number;
    else if (action < 88) net.restart(id);
    else if (action < 92) {
      try {
        net.node(id).transferLeadership(all[pick(all.length)] as number);
      } catch {
        // Not a leader with a known leader, or not a voter.
      }
    } else if (action < 94) {
      // Compact the node's log at its applied index (the application's snapshot).
      const member = net.member(id);
      const applied = member.node.status().applied;
      if (applied >= member.storage.firstIndex()) {
        const metadata = {
          index: applied,
          term: member.storage.term(applied),
          confState: member.node.status().confState,
        };
        member.storage.compact({ metadata, data: text(`state@${applied}`) });
      }
    } else if (action < 96) {
      try {
        net.node(id).readIndex(text(`r${step}`));
      } catch {
        // No leader known.
      }
    } else {
      const single = (): ConfChangeSingle => ({
        type: [ConfChangeType.addVoter, ConfChangeType.addLearner, ConfChangeType.removeNode][
          pick(3)
        ] as ConfChangeType,
        nodeId: all[pick(all.length)] as number,
      });
      // Mostly simple changes; sometimes joint ones (left automatically or explicitly) and leaves.
      const kind = pick(8);
      const transition =
        kind < 5
          ? ConfChangeTransition.auto
          : kind < 6
            ? ConfChangeTransition.jointImplicit
            : ConfChangeTransition.jointExplicit;
      const changes = kind < 5 ? [single()] : kind < 7 ? [single(), single()] : [];
      try {
        net.node(id).proposeConfChange({ transition, changes, context: new Uint8Array(0) });
      } catch {
        // Not the leader, one pending, or an invalid change.
      }
    }
    net.stabilize(100_000);
    check();
  }
  // Heal everything: the cluster must converge on one leader and one commit index. (Without
  // PreVote a node left at a higher term first disrupts the leader: give it time.)
  net.heal();
  dropRate = 0;
  // Converged: one leader of a config it belongs to, every member at its commit index. Nodes
  // outside that config are cut off, as an operator shuts down removed replicas.
  const converged = (): boolean => {
    const membersOf = (cs: ConfState): NodeId[] => [
      ...cs.voters,
      ...cs.votersOutgoing,
      ...cs.learners,
      ...cs.learnersNext,
    ];
    const leaders = net.leaders().filter((id) => membersOf(net.node(id).status().confState).includes(id));
    if (leaders.length !== 1) return false;
    const leader = net.node(leaders[0] as number).status();
    const members = membersOf(leader.confState);
    net.heal();
    for (const id of all) if (!members.includes(id)) net.isolate(id);
    if (leader.hardState.commit !== leader.lastIndex) return false;
    return members.every((id) => net.node(id).status().hardState.commit === leader.hardState.commit);
  };
  for (let round = 0; round < 400 && !converged(); round++) net.tickAll(1);
  check();
  const commits = all.map((id) => `${id}:${net.node(id).status().role}@${net.node(id).status().hardState.commit}`);
  if (process.env.RAFT_CLUSTER_DEBUG === '1') {
    for (const id of all) {
      const st = net.node(id).status();
      console.log(
        id,
        st.role,
        JSON.stringify(st.hardState),
        st.lastIndex,
        st.applied,
        JSON.stringify(st.confState),
        [...st.progress]
          .map(([p, v]) => `${p}:${v.state} m${v.match} n${v.next} i${v.inflightMessages} a${v.recentActive}`)
          .join(' '),
      );
    }
    net.tickAll(1);
    console.log(
      net.delivered
        .slice(-16)
        .map(
          (m) =>
            `${m.from}->${m.to} t${m.type} term${m.term} i${m.index} lt${m.logTerm} c${m.commit} r${m.reject} n${m.entries.length}`,
        )
        .join('\n'),
    );
  }
  expect(converged(), `seed ${seed}: no convergence after healing: ${commits.join(' ')}`).toBe(true);
  const leader = net.node(net.leaders()[0] as number).status();
  const confChanges =
    [...reference.keys()].length === 0
      ? 0
      : net.member(net.leaders()[0] as number).applied.filter((e) => e.type === EntryType.confChange).length;
  const snapshots = [...net.members.values()].reduce((sum, member) => sum + member.snapshots.length, 0);
  return { commit: leader.hardState.commit, terms: leaderOfTerm.size, confChanges, snapshots };
}

describe('randomized clusters', () => {
  it('keep election safety and state machine safety, and converge once healed', () => {
    const fixed = process.env.RAFT_CLUSTER_SEED;
    const count = Number(process.env.RAFT_CLUSTER_SEEDS ?? 12);
    const seeds = fixed === undefined ? Array.from({ length: count }, (_, i) => i + 1) : [Number(fixed)];
    let commits = 0;
    let terms = 0;
    let confChanges = 0;
    let snapshots = 0;
    for (const seed of seeds) {
      try {
        const result = runSeed(seed);
        commits += result.commit;
        terms += result.terms;
        confChanges += result.confChanges;
        snapshots += result.snapshots;
      } catch (error) {
        console.log(
          `random cluster seed ${seed} failed; replay: RAFT_CLUSTER_SEED=${seed} npx vitest run src/node/random-cluster.test.ts`,
        );
        throw error;
      }
    }
    console.log(
      `random clusters: seeds ${seeds[0]}..${seeds[seeds.length - 1]}: ${commits} entries committed, ${terms} terms with a leader, ${confChanges} membership changes applied, ${snapshots} snapshots installed`,
    );
    expect(commits).toBeGreaterThan(seeds.length);
  });
});
