/** `streambus-chaos`: the CLI of the chaos harness (see `usage`). */
import { formatReport } from '../report.js';
import { runChaos } from '../run/run-chaos.js';
import { parseArgs, parseRealArgs, usage, UsageError } from './args.js';
import type { CliRun, RealCliRun } from './args.js';

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    process.stdout.write(usage);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === 'real') return runCommand(argv, parseRealArgs, executeReal);
  return runCommand(argv, parseArgs, executeRun);
}

/** What `parseArgs` and `parseRealArgs` return. */
interface ParsedRun {
  readonly options: { readonly seed: number };
  readonly quiet: boolean;
  readonly seedWasRandom: boolean;
}

/** Parses `argv` (a usage error: exit 2 with the usage), prints a random seed, then runs. */
async function runCommand<T extends ParsedRun>(
  argv: readonly string[],
  parse: (argv: readonly string[], randomSeed: () => number) => T,
  execute: (run: T) => Promise<number>,
): Promise<number> {
  let run: T;
  try {
    run = parse(argv, () => Math.floor(Math.random() * 1_000_000));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`streambus-chaos: ${error.message}\n${usage}`);
      return 2;
    }
    throw error;
  }
  if (run.seedWasRandom) process.stdout.write(`random seed ${run.options.seed}\n`);
  return execute(run);
}

async function executeRun(run: CliRun): Promise<number> {
  const report = await runChaos({
    ...run.options,
    ...(run.quiet ? {} : { onProgress: (line: string) => process.stdout.write(`${line}\n`) }),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

/** `real`: broker processes on a real kernel network (loaded only for this command). */
async function executeReal(run: RealCliRun): Promise<number> {
  const { runReal } = await import('../real/run-real.js');
  const started = Date.now();
  const report = await runReal({
    ...run.options,
    ...(run.quiet
      ? {}
      : {
          onProgress: (line: string) =>
            process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`),
        }),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  if (report.ok) process.stdout.write(`  replay: ${report.replayCommand}\n`);
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`streambus-chaos: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
