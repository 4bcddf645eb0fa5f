import type { ConfState, GroupId } from '@streambus/raft';
import type { RetentionPolicy } from '@streambus/storage';
import { describe, expect, it } from 'vitest';
import { RetentionEnforcer } from '../../src/server/retention.js';
import type { RetentionOptions } from '../../src/server/retention.js';
import { confState, FakeHost, silentLogger } from './fakes.js';

function setUp(limits: Pick<RetentionOptions, 'ageMsMax' | 'bytesMax' | 'exempt'>) {
  const host = new FakeHost(1);
  const applied: { groupId: GroupId; policy: RetentionPolicy; state: Uint8Array }[] = [];
  const replicas = new Map([
    [5, { stateSnapshot: () => ({ data: new Uint8Array([5]), appliedIndex: 50 }) }],
    [6, { stateSnapshot: () => ({ data: new Uint8Array([6]), appliedIndex: 60 }) }],
  ]);
  const enforcer = new RetentionEnforcer({
    host,
    store: {
      applyRetention: async (groupId, policy, state) => {
        applied.push({ groupId, policy, state });
        return {
          snapshotIndex: policy.offsetBelow === undefined ? null : 7,
          batchesDeleted: 0,
          bytesDeleted: 0,
          earliestOffset: 0,
        };
      },
    },
    replicas,
    ...limits,
    logger: silentLogger,
    nowMs: () => 1_000_000,
  });
  return { host, applied, enforcer };
}

describe('RetentionEnforcer', () => {
  it('asks the store to apply the configured limits to each hosted partition, with its state as of its applied index', () => {
    const { host, applied, enforcer } = setUp({ ageMsMax: 3_600_000, bytesMax: 0 });
    host.groups.set(5, { voters: [1, 2, 3] });
    enforcer.run();
    expect(
      applied.map(({ groupId, policy, state }) => ({
        groupId,
        now: policy.now,
        appliedIndex: policy.appliedIndex,
        ageMsMax: policy.ageMsMax,
        bytesMax: policy.bytesMax,
        state: [...state],
      })),
    ).toEqual([{ groupId: 5, now: 1_000_000, appliedIndex: 50, ageMsMax: 3_600_000, bytesMax: undefined, state: [5] }]);
    const confStateAt = applied[0]?.policy.confStateAt as (index: number) => ConfState | undefined;
    expect(confStateAt(10)).toEqual(confState([1, 2, 3]));
    host.groups.delete(5);
    expect(confStateAt(10)).toBeUndefined();
  });

  it('does nothing without limits', () => {
    const { host, applied, enforcer } = setUp({ ageMsMax: 0, bytesMax: 0 });
    host.groups.set(5, { voters: [1, 2, 3] });
    enforcer.run();
    expect(applied).toEqual([]);
  });

  it('leaves exempt partitions (__consumer_offsets) to their coordinator, which cuts them below an offset', async () => {
    const { host, applied, enforcer } = setUp({
      ageMsMax: 3_600_000,
      bytesMax: 1000,
      exempt: (groupId) => groupId === 5,
    });
    host.groups.set(5, { voters: [1, 2, 3] });
    host.groups.set(6, { voters: [1, 2, 3] });
    enforcer.run();
    expect(applied.map((entry) => entry.groupId)).toEqual([6]);
    expect(await enforcer.cutBelow(5, 1234)).toBe(true);
    expect(applied[1]).toMatchObject({ groupId: 5, policy: { offsetBelow: 1234, appliedIndex: 50 } });
    expect(applied[1]?.policy.ageMsMax).toBeUndefined();
    expect(await enforcer.cutBelow(9, 1234)).toBe(false);
  });
});
