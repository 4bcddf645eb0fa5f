import { Role } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import type { ControllerCommand } from '../../src/controller/commands.js';
import { drainHandOffPollMs } from '../../src/server/constants.js';
import { DrainRefusedError, Maintenance } from '../../src/server/maintenance.js';
import { controllerStateWith, FakeHost, silentLogger } from './fakes.js';

function setUp(selfId = 1) {
  const state = controllerStateWith(3, [{ name: 't', partitions: 3, replicationFactor: 3 }]);
  const host = new FakeHost(selfId);
  const proposed: ControllerCommand[] = [];
  let nowMs = 0;
  const maintenance = new Maintenance({
    nodeId: selfId,
    host,
    state: () => state,
    controllerLeaderId: () => (host.isLeader(0) ? selfId : 2),
    propose: async (command) => {
      proposed.push(command);
      return state.apply(command);
    },
    logger: silentLogger,
    nowMs: () => nowMs,
    sleepMs: async (ms) => {
      nowMs += ms;
      onSleep();
    },
  });
  let onSleep = (): void => undefined;
  return {
    state,
    host,
    proposed,
    maintenance,
    now: () => nowMs,
    whenSleeping: (run: () => void) => {
      onSleep = run;
    },
  };
}

describe('Maintenance (broker drain)', () => {
  it('records the drain, hands every led group to an undrained voter, and answers once it leads nothing', async () => {
    const { state, host, proposed, maintenance, whenSleeping } = setUp(1);
    // Broker 3 is drained already: it must not be given anything.
    state.apply({ type: 'setBrokerFenced', brokerId: 3, fenced: true });
    host.groups.set(0, { voters: [1, 2, 3], role: Role.leader, match: { 2: 50, 3: 100 } });
    host.groups.set(1, { voters: [1, 2, 3], role: Role.leader, match: { 2: 90, 3: 100 } });
    host.groups.set(2, { voters: [1, 2, 3], leaderId: 2 });
    let sleeps = 0;
    whenSleeping(() => {
      sleeps += 1;
      if (sleeps === 1) host.groups.set(0, { voters: [1, 2, 3], leaderId: 2 });
      if (sleeps === 2) host.groups.set(1, { voters: [1, 2, 3], leaderId: 2 });
    });
    const status = await maintenance.setDrained(0, true, 5_000);
    expect(proposed).toEqual([{ type: 'setBrokerFenced', brokerId: 1, fenced: true }]);
    expect(state.broker(1)?.fenced).toBe(true);
    expect(host.transfers).toEqual([
      { groupId: 0, to: 2 },
      { groupId: 1, to: 2 },
      { groupId: 1, to: 2 },
    ]);
    expect(status).toMatchObject({ brokerId: 1, drained: true, groupsLed: 0, controllerLeader: false });
  });

  it('answers at the end of its wait with what it still leads', async () => {
    const { host, maintenance, now } = setUp(1);
    host.groups.set(1, { voters: [1, 2], role: Role.leader, inactive: [2] });
    const status = await maintenance.setDrained(1, true, 1_000);
    expect(now()).toBe(1_000);
    expect(host.transfers).toEqual([]);
    expect(status.groupsLed).toBe(1);
    expect(status.partitionsLed).toEqual([{ topic: 't', partition: 0 }]);
    expect(Math.ceil(1_000 / drainHandOffPollMs)).toBeGreaterThan(1);
  });

  it('keeps handing away leaderships an election gives it while drained, none once undrained', async () => {
    const { state, host, maintenance } = setUp(1);
    host.groups.set(2, { voters: [1, 2, 3], role: Role.leader });
    maintenance.handOff();
    expect(host.transfers).toEqual([]);
    await maintenance.setDrained(1, true, 0);
    maintenance.handOff();
    expect(host.transfers.length).toBeGreaterThan(0);
    expect(host.transfers.every((transfer) => transfer.groupId === 2)).toBe(true);
    const undrained = await maintenance.setDrained(1, false, 0);
    expect(undrained.drained).toBe(false);
    expect(state.broker(1)?.fenced).toBe(false);
    const asked = host.transfers.length;
    maintenance.handOff();
    expect(host.transfers.length).toBe(asked);
  });

  it('a drain of another broker is recorded and counted from the controller reports; an unknown broker is refused', async () => {
    const { state, proposed, maintenance } = setUp(1);
    state.apply({
      type: 'reportPartitions',
      reports: [{ groupId: state.partitionOf('t', 1)?.groupId ?? 0, leaderId: 3, term: 4, isr: [3], highWatermark: 0 }],
    });
    const status = await maintenance.setDrained(3, true, 5_000);
    expect(status).toMatchObject({ brokerId: 3, drained: true, groupsLed: 1, answeredBy: 1 });
    expect(status.partitionsLed).toEqual([{ topic: 't', partition: 1 }]);
    // Already drained: nothing proposed again.
    await maintenance.setDrained(3, true, 0);
    expect(proposed).toHaveLength(1);
    await expect(maintenance.setDrained(9, true, 0)).rejects.toBeInstanceOf(DrainRefusedError);
  });
});
