import { Role } from '@streambus/raft';
import type { StoreStats } from '@streambus/storage';
import { describe, expect, it } from 'vitest';
import { HealthRegistry } from '../../src/admin/health.js';
import { createBrokerMetrics } from '../../src/admin/metrics.js';
import type { ControllerState } from '../../src/controller/state.js';
import { controllerGroupId } from '../../src/controller/constants.js';
import { BrokerHealth } from '../../src/server/broker-health.js';
import { expectOk } from '../controller/helpers.js';
import { controllerStateWith, FakeHost } from './fakes.js';

const stats = { groupCount: 2, batchCount: 10, batchBytes: 4_096 } as StoreStats;

function setUp(state: ControllerState = controllerStateWith(3, [])) {
  const host = new FakeHost(1);
  const facts = { fatal: null as Error | null, stopping: false, leaderId: 2, registered: true, caughtUp: true };
  const health = new BrokerHealth({
    nodeId: 1,
    host,
    controller: { state, appliedIndex: 12 },
    controllerLeaderId: () => facts.leaderId,
    controllerCaughtUp: () => facts.caughtUp,
    store: { stats: () => stats },
    walSync: 'always',
    fatal: () => facts.fatal,
    stopping: () => facts.stopping,
    registered: () => facts.registered,
  });
  return { host, facts, health };
}

describe('BrokerHealth: readiness', () => {
  it('gives the first reason this broker is not ready, in order', () => {
    const { host, facts, health } = setUp();
    host.groups.set(controllerGroupId, { voters: [1, 2, 3], leaderId: 0 });
    host.groups.set(5, { voters: [1, 2, 3], leaderId: 2, commit: 10, applied: 10 });
    expect(health.notReadyReason()).toBeNull();
    host.groups.set(6, { voters: [1, 2, 3], leaderId: 2, commit: 10, applied: 7 });
    expect(health.notReadyReason()).toBe('partition group 6 is catching up (7/10)');
    host.groups.set(6, { voters: [1, 2, 3], leaderId: 0 });
    expect(health.notReadyReason()).toBe('partition group 6 has no leader yet');
    facts.caughtUp = false;
    expect(health.notReadyReason()).toBe('controller state not caught up');
    facts.registered = false;
    expect(health.notReadyReason()).toBe('not yet registered with the controller');
    facts.leaderId = 0;
    expect(health.notReadyReason()).toBe('no controller leader (waiting for a quorum of brokers)');
    facts.stopping = true;
    expect(health.notReadyReason()).toBe('broker is stopping');
    facts.fatal = new Error('disk full');
    expect(health.notReadyReason()).toBe('storage failed (disk full); restart the broker');
  });

  it('is not ready until its registration is applied here too', () => {
    const { health } = setUp(controllerStateWith(0, []));
    expect(health.notReadyReason()).toBe('not yet registered with the controller');
  });
});

describe('BrokerHealth: /health and gauges', () => {
  it('reports the raft, controller and storage components and the readiness check', async () => {
    const { host, health } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader });
    host.groups.set(6, { voters: [1, 2, 3], leaderId: 0 });
    const registry = new HealthRegistry({ brokerId: 1, version: 'test' });
    const unregister = health.register(registry);
    const report = await registry.report();
    expect(report.components).toEqual({
      raft: { status: 'degraded', detail: '2 groups, leader of 1, 1 without a leader' },
      controller: { status: 'ok', detail: 'leader broker 2, applied 12' },
      storage: { status: 'ok', detail: '2 groups, 10 batches, 4096 bytes, wal_sync always' },
    });
    expect(report.ready).toBe(false);
    for (const remove of unregister) remove();
    expect((await registry.report()).components).toEqual({});
  });

  it('samples groups, leaders, the controller leader, stored bytes and under-replicated partitions', async () => {
    const state = controllerStateWith(3, [{ name: 't', partitions: 2, replicationFactor: 3 }]);
    const { host, health } = setUp(state);
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader });
    host.groups.set(6, { voters: [1, 2, 3], leaderId: 2 });
    const metrics = createBrokerMetrics({ processMetrics: false });
    health.refreshGauges(metrics);
    const value = async (gauge: { get(): Promise<{ values: { value: number }[] }> }): Promise<number | undefined> =>
      (await gauge.get()).values[0]?.value;
    expect(await value(metrics.raftGroups)).toBe(2);
    expect(await value(metrics.raftLeaders)).toBe(1);
    expect(await value(metrics.controllerLeader)).toBe(2);
    expect(await value(metrics.storageBytesUsed)).toBe(4_096);
    expect(await value(metrics.underReplicatedPartitions)).toBe(0);
    const first = state.partitionsOf('t')[0];
    const leaderId = first?.replicas[0] as number;
    expectOk(
      state.apply({
        type: 'reportPartitions',
        reports: [{ groupId: first?.groupId as number, leaderId, term: 1, isr: [leaderId], highWatermark: 0 }],
      }),
    );
    health.refreshGauges(metrics);
    expect(await value(metrics.underReplicatedPartitions)).toBe(1);
  });
});
