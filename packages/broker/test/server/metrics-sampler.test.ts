import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Role, emptyHostMetrics } from '@streambus/raft';
import type { GroupId } from '@streambus/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrokerMetrics } from '../../src/admin/metrics.js';
import type { BrokerMetrics } from '../../src/admin/metrics.js';
import { controllerGroupId } from '../../src/controller/constants.js';
import { MetricsSampler } from '../../src/server/metrics-sampler.js';
import { expectOk } from '../controller/helpers.js';
import { controllerStateWith, FakeHost } from './fakes.js';

let dataDir = '';
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'streambus-sampler-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

class SampledFakeHost extends FakeHost {
  readonly metrics = emptyHostMetrics();
}

async function value(metrics: BrokerMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const sample = (await metric.get()).values.find((candidate) =>
    Object.entries(labels).every(([key, wanted]) => String(candidate.labels[key]) === wanted),
  );
  if (sample === undefined) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
  return sample.value;
}

function setUp() {
  const state = controllerStateWith(3, [{ name: 't', partitions: 2, replicationFactor: 3 }]);
  const host = new SampledFakeHost(1);
  const records = new Map<string, number>();
  let nowMs = 1_000_000;
  let controllerLeader = 1;
  const sampler = new MetricsSampler({
    nodeId: 1,
    host,
    controller: { state },
    controllerLeaderId: () => controllerLeader,
    store: {
      footprint: () => Promise.resolve({ diskBytes: 5_000, walBytes: 1_000, memtableBytes: 700 }),
      recordsAfter: (groupId: GroupId, raftIndex: number) => records.get(`${groupId}@${raftIndex}`) ?? 0,
    },
    dataDir,
    nowMs: () => nowMs,
  });
  const metrics = createBrokerMetrics({ processMetrics: false, version: 'test' });
  sampler.register(metrics);
  return {
    state,
    host,
    records,
    sampler,
    metrics,
    advance: (ms: number) => (nowMs += ms),
    setControllerLeader: (id: number) => (controllerLeader = id),
  };
}

describe('MetricsSampler', () => {
  it('samples Raft groups, leaders, partitions, the controller flag and the host totals at each scrape', async () => {
    const { host, metrics, setControllerLeader } = setUp();
    host.groups.set(controllerGroupId, { voters: [1, 2, 3], role: Role.leader });
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader });
    host.groups.set(6, { voters: [1, 2, 3], leaderId: 2 });
    host.groups.set(7, { voters: [1, 2, 3], leaderId: 0 });
    host.metrics.elections = 3;
    host.metrics.proposals = 40;
    await metrics.scrape();
    expect(await value(metrics, 'streambus_raft_groups')).toBe(4);
    expect(await value(metrics, 'streambus_raft_leaders')).toBe(2);
    expect(await value(metrics, 'streambus_raft_leaderless_groups')).toBe(1);
    expect(await value(metrics, 'streambus_partitions')).toBe(3);
    expect(await value(metrics, 'streambus_partition_leaders')).toBe(1);
    expect(await value(metrics, 'streambus_controller_leader')).toBe(1);
    expect(await value(metrics, 'streambus_raft_elections_total')).toBe(3);
    host.metrics.proposals = 45;
    setControllerLeader(2);
    await metrics.scrape();
    expect(await value(metrics, 'streambus_raft_proposals_total')).toBe(45);
    expect(await value(metrics, 'streambus_controller_leader')).toBe(0);
    expect(await value(metrics, 'streambus_build_info', { version: 'test' })).toBe(1);
  });

  it('counts under-replicated partitions led here, and offline ones on the controller leader only', async () => {
    const { host, metrics, state, setControllerLeader } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader, inactive: [3] });
    host.groups.set(6, { voters: [1, 2, 3], role: Role.leader });
    await metrics.scrape();
    expect(await value(metrics, 'streambus_under_replicated_partitions')).toBe(1);
    // Neither partition of t has reported a leader yet: both offline, as the controller leader sees it.
    expect(await value(metrics, 'streambus_offline_partitions')).toBe(2);
    const [first, second] = state.partitionsOf('t');
    expectOk(
      state.apply({
        type: 'reportPartitions',
        reports: [
          { groupId: first?.groupId ?? 0, leaderId: 2, term: 1, isr: [2], highWatermark: 0 },
          { groupId: second?.groupId ?? 0, leaderId: 3, term: 1, isr: [3], highWatermark: 0 },
        ],
      }),
    );
    host.silentPeers.add(3);
    await metrics.scrape();
    expect(await value(metrics, 'streambus_offline_partitions')).toBe(1);
    setControllerLeader(2);
    await metrics.scrape();
    expect(await value(metrics, 'streambus_offline_partitions')).toBe(0);
  });

  it('reports replication lag per follower: records behind, and seconds since it was last caught up', async () => {
    const { host, metrics, records, sampler, advance } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader, lastIndex: 100 });
    host.groups.set(6, { voters: [1, 2, 3], role: Role.leader, lastIndex: 50 });
    sampler.sampleCatchUp();
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader, lastIndex: 120, match: { 2: 90 } });
    host.groups.set(6, { voters: [1, 2, 3], role: Role.leader, lastIndex: 60, match: { 2: 55 } });
    records.set('5@90', 300);
    records.set('6@55', 40);
    advance(4_000);
    await metrics.scrape();
    expect(await value(metrics, 'streambus_replication_lag_records', { follower: '2' })).toBe(300);
    expect(await value(metrics, 'streambus_replication_lag_seconds', { follower: '2' })).toBe(4);
    expect(await value(metrics, 'streambus_replication_lag_records', { follower: '3' })).toBe(0);
    expect(await value(metrics, 'streambus_replication_lag_seconds', { follower: '3' })).toBe(0);
  });

  it('reports the storage footprint and the file system by statfs', async () => {
    const { metrics } = setUp();
    await metrics.scrape();
    expect(await value(metrics, 'streambus_storage_bytes_used')).toBe(5_000);
    expect(await value(metrics, 'streambus_wal_size_bytes')).toBe(1_000);
    expect(await value(metrics, 'streambus_memtable_size_bytes')).toBe(700);
    const available = await value(metrics, 'streambus_storage_bytes_available');
    const capacity = await value(metrics, 'streambus_storage_capacity_bytes');
    expect(available).toBeGreaterThan(0);
    expect(capacity).toBeGreaterThanOrEqual(available);
  });
});
