import { Role } from '@streambus/raft';
import type { GroupId } from '@streambus/raft';
import { CorruptBatchError } from '@streambus/storage';
import type { ScrubResult } from '@streambus/storage';
import { describe, expect, it } from 'vitest';
import { controllerGroupId } from '../../src/controller/constants.js';
import { repairRetryMs, scrubBytesPerPassMax } from '../../src/server/constants.js';
import { ScrubRepair } from '../../src/server/scrub-repair.js';
import type { ScrubStore } from '../../src/server/scrub-repair.js';
import { FakeHost, settle, silentLogger } from './fakes.js';

/** Pauses that end when the test says so. */
class Pauses {
  readonly asked: number[] = [];
  private readonly waiting: (() => void)[] = [];
  readonly sleepMs = (ms: number): Promise<void> => {
    this.asked.push(ms);
    return new Promise((resolve) => this.waiting.push(resolve));
  };
  async end(): Promise<void> {
    for (const resolve of this.waiting.splice(0)) resolve();
    await settle();
  }
}

/** A store whose scrub answers from a script, and records each call. */
class FakeStore implements ScrubStore {
  readonly calls: { groupId: GroupId; from: number; to: number; bytesMax: number }[] = [];
  answer: (groupId: GroupId, from: number, to: number) => ScrubResult = () => ({
    nextIndex: 0,
    corrupt: null,
    bytes: 100,
  });
  async scrub(groupId: GroupId, from: number, to: number, bytesMax: number): Promise<ScrubResult> {
    this.calls.push({ groupId, from, to, bytesMax });
    return this.answer(groupId, from, to);
  }
}

function setUp(): { host: FakeHost; store: FakeStore; pauses: Pauses; resets: GroupId[]; scrubRepair: ScrubRepair } {
  const host = new FakeHost(1);
  const store = new FakeStore();
  const pauses = new Pauses();
  const resets: GroupId[] = [];
  const scrubRepair = new ScrubRepair({
    nodeId: 1,
    host,
    store,
    resetReplica: (groupId) => resets.push(groupId),
    logger: silentLogger,
    sleepMs: pauses.sleepMs,
  });
  return { host, store, pauses, resets, scrubRepair };
}

describe('ScrubRepair: a corrupt replica', () => {
  it('hands its leadership to the live voter with the longest log, and repairs from the corrupt index once another broker leads', async () => {
    const { host, pauses, resets, scrubRepair } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader, match: { 2: 50, 3: 90 } });
    scrubRepair.onCorrupt(new CorruptBatchError(5, 40, 400, 'crc mismatch'));
    expect(scrubRepair.isCorrupt(5)).toBe(true);
    expect(host.transfers).toEqual([
      { groupId: 5, to: 3 },
      { groupId: 5, to: 3 },
    ]);
    expect(host.repairs).toEqual([]);
    expect(pauses.asked).toEqual([repairRetryMs]);
    // Leadership moved: the next attempt repairs.
    host.groups.set(5, { voters: [1, 2, 3], role: Role.follower, leaderId: 3 });
    await pauses.end();
    expect(host.repairs).toEqual([{ groupId: 5, fromIndex: 40 }]);
    expect(resets).toEqual([5]);
    expect(scrubRepair.isCorrupt(5)).toBe(false);
    expect(scrubRepair.isRepairing(5)).toBe(false);
  });

  it('repairs from the lowest corrupt index found, and is not re-created while the host has it closed', async () => {
    const { host, pauses, scrubRepair } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], leaderId: 0 });
    scrubRepair.onCorrupt(new CorruptBatchError(5, 40, 400, 'crc mismatch'));
    scrubRepair.onCorrupt(new CorruptBatchError(5, 60, 600, 'crc mismatch'));
    scrubRepair.onCorrupt(new CorruptBatchError(5, 30, 300, 'crc mismatch'));
    let repairingSeen = false;
    host.repair = async (groupId, _fromIndex, beforeReopen) => {
      repairingSeen = scrubRepair.isRepairing(groupId);
      beforeReopen();
    };
    host.groups.set(5, { voters: [1, 2, 3], leaderId: 2 });
    await pauses.end();
    expect(host.repairs).toEqual([{ groupId: 5, fromIndex: 30 }]);
    expect(repairingSeen).toBe(true);
  });

  it('retries a repair that failed, and gives up on a group the host no longer has', async () => {
    const { host, pauses, scrubRepair } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], leaderId: 2 });
    host.repair = () => Promise.reject(new Error('disk busy'));
    scrubRepair.onCorrupt(new CorruptBatchError(5, 40, 400, 'crc mismatch'));
    await settle();
    expect(host.repairs).toHaveLength(1);
    await pauses.end();
    expect(host.repairs).toHaveLength(2);
    host.groups.delete(5);
    await pauses.end();
    expect(scrubRepair.isCorrupt(5)).toBe(false);
    expect(host.repairs).toHaveLength(2);
  });

  it('a corrupt replica elected leader hands leadership on again', async () => {
    const { host, scrubRepair } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], leaderId: 0 });
    scrubRepair.onCorrupt(new CorruptBatchError(5, 40, 400, 'crc mismatch'));
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader, match: { 2: 99, 3: 10 } });
    scrubRepair.onLeaderChange(5, Role.leader);
    scrubRepair.onLeaderChange(6, Role.leader);
    await settle();
    expect(host.transfers).toEqual([{ groupId: 5, to: 2 }]);
  });
});

describe('ScrubRepair: the scrubber', () => {
  it('checks each partition group from its cursor to its commit index, never the controller group, and waits at the commit index', async () => {
    const { host, store, scrubRepair } = setUp();
    host.groups.set(controllerGroupId, { voters: [1], commit: 10 });
    host.groups.set(5, { voters: [1, 2, 3], commit: 20 });
    scrubRepair.scrub();
    await settle();
    expect(store.calls).toEqual([{ groupId: 5, from: 1, to: 20, bytesMax: scrubBytesPerPassMax }]);
    scrubRepair.scrub();
    await settle();
    expect(store.calls).toHaveLength(1);
    host.groups.set(5, { voters: [1, 2, 3], commit: 30 });
    scrubRepair.scrub();
    await settle();
    expect(store.calls[1]).toEqual({ groupId: 5, from: 21, to: 30, bytesMax: scrubBytesPerPassMax });
  });

  it('spends one budget per pass across groups, starting one group further on each pass', async () => {
    const { host, store, scrubRepair } = setUp();
    for (const groupId of [5, 6, 7]) host.groups.set(groupId, { voters: [1, 2, 3], commit: 1_000 });
    store.answer = (_groupId, from) => ({ nextIndex: from + 1, corrupt: null, bytes: scrubBytesPerPassMax });
    scrubRepair.scrub();
    await settle();
    scrubRepair.scrub();
    await settle();
    expect(store.calls.map((call) => call.groupId)).toEqual([6, 7]);
  });

  it('reports a corrupt batch it finds, and leaves that group out of later passes', async () => {
    const { host, store, pauses, scrubRepair } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], leaderId: 0, commit: 20 });
    store.answer = (groupId) => ({
      nextIndex: 0,
      corrupt: new CorruptBatchError(groupId, 12, 120, 'crc mismatch'),
      bytes: 10,
    });
    scrubRepair.scrub();
    await settle();
    expect(scrubRepair.isCorrupt(5)).toBe(true);
    expect(pauses.asked).toEqual([repairRetryMs]);
    scrubRepair.scrub();
    await settle();
    expect(store.calls).toHaveLength(1);
  });

  it('starts nothing once stopped', async () => {
    const { host, store, scrubRepair } = setUp();
    host.groups.set(5, { voters: [1, 2, 3], commit: 20 });
    scrubRepair.stop();
    scrubRepair.scrub();
    await settle();
    expect(store.calls).toEqual([]);
  });
});
