/**
 * The same workload and checkers against real broker processes (test-cluster): SIGKILL,
 * SIGSTOP/SIGCONT and SIGTERM + restart, on a schedule drawn from one seed. These are the faults
 * only real processes show: a frozen process whose sockets stay open, a kill that takes the
 * process's memory with it. The final logs are read from the stopped brokers' data directories.
 * Leadership claims are not observable from outside, so one-leader-per-term is checked by the
 * in-process suite only. Needs the broker built (`npx tsc -b packages/broker`); skipped otherwise.
 * Replay: CHAOS_SEED=<seed> npx vitest run test/real-processes.test.ts
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@streambus/client';
import { Prng } from '@streambus/raft/testing';
import { TestCluster, brokerBinPath } from '@streambus/test-cluster';
import { afterAll, describe, expect, it } from 'vitest';
import {
  History,
  ProducerWorkload,
  ReaderWorkload,
  check,
  highWatermarksByMetadata,
  readStoppedReplicas,
  waitRecoveredByMetadata,
} from '../src/index.js';

const topic = 'real';
const partitions = 3;
const seed = process.env.CHAOS_SEED === undefined ? 11 : Number(process.env.CHAOS_SEED);
const built = existsSync(brokerBinPath());

let cluster: TestCluster | null = null;
let dir = '';

afterAll(async () => {
  await cluster?.stopAll(5_000).catch(() => undefined);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!built)('real broker processes under SIGKILL, SIGSTOP/SIGCONT and restart', () => {
  it(`seed ${seed}: nothing acknowledged is lost or duplicated; replicas agree`, async () => {
    dir = await mkdtemp(join(tmpdir(), 'streambus-chaos-real-'));
    cluster = await TestCluster.create({ size: 3, dataDir: dir, logLevel: 'warn', env: { STREAMBUS_TICK_MS: '50' } });
    const brokers = cluster;
    await brokers.startAll(60_000);
    const bootstrap = brokers.bootstrap.split(',');
    const admin = new Admin({ bootstrapServers: bootstrap });
    await admin.createTopic({ name: topic, partitions, replicationFactor: 3 });
    await admin.close();
    expect(await waitRecoveredByMetadata(bootstrap, topic, 30_000)).not.toBeNull();

    const history = new History();
    const producers = new ProducerWorkload({
      bootstrapServers: bootstrap,
      topic,
      partitions,
      workers: 2,
      inflightPerWorker: 4,
      recordsPerSecond: 150,
      acks: 'all',
      deliveryTimeoutMs: 30_000,
      history,
      seed,
    });
    const readers = new ReaderWorkload({ bootstrapServers: bootstrap, topic, partitions, readers: 1, history });
    producers.start();
    readers.start();

    const random = new Prng(seed);
    // Each fault once, in an order drawn from the seed.
    const kinds = ['SIGKILL', 'SIGSTOP', 'SIGTERM'] as const;
    const rotation = random.int(kinds.length);
    const faults = kinds.map((_, i) => kinds[(i + rotation) % kinds.length] as (typeof kinds)[number]);
    console.log(
      `real-process chaos seed ${seed}; replay: CHAOS_SEED=${seed} npx vitest run test/real-processes.test.ts`,
    );
    for (let step = 0; step < 3; step++) {
      await sleep(random.between(500, 1_500));
      const fault = faults[step] as (typeof faults)[number];
      const id = 1 + random.int(3);
      const heldMs = random.between(1_000, 2_500);
      history.fault(`${fault} broker ${id} for ${heldMs} ms`);
      console.log(`step ${step}: ${fault} broker ${id} for ${heldMs} ms`);
      if (fault === 'SIGSTOP') {
        brokers.pause(id);
        await sleep(heldMs);
        brokers.resume(id);
      } else {
        if (fault === 'SIGKILL') await brokers.kill(id);
        else await brokers.stop(id);
        await sleep(heldMs);
        await brokers.restart(id, 60_000);
      }
    }
    await sleep(1_000);
    const recoveryMs = await waitRecoveredByMetadata(bootstrap, topic, 30_000);
    await producers.stop();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ends = await highWatermarksByMetadata(bootstrap, topic, partitions);
      if ((ends !== null && readers.caughtUp(ends)) || Date.now() > deadline) break;
      await sleep(200);
    }
    await readers.stop();
    await brokers.stopAll(15_000);
    const finalState = await readStoppedReplicas(
      brokers.brokers.map((b) => ({ brokerId: b.id, dataDir: b.dataDir })),
      topic,
      history,
    );
    const result = check(history, finalState, { acksAll: true, idempotent: true, durable: true });
    console.log(`real processes seed ${seed}: recovery ${recoveryMs} ms`, result.counts, result.examples);
    expect(recoveryMs).not.toBeNull();
    expect(finalState).toHaveLength(partitions);
    for (const state of finalState) expect(state.replicas).toHaveLength(3);
    expect(result.counts.acked).toBeGreaterThan(0);
    expect(result.counts.lost).toBe(0);
    expect(result.counts.duplicated).toBe(0);
    expect(result.violations).toEqual([]);
  }, 180_000);
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
