/** `streambus wal verify DIR`: walks a stopped broker's data directory and checks every batch and its records. */
import type { Command } from '../command.js';
import { booleanOption } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { jsonLine } from '../format.js';
import { reportFailure } from './with-client.js';
import { rethrowBug } from '../../bugs.js';

export const walVerify: Command = {
  path: ['wal', 'verify'],
  summary: "check every record batch (CRC and records) and the log's consistency in a data directory",
  synopsis: 'wal verify DIR [--json]',
  optionHelp: [
    '    --json                       print the report as JSON',
    "Run it on a stopped broker's data directory. Exit 0 clean, 1 damage found.",
  ],
  options: { json: { type: 'boolean' } },
  positionalsMin: 1,
  positionalsMax: 1,
  run: async (input) => {
    const verify = input.deps.verifyWal;
    const dir = input.positionals[0] ?? '';
    const json = booleanOption(input.values, 'json');
    try {
      const report = await verify(dir);
      if (json) {
        input.deps.io.stdout(jsonLine({ dir, ok: report.ok, counts: report.counts, problems: report.problems }));
      } else {
        for (const problem of report.problems) input.deps.io.stdout(`problem: ${problem}\n`);
        const counts = Object.entries(report.counts)
          .map(([name, count]) => `${count} ${name}`)
          .join(', ');
        input.deps.io.stdout(`${report.ok ? 'ok' : 'DAMAGED'}: ${dir}${counts === '' ? '' : ` (${counts})`}\n`);
      }
      return report.ok ? ExitCode.ok : ExitCode.failed;
    } catch (error: unknown) {
      rethrowBug(error);
      reportFailure(input, 'wal verify', json, error);
      return ExitCode.failed;
    }
  },
};
