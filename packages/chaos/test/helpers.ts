/** Test helpers shared by the chaos suites. */
import { Admin } from '@streambus/client';
import { afterEach } from 'vitest';
import { ChaosCluster } from '../src/index.js';
import type { ChaosClusterOptions } from '../src/index.js';

/** Polls `probe` until it returns non-zero (bounded); returns that value. */
export async function until(probe: () => number | Promise<number>, timeoutMs = 20_000, pollMs = 50): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== 0) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Clusters started by `startWithTopic` and not yet closed. */
const started: ChaosCluster[] = [];

/** Call once per test file: closes every cluster `startWithTopic` started, after each test. */
export function closeClustersAfterEach(): void {
  afterEach(async () => {
    for (const chaos of started.splice(0)) await chaos.close();
  });
}

/**
 * A started 3-broker chaos cluster with a 1-partition, RF 3 `topic`, its group and its leader.
 * The cluster is closed after the test (see `closeClustersAfterEach`), even when it fails here.
 */
export async function startWithTopic(
  options: ChaosClusterOptions,
  topic: string,
): Promise<{ chaos: ChaosCluster; groupId: number; leader: number }> {
  const chaos = await ChaosCluster.start(options);
  started.push(chaos);
  await chaos.inner.waitReady(30_000);
  const admin = new Admin({ bootstrapServers: chaos.bootstrapServers });
  await admin.createTopic({ name: topic, partitions: 1, replicationFactor: 3 });
  await admin.close();
  const groupId = await until(() => chaos.groupsOf(topic)[0] ?? 0);
  const leader = await until(() => Math.max(0, chaos.leaderOf(groupId)));
  return { chaos, groupId, leader };
}
