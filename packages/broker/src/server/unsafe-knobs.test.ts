import { describe, expect, it } from 'vitest';
import { UnsafeKnobsError, unsafeKnobsEnvName, unsafeKnobsFromEnv } from './unsafe-knobs.js';

describe('UNSAFE_STREAMBUS_TESTING_KNOBS', () => {
  it('is off unless the variable names knobs', () => {
    expect(unsafeKnobsFromEnv({})).toEqual({ knobs: {}, names: [] });
    expect(unsafeKnobsFromEnv({ [unsafeKnobsEnvName]: ' ' })).toEqual({ knobs: {}, names: [] });
    // A STREAMBUS_ variable of a similar name is not it.
    expect(unsafeKnobsFromEnv({ STREAMBUS_TESTING_KNOBS: 'ackBeforeCommit' })).toEqual({ knobs: {}, names: [] });
  });

  it('turns on the named knobs', () => {
    expect(unsafeKnobsFromEnv({ [unsafeKnobsEnvName]: 'ackBeforeCommit' })).toEqual({
      knobs: { ackBeforeCommit: true },
      names: ['ackBeforeCommit'],
    });
    expect(unsafeKnobsFromEnv({ [unsafeKnobsEnvName]: 'skipSync, servePastHighWatermark' }).knobs).toEqual({
      skipSync: true,
      servePastHighWatermark: true,
    });
  });

  it('refuses an unknown name', () => {
    expect(() => unsafeKnobsFromEnv({ [unsafeKnobsEnvName]: 'ackBeforeComit' })).toThrow(UnsafeKnobsError);
    expect(() => unsafeKnobsFromEnv({ [unsafeKnobsEnvName]: 'true' })).toThrow(/unknown knob "true"/);
  });
});
