/**
 * Runs the host simulator over seeds (`npm run sim -- --host`) and reports a failure as the
 * RaftNode simulator does: seed, check, details, the tail of the trace from a deterministic
 * re-run, and the command that replays it.
 */
import { simHostStepsDefault } from './constants.js';
import { formatFailure, shorterLine, traceTail } from './failure-report.js';
import { HostSimulation } from './host-simulation.js';
import type { HostSimulationOptions, HostSimulationResult } from './host-simulation.js';
import { isSimKnob } from './profiles.js';
import type { SimKnob } from './profiles.js';
import type { UnsafeTestingKnobs } from '../../config.js';
import type { HostUnsafeTestingKnobs } from '../../host/raft-host.js';

/** Planted host bugs the command line can switch on (`--host --knob sendBeforePersist`). */
export const simHostKnobs = ['sendBeforePersist'] as const;
export type SimHostKnob = (typeof simHostKnobs)[number];

export function isSimHostKnob(name: string): name is SimHostKnob {
  return (simHostKnobs as readonly string[]).includes(name);
}

/** Everything a host run depends on besides its seed; all of it can be given on the command line. */
export interface HostSeedRunOptions {
  /** Hosts; default 3, 4 or 5 chosen by the seed. */
  readonly hosts?: number;
  /** Groups; default chosen by the seed. */
  readonly groups?: number;
  readonly steps?: number;
  /** Unsafe knobs: a host's (`sendBeforePersist`) or every node's (`skipVotePersistence`, ...). */
  readonly knobs?: readonly (SimKnob | SimHostKnob)[];
  /** Receives every trace line (verbose). */
  readonly trace?: (line: string) => void;
}

export function hostSimulationOptions(seed: number, options: HostSeedRunOptions): HostSimulationOptions {
  const knobs = options.knobs ?? [];
  const nodeKnobs = knobs.filter((knob): knob is SimKnob => isSimKnob(knob));
  const hostKnobs: HostUnsafeTestingKnobs = Object.fromEntries(knobs.filter(isSimHostKnob).map((knob) => [knob, true]));
  const unsafeTestingKnobs: UnsafeTestingKnobs = Object.fromEntries(nodeKnobs.map((knob) => [knob, true]));
  return {
    seed,
    ...(options.hosts === undefined ? {} : { hosts: options.hosts }),
    ...(options.groups === undefined ? {} : { groups: options.groups }),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(options.trace === undefined ? {} : { trace: options.trace }),
    ...(nodeKnobs.length === 0 ? {} : { raft: { unsafeTestingKnobs } }),
    hostKnobs,
  };
}

export function runHostSeed(seed: number, options: HostSeedRunOptions = {}): Promise<HostSimulationResult> {
  return new HostSimulation(hostSimulationOptions(seed, options)).run();
}

/** The command that replays `seed` of the host simulator with the same options. */
export function hostReplayCommand(seed: number, options: HostSeedRunOptions): string {
  const args = ['--host', `--seed ${seed}`];
  if (options.hosts !== undefined) args.push(`--nodes ${options.hosts}`);
  if (options.groups !== undefined) args.push(`--groups ${options.groups}`);
  if (options.steps !== undefined) args.push(`--steps ${options.steps}`);
  for (const knob of options.knobs ?? []) args.push(`--knob ${knob}`);
  return `npm run sim -- ${args.join(' ')}`;
}

/** A failure report: seed, check, details, the last trace lines of a re-run, and the replay commands. */
export async function describeHostFailure(result: HostSimulationResult, options: HostSeedRunOptions): Promise<string> {
  const violation = result.violation;
  if (violation === null) return `sim: host seed ${result.seed} passed`;
  const tail = traceTail();
  const { trace: _trace, ...quiet } = options;
  await runHostSeed(result.seed, { ...quiet, trace: tail.trace });
  const steps = options.steps ?? simHostStepsDefault;
  const shorter =
    result.phase === 'random' && result.stepsDone + 1 < steps
      ? [shorterLine(hostReplayCommand(result.seed, { ...quiet, steps: result.stepsDone + 1 }), result.stepsDone)]
      : [];
  return formatFailure(
    `host seed ${result.seed}`,
    violation,
    tail.lines,
    hostReplayCommand(result.seed, quiet),
    shorter,
  );
}
