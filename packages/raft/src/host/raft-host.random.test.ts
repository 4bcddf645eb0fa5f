/**
 * Randomized: 3 hosts, several groups, a lossy network with partitions coming and going,
 * proposals on random hosts. Checks that every host applies the same log per group and that
 * every acknowledged proposal is in it at its receipt's index and term.
 * Replay: HOST_SEED=<seed> npx vitest run src/host/raft-host.random.test.ts
 * More seeds: HOST_SEED_COUNT=<n> npx vitest run src/host/raft-host.random.test.ts
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RaftError } from '../errors.js';
import type { ProposalReceipt } from '../node-api.js';
import { MemoryHostCluster } from '../testing/host-cluster.js';
import { Prng } from '../testing/sim/prng.js';
import type { Entry, GroupId } from '../types.js';

const groups = [1, 2, 3, 4];
const stepsPerRun = 150;
/** Ticks a final proposal may take on the healed network (a few election timeouts). */
const finalTicksMax = 300;

let cluster: MemoryHostCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

interface Acked {
  readonly groupId: GroupId;
  readonly text: string;
  readonly receipt: ProposalReceipt;
}

async function run(seed: number): Promise<void> {
  const prng = new Prng(seed);
  const c = new MemoryHostCluster({ seed });
  cluster = c;
  const network = c.network;
  network.dropRate = 0.05;
  for (const groupId of groups) c.createGroup(groupId);
  const acked: Acked[] = [];
  const outcomes: Promise<void>[] = [];
  for (let step = 0; step < stepsPerRun; step++) {
    const roll = prng.int(100);
    if (roll < 5) network.isolate(1 + prng.int(3), c.nodeIds);
    else if (roll < 15) network.heal();
    const proposals = prng.int(4);
    for (let i = 0; i < proposals; i++) {
      const groupId = groups[prng.int(groups.length)] as GroupId;
      const nodeId = 1 + prng.int(3);
      const text = `${seed}-${step}-${i}`;
      const waitFor = prng.int(4) === 0 ? 'persist' : 'commit';
      outcomes.push(
        c
          .host(nodeId)
          .propose(groupId, new TextEncoder().encode(text), { waitFor })
          .then(
            (receipt) => {
              if (waitFor === 'commit') acked.push({ groupId, text, receipt });
            },
            (error: unknown) => {
              expect(error).toBeInstanceOf(RaftError);
            },
          ),
      );
    }
    await c.tick();
  }
  network.heal();
  network.dropRate = 0;
  // Quiet period: every group settles on a leader and every follower catches up.
  await c.waitLeaders(groups, 300);
  // A final entry of the current term per group, with the clock running: a follower the leader
  // only probes (a paused progress) is caught up by heartbeats, so without ticks it could wait forever.
  for (const groupId of groups) await commitWhileTicking(c, groupId, 'final');
  await c.tick(5);
  await c.stop();
  await Promise.all(outcomes);

  expect(acked.length).toBeGreaterThan(20);
  const decoder = new TextDecoder();
  for (const groupId of groups) {
    const logs = c.nodeIds.map((nodeId) => c.machine(nodeId).applied.get(groupId) ?? []);
    const [first] = logs;
    const describeLog = (log: readonly Entry[]): string[] =>
      log.map((entry) => `${entry.index}:${entry.term}:${decoder.decode(entry.data)}`);
    for (const log of logs) expect(describeLog(log)).toEqual(describeLog(first ?? []));
    for (const ack of acked.filter((a) => a.groupId === groupId)) {
      const entry = first?.find((candidate) => candidate.index === ack.receipt.index);
      expect(entry, `acked ${ack.text} at ${ack.receipt.index}`).toBeDefined();
      expect(entry?.term).toBe(ack.receipt.term);
      expect(decoder.decode(entry?.data)).toBe(ack.text);
    }
  }
}

/** Proposes on the group's leader and ticks until it commits; a deposed leader's refusal is retried. */
async function commitWhileTicking(c: MemoryHostCluster, groupId: GroupId, text: string): Promise<void> {
  for (let tick = 0; tick < finalTicksMax; tick++) {
    const leader = c.leaderOf(groupId);
    if (leader === 0) {
      await c.tick();
      continue;
    }
    let outcome: 'pending' | 'committed' | 'refused' = 'pending';
    const proposal = c
      .host(leader)
      .propose(groupId, new TextEncoder().encode(text))
      .then(
        () => void (outcome = 'committed'),
        (error: unknown) => {
          expect(error).toBeInstanceOf(RaftError);
          outcome = 'refused';
        },
      );
    while (outcome === 'pending' && tick < finalTicksMax) {
      await c.tick();
      tick++;
    }
    if (outcome === 'pending') break;
    await proposal;
    if (outcome === 'committed') return;
  }
  throw new Error(`group ${groupId}: '${text}' not committed within ${finalTicksMax} ticks of a healed network`);
}

describe('RaftHost randomized (lossy network, partitions)', () => {
  it('keeps logs identical and acknowledged proposals durable', async () => {
    const fromEnv = Number(process.env['HOST_SEED']);
    const count = Number(process.env['HOST_SEED_COUNT'] ?? 1);
    const random = Array.from({ length: count }, () => 1 + Math.floor(Math.random() * 1_000_000));
    const seeds = Number.isInteger(fromEnv) && fromEnv > 0 ? [fromEnv] : [...random, 2, 3];
    for (const seed of seeds) {
      console.log(
        `raft-host random seed ${seed}; replay: HOST_SEED=${seed} npx vitest run src/host/raft-host.random.test.ts`,
      );
      await run(seed);
    }
  });
});
