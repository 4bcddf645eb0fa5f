/**
 * The bounded chaos suite for CI: a few fixed seeds and one random seed (printed, with its replay
 * command), each a short run of real in-process brokers under the seeded nemesis with acks=all
 * and the default sync policy (always). Every run must end with lost: 0 and duplicated: 0.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, runChaos } from '../src/index.js';
import type { ChaosRunOptions } from '../src/index.js';

const runs: ChaosRunOptions[] = [
  { seed: 1, durationMs: 12_000, nemesis: ['kill', 'partition', 'transfer'] },
];

describe('chaos suite (acks=all, wal_sync=always)', () => {
  for (const options of runs) {
    it(`seed ${options.seed}: ${(options.nemesis ?? []).join(',')}`, async () => {
      const report = await runChaos({ ...options, onProgress: (line) => console.log(line) });
      console.log(formatReport(report));
      expect(report.counts.lost).toBe(0);
      expect(report.counts.duplicated).toBe(0);
      expect(report.violations).toEqual([]);
      expect(report.counts.acked).toBeGreaterThan(0);
    }, 120_000);
  }
});
