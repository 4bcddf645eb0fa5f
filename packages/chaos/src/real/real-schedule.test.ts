import { describe, expect, it } from 'vitest';
import { parseRealArgs, UsageError } from '../cli/args.js';
import { parseCliResults } from './cli-producers.js';
import { realReplayCommand } from './run-real.js';
import { parseRealFaults, planRealSchedule, realFaultKinds, splitSides } from './real-schedule.js';

describe('real-network schedule', () => {
  it('is a function of the seed alone', () => {
    const a = planRealSchedule({ seed: 7, durationMs: 60_000, kinds: realFaultKinds });
    expect(planRealSchedule({ seed: 7, durationMs: 60_000, kinds: realFaultKinds })).toEqual(a);
    expect(planRealSchedule({ seed: 8, durationMs: 60_000, kinds: realFaultKinds })).not.toEqual(a);
  });

  it('plays every fault class in the first 60 s, whatever the seed', () => {
    for (let seed = 0; seed < 200; seed++) {
      const steps = planRealSchedule({ seed, durationMs: 60_000, kinds: realFaultKinds });
      expect(new Set(steps.map((step) => step.kind)).size, `seed ${seed}`).toBe(realFaultKinds.length);
    }
  });

  it('keeps steps in order inside the run, one at a time, with bounded parameters', () => {
    const steps = planRealSchedule({ seed: 3, durationMs: 600_000, kinds: realFaultKinds });
    expect(steps.length).toBeGreaterThan(100);
    for (const [i, step] of steps.entries()) {
      expect(step.atMs + step.activeMs).toBeLessThanOrEqual(600_000);
      if (i > 0) expect(step.atMs).toBeGreaterThan(steps[i - 1]!.atMs + steps[i - 1]!.activeMs);
      expect(step.lossProbability).toBeGreaterThanOrEqual(0.1);
      expect(step.lossProbability).toBeLessThanOrEqual(0.3);
      for (const skew of step.clockSkewSeconds) expect(Math.abs(skew)).toBeGreaterThanOrEqual(5);
    }
  });

  it('splits: a minority against a majority; a bridge node between two sides', () => {
    const steps = planRealSchedule({ seed: 1, durationMs: 60_000, kinds: ['majority-minority', 'bridge'] });
    const majority = splitSides(
      steps.find((step) => step.kind === 'majority-minority')!,
      [1, 2, 3, 4, 5],
    );
    expect(majority.left).toHaveLength(2);
    expect(majority.right).toHaveLength(3);
    const bridge = splitSides(
      steps.find((step) => step.kind === 'bridge')!,
      [1, 2, 3],
    );
    expect(bridge.bridge).not.toBeNull();
    expect([...bridge.left, ...bridge.right, bridge.bridge].sort()).toEqual([1, 2, 3]);
  });

  it('parses fault lists', () => {
    expect(parseRealFaults('all')).toEqual([...realFaultKinds]);
    expect(parseRealFaults('kill,loss')).toEqual(['kill', 'loss']);
    expect(() => parseRealFaults('netem')).toThrow(/unknown fault "netem"/);
  });
});

describe('streambus-chaos real arguments', () => {
  it('parses a real run and prints its replay command', () => {
    const run = parseRealArgs(
      [
        'real',
        '--seed',
        '9',
        '--duration',
        '10m',
        '--faults',
        'isolate-leader',
        '--unsafe',
        'ackBeforeCommit',
        '--no-cli',
      ],
      () => 1,
    );
    expect(run.options).toMatchObject({
      seed: 9,
      durationMs: 600_000,
      faults: ['isolate-leader'],
      unsafeTestingKnobs: { ackBeforeCommit: true },
      cliProducers: false,
    });
    expect(realReplayCommand(run.options)).toBe(
      'npm run chaos -- real --seed 9 --duration 600s --brokers 3 --partitions 3 --faults isolate-leader --rate 150 --no-cli --unsafe ackBeforeCommit',
    );
    expect(parseRealArgs(['real'], () => 77)).toMatchObject({ seedWasRandom: true, options: { seed: 77 } });
  });

  it('refuses what it does not know', () => {
    expect(() => parseRealArgs(['real', '--nemesis', 'kill'], () => 1)).toThrow(UsageError);
    expect(() => parseRealArgs(['real', '--brokers', '2'], () => 1)).toThrow(/integer in \[3, 7\]/);
    expect(() => parseRealArgs(['real', '--unsafe', 'yolo'], () => 1)).toThrow(/unknown knob/);
  });
});

describe('CLI produce output', () => {
  it('maps each result line to its input line, in order', () => {
    expect(parseCliResults('partition 2 offset 10\npartition 2 offset 11\n')).toEqual([
      { partition: 2, offset: 10 },
      { partition: 2, offset: 11 },
    ]);
    expect(parseCliResults('partition 1 offset 4\nsomething else\n')).toEqual([{ partition: 1, offset: 4 }, null]);
    expect(parseCliResults('')).toEqual([]);
  });
});
