/** Argument parsing of `streambus-chaos` (pure, so it is unit-tested). */
import { brokersMax, brokersMin, partitionsMax, realBrokersMax, realBrokersMin, recordsPerSecondDefault, runDurationMsMax, workersMax } from '../constants.js';
import type { UnsafeTestingKnobs } from '@streambus/broker/testing';
import type { WalSyncPolicy } from '../nemesis/crash-store.js';
import { parseNemesis } from '../nemesis/schedule.js';
import type { ChaosRunOptions } from '../run/run-chaos.js';
import { defaultNemesis } from '../run/run-chaos.js';
import { parseRealFaults, realFaultKinds } from '../real/real-schedule.js';
import type { RealFaultKind } from '../real/real-schedule.js';
import type { RealRunOptions } from '../real/run-real.js';

export class UsageError extends Error {
  readonly code = 'USAGE' as const;
}

export const usage = `usage: streambus-chaos run [options]
       streambus-chaos real [options]       (root: broker processes on a real kernel network)

run: real in-process brokers under a seeded nemesis with a recording workload, then checks the
history and every replica's log. Exit 0: no violation; 1: violations (the report names the seed
and the replay command); 2: bad usage.

options:
  --seed N              fault schedule seed (default: random, printed)
  --duration D          how long faults and load run: 60s, 10m, 1500ms (default 20s)
  --brokers N           brokers (default 3)
  --partitions N        partitions of the workload topic (default 3)
  --nemesis LIST        comma list of kill,stop,crash,power,partition,pause,delay,drop,duplicate,
                        reorder,disk,disk-fail,corrupt,clock,transfer,topic,reassign; all or none;
                        default: all but corrupt, disk-fail and reassign (see README)
  --acks all|leader     producer acks (default all; leader measures what that mode loses)
  --wal-sync P          always|periodic|none (default always)
  --workers N           producer workers (default 2)
  --rate N              records per second in total (default ${recordsPerSecondDefault})
  --recovery-bound D    healing must give every partition a leader and full ISR within D (default 30s)
  --unsafe LIST         planted faults: ackBeforeCommit,skipSync,servePastHighWatermark (NEVER in production)
  --quiet               no progress lines, only the report

real: each broker an OS process in its own network namespace (ip netns, a bridge, iptables,
tc, tmpfs, libfaketime; needs root). SDK producers (idempotent and at-least-once), CLI
producers and polling consumers; Jepsen-style checks; the same exit codes.

real options:
  --seed N              fault schedule seed (default: random, printed)
  --duration D          how long faults and load run (default 60s; nightly soak: 10m)
  --brokers N           broker processes, 3 to 7 (default 3)
  --partitions N        partitions of the workload topic (default 3)
  --faults LIST         comma list of ${realFaultKinds.join(',')}; all or none (default all)
  --rate N              SDK records per second in total (default 150)
  --no-cli              no CLI producers
  --unsafe LIST         planted faults in every broker process: ackBeforeCommit,skipSync,servePastHighWatermark
  --quiet               no progress lines, only the report
`;

export interface CliRun {
  readonly options: ChaosRunOptions;
  readonly quiet: boolean;
  readonly seedWasRandom: boolean;
}

const knobNames = ['ackBeforeCommit', 'skipSync', 'servePastHighWatermark'] as const;

export function parseDurationMs(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw new UsageError(`${flag}: "${text}" is not a duration; write e.g. 60s, 10m or 1500ms`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}

function integer(text: string | undefined, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < min || value > max) throw new UsageError(`${flag} takes an integer in [${min}, ${max}], got "${text ?? ''}"`);
  return value;
}

export interface RealCliRun {
  readonly options: RealRunOptions;
  readonly quiet: boolean;
  readonly seedWasRandom: boolean;
}

/** `streambus-chaos real [options]`. */
export function parseRealArgs(argv: readonly string[], randomSeed: () => number): RealCliRun {
  const [command, ...rest] = argv;
  if (command !== 'real') throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${command}"`);
  let seed: number | null = null;
  let durationMs: number | undefined;
  let brokers: number | undefined;
  let partitions: number | undefined;
  let faults: RealFaultKind[] | undefined;
  let rate: number | undefined;
  let cliProducers = true;
  let quiet = false;
  const knobs: Record<string, boolean> = {};
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string;
    const value = (): string => {
      const next = rest[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--seed':
        seed = integer(value(), flag, 0, 2 ** 31 - 1);
        break;
      case '--duration':
        durationMs = parseDurationMs(value(), flag);
        if (durationMs <= 0 || durationMs > runDurationMsMax) throw new UsageError(`--duration must be within (0, ${runDurationMsMax / 60_000}m]`);
        break;
      case '--brokers':
        brokers = integer(value(), flag, realBrokersMin, realBrokersMax);
        break;
      case '--partitions':
        partitions = integer(value(), flag, 1, partitionsMax);
        break;
      case '--faults':
        try {
          faults = parseRealFaults(value());
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        break;
      case '--rate':
        rate = integer(value(), flag, 1, 10_000);
        break;
      case '--no-cli':
        cliProducers = false;
        break;
      case '--unsafe':
        for (const name of value().split(',')) {
          if (!(knobNames as readonly string[]).includes(name)) throw new UsageError(`--unsafe: unknown knob "${name}"; choose from ${knobNames.join(', ')}`);
          knobs[name] = true;
        }
        break;
      case '--quiet':
        quiet = true;
        break;
      default:
        throw new UsageError(`unknown option "${flag}" for real`);
    }
  }
  const options: RealRunOptions = {
    seed: seed ?? randomSeed(),
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(brokers === undefined ? {} : { brokers }),
    ...(partitions === undefined ? {} : { partitions }),
    ...(faults === undefined ? {} : { faults }),
    ...(rate === undefined ? {} : { recordsPerSecond: rate }),
    ...(cliProducers ? {} : { cliProducers: false }),
    ...(Object.keys(knobs).length === 0 ? {} : { unsafeTestingKnobs: knobs as UnsafeTestingKnobs }),
  };
  return { options, quiet, seedWasRandom: seed === null };
}

export function parseArgs(argv: readonly string[], randomSeed: () => number): CliRun {
  const [command, ...rest] = argv;
  if (command !== 'run') throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${command}"`);
  let seed: number | null = null;
  let durationMs: number | undefined;
  let brokers: number | undefined;
  let partitions: number | undefined;
  let nemesis = [...defaultNemesis];
  let acks: 'all' | 'leader' = 'all';
  let walSync: WalSyncPolicy = 'always';
  let workers: number | undefined;
  let rate: number | undefined;
  let recoveryMsMax: number | undefined;
  let quiet = false;
  const knobs: Record<string, boolean> = {};
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string;
    const value = (): string => {
      const next = rest[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--seed':
        seed = integer(value(), flag, 0, 2 ** 31 - 1);
        break;
      case '--duration':
        durationMs = parseDurationMs(value(), flag);
        if (durationMs <= 0 || durationMs > runDurationMsMax) throw new UsageError(`--duration must be within (0, ${runDurationMsMax / 60_000}m]`);
        break;
      case '--brokers':
        brokers = integer(value(), flag, brokersMin, brokersMax);
        break;
      case '--partitions':
        partitions = integer(value(), flag, 1, partitionsMax);
        break;
      case '--nemesis':
        try {
          nemesis = parseNemesis(value());
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        break;
      case '--acks': {
        const v = value();
        if (v !== 'all' && v !== 'leader') throw new UsageError(`--acks is all or leader, got "${v}"`);
        acks = v;
        break;
      }
      case '--wal-sync': {
        const v = value();
        if (v !== 'always' && v !== 'periodic' && v !== 'none') throw new UsageError(`--wal-sync is always, periodic or none, got "${v}"`);
        walSync = v;
        break;
      }
      case '--workers':
        workers = integer(value(), flag, 1, workersMax);
        break;
      case '--rate':
        rate = integer(value(), flag, 1, 100_000);
        break;
      case '--recovery-bound':
        recoveryMsMax = parseDurationMs(value(), flag);
        break;
      case '--unsafe':
        for (const name of value().split(',')) {
          if (!(knobNames as readonly string[]).includes(name)) throw new UsageError(`--unsafe: unknown knob "${name}"; choose from ${knobNames.join(', ')}`);
          knobs[name] = true;
        }
        break;
      case '--quiet':
        quiet = true;
        break;
      default:
        throw new UsageError(`unknown option "${flag}"`);
    }
  }
  const seedWasRandom = seed === null;
  const options: ChaosRunOptions = {
    seed: seed ?? randomSeed(),
    nemesis,
    acks,
    walSync,
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(brokers === undefined ? {} : { brokers }),
    ...(partitions === undefined ? {} : { partitions }),
    ...(workers === undefined ? {} : { workers }),
    ...(rate === undefined ? {} : { recordsPerSecond: rate }),
    ...(recoveryMsMax === undefined ? {} : { recoveryMsMax }),
    ...(Object.keys(knobs).length === 0 ? {} : { unsafeTestingKnobs: knobs as UnsafeTestingKnobs }),
  };
  return { options, quiet, seedWasRandom };
}
