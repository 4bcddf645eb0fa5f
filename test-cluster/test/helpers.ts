/** Shared set-up of the real-process tests: a 3-broker cluster in a temporary directory. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { TestCluster } from '../src/index.js';

/**
 * Starts a 3-broker cluster before the file's tests and stops it (by PID) and removes its data
 * after them. Read `.cluster` inside tests.
 */
export function useCluster(name: string): { readonly cluster: TestCluster } {
  const holder: { cluster: TestCluster | undefined; dir: string | undefined } = { cluster: undefined, dir: undefined };
  beforeAll(async () => {
    holder.dir = await mkdtemp(join(tmpdir(), `streambus-${name}-`));
    holder.cluster = await TestCluster.create({ size: 3, dataDir: holder.dir, logLevel: 'warn' });
    await holder.cluster.startAll(60_000);
  }, 90_000);
  afterAll(async () => {
    await holder.cluster?.stopAll();
    if (holder.dir !== undefined) await rm(holder.dir, { recursive: true, force: true });
  });
  return {
    get cluster(): TestCluster {
      if (holder.cluster === undefined) throw new Error('the cluster is not started yet');
      return holder.cluster;
    },
  };
}
