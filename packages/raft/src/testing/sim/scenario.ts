/**
 * The frame every scripted scenario shares: run the script on a started simulation, let the
 * cluster settle, and turn a checker's violation into a failed result (anything else is a bug in
 * the scenario or the simulator and propagates).
 */
import { assert } from '../../errors.js';
import type { Simulation, SimulationResult } from './simulation.js';
import { SimViolation } from './violation.js';

export function runScenario(sim: Simulation, script: (sim: Simulation) => void): SimulationResult {
  try {
    script(sim);
    sim.settle();
    return sim.result();
  } catch (error) {
    if (error instanceof SimViolation) return sim.result(error);
    throw error;
  }
}

/** A precondition of a scenario's script: when the cluster does not get there, the script is wrong. */
export function scenarioNeed(scenario: string, ok: boolean, what: string): void {
  assert(ok, `${scenario} scenario: ${what}`);
}
