/**
 * A directed scenario: a lease read after a heartbeat answer that arrived late, on a group of
 * three (L leads, F and T follow), with `readOnlyMode: 'lease'`.
 *  1. T is cut off from L for two election timeouts: L's lease rests on F's acknowledgements.
 *  2. F gets one more heartbeat at once, but its answer is held back for 10 ticks; from then on
 *     nothing else passes between L and F.
 *  3. Once F has not heard from L for an election timeout it may vote again: T campaigns, wins
 *     with F's vote and commits an entry. Then a read on L.
 * Raft thesis §6.4.1: the lease starts when the acknowledged heartbeat was SENT (F restarted its
 * election timer on receiving it, no later). Counted from the answer's arrival, L's lease outlives
 * F's promise by the answer's delay, and L answers the read below the commit index T made.
 */
import { MessageType, Role } from '../../types.js';
import type { Message } from '../../types.js';
import { simTickMs } from './constants.js';
import { leaderWithEntryApplied, leaseOnFollowerOnly, leaseSimulation } from './lease-scenario.js';
import type { LeaseScenarioOptions } from './lease-scenario.js';
import { runScenario, scenarioNeed } from './scenario.js';
import type { Simulation, SimulationResult } from './simulation.js';

export type LeaseLateAckOptions = LeaseScenarioOptions;

const electionTicks = 10;

export function runLeaseLateAck(options: LeaseLateAckOptions): SimulationResult {
  const sim = leaseSimulation(options, { electionTicks, heartbeatTicks: 1 });
  return runScenario(sim, script);
}

function script(sim: Simulation): void {
  const { leader } = leaderWithEntryApplied(sim, need);
  const { follower, candidate } = leaseOnFollowerOnly(sim, leader, electionTicks, need);
  // The follower's next heartbeat answer is held back; nothing of the leader reaches it after.
  let held: Message | null = null;
  const hold = sim.network.addFilter((m) => {
    if (held !== null || m.from !== follower || m.to !== leader || m.type !== MessageType.heartbeatResponse)
      return false;
    held = m;
    sim.network.blockOneWay(leader, follower);
    return true;
  });
  need(
    sim.runUntil(() => held !== null, 5 * simTickMs),
    'the follower answers a heartbeat',
  );
  sim.network.removeFilter(hold);
  // Nothing else of the follower reaches the leader either (it would tell of a newer term), and
  // its own pre-votes are dropped so that they cannot split the candidate's election below.
  const cut = sim.network.addFilter(
    (m) =>
      (m.from === follower && m.to === leader && m !== held) || (m.from === follower && m.type === MessageType.preVote),
  );
  const heldAtMs = sim.clock.nowMs();
  sim.at(electionTicks * simTickMs, () => {
    if (held !== null) sim.network.send(held);
  });
  // The follower last heard from the leader about an election timeout and a bit ago: it votes.
  sim.runFor((electionTicks + 2) * simTickMs);
  sim.campaign(candidate);
  need(
    sim.runUntil(() => sim.leader() === candidate, 4 * simTickMs),
    'the candidate wins with the follower\u2019s vote',
  );
  const next = sim.propose(candidate);
  need(next > 0, 'the new leader accepts a proposal');
  need(
    sim.runUntil(() => sim.checker.commitKnownMax >= next, 2 * simTickMs),
    'the new leader commits',
  );
  need(sim.describe(leader).role === Role.leader, 'the old leader still believes it leads');
  need(
    sim.clock.nowMs() - heldAtMs < (2 * electionTicks - 2) * simTickMs,
    'the read comes within a lease counted from the late answer',
  );
  sim.read(leader);
  sim.runFor(2 * simTickMs);
  sim.network.removeFilter(cut);
}

function need(ok: boolean, what: string): void {
  scenarioNeed('lease late ack', ok, what);
}
