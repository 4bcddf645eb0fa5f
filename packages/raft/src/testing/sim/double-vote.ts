/**
 * A directed scenario: a vote that is not persisted, on a group of three (A, B, C).
 *  1. C is cut off; B wins term t with A's vote. B's messages never reach A (appends, heartbeats),
 *     so A's log stays as up to date as C's and A knows no leader.
 *  2. A crashes and restarts. Raft persisted A's vote for B in term t; with
 *     `skipVotePersistence` A comes back in term t having voted for no one.
 *  3. C (still cut from B) campaigns for term t and asks A. Correct Raft: A refuses, it voted for B
 *     in t. With the knob: A votes again, C leads term t beside B and election safety breaks.
 */
import { assert } from '../../errors.js';
import { Simulation } from './simulation.js';
import { runScenario, scenarioNeed } from './scenario.js';
import type { SimulationResult } from './simulation.js';

export interface DoubleVoteOptions {
  readonly seed: number;
  readonly skipVotePersistence: boolean;
  readonly trace?: (line: string) => void;
}

const phaseMsMax = 5_000;

export function runDoubleVote(options: DoubleVoteOptions): SimulationResult {
  const sim = new Simulation({
    seed: options.seed,
    nodes: 3,
    steps: 0,
    asyncDisk: false,
    // With the knob the durability check would report the unpersisted vote at once; off, the
    // scenario shows its consequence: two leaders in one term.
    checkDurability: !options.skipVotePersistence,
    raft: {
      preVote: true,
      checkQuorum: false,
      ...(options.skipVotePersistence ? { unsafeTestingKnobs: { skipVotePersistence: true } } : {}),
    },
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  });
  return runScenario(sim, script);
}

function script(sim: Simulation): void {
  const [a, b, c] = sim.memberIds();
  assert(a !== undefined && b !== undefined && c !== undefined, 'three members');
  sim.network.partition([c], [a, b]);
  // Nothing B sends as leader arrives: A's log stays empty and it knows no leader.
  const leaderMessages = sim.network.addFilter((m) => m.from === b && sim.leader() === b);
  sim.start();
  // B campaigns before any election timeout fires, so it wins the first term.
  sim.campaign(b);
  need(
    sim.runUntil(() => sim.leader() === b, phaseMsMax),
    'B leads',
  );
  const term = sim.describe(b).term;
  sim.network.blockOneWay(b, a);
  sim.network.removeFilter(leaderMessages);
  sim.crash(a);
  sim.restart(a);
  need(sim.describe(a).term === term, 'A restarts in the term it voted in');
  sim.network.heal();
  sim.network.partition([b], [c]);
  sim.network.blockOneWay(b, a);
  // C's term is behind (PreVote kept it from rising while cut off): its campaign is for term t.
  need(sim.describe(c).term === term - 1, 'C is one term behind');
  sim.campaign(c);
  sim.runFor(300);
}

function need(ok: boolean, what: string): void {
  scenarioNeed('double vote', ok, what);
}
