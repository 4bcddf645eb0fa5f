/**
 * The `reassign` nemesis in CI: partition replicas move (Raft learner, promotion, removal, leader
 * hand-over) while brokers are killed or partitioned under acks=all load. Every run must end with
 * lost 0, duplicated 0, divergence 0 and no violation; the membership check inside the run
 * requires every partition's Raft voters to equal its FINAL replica list on every replica, no
 * learner left, and no broker moved off to host the group any more.
 *
 * Replay one run with the `npx streambus-chaos run ...` command its report prints.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, planSchedule, runChaos } from '../src/index.js';
import type { ChaosRunOptions } from '../src/index.js';

const runs: { title: string; options: ChaosRunOptions }[] = [
  // 4 brokers, RF 3: a replica moves to the spare broker; brokers are killed meanwhile.
  {
    title: 'move to a spare broker during kills (4 brokers)',
    options: { seed: 2, durationMs: 10_000, brokers: 4, partitions: 2, nemesis: ['kill', 'reassign'] },
  },
  // 3 brokers, RF 3: a replica is removed, then added back empty (rebuilt from the log as a learner).
  {
    title: 'shrink then grow back during partitions (3 brokers)',
    options: { seed: 5, durationMs: 9_000, brokers: 3, partitions: 2, nemesis: ['partition', 'reassign'] },
  },
];

describe('reassign nemesis (acks=all, wal_sync=always)', () => {
  for (const { title, options } of runs) {
    it(`seed ${options.seed}: ${title}`, async () => {
      const planned = planSchedule({
        seed: options.seed,
        durationMs: options.durationMs ?? 0,
        kinds: options.nemesis ?? [],
      });
      expect(planned.some((step) => step.extra === 'reassign')).toBe(true);
      const report = await runChaos({ ...options, onProgress: (line) => console.log(line), progressIntervalMs: 5_000 });
      console.log(formatReport(report));
      const moves = report.notes.find((note) => note.startsWith('reassignments: '));
      expect(moves, `no reassignment was recorded; ${report.replayCommand}`).toBeDefined();
      // Each moved partition ends with Raft voters = its final replica list, and the brokers moved off host nothing.
      const moved = report.notes.filter((note) => note.startsWith('moved group '));
      expect(moved.length).toBeGreaterThan(0);
      for (const note of moved) {
        const [, replicas, voters, stillHosting] =
          /final replicas \[([\d,]*)\], Raft voters \[([\d,]*)\], moved off \[[\d,]*\] still hosting \[([\d,]*)\]/.exec(
            note,
          ) ?? [];
        expect(
          replicas
            ?.split(',')
            .map(Number)
            .sort((a, b) => a - b),
          note,
        ).toEqual(voters?.split(',').map(Number));
        expect(stillHosting, note).toBe('');
      }
      expect(report.counts.acked).toBeGreaterThan(0);
      expect(report.counts.lost, report.replayCommand).toBe(0);
      expect(report.counts.duplicated, report.replayCommand).toBe(0);
      expect(report.counts.divergence, report.replayCommand).toBe(0);
      expect(report.violations, report.replayCommand).toEqual([]);
    }, 60_000);
  }
});
