import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { DescribeFeaturesResponse } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import type { ControllerCommand } from '../../src/controller/commands.js';
import { featureLevelMax } from '../../src/controller/features.js';
import { FeatureLevels } from '../../src/server/feature-levels.js';
import { checkFeatureMarker, FeatureLevelTooHighError, writeFeatureMarker } from '../../src/server/feature-marker.js';
import { streambusVersion } from '../../src/version.js';
import { clusterOf } from '../controller/helpers.js';
import { silentLogger } from './fakes.js';

type Peer = 'current' | 'old' | 'down';

function setUp(peers: Record<number, Peer>, dataDir?: string) {
  const state = clusterOf(3);
  const proposed: ControllerCommand[] = [];
  const features = new FeatureLevels({
    nodeId: 1,
    state: () => state,
    propose: async (command) => {
      proposed.push(command);
      return state.apply(command);
    },
    ask: async (brokerId): Promise<DescribeFeaturesResponse> => {
      const peer = peers[brokerId];
      if (peer === 'old')
        throw Object.assign(new Error('12 UNIMPLEMENTED'), { code: grpc.status.UNIMPLEMENTED, details: 'no' });
      if (peer === 'down')
        throw Object.assign(new Error('14 UNAVAILABLE'), { code: grpc.status.UNAVAILABLE, details: 'refused' });
      return {
        brokerId,
        finalizedLevel: 1,
        finalizableLevel: featureLevelMax,
        brokers: [
          {
            brokerId,
            version: streambusVersion,
            levelMin: 1,
            levelMax: featureLevelMax,
            reachable: true,
            errorMessage: '',
          },
        ],
        levels: [],
      };
    },
    ...(dataDir === undefined ? {} : { dataDir, markerLevel: 1 }),
    logger: silentLogger,
  });
  return { state, proposed, features };
}

describe('FeatureLevels', () => {
  it('finalizes the highest level every broker reads, listing what each said, and records it in the data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'streambus-features-'));
    try {
      const { state, proposed, features } = setUp({ 2: 'current', 3: 'current' }, dataDir);
      const outcome = await features.finalize(0, false, 5_000);
      expect(outcome).toMatchObject({ ok: true, finalizedLevel: featureLevelMax });
      expect(proposed).toEqual([
        {
          type: 'finalizeFeatureLevel',
          level: featureLevelMax,
          brokers: [1, 2, 3].map((brokerId) => ({ brokerId, levelMax: featureLevelMax })),
        },
      ]);
      features.noteApplied();
      await features.flushMarker();
      expect(JSON.parse(await readFile(join(dataDir, 'feature-level'), 'utf8'))).toEqual({
        finalized_feature_level: featureLevelMax,
        written_by: streambusVersion,
      });
      expect(await checkFeatureMarker(dataDir)).toBe(featureLevelMax);
      expect(state.finalizedFeatureLevel).toBe(featureLevelMax);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a broker that predates feature levels reads level 1: nothing above it is finalized', async () => {
    const { proposed, features } = setUp({ 2: 'current', 3: 'old' });
    const cluster = await features.describe(1_000);
    expect(cluster.finalizableLevel).toBe(1);
    expect(cluster.brokers.find((broker) => broker.brokerId === 3)).toMatchObject({ version: '', levelMax: 1 });
    const outcome = await features.finalize(2, false, 5_000);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok)
      expect(outcome.message).toBe(
        'broker 3 (StreamBus 0.1.0 or older) reads feature levels up to 1, not 2; upgrade it first',
      );
    // Level 1 is already finalized: nothing to propose.
    expect(await features.finalize(0, false, 5_000)).toMatchObject({ ok: true, finalizedLevel: 1 });
    expect(proposed).toEqual([]);
  });

  it('refuses while a broker does not answer, and a level above what this build knows', async () => {
    const { proposed, features } = setUp({ 2: 'current', 3: 'down' });
    const outcome = await features.finalize(0, false, 5_000);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.message).toMatch(/^broker 3 did not say which feature levels it reads \(refused\)/);
    const unknown = await setUp({ 2: 'current', 3: 'current' }).features.finalize(featureLevelMax + 1, false, 5_000);
    expect(unknown.ok).toBe(false);
    expect(proposed).toEqual([]);
  });

  it('a data directory marked above what this build reads is refused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'streambus-marker-'));
    try {
      expect(await checkFeatureMarker(dataDir)).toBe(1);
      await writeFeatureMarker(dataDir, featureLevelMax + 1);
      await expect(checkFeatureMarker(dataDir)).rejects.toBeInstanceOf(FeatureLevelTooHighError);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
