/** `streambus-chaos`: the CLI of the chaos harness (see `usage`). */
import { formatReport } from '../report.js';
import { runChaos } from '../run/run-chaos.js';
import { parseArgs, usage, UsageError } from './args.js';

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
    process.stdout.write(usage);
    return argv.length === 0 ? 2 : 0;
  }
  let run;
  try {
    run = parseArgs(argv, () => Math.floor(Math.random() * 1_000_000));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`streambus-chaos: ${error.message}\n${usage}`);
      return 2;
    }
    throw error;
  }
  if (run.seedWasRandom) process.stdout.write(`random seed ${run.options.seed}\n`);
  const report = await runChaos({
    ...run.options,
    ...(run.quiet ? {} : { onProgress: (line: string) => process.stdout.write(`${line}\n`) }),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`streambus-chaos: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
