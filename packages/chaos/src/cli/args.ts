/** Argument parsing of `streambus-chaos` (pure, so it is unit-tested). */
import {
  brokersMax,
  brokersMin,
  groupMembersMax,
  partitionsMax,
  realBrokersMax,
  realBrokersMin,
  recordsPerSecondDefault,
  runDurationMsMax,
  workersMax,
} from '../constants.js';
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
  --group-members N     consumer-group workload: N SDK members of one group (default 0: none)
  --group-churn-ms D    one member leaves and one joins every D ms plus jitter (default 2000; 0: none)
  --unsafe-commit-before-processing   planted bug of the group workload (a self-test of its checks)
  --secure              TLS (throwaway CA) and SCRAM-SHA-256 auth on every broker, the workload's
                        clients with tls and sasl, anonymous calls probed (each must be refused)
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
  --group-members N     consumer-group workload: N SDK members of one group (default 0: none)
  --group-churn-ms D    one member leaves and one joins every D ms plus jitter (default 2000; 0: none)
  --unsafe LIST         planted faults in every broker process: ackBeforeCommit,skipSync,servePastHighWatermark
  --secure              TLS (each process its own certificate) and SCRAM-SHA-256 auth; every client,
                        the CLI producers too, with tls and sasl; anonymous calls probed at the end
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
  if (text === undefined || !Number.isInteger(value) || value < min || value > max)
    throw new UsageError(`${flag} takes an integer in [${min}, ${max}], got "${text ?? ''}"`);
  return value;
}

export interface RealCliRun {
  readonly options: RealRunOptions;
  readonly quiet: boolean;
  readonly seedWasRandom: boolean;
}

/** The flags `run` and `real` share, as given (undefined: the run's default). */
interface CommonFlags {
  seed: number | null;
  durationMs: number | undefined;
  brokers: number | undefined;
  partitions: number | undefined;
  rate: number | undefined;
  quiet: boolean;
  readonly knobs: Record<string, boolean>;
}

/** What tells the commands' flags apart: bounds, and the flags of one command only. */
interface CommandFlags {
  readonly command: 'run' | 'real';
  readonly brokersMin: number;
  readonly brokersMax: number;
  readonly rateMax: number;
  /** Said after `unknown option "..."`. */
  readonly unknownOptionSuffix: string;
  /** Parses `flag` if it is one of this command's own (reading its value with `value`); false if it is not. */
  readonly own: (flag: string, value: () => string) => boolean;
}

function parseFlags(argv: readonly string[], spec: CommandFlags): CommonFlags {
  const [command, ...rest] = argv;
  if (command !== spec.command)
    throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${command}"`);
  const flags: CommonFlags = {
    seed: null,
    durationMs: undefined,
    brokers: undefined,
    partitions: undefined,
    rate: undefined,
    quiet: false,
    knobs: {},
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string;
    const value = (): string => {
      const next = rest[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--seed':
        flags.seed = integer(value(), flag, 0, 2 ** 31 - 1);
        break;
      case '--duration':
        flags.durationMs = parseDurationMs(value(), flag);
        if (flags.durationMs <= 0 || flags.durationMs > runDurationMsMax)
          throw new UsageError(`--duration must be within (0, ${runDurationMsMax / 60_000}m]`);
        break;
      case '--brokers':
        flags.brokers = integer(value(), flag, spec.brokersMin, spec.brokersMax);
        break;
      case '--partitions':
        flags.partitions = integer(value(), flag, 1, partitionsMax);
        break;
      case '--rate':
        flags.rate = integer(value(), flag, 1, spec.rateMax);
        break;
      case '--unsafe':
        for (const name of value().split(',')) {
          if (!(knobNames as readonly string[]).includes(name))
            throw new UsageError(`--unsafe: unknown knob "${name}"; choose from ${knobNames.join(', ')}`);
          flags.knobs[name] = true;
        }
        break;
      case '--quiet':
        flags.quiet = true;
        break;
      default:
        if (!spec.own(flag, value)) throw new UsageError(`unknown option "${flag}"${spec.unknownOptionSuffix}`);
    }
  }
  return flags;
}

/** A list parser's error (parseNemesis, parseRealFaults) as a usage error. */
function usageList<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `streambus-chaos real [options]`. */
export function parseRealArgs(argv: readonly string[], randomSeed: () => number): RealCliRun {
  let faults: RealFaultKind[] | undefined;
  let cliProducers = true;
  let realSecure = false;
  let groupMembers: number | undefined;
  let groupChurnIntervalMs: number | undefined;
  const flags = parseFlags(argv, {
    command: 'real',
    brokersMin: realBrokersMin,
    brokersMax: realBrokersMax,
    rateMax: 10_000,
    unknownOptionSuffix: ' for real',
    own: (flag, value) => {
      switch (flag) {
        case '--faults':
          faults = usageList(() => parseRealFaults(value()));
          return true;
        case '--no-cli':
          cliProducers = false;
          return true;
        case '--secure':
          realSecure = true;
          return true;
        case '--group-members':
          groupMembers = integer(value(), flag, 0, groupMembersMax);
          return true;
        case '--group-churn-ms':
          groupChurnIntervalMs = integer(value(), flag, 0, runDurationMsMax);
          return true;
        default:
          return false;
      }
    },
  });
  const { seed, durationMs, brokers, partitions, rate, quiet, knobs } = flags;
  const options: RealRunOptions = {
    seed: seed ?? randomSeed(),
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(brokers === undefined ? {} : { brokers }),
    ...(partitions === undefined ? {} : { partitions }),
    ...(faults === undefined ? {} : { faults }),
    ...(rate === undefined ? {} : { recordsPerSecond: rate }),
    ...(cliProducers ? {} : { cliProducers: false }),
    ...(realSecure ? { secure: true } : {}),
    ...(groupMembers === undefined ? {} : { groupMembers }),
    ...(groupChurnIntervalMs === undefined ? {} : { groupChurnIntervalMs }),
    ...(Object.keys(knobs).length === 0 ? {} : { unsafeTestingKnobs: knobs }),
  };
  return { options, quiet, seedWasRandom: seed === null };
}

export function parseArgs(argv: readonly string[], randomSeed: () => number): CliRun {
  let nemesis = [...defaultNemesis];
  let acks: 'all' | 'leader' = 'all';
  let walSync: WalSyncPolicy = 'always';
  let workers: number | undefined;
  let recoveryMsMax: number | undefined;
  let groupMembers: number | undefined;
  let groupChurnIntervalMs: number | undefined;
  let commitBeforeProcessing = false;
  let secure = false;
  const flags = parseFlags(argv, {
    command: 'run',
    brokersMin,
    brokersMax,
    rateMax: 100_000,
    unknownOptionSuffix: '',
    own: (flag, value) => {
      switch (flag) {
        case '--nemesis':
          nemesis = usageList(() => parseNemesis(value()));
          return true;
        case '--acks': {
          const v = value();
          if (v !== 'all' && v !== 'leader') throw new UsageError(`--acks is all or leader, got "${v}"`);
          acks = v;
          return true;
        }
        case '--wal-sync': {
          const v = value();
          if (v !== 'always' && v !== 'periodic' && v !== 'none')
            throw new UsageError(`--wal-sync is always, periodic or none, got "${v}"`);
          walSync = v;
          return true;
        }
        case '--workers':
          workers = integer(value(), flag, 1, workersMax);
          return true;
        case '--recovery-bound':
          recoveryMsMax = parseDurationMs(value(), flag);
          return true;
        case '--group-members':
          groupMembers = integer(value(), flag, 0, groupMembersMax);
          return true;
        case '--group-churn-ms':
          groupChurnIntervalMs = integer(value(), flag, 0, runDurationMsMax);
          return true;
        case '--unsafe-commit-before-processing':
          commitBeforeProcessing = true;
          return true;
        case '--secure':
          secure = true;
          return true;
        default:
          return false;
      }
    },
  });
  const { seed, durationMs, brokers, partitions, rate, quiet, knobs } = flags;
  const seedWasRandom = seed === null;
  const options: ChaosRunOptions = {
    ...(groupMembers === undefined ? {} : { groupMembers }),
    ...(groupChurnIntervalMs === undefined ? {} : { groupChurnIntervalMs }),
    ...(commitBeforeProcessing ? { unsafeCommitBeforeProcessing: true } : {}),
    ...(secure ? { secure: true } : {}),
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
    ...(Object.keys(knobs).length === 0 ? {} : { unsafeTestingKnobs: knobs }),
  };
  return { options, quiet, seedWasRandom };
}
