/**
 * The bounded chaos suite for CI: fixed seeds plus one random seed (printed with its replay
 * commands), each a short run of real in-process brokers under the seeded nemesis, acks=all and
 * the default sync policy (always). Every run must end with lost: 0, duplicated: 0 and no
 * violation; the summary at the end prints the totals.
 *
 * Replay one run: CHAOS_SEED=<seed> npx vitest run test/chaos-suite.test.ts (from packages/chaos),
 * or the `npx streambus-chaos run ...` command each report prints.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { defaultNemesis, formatReport, runChaos } from '../src/index.js';
import type { ChaosReport, ChaosRunOptions } from '../src/index.js';

const envSeed = process.env.CHAOS_SEED;
const randomSeed = envSeed === undefined ? Math.floor(Math.random() * 1_000_000) : Number(envSeed);

// Seeds 1 and 3 also run the consumer-group workload (3 churning members) and its checks: it
// keeps their time (12.4 s and 9.4 s without, 14.1 s and 9.9 s with). With it on every run the
// suite took 82.1 s instead of 58.5 s (seed 4: 20.6 s instead of 11.6 s, though 11.7 s when run
// again alone; the random seed 20.1 s instead of 10.9 s), so the crash and power-loss runs keep
// it in test/groups.test.ts until it is measured to cost nothing there.
const runs: ChaosRunOptions[] = [
  { seed: 1, durationMs: 10_000, nemesis: ['kill', 'partition', 'transfer'], groupMembers: 3 },
  { seed: 2, durationMs: 10_000, nemesis: ['crash', 'pause', 'stop', 'topic'] },
  { seed: 3, durationMs: 8_000, nemesis: ['delay', 'drop', 'duplicate', 'reorder', 'clock'], groupMembers: 3 },
  // Seed 4 flips a bit on a follower (it must be repaired) among power losses and failing disks.
  { seed: 4, durationMs: 10_000, nemesis: ['corrupt', 'disk-fail', 'power', 'kill'] },
  { seed: randomSeed, durationMs: 10_000, nemesis: defaultNemesis },
];

const reports: ChaosReport[] = [];

afterAll(() => {
  const sum = (pick: (report: ChaosReport) => number): number =>
    reports.reduce((total, report) => total + pick(report), 0);
  console.log(
    [
      `chaos suite summary (acks=all, wal_sync=always): ${reports.length} runs, seeds ${reports.map((report) => report.seed).join(',')}`,
      `  acked: ${sum((r) => r.counts.acked)}`,
      `  lost: ${sum((r) => r.counts.lost)}`,
      `  duplicated: ${sum((r) => r.counts.duplicated)}`,
      `  unknown: ${sum((r) => r.counts.unknown)}`,
      `  divergence: ${sum((r) => r.counts.divergence)}`,
      `  corrupt replicas left: ${sum((r) => r.counts.corruptReplicas)}`,
      `  group: processed ${sum((r) => r.group?.groupProcessed ?? 0)} of ${sum((r) => r.group?.groupAcked ?? 0)} acknowledged, commits acked ${sum((r) => r.group?.commitsAcked ?? 0)} refused ${sum((r) => r.group?.commitsRefused ?? 0)}, overlaps ${sum((r) => r.group?.ownershipOverlaps ?? 0)}, fenced accepted ${sum((r) => r.group?.fencedCommitsAccepted ?? 0)}, commits backward ${sum((r) => r.group?.commitsBackward ?? 0)} lost ${sum((r) => r.group?.commitsLost ?? 0)}`,
      `  recovery time max: ${Math.max(0, ...reports.map((r) => r.recoveryMs ?? Infinity))} ms`,
    ].join('\n'),
  );
});

describe('chaos suite (acks=all, wal_sync=always)', () => {
  for (const [i, options] of runs.entries()) {
    const random = i === runs.length - 1;
    it(`${random ? 'random ' : ''}seed ${options.seed}: ${(options.nemesis ?? []).join(',')}`, async () => {
      if (random)
        console.log(
          `random chaos seed ${options.seed}; replay: CHAOS_SEED=${options.seed} npx vitest run test/chaos-suite.test.ts`,
        );
      const report = await runChaos({ ...options, onProgress: (line) => console.log(line), progressIntervalMs: 5_000 });
      reports.push(report);
      console.log(formatReport(report));
      expect(report.counts.acked).toBeGreaterThan(0);
      expect(report.counts.lost, report.replayCommand).toBe(0);
      expect(report.counts.duplicated, report.replayCommand).toBe(0);
      expect(report.counts.corruptReplicas, report.replayCommand).toBe(0);
      if (options.groupMembers !== undefined) expect(report.group?.groupAcked, report.replayCommand).toBeGreaterThan(0);
      expect(report.violations, report.replayCommand).toEqual([]);
    }, 150_000);
  }
});
