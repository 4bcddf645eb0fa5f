/**
 * Runs the simulator over seeds and reports failures the way a developer needs them: the seed,
 * the check that failed with its details, the tail of the run's trace, and the exact command
 * that replays it.
 */
import { simNodesMax, simNodesMin, simStepsDefault } from './constants.js';
import { formatFailure, shorterLine, traceTail } from './failure-report.js';
import { profileOptions } from './profiles.js';
import type { SimKnob, SimProfileName } from './profiles.js';
import { runDoubleVote } from './double-vote.js';
import { runFigure8 } from './figure8.js';
import { runLeaseLateAck } from './lease-late-ack.js';
import { runLeaseRestart } from './lease-restart.js';
import { runLeaseTransfer } from './lease-transfer.js';
import { Simulation } from './simulation.js';
import type { SimulationOptions, SimulationResult } from './simulation.js';

/** Everything a run depends on besides its seed; all of it can be given on the command line. */
export interface SeedRunOptions {
  /** Initial voters; default: 3, 4 or 5 chosen by the seed. */
  readonly nodes?: number;
  readonly steps?: number;
  /** Default 'default'. */
  readonly profile?: SimProfileName;
  /** Unsafe knobs to switch on (tests that prove the checkers can fail). */
  readonly knobs?: readonly SimKnob[];
  /** A directed scenario instead of a random run (nodes, steps and profile do not apply). */
  readonly scenario?: SimScenarioName;
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
    ...profileOptions(options.profile ?? 'default', options.knobs ?? []),
    seed,
    nodes: options.nodes ?? nodesForSeed(seed),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  };
}

/** The directed scenarios the command line can run (`--scenario`). */
export const simScenarios = ['figure8', 'lease-transfer', 'lease-restart', 'lease-late-ack', 'double-vote'] as const;
export type SimScenarioName = (typeof simScenarios)[number];

export function isSimScenarioName(name: string): name is SimScenarioName {
  return (simScenarios as readonly string[]).includes(name);
}

export function runSeed(seed: number, options: SeedRunOptions = {}): SimulationResult {
  const trace = options.trace === undefined ? {} : { trace: options.trace };
  switch (options.scenario) {
    case 'figure8':
      return runFigure8({
        seed,
        commitOldTermEntries: (options.knobs ?? []).includes('commitOldTermEntries'),
        ...trace,
      });
    case 'lease-transfer':
      return runLeaseTransfer({ seed, ...trace });
    case 'lease-restart':
      return runLeaseRestart({ seed, ...trace });
    case 'lease-late-ack':
      return runLeaseLateAck({ seed, ...trace });
    case 'double-vote':
      return runDoubleVote({
        seed,
        skipVotePersistence: (options.knobs ?? []).includes('skipVotePersistence'),
        ...trace,
      });
    default:
      return new Simulation(simulationOptions(seed, options)).run();
  }
}

/** The command that replays `seed` with the same options. */
export function replayCommand(seed: number, options: SeedRunOptions): string {
  const args = [`--seed ${seed}`];
  if (options.scenario !== undefined) args.push(`--scenario ${options.scenario}`);
  if (options.nodes !== undefined) args.push(`--nodes ${options.nodes}`);
  if (options.steps !== undefined) args.push(`--steps ${options.steps}`);
  if (options.profile !== undefined && options.profile !== 'default') args.push(`--profile ${options.profile}`);
  for (const knob of options.knobs ?? []) args.push(`--knob ${knob}`);
  return `npm run sim -- ${args.join(' ')}`;
}

/**
 * A failure report: seed, check, details, the last trace lines (from a deterministic re-run
 * with tracing on) and the replay command.
 */
export function describeFailure(result: SimulationResult, options: SeedRunOptions): string {
  const violation = result.violation;
  if (violation === null) return `sim: seed ${result.seed} passed`;
  const tail = traceTail();
  const { trace: _trace, ...quiet } = options;
  runSeed(result.seed, { ...quiet, trace: tail.trace });
  const shorter =
    result.phase === 'random' &&
    options.scenario === undefined &&
    result.stepsDone + 1 < (options.steps ?? simStepsDefault)
      ? [shorterLine(replayCommand(result.seed, { ...quiet, steps: result.stepsDone + 1 }), result.stepsDone)]
      : [];
  return formatFailure(`seed ${result.seed}`, violation, tail.lines, replayCommand(result.seed, quiet), shorter);
}
