/**
 * Runs the simulator over many seeds and reports failures the way a developer needs them: the
 * seed, the check that failed with its details, the tail of the run's trace, and the exact
 * command that replays it.
 */
import { simNodesMax, simNodesMin, simTraceLinesKept } from './constants.js';
import { Simulation } from './simulation.js';
import type { NetworkFaults } from './network.js';
import type { SimActionWeights, SimRaftOptions, SimulationOptions, SimulationResult } from './simulation.js';

export interface SeedRunOptions {
  /** Initial voters; default: 3, 4 or 5 chosen by the seed. */
  readonly nodes?: number;
  readonly steps?: number;
  readonly raft?: SimRaftOptions;
  readonly weights?: Partial<SimActionWeights>;
  readonly asyncDisk?: boolean;
  readonly networkFaults?: NetworkFaults;
  readonly downtimeMsMax?: number;
  /** Receives every trace line (verbose). */
  readonly trace?: (line: string) => void;
}

/** The group size a seed runs with when none is given: every size gets its share of seeds. */
export function nodesForSeed(seed: number): number {
  const span = simNodesMax - simNodesMin + 1;
  return simNodesMin + (((seed % span) + span) % span);
}

export function simulationOptions(seed: number, options: SeedRunOptions): SimulationOptions {
  return {
    seed,
    nodes: options.nodes ?? nodesForSeed(seed),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(options.raft === undefined ? {} : { raft: options.raft }),
    ...(options.weights === undefined ? {} : { weights: options.weights }),
    ...(options.asyncDisk === undefined ? {} : { asyncDisk: options.asyncDisk }),
    ...(options.networkFaults === undefined ? {} : { networkFaults: options.networkFaults }),
    ...(options.downtimeMsMax === undefined ? {} : { downtimeMsMax: options.downtimeMsMax }),
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  };
}

export function runSeed(seed: number, options: SeedRunOptions = {}): SimulationResult {
  return new Simulation(simulationOptions(seed, options)).run();
}

/** The command that replays `seed` with the same options. */
export function replayCommand(seed: number, options: SeedRunOptions): string {
  const args = [`--seed ${seed}`];
  if (options.nodes !== undefined) args.push(`--nodes ${options.nodes}`);
  if (options.steps !== undefined) args.push(`--steps ${options.steps}`);
  return `npm run sim -- ${args.join(' ')}`;
}

/**
 * A failure report: seed, check, details, the last trace lines (from a deterministic re-run
 * with tracing on) and the replay command. Options other than nodes and steps (knobs, weights)
 * are the caller's to mention.
 */
export function describeFailure(result: SimulationResult, options: SeedRunOptions): string {
  const violation = result.violation;
  if (violation === null) return `seed ${result.seed}: passed`;
  const tail: string[] = [];
  new Simulation(
    simulationOptions(result.seed, {
      ...options,
      trace: (line) => {
        tail.push(line);
        if (tail.length > simTraceLinesKept) tail.shift();
      },
    }),
  ).run();
  return [
    `sim: seed ${result.seed} FAILED check ${violation.check}`,
    `  ${violation.details}`,
    `  last ${tail.length} trace lines:`,
    ...tail.map((line) => `    ${line}`),
    `  replay: ${replayCommand(result.seed, options)}`,
    `  trace:  ${replayCommand(result.seed, options)} --verbose`,
  ].join('\n');
}
