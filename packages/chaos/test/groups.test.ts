/**
 * The consumer-group workload under the nemesis (issue 11): members that join, leave and follow
 * their coordinator through kills, partitions and leader transfers of the brokers, with every
 * group check; and the planted bug `commitBeforeProcessing` (members that commit a poll before
 * processing it and leave in between), which the at-least-once check must catch.
 *
 * Replay: CHAOS_SEED=<seed> npx vitest run test/groups.test.ts (from packages/chaos), or the
 * `npx streambus-chaos run ...` command each report prints.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, runChaos } from '../src/index.js';

const envSeed = process.env.CHAOS_SEED;
const seed = envSeed === undefined ? 11 : Number(envSeed);

describe('consumer-group workload', () => {
  it(`seed ${seed}: members churn under kill, partition, transfer and pause; every group check passes`, async () => {
    const report = await runChaos({
      seed,
      durationMs: 10_000,
      nemesis: ['kill', 'partition', 'transfer', 'pause'],
      groupMembers: 3,
      onProgress: (line) => console.log(line),
      progressIntervalMs: 5_000,
    });
    console.log(formatReport(report));
    expect(report.group, report.replayCommand).toBeDefined();
    expect(report.group?.groupAcked).toBeGreaterThan(0);
    expect(report.group?.commitsAcked).toBeGreaterThan(0);
    expect(report.group?.callbacks).toBeGreaterThan(0);
    expect(report.violations, report.replayCommand).toEqual([]);
  }, 150_000);

  it('planted commitBeforeProcessing: records committed by a leaving member and never processed are reported', async () => {
    const report = await runChaos({
      seed: 5,
      durationMs: 6_000,
      nemesis: [],
      groupMembers: 2,
      groupChurnIntervalMs: 1_000,
      unsafeCommitBeforeProcessing: true,
    });
    console.log(formatReport(report));
    expect(report.group?.groupUnprocessed).toBeGreaterThan(0);
    expect(report.violations.some((line) => line.startsWith('groupUnprocessed:'))).toBe(true);
    expect(report.replayCommand).toContain('--unsafe-commit-before-processing');
  }, 150_000);
});
