/**
 * Cluster feature levels through the CLI on three broker processes: a new cluster is at level 1,
 * `features finalize` needs every broker to answer, raises the level to the highest every broker
 * reads and records it in each data directory, `compatibility check` then refuses a version that
 * does not read it, and a broker whose data directory is at a level it does not read refuses to
 * start with what to do.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStreambus, useCluster } from './helpers.js';

interface FeaturesJson {
  finalized_level: number;
  finalizable_level: number;
  brokers: { broker: number; version: string; level_min: number; level_max: number; reachable: boolean }[];
}

describe('cluster feature levels (real processes, CLI)', () => {
  const setup = useCluster('features');

  it('finalizes the highest level every broker reads, and a too-old data directory refuses to start', async () => {
    const cluster = setup.cluster;
    const bootstrap = cluster.bootstrap;
    const before = await runStreambus(['features', 'describe', '--json'], { bootstrap });
    expect(before.code).toBe(0);
    const described = JSON.parse(before.stdout) as FeaturesJson;
    expect(described.finalized_level).toBe(1);
    expect(described.finalizable_level).toBe(3);
    expect(described.brokers.map((broker) => [broker.broker, broker.level_min, broker.level_max])).toEqual([
      [1, 1, 3],
      [2, 1, 3],
      [3, 1, 3],
    ]);
    const oldOk = await runStreambus(['compatibility', 'check', '--version', '0.1.0'], { bootstrap });
    expect(oldOk.code).toBe(0);
    expect(oldOk.stdout).toMatch(/^compatible: StreamBus 0\.1\.0 reads feature levels 1\.\.1/);

    // Every broker must answer: with broker 3 down nothing is finalized.
    expect(await cluster.stop(3)).toBe(0);
    const refused = await runStreambus(['features', 'finalize'], {
      bootstrap: cluster.brokers[0]?.listen ?? '',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('broker 3 did not say which feature levels it reads');
    await cluster.restart(3, 60_000);

    const finalize = await runStreambus(['features', 'finalize'], { bootstrap });
    expect(finalize.stderr).toBe('');
    expect(finalize.code).toBe(0);
    expect(finalize.stdout).toMatch(/^finalized feature level 3:/);
    const after = JSON.parse(
      (await runStreambus(['features', 'describe', '--json'], { bootstrap })).stdout,
    ) as FeaturesJson;
    expect(after.finalized_level).toBe(3);
    const oldRefused = await runStreambus(['compatibility', 'check', '--version', '0.1.0'], { bootstrap });
    expect(oldRefused.code).toBe(1);
    expect(oldRefused.stdout).toContain('a finalized level is never lowered');

    // Each broker recorded the level beside its store.
    const dataDir = cluster.brokers[2]?.dataDir ?? '';
    const markerPath = join(dataDir, 'feature-level');
    let marker = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !marker.includes('"finalized_feature_level":3'))
      marker = await readFile(markerPath, 'utf8').catch(() => '');
    expect(JSON.parse(marker)).toMatchObject({ finalized_feature_level: 3, written_by: '0.2.0' });

    // A data directory at a level this build does not read: the broker refuses to start.
    expect(await cluster.stop(3)).toBe(0);
    await writeFile(markerPath, JSON.stringify({ finalized_feature_level: 4, written_by: '9.0.0' }));
    cluster.start(3);
    await expect(cluster.waitReady(3, 30_000)).rejects.toThrow(/exited \(code 1\)/);
    const log = await cluster.logTail(3, 5);
    expect(log).toContain(
      'this data directory belongs to a cluster at feature level 4 (finalized under StreamBus 9.0.0); this broker (StreamBus 0.2.0) reads feature levels 1..3',
    );
    await writeFile(markerPath, marker);
    await cluster.restart(3, 60_000);
  });
});
