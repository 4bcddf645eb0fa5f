import { describe, expect, it } from 'vitest';
import { describeHostFailure, hostReplayCommand, runHostSeed } from './host-run-seeds.js';
import type { HostSeedRunOptions } from './host-run-seeds.js';
import { HostSimulation } from './host-simulation.js';
import type { HostSimulationResult } from './host-simulation.js';

/** The first seed in [1, limit] whose host run fails, or null. */
async function firstFailingSeed(limit: number, options: HostSeedRunOptions): Promise<HostSimulationResult | null> {
  for (let seed = 1; seed <= limit; seed++) {
    const result = await runHostSeed(seed, options);
    if (!result.passed) return result;
  }
  return null;
}

describe('host simulator: real RaftHosts in virtual time', () => {
  it('passes every check on seeds 1..8', async () => {
    const failures: HostSimulationResult[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const result = await runHostSeed(seed);
      if (!result.passed) failures.push(result);
    }
    for (const failure of failures) console.error(await describeHostFailure(failure, {}));
    expect(failures.map((f) => `${f.seed}: ${f.violation?.message ?? ''}`)).toEqual([]);
  }, 120_000);

  it('replays a seed exactly: the same trace and stats twice', async () => {
    const traceOf = async (seed: number): Promise<string[]> => {
      const lines: string[] = [];
      await runHostSeed(seed, { steps: 80, trace: (line) => lines.push(line) });
      return lines;
    };
    const a = await traceOf(7);
    expect(a.length).toBeGreaterThan(200);
    expect(await traceOf(7)).toEqual(a);
    expect(await traceOf(8)).not.toEqual(a);
    expect((await runHostSeed(7, { steps: 80 })).stats).toEqual((await runHostSeed(7, { steps: 80 })).stats);
  }, 60_000);

  it('runs the production loop: group commit, coalesced frames, quiescence and failover from it', async () => {
    const totals = {
      proposalsAcked: 0,
      readsAnswered: 0,
      crashes: 0,
      snapshotsRestored: 0,
      quiesceMarkers: 0,
      framesOfSeveralGroups: 0,
      staleFrames: 0,
    };
    let groupWritesPerPersistMax = 0;
    for (let seed = 20; seed < 26; seed++) {
      const result = await runHostSeed(seed, { hosts: 3, groups: 6 });
      expect(
        result.passed,
        `${hostReplayCommand(seed, { hosts: 3, groups: 6 })}: ${result.violation?.message ?? ''}`,
      ).toBe(true);
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += result.stats[key];
      groupWritesPerPersistMax = Math.max(groupWritesPerPersistMax, result.stats.groupWritesPerPersist);
    }
    console.log(
      `host seeds 20..25 (3 hosts, 6 groups): ${JSON.stringify(totals)}, group writes per persist up to ${groupWritesPerPersistMax}`,
    );
    expect(totals.proposalsAcked).toBeGreaterThan(100);
    expect(totals.readsAnswered).toBeGreaterThan(10);
    expect(totals.crashes).toBeGreaterThan(5);
    expect(totals.snapshotsRestored).toBeGreaterThan(0);
    expect(totals.quiesceMarkers).toBeGreaterThan(0);
    // Several groups in one persist, several messages in one frame: the host batches for real.
    expect(groupWritesPerPersistMax).toBeGreaterThan(1);
    expect(totals.framesOfSeveralGroups).toBeGreaterThan(100);
  }, 120_000);

  it('catches the planted host bug sendBeforePersist on the first seeds (a vote leaves before the vote is on disk)', async () => {
    const failure = await firstFailingSeed(10, { knobs: ['sendBeforePersist'] });
    expect(failure, 'no seed in 1..10 caught sendBeforePersist').not.toBeNull();
    console.log(`sendBeforePersist caught at host seed ${failure?.seed ?? 0}: ${failure?.violation?.message ?? ''}`);
    expect(failure?.violation?.check).toBe('durability');
    expect(await describeHostFailure(failure as HostSimulationResult, { knobs: ['sendBeforePersist'] })).toContain(
      `replay: npm run sim -- --host --seed ${failure?.seed ?? 0} --knob sendBeforePersist`,
    );
  }, 60_000);

  it('catches sendBeforePersist without the persist-before-send check too, by what it breaks', async () => {
    let caught: HostSimulationResult | null = null;
    for (let seed = 1; seed <= 30 && caught === null; seed++) {
      const result = await new HostSimulation({
        seed,
        hostKnobs: { sendBeforePersist: true },
        checkDurability: false,
      }).run();
      if (!result.passed) caught = result;
    }
    expect(caught, 'no seed in 1..30 caught sendBeforePersist without the durability check').not.toBeNull();
    console.log(
      `sendBeforePersist without the durability check: caught at host seed ${caught?.seed ?? 0}: ${caught?.violation?.message.split('\n')[0] ?? ''}`,
    );
    expect(caught?.violation?.check).not.toBe('liveness');
  }, 120_000);

  it('checks the nodes inside the hosts as well (node knob skipVotePersistence)', async () => {
    const failure = await firstFailingSeed(10, { knobs: ['skipVotePersistence'] });
    expect(failure?.violation?.check).toBe('durability');
  }, 60_000);

  it('rejects sizes out of bounds with a clear error', () => {
    expect(() => new HostSimulation({ seed: 1, hosts: 9 })).toThrow(/hosts must be an integer in \[3, 5\]/);
    expect(() => new HostSimulation({ seed: 1, groups: 0 })).toThrow(/groups must be an integer/);
  });
});
