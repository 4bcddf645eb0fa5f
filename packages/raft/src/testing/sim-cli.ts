/**
 * The Raft simulator's command line: `npm run sim -- --seeds 500` runs seeds 1..500 (or from
 * `--start S`), `--seed N` one seed, `--verbose` prints its trace, `--nodes` and `--steps`
 * override the group size and the number of random actions. It ends with exactly
 * `sim: P passed, F failed` and exits 1 when any seed failed.
 */
import { simNodesMax, simNodesMin, simStepsMax } from './sim/constants.js';
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
}

const usage =
  'usage: npm run sim -- [--seeds N [--start S] | --seed N] [--verbose] [--nodes 3..5] [--steps N] ' +
  `[--profile ${Object.keys(simProfiles).join('|')}] [--knob ${simKnobs.join('|')}]... [--scenario ${simScenarios.join('|')}]`;
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
  let scenario: SimScenarioName | undefined;
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
        if (!isSimKnob(name)) throw new Error(`unknown knob ${name}; ${usage}`);
        knobs.push(name);
        break;
      }
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
  const run: SeedRunOptions = {
    ...(nodes === undefined ? {} : { nodes }),
    ...(steps === undefined ? {} : { steps }),
    ...(profile === undefined ? {} : { profile }),
    ...(knobs.length === 0 ? {} : { knobs }),
    ...(scenario === undefined ? {} : { scenario }),
    ...(verbose ? { trace: (line: string) => console.log(line) } : {}),
  };
  return { seeds, verbose, run };
}

function main(): number {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }
  let passed = 0;
  let failed = 0;
  const startedMs = Date.now();
  for (const seed of options.seeds) {
    let result: SimulationResult;
    try {
      result = runSeed(seed, options.run);
    } catch (error) {
      // A broken assertion of the simulator or a scenario itself: still a failed seed, replayable.
      failed++;
      const { trace: _trace, ...quiet } = options.run;
      console.log(`sim: seed ${seed} FAILED with an error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      console.log(`  replay: ${replayCommand(seed, quiet)}`);
      continue;
    }
    if (result.passed) {
      passed++;
      if (options.seeds.length === 1) console.log(`sim: seed ${seed} passed ${JSON.stringify(result.stats)}`);
    } else {
      failed++;
      const { trace: _trace, ...quiet } = options.run;
      console.log(options.verbose ? `sim: seed ${seed} FAILED ${result.violation?.message ?? ''}\n  replay: ${replayCommand(seed, quiet)}` : describeFailure(result, quiet));
    }
    const done = passed + failed;
    if (options.seeds.length > 1 && done % progressEverySeeds === 0) {
      console.log(`sim: ${done}/${options.seeds.length} seeds, ${failed} failed, ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
    }
  }
  console.log(`sim: ${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main();
