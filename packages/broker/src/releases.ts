/**
 * The StreamBus releases this build knows and the cluster feature levels each reads, for
 * `streambus compatibility check --version V` and for brokers that predate feature levels (they
 * answer DescribeFeatures with UNIMPLEMENTED and read level 1). Add a line per release; never
 * change a released line.
 */
import { assert } from '@streambus/raft';
import { featureLevelInitial, featureLevelMax, featureLevelMin } from './controller/features.js';
import { streambusVersion } from './version.js';

export interface Release {
  readonly version: string;
  /** The finalized levels it runs in. */
  readonly featureLevelMin: number;
  readonly featureLevelMax: number;
  readonly notes: string;
}

export const releases: readonly Release[] = [
  {
    version: '0.1.0',
    featureLevelMin: 1,
    featureLevelMax: 1,
    notes: 'no feature levels (it reads level 1); broker drain from commit bf01e3f on',
  },
  {
    version: '0.2.0',
    featureLevelMin: 1,
    // Level 3 (users and ACLs) joined before 0.2.0 was tagged: the previous release is 0.1.0 (bf01e3f).
    featureLevelMax: 3,
    notes:
      'cluster feature levels, features finalize, compatibility check, backup and restore; users and ACLs (level 3)',
  },
];

/** What a broker that does not serve DescribeFeatures is taken to read (it predates levels). */
export const preFeatureLevelsRelease: Release = releases[0] as Release;

/** The release of `version`, or undefined when this build does not know it. */
export function release(version: string): Release | undefined {
  return releases.find((entry) => entry.version === version);
}

const current = release(streambusVersion);
assert(current !== undefined, 'this build is listed among the releases');
assert(current.featureLevelMin === featureLevelMin, "this build's lowest level is its release's");
assert(current.featureLevelMax === featureLevelMax, "this build's highest level is its release's");
assert(preFeatureLevelsRelease.featureLevelMax === featureLevelInitial, 'brokers before feature levels read level 1');
assert(
  releases.every((entry) => entry.featureLevelMin <= entry.featureLevelMax),
  'every release reads a level range',
);
