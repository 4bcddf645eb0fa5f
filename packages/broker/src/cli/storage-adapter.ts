/** `streambus wal verify` on the storage package's `verifyStore`. */
import { stat } from 'node:fs/promises';
import { verifyStore } from '@streambus/storage';
import type { VerifyProblem } from '@streambus/storage';
import type { VerifyWal, WalVerifyReport } from './seams.js';
import { rethrowBug } from '../bugs.js';

/** Thrown for a directory that is not there: nothing to verify is a failure, not a clean result. */
export class NoSuchDataDirError extends Error {
  readonly code = 'NO_SUCH_DATA_DIR' as const;
}

export const verifyWalWithStorage: VerifyWal = async (dataDir) => {
  const info = await stat(dataDir).catch(rethrowBug);
  if (info === undefined || !info.isDirectory())
    throw new NoSuchDataDirError(`${dataDir} is not a directory; give a broker's data directory`);
  const report = await verifyStore(dataDir);
  const problems = report.problems.map(formatProblem);
  const unlisted = report.problemCount - report.problems.length;
  if (unlisted > 0) problems.push(`... and ${unlisted} more problems`);
  const result: WalVerifyReport = {
    ok: report.ok,
    counts: {
      groups: report.groups,
      entries: report.entries,
      batches: report.batches,
      records: report.records,
      'batch bytes': report.batchBytes,
    },
    problems,
  };
  return result;
};

function formatProblem(problem: VerifyProblem): string {
  const where = [
    `group ${problem.groupId}`,
    problem.index === null ? '' : `index ${problem.index}`,
    problem.offset === null ? '' : `offset ${problem.offset}`,
  ]
    .filter((part) => part !== '')
    .join(' ');
  return `${where}: ${problem.kind}: ${problem.message}`;
}
