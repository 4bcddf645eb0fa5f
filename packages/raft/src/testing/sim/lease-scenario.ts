/**
 * The setup the lease scenarios (lease-transfer, lease-restart, lease-late-ack) share: a group
 * of three with `readOnlyMode: 'lease'` (check quorum, pre-vote, a drift bound of 2 ticks) and
 * no random steps, a first leader, and one entry applied everywhere before the script's faults.
 */
import { assert } from '../../errors.js';
import type { NodeId } from '../../types.js';
import { simTickMs } from './constants.js';
import { Simulation } from './simulation.js';
import type { SimRaftOptions } from './simulation.js';

export interface LeaseScenarioOptions {
  readonly seed: number;
  readonly trace?: (line: string) => void;
}

/** How long a scenario phase may take before the script is wrong. */
export const leasePhaseMsMax = 5_000;

/** The scenario's group; `raft` adds to the lease settings (election and heartbeat ticks). */
export function leaseSimulation(options: LeaseScenarioOptions, raft: SimRaftOptions = {}): Simulation {
  return new Simulation({
    seed: options.seed,
    nodes: 3,
    steps: 0,
    asyncDisk: false,
    raft: { readOnlyMode: 'lease', leaseDriftBoundTicks: 2, checkQuorum: true, preVote: true, ...raft },
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  });
}

/** Starts `sim`, waits for a leader and commits one entry applied on every member. */
export function leaderWithEntryApplied(
  sim: Simulation,
  need: (ok: boolean, what: string) => void,
): { readonly leader: NodeId; readonly first: number } {
  sim.start();
  need(
    sim.runUntil(() => sim.leader() !== 0, leasePhaseMsMax),
    'a first leader',
  );
  const leader = sim.leader();
  const first = sim.propose(leader);
  need(first > 0, 'the leader accepts a proposal');
  need(
    sim.runUntil(() => sim.memberIds().every((id) => sim.describe(id).applied >= first), leasePhaseMsMax),
    'the entry applied everywhere',
  );
  return { leader, first };
}

/**
 * Cuts the candidate (one of the two others) off from `leader` for two election timeouts, so that
 * the leader's lease rests on the follower's acknowledgements alone.
 */
export function leaseOnFollowerOnly(
  sim: Simulation,
  leader: NodeId,
  electionTicks: number,
  need: (ok: boolean, what: string) => void,
): { readonly follower: NodeId; readonly candidate: NodeId } {
  const [follower, candidate] = sim.memberIds().filter((id) => id !== leader);
  assert(follower !== undefined && candidate !== undefined, 'three members');
  sim.network.partition([leader], [candidate]);
  sim.runFor(2 * electionTicks * simTickMs);
  need(sim.leader() === leader, 'the leader keeps its quorum with the follower');
  return { follower, candidate };
}
