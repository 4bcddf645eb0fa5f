/**
 * Proof that the checkers can fail: each fault planted in the broker behind `unsafeTestingKnobs`
 * (never for production) is driven into the situation where it breaks a promise, and the
 * checker that guards that promise must catch it. The crash-all scenario also runs without the
 * knob, as the control that the scenario alone loses nothing.
 */
import type { UnsafeTestingKnobs } from '@streambus/broker/testing';
import { describe, expect, it } from 'vitest';
import { closeClustersAfterEach, startWithTopic, until } from './helpers.js';
import { ChaosCluster, History, ProducerWorkload, ReaderWorkload, check } from '../src/index.js';

const topic = 'planted';
closeClustersAfterEach();

async function setUp(
  history: History,
  knobs: UnsafeTestingKnobs,
): Promise<{ chaos: ChaosCluster; groupId: number; leader: number }> {
  return startWithTopic({ size: 3, seed: 7, history, unsafeTestingKnobs: knobs }, topic);
}

function workload(
  chaos: ChaosCluster,
  history: History,
  recordsMax: number,
  deliveryTimeoutMs: number,
): ProducerWorkload {
  return new ProducerWorkload({
    bootstrapServers: chaos.bootstrapServers,
    topic,
    partitions: 1,
    workers: 1,
    inflightPerWorker: 8,
    recordsPerSecond: 200,
    acks: 'all',
    deliveryTimeoutMs,
    history,
    seed: 7,
    recordsMax,
  });
}

/** The leader loses its partition leadership for good: killed, a follower elected, then it rejoins and truncates. */
async function replaceLeader(chaos: ChaosCluster, groupId: number, leader: number): Promise<void> {
  await chaos.kill(leader);
  chaos.network.heal();
  await until(() => (chaos.leaderOf(groupId) > 0 ? 1 : 0));
  await chaos.restart(leader);
  await chaos.inner.waitReady(30_000);
  expect(await chaos.waitConverged(topic, 30_000)).toBe(true);
}

describe('planted faults are caught by the checkers', () => {
  it('ackBeforeCommit: acknowledged records that never reached a quorum are reported lost', async () => {
    const history = new History();
    const { chaos, groupId, leader } = await setUp(history, { ackBeforeCommit: true });
    chaos.network.withholdEntries(leader, groupId);
    const producers = workload(chaos, history, 20, 3_000);
    producers.start();
    await until(() => (history.produces.length === 20 && history.produces.every((op) => op.outcome !== null) ? 1 : 0));
    await producers.stop();
    await replaceLeader(chaos, groupId, leader);
    const result = check(history, await chaos.finalState(topic), { acksAll: true, idempotent: true, durable: true });
    console.log('ackBeforeCommit', result.counts, result.examples);
    expect(result.counts.acked).toBeGreaterThan(0);
    expect(result.counts.lost).toBeGreaterThan(0);
    expect(result.violations.some((line) => line.startsWith('lost:'))).toBe(true);
  });

  it('servePastHighWatermark: a reader sees records above the high watermark that are later rolled back', async () => {
    const history = new History();
    const { chaos, groupId, leader } = await setUp(history, { servePastHighWatermark: true });
    const readers = new ReaderWorkload({
      bootstrapServers: chaos.bootstrapServers,
      topic,
      partitions: 1,
      readers: 1,
      history,
    });
    readers.start();
    chaos.network.withholdEntries(leader, groupId);
    const producers = workload(chaos, history, 10, 2_000);
    producers.start();
    await until(() => (history.reads.length > 0 ? 1 : 0));
    await producers.stop();
    await readers.stop();
    await replaceLeader(chaos, groupId, leader);
    const result = check(history, await chaos.finalState(topic), { acksAll: true, idempotent: true, durable: true });
    console.log('servePastHighWatermark', result.counts, result.examples);
    expect(result.counts.readAboveHighWatermark).toBeGreaterThan(0);
    expect(result.counts.readRolledBack).toBeGreaterThan(0);
    expect(result.counts.lost).toBe(0);
  });

  for (const skipSync of [true, false]) {
    it(`skipSync ${skipSync ? 'on: a whole-cluster power loss loses acknowledged records' : 'off (control): the same power loss loses nothing acknowledged'}`, async () => {
      const history = new History();
      const { chaos } = await setUp(history, { skipSync });
      await chaos.syncAll(); // a checkpoint: the topic's creation is on disk everywhere
      const producers = workload(chaos, history, 30, 5_000);
      producers.start();
      await until(() =>
        history.produces.length === 30 && history.produces.every((op) => op.outcome !== null) ? 1 : 0,
      );
      await producers.stop();
      await chaos.crashAll();
      for (const id of chaos.ids()) await chaos.restart(id);
      await chaos.inner.waitReady(30_000);
      expect(await chaos.waitConverged(topic, 30_000)).toBe(true);
      const result = check(history, await chaos.finalState(topic), { acksAll: true, idempotent: true, durable: true });
      console.log(`skipSync=${skipSync}`, result.counts, chaos.crashes, result.examples);
      expect(result.counts.acked).toBe(30);
      if (skipSync) {
        expect(result.counts.lost).toBeGreaterThan(0);
        expect(result.violations.some((line) => line.startsWith('lost:'))).toBe(true);
      } else {
        expect(result.counts.lost).toBe(0);
        expect(result.violations).toEqual([]);
      }
    });
  }
});
