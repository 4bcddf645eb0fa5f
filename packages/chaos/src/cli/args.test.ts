import { describe, expect, it } from 'vitest';
import { parseArgs, parseDurationMs, parseRealArgs, UsageError } from './args.js';
import { planSchedule, parseNemesis } from '../nemesis/schedule.js';

describe('streambus-chaos arguments', () => {
  it('parses --secure, and the replay command says it (only when it was on)', async () => {
    const { replayCommand } = await import('../run/run-chaos.js');
    const secure = parseArgs(['run', '--seed', '5', '--secure'], () => 7);
    expect(secure.options).toMatchObject({ seed: 5, secure: true });
    expect(replayCommand(secure.options)).toMatch(/ --secure( |$)/);
    const plain = parseArgs(['run', '--seed', '5'], () => 7);
    expect(plain.options.secure).toBeUndefined();
    expect(replayCommand(plain.options)).not.toContain('--secure');
    const { realReplayCommand } = await import('../real/run-real.js');
    const real = parseRealArgs(['real', '--seed', '5', '--secure'], () => 7);
    expect(real.options).toMatchObject({ secure: true });
    expect(realReplayCommand(real.options)).toMatch(/ --secure( |$)/);
  });

  it('parses the group workload flags, and the replay command carries them', async () => {
    const run = parseArgs(
      ['run', '--seed', '3', '--group-members', '4', '--group-churn-ms', '500', '--unsafe-commit-before-processing'],
      () => 7,
    );
    expect(run.options).toMatchObject({
      groupMembers: 4,
      groupChurnIntervalMs: 500,
      unsafeCommitBeforeProcessing: true,
    });
    const { replayCommand } = await import('../run/run-chaos.js');
    expect(replayCommand(run.options)).toContain(
      '--group-members 4 --group-churn-ms 500 --unsafe-commit-before-processing',
    );
    expect(() => parseArgs(['run', '--group-members', '17'], () => 7)).toThrow(UsageError);
    const real = parseRealArgs(['real', '--group-members', '3'], () => 7);
    expect(real.options).toMatchObject({ groupMembers: 3 });
  });

  it('parses a full run command', () => {
    const run = parseArgs(
      [
        'run',
        '--seed',
        '42',
        '--duration',
        '60s',
        '--brokers',
        '5',
        '--nemesis',
        'kill,partition,pause',
        '--acks',
        'leader',
        '--wal-sync',
        'none',
        '--unsafe',
        'skipSync',
        '--quiet',
      ],
      () => 7,
    );
    expect(run.seedWasRandom).toBe(false);
    expect(run.quiet).toBe(true);
    expect(run.options).toMatchObject({
      seed: 42,
      durationMs: 60_000,
      brokers: 5,
      nemesis: ['kill', 'partition', 'pause'],
      acks: 'leader',
      walSync: 'none',
      unsafeTestingKnobs: { skipSync: true },
    });
  });

  it('draws a seed when none is given', () => {
    const run = parseArgs(['run'], () => 1234);
    expect(run.seedWasRandom).toBe(true);
    expect(run.options.seed).toBe(1234);
  });

  it('reads durations with units', () => {
    expect(parseDurationMs('10m', '--duration')).toBe(600_000);
    expect(parseDurationMs('1500ms', '--duration')).toBe(1_500);
    expect(parseDurationMs('2', '--duration')).toBe(2_000);
    expect(() => parseDurationMs('soon', '--duration')).toThrow(UsageError);
  });

  it('refuses unknown commands, options, nemeses and knobs', () => {
    expect(() => parseArgs(['walk'], () => 1)).toThrow(UsageError);
    expect(() => parseArgs(['run', '--bogus'], () => 1)).toThrow(/unknown option/);
    expect(() => parseArgs(['run', '--nemesis', 'meteor'], () => 1)).toThrow(/unknown nemesis/);
    expect(() => parseArgs(['run', '--unsafe', 'yolo'], () => 1)).toThrow(/unknown knob/);
    expect(() => parseArgs(['run', '--brokers', '99'], () => 1)).toThrow(/integer/);
  });
});

describe('nemesis schedule', () => {
  it('is a function of the seed alone', () => {
    const kinds = parseNemesis('all');
    const a = planSchedule({ seed: 99, durationMs: 60_000, kinds });
    const b = planSchedule({ seed: 99, durationMs: 60_000, kinds });
    const c = planSchedule({ seed: 100, durationMs: 60_000, kinds });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBeGreaterThan(5);
  });

  it('keeps every step inside the run and in order, one fault at a time', () => {
    const steps = planSchedule({ seed: 3, durationMs: 30_000, kinds: parseNemesis('kill,partition') });
    for (const [i, step] of steps.entries()) {
      expect(step.atMs + step.activeMs).toBeLessThanOrEqual(30_000);
      expect(['kill', 'partition']).toContain(step.kind);
      if (i > 0) expect(step.atMs).toBeGreaterThan(steps[i - 1]!.atMs + steps[i - 1]!.activeMs);
    }
  });

  it('plans reassignments as an extra action in the middle of another fault', () => {
    const kinds = parseNemesis('kill,reassign');
    expect(kinds).toEqual(['kill', 'reassign']);
    const steps = planSchedule({ seed: 2, durationMs: 30_000, kinds });
    expect(steps.every((step) => step.kind === 'kill')).toBe(true);
    expect(steps.some((step) => step.extra === 'reassign')).toBe(true);
    expect(parseNemesis('all')).toContain('reassign');
  });

  it('plans nothing without a nemesis', () => {
    expect(planSchedule({ seed: 1, durationMs: 30_000, kinds: [] })).toEqual([]);
  });
});
