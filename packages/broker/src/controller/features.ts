/**
 * Cluster feature levels (Kafka's metadata.version). A level names a set of formats that brokers
 * write into replicated state (controller commands, controller snapshots, record batches). Each
 * broker reads the levels featureLevelMin..featureLevelMax; the controller records the cluster's
 * finalized level, the highest level every broker supports once an operator finalizes it
 * (`streambus features finalize`). Formats of a higher level stay off until then, so brokers of
 * two versions run side by side during a rolling upgrade; a broker too old for the finalized level
 * refuses to start. A finalized level never goes down.
 */
import { assert } from '@streambus/raft';

/** One cluster feature level and what it turns on. */
export interface FeatureLevel {
  readonly level: number;
  readonly summary: string;
}

/** Every level this code knows, in order; the last is featureLevelMax. */
export const featureLevels: readonly FeatureLevel[] = [
  {
    level: 1,
    summary:
      'the first formats: controller commands 1-10 (version 1), controller snapshot version 2, record batch version 1',
  },
  {
    level: 2,
    summary:
      'the finalized feature level is replicated: controller command finalizeFeatureLevel (11), controller snapshot version 3',
  },
  {
    level: 3,
    summary:
      'users and ACLs: controller commands upsertUser (12), deleteUser (13), createAcls (14), deleteAcls (15), controller snapshot version 4',
  },
];

/** The level from which users and ACLs may be written (commands 12-15, snapshot version 4). */
export const securityFeatureLevel = 3;

/** The lowest finalized level this build runs in (it still reads every format of it). */
export const featureLevelMin = 1;
/** The highest level this build reads and writes. */
export const featureLevelMax = 3;
/** The level of a cluster nobody finalized yet; also what a broker without levels (before 0.2.0) reads. */
export const featureLevelInitial = 1;

/** The controller snapshot format written at `level`: version 3 carries the finalized level, 4 users and ACLs. */
export function snapshotVersionForLevel(level: number): number {
  assert(Number.isInteger(level), 'a feature level is an integer');
  assert(level >= featureLevelInitial, 'feature levels start at 1');
  if (level >= securityFeatureLevel) return 4;
  return level >= 2 ? 3 : 2;
}

/** The summary of a level this code knows, or undefined. */
export function featureLevel(level: number): FeatureLevel | undefined {
  return featureLevels.find((entry) => entry.level === level);
}

assert(featureLevelMin <= featureLevelMax, 'the supported range is not empty');
assert(featureLevelMin >= featureLevelInitial, 'no level below the first');
assert(featureLevels.length === featureLevelMax, 'every level up to the highest is described');
assert(
  featureLevels.every((entry, index) => entry.level === index + 1),
  'levels are numbered 1, 2, ... in order',
);
