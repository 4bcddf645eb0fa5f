import { tmpdir } from 'node:os';
import { Role } from '@streambus/raft';
import type { StoreStats } from '@streambus/storage';
import { describe, expect, it } from 'vitest';
import { HealthRegistry } from '../../src/admin/health.js';
import type { ControllerState } from '../../src/controller/state.js';
import { controllerGroupId } from '../../src/controller/constants.js';
import { BrokerHealth } from '../../src/server/broker-health.js';
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
    peerIds: [1, 2, 3],
    dataDir: tmpdir(),
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

describe('BrokerHealth: /health', () => {
  it('reports the raft, controller and storage components and the readiness check', async () => {
    const { host, health } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader });
    host.groups.set(6, { voters: [1, 2, 3], leaderId: 0 });
    const registry = new HealthRegistry({ brokerId: 1, version: 'test' });
    const unregister = health.register(registry);
    const report = await registry.report();
    host.silentPeers.add(3);
    expect(report.components).toMatchObject({
      raft: {
        status: 'degraded',
        detail: '2 groups, leader of 1, 1 without a leader, 0 led without a quorum heard from',
      },
      controller: { status: 'healthy', detail: 'leader broker 2, applied 12' },
      storage: { detail: expect.stringMatching(/^2 groups, 10 batches, 4096 bytes, disk \d+% free, wal_sync always$/) },
      peers: { status: 'healthy', detail: '2 of 2 peers heard from' },
    });
    const silent = await registry.report();
    expect(silent.components['peers']).toEqual({ status: 'degraded', detail: '1 of 2 peers heard from; silent: 3' });
    host.silentPeers.add(2);
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader, inactive: [2, 3] });
    const alone = await registry.report();
    expect(alone.components['peers']?.status).toBe('unhealthy');
    expect(alone.components['raft']?.detail).toBe(
      '2 groups, leader of 1, 1 without a leader, 1 led without a quorum heard from',
    );
    expect(alone.status).toBe('unhealthy');
    expect(report.ready).toBe(false);
    for (const remove of unregister) remove();
    expect((await registry.report()).components).toEqual({});
  });
});
