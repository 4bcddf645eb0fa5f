/**
 * `npm run upgrade-test [-- --rate N --record-bytes B --partitions P --from COMMIT]`: builds the
 * previous release from an earlier commit and upgrades a 3-broker cluster of real processes to
 * this build one broker at a time under produce and consume load (rolling-upgrade.ts). Prints
 * progress, one line per broker replaced, and ends with
 * `rolling upgrade: 3 brokers, max gap N ms, lost: 0`. Exits 1 when an acknowledged record was lost
 * or a step failed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildPreviousRelease, previousReleaseCommit } from './previous-release.js';
import { formatUpgradeReport, runRollingUpgrade } from './rolling-upgrade.js';

function positiveInteger(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string' },
      'record-bytes': { type: 'string' },
      partitions: { type: 'string' },
      from: { type: 'string' },
    },
  });
  const progress = (line: string): void => console.log(`upgrade: ${line}`);
  const commit = values.from ?? process.env['STREAMBUS_UPGRADE_FROM'] ?? previousReleaseCommit;
  const dataDir = await mkdtemp(join(tmpdir(), 'streambus-upgrade-'));
  const previous = await buildPreviousRelease(commit, progress);
  try {
    const report = await runRollingUpgrade({
      dataDir,
      previous,
      ratePerSecond: positiveInteger(values.rate, 1000, 'rate'),
      recordBytes: positiveInteger(values['record-bytes'], 100, 'record-bytes'),
      partitions: positiveInteger(values.partitions, 6, 'partitions'),
      onProgress: progress,
    });
    for (const line of formatUpgradeReport(report)) console.log(line);
    return report.lost === 0 ? 0 : 1;
  } finally {
    await previous.remove();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`upgrade: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
