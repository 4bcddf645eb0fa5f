/**
 * Planted faults for a broker *process*, so that the chaos harness's real-network runs can prove
 * their checkers catch a broken broker. NEVER for production: each knob breaks a guarantee.
 *
 * They are reachable only through one environment variable whose name says what it is,
 * `UNSAFE_STREAMBUS_TESTING_KNOBS` (a comma list of knob names): not a config key, flag or
 * `STREAMBUS_*` variable, so `config dump`, a server.yaml or a Helm value can never turn one on.
 * An unknown name refuses the start; every knob set is logged loudly at start.
 */
import type { UnsafeTestingKnobs } from '../partition/partition-replica.js';

export const unsafeKnobsEnvName = 'UNSAFE_STREAMBUS_TESTING_KNOBS';

const knobNames = [
  'ackBeforeCommit',
  'skipSync',
  'servePastHighWatermark',
] as const satisfies readonly (keyof UnsafeTestingKnobs)[];

export class UnsafeKnobsError extends Error {
  readonly code = 'INVALID_CONFIG' as const;
}

/** The knobs `env` turns on (none when the variable is unset or empty); throws on an unknown name. */
export function unsafeKnobsFromEnv(env: Readonly<Record<string, string | undefined>>): {
  readonly knobs: UnsafeTestingKnobs;
  readonly names: readonly string[];
} {
  const raw = env[unsafeKnobsEnvName]?.trim() ?? '';
  if (raw === '') return { knobs: {}, names: [] };
  const names = raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const knobs: Record<string, boolean> = {};
  for (const name of names) {
    if (!(knobNames as readonly string[]).includes(name)) {
      throw new UnsafeKnobsError(
        `${unsafeKnobsEnvName}: unknown knob "${name}"; the test-only knobs are ${knobNames.join(', ')} (unset the variable for a normal broker)`,
      );
    }
    knobs[name] = true;
  }
  return { knobs: knobs, names };
}
