/**
 * A directed scenario: lease reads across a leadership transfer, on a group of three.
 *  1. L leads with `readOnlyMode: 'lease'`; everything is committed everywhere.
 *  2. L hands leadership to T (TimeoutNow). From then on nothing of the new term reaches L, so L
 *     cannot learn it was replaced; its lease still looks valid (a quorum answered recently).
 *  3. T wins (a transfer campaign ignores leases by design), and commits a new entry.
 *  4. A read on L, still within L's lease: Raft's lease argument assumed that no other leader can
 *     be elected while a quorum is in L's lease, which TimeoutNow breaks. If L answers from its
 *     lease, its read index is below the commit index already known: a stale read.
 */
import { assert } from '../../errors.js';
import { Role } from '../../types.js';
import { leaderWithEntryApplied, leasePhaseMsMax, leaseSimulation } from './lease-scenario.js';
import type { LeaseScenarioOptions } from './lease-scenario.js';
import { runScenario, scenarioNeed } from './scenario.js';
import type { Simulation, SimulationResult } from './simulation.js';

export type LeaseTransferOptions = LeaseScenarioOptions;

export function runLeaseTransfer(options: LeaseTransferOptions): SimulationResult {
  const sim = leaseSimulation(options);
  return runScenario(sim, script);
}

function script(sim: Simulation): void {
  const { leader, first } = leaderWithEntryApplied(sim, need);
  const transferee = sim.memberIds().find((id) => id !== leader);
  assert(transferee !== undefined, 'three members');
  const oldTerm = sim.describe(leader).term;
  const cut = sim.network.addFilter((m) => m.to === leader && m.term > oldTerm);
  sim.transferLeadership(leader, transferee);
  need(
    sim.runUntil(() => sim.leader() === transferee, leasePhaseMsMax),
    'the transferee leads',
  );
  const next = sim.propose(transferee);
  need(next > first, 'the new leader accepts a proposal');
  need(
    sim.runUntil(() => sim.checker.commitKnownMax >= next, leasePhaseMsMax),
    'the new leader commits',
  );
  // Still well within the old leader's lease (election timeout minus the drift bound), and it
  // still believes it leads: the read must not be answered from its lease.
  need(sim.describe(leader).role === Role.leader, 'the old leader still believes it leads');
  const read = sim.read(leader);
  sim.runFor(20);
  sim.network.removeFilter(cut);
  void read;
}

function need(ok: boolean, what: string): void {
  scenarioNeed('lease transfer', ok, what);
}
