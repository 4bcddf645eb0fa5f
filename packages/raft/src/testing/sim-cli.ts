/**
 * The Raft simulator's command line: `npm run sim -- --seeds 500` runs seeds 1..500 (or from
 * `--start S`), `--seed N` one seed, `--verbose` prints its trace, `--nodes` and `--steps`
 * override the group size and the number of random actions. `--host` runs the host simulator
 * instead (real RaftHosts; `--nodes` is then the number of hosts, `--groups` the number of
 * groups, `--knob sendBeforePersist` plants a host bug). It ends with exactly
 * `sim: P passed, F failed` and exits 1 when any seed failed.
 */
import { simHostGroupsMax, simHostGroupsMin, simNodesMax, simNodesMin, simStepsMax } from './sim/constants.js';
import {
  describeHostFailure,
  hostReplayCommand,
  isSimHostKnob,
  runHostSeed,
  simHostKnobs,
} from './sim/host-run-seeds.js';
import type { HostSeedRunOptions, SimHostKnob } from './sim/host-run-seeds.js';
import { isSimKnob, isSimProfileName, simKnobs, simProfiles } from './sim/profiles.js';
import type { SimKnob, SimProfileName } from './sim/profiles.js';
import { describeFailure, isSimScenarioName, replayCommand, runSeed, simScenarios } from './sim/run-seeds.js';
import type { SimScenarioName } from './sim/run-seeds.js';
import type { SimulationResult } from './sim/simulation.js';
import type { SeedRunOptions } from './sim/run-seeds.js';

interface CliOptions {
  readonly seeds: number[];
  readonly verbose: boolean;
  readonly run: SeedRunOptions;
  /** Set with --host: run the host simulator with these options instead. */
  readonly host: HostSeedRunOptions | null;
}

const usage =
  'usage: npm run sim -- [--seeds N [--start S] | --seed N] [--verbose] [--nodes 3..5] [--steps N] ' +
  `[--profile ${Object.keys(simProfiles).join('|')}] [--knob ${simKnobs.join('|')}]... [--scenario ${simScenarios.join('|')}]\n` +
  `       npm run sim -- --host [--seeds N [--start S] | --seed N] [--verbose] [--nodes 3..5] [--groups ${simHostGroupsMin}..${simHostGroupsMax}] [--steps N] ` +
  `[--knob ${[...simHostKnobs, ...simKnobs].join('|')}]...`;
const progressEverySeeds = 250;

function parseIntArg(name: string, value: string | undefined, min: number, max: number): number {
  const n = value === undefined ? Number.NaN : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} needs an integer in [${min}, ${max}], got ${value ?? 'nothing'}; ${usage}`);
  }
  return n;
}

function parseArgs(argv: readonly string[]): CliOptions {
  let count = 100;
  let start = 1;
  let single: number | null = null;
  let verbose = false;
  let nodes: number | undefined;
  let steps: number | undefined;
  let profile: SimProfileName | undefined;
  const knobs: SimKnob[] = [];
  const hostKnobs: SimHostKnob[] = [];
  let scenario: SimScenarioName | undefined;
  let host = false;
  let groups: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (arg) {
      case '--seeds':
        count = parseIntArg('--seeds', next(), 1, 10_000_000);
        break;
      case '--start':
        start = parseIntArg('--start', next(), -2_147_483_648, 2_147_483_647);
        break;
      case '--seed':
        single = parseIntArg('--seed', next(), -2_147_483_648, 2_147_483_647);
        break;
      case '--verbose':
        verbose = true;
        break;
      case '--nodes':
        nodes = parseIntArg('--nodes', next(), simNodesMin, simNodesMax);
        break;
      case '--steps':
        steps = parseIntArg('--steps', next(), 0, simStepsMax);
        break;
      case '--profile': {
        const name = next() ?? '';
        if (!isSimProfileName(name)) throw new Error(`unknown profile ${name}; ${usage}`);
        profile = name;
        break;
      }
      case '--knob': {
        const name = next() ?? '';
        if (isSimHostKnob(name)) hostKnobs.push(name);
        else if (isSimKnob(name)) knobs.push(name);
        else throw new Error(`unknown knob ${name}; ${usage}`);
        break;
      }
      case '--host':
        host = true;
        break;
      case '--groups':
        groups = parseIntArg('--groups', next(), simHostGroupsMin, simHostGroupsMax);
        break;
      case '--scenario': {
        const name = next() ?? '';
        if (!isSimScenarioName(name)) throw new Error(`unknown scenario ${name}; ${usage}`);
        scenario = name;
        break;
      }
      case '--help':
        console.log(usage);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg ?? ''}; ${usage}`);
    }
  }
  const seeds: number[] = [];
  if (single !== null) seeds.push(single);
  else for (let i = 0; i < count; i++) seeds.push(start + i);
  if (host) {
    if (profile !== undefined || scenario !== undefined)
      throw new Error(`--host runs real hosts: --profile and --scenario are for the RaftNode simulator; ${usage}`);
    const allKnobs = [...hostKnobs, ...knobs];
    const hostRun: HostSeedRunOptions = {
      ...(nodes === undefined ? {} : { hosts: nodes }),
      ...(groups === undefined ? {} : { groups }),
      ...(steps === undefined ? {} : { steps }),
      ...(allKnobs.length === 0 ? {} : { knobs: allKnobs }),
      ...(verbose ? { trace: (line: string) => console.log(line) } : {}),
    };
    return { seeds, verbose, run: {}, host: hostRun };
  }
  if (hostKnobs.length > 0 || groups !== undefined)
    throw new Error(`--knob ${hostKnobs.join(',') || '...'} and --groups need --host; ${usage}`);
  const run: SeedRunOptions = {
    ...(nodes === undefined ? {} : { nodes }),
    ...(steps === undefined ? {} : { steps }),
    ...(profile === undefined ? {} : { profile }),
    ...(knobs.length === 0 ? {} : { knobs }),
    ...(scenario === undefined ? {} : { scenario }),
    ...(verbose ? { trace: (line: string) => console.log(line) } : {}),
  };
  return { seeds, verbose, run, host: null };
}

async function main(): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  const tally = { passed: 0, failed: 0 };
  const startedMs = Date.now();
  const progress = (): void => {
    const done = tally.passed + tally.failed;
    if (options.seeds.length > 1 && done % progressEverySeeds === 0) {
      console.log(
        `sim: ${done}/${options.seeds.length} seeds, ${tally.failed} failed, ${((Date.now() - startedMs) / 1000).toFixed(1)} s`,
      );
    }
  };
  if (options.host !== null) {
    for (const seed of options.seeds) {
      await runHost(seed, options.host, options, tally);
      progress();
    }
  } else {
    for (const seed of options.seeds) {
      runNode(seed, options, tally);
      progress();
    }
  }
  console.log(`sim: ${tally.passed} passed, ${tally.failed} failed`);
  return tally.failed > 0 ? 1 : 0;
}

interface Tally {
  passed: number;
  failed: number;
}

function runNode(seed: number, options: CliOptions, tally: Tally): void {
  let result: SimulationResult;
  const { trace: _trace, ...quiet } = options.run;
  try {
    result = runSeed(seed, options.run);
  } catch (error) {
    // A broken assertion of the simulator or a scenario itself: still a failed seed, replayable.
    tally.failed++;
    console.log(
      `sim: seed ${seed} FAILED with an error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    console.log(`  replay: ${replayCommand(seed, quiet)}`);
    return;
  }
  if (result.passed) {
    tally.passed++;
    if (options.seeds.length === 1) console.log(`sim: seed ${seed} passed ${JSON.stringify(result.stats)}`);
    return;
  }
  tally.failed++;
  console.log(
    options.verbose
      ? `sim: seed ${seed} FAILED ${result.violation?.message ?? ''}\n  replay: ${replayCommand(seed, quiet)}`
      : describeFailure(result, quiet),
  );
}

async function runHost(seed: number, run: HostSeedRunOptions, options: CliOptions, tally: Tally): Promise<void> {
  const { trace: _trace, ...quiet } = run;
  let result;
  try {
    result = await runHostSeed(seed, run);
  } catch (error) {
    tally.failed++;
    console.log(
      `sim: host seed ${seed} FAILED with an error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    console.log(`  replay: ${hostReplayCommand(seed, quiet)}`);
    return;
  }
  if (result.passed) {
    tally.passed++;
    if (options.seeds.length === 1) console.log(`sim: host seed ${seed} passed ${JSON.stringify(result.stats)}`);
    return;
  }
  tally.failed++;
  console.log(
    options.verbose
      ? `sim: host seed ${seed} FAILED ${result.violation?.message ?? ''}\n  replay: ${hostReplayCommand(seed, quiet)}`
      : await describeHostFailure(result, quiet),
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);
