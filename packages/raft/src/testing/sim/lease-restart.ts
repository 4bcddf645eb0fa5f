/**
 * A directed scenario: a lease read while a follower that granted the lease restarts, on a group
 * of three (L leads, F and T follow), with `readOnlyMode: 'lease'`.
 *  1. T is cut off from L for two election timeouts: L's lease rests on F's acknowledgements.
 *  2. L is cut off from everyone; at once F crashes and restarts (forgetting that it heard from L
 *     a moment ago), and T, whose election timer ran out long ago, campaigns.
 *  3. Within L's lease: if T won (F voted for it), T commits an entry; then a read on L.
 * Raft thesis §6.4.1: a lease holds only while no member of the acknowledging quorum helps elect
 * another leader for an election timeout. A restarted F that votes at once breaks that, and L
 * answers the read from its lease below the commit index T made: a stale read. A restarted member
 * neither votes nor campaigns for an election timeout after its start.
 */
import { Role } from '../../types.js';
import { simTickMs } from './constants.js';
import { leaderWithEntryApplied, leaseOnFollowerOnly, leaseSimulation } from './lease-scenario.js';
import type { LeaseScenarioOptions } from './lease-scenario.js';
import { runScenario, scenarioNeed } from './scenario.js';
import type { Simulation, SimulationResult } from './simulation.js';

export type LeaseRestartOptions = LeaseScenarioOptions;

const electionTicks = 10;

export function runLeaseRestart(options: LeaseRestartOptions): SimulationResult {
  const sim = leaseSimulation(options, { electionTicks, heartbeatTicks: 1 });
  return runScenario(sim, script);
}

function script(sim: Simulation): void {
  const { leader } = leaderWithEntryApplied(sim, need);
  const { follower, candidate } = leaseOnFollowerOnly(sim, leader, electionTicks, need);
  sim.network.partition([leader], [follower]);
  sim.crash(follower);
  sim.restart(follower);
  sim.campaign(candidate);
  // Well within the leader's lease (7 ticks from its last heartbeat round the follower answered).
  sim.runFor(3 * simTickMs);
  if (sim.leader() !== leader && sim.leader() !== 0) {
    const next = sim.propose(sim.leader());
    if (next > 0) sim.runUntil(() => sim.checker.commitKnownMax >= next, simTickMs);
  }
  need(sim.describe(leader).role === Role.leader, 'the old leader still believes it leads');
  sim.read(leader);
  sim.runFor(2 * simTickMs);
}

function need(ok: boolean, what: string): void {
  scenarioNeed('lease restart', ok, what);
}
