import { Role } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import { leadershipHandoffMsMax, leadershipHandoffPollMs } from '../../src/server/constants.js';
import { handOffLeadership } from '../../src/server/leadership-hand-off.js';
import { FakeHost, silentLogger } from './fakes.js';

describe('handOffLeadership', () => {
  it('hands each led group to its most caught-up live voter, and asks again until none is led here', async () => {
    const host = new FakeHost(1);
    host.groups.set(5, { voters: [1, 2, 3], role: Role.leader, match: { 2: 10, 3: 90 } });
    host.groups.set(6, { voters: [1, 2, 3], role: Role.leader, match: { 2: 90, 3: 10 } });
    host.groups.set(7, { voters: [1, 2, 3], leaderId: 2 });
    let nowMs = 0;
    let rounds = 0;
    await handOffLeadership(host, 1, silentLogger, {
      nowMs: () => nowMs,
      sleepMs: async (ms) => {
        expect(ms).toBe(leadershipHandoffPollMs);
        nowMs += ms;
        rounds += 1;
        // Group 5 moves after the first round, group 6 after the second.
        if (rounds === 1) host.groups.set(5, { voters: [1, 2, 3], leaderId: 3 });
        if (rounds === 2) host.groups.set(6, { voters: [1, 2, 3], leaderId: 2 });
      },
    });
    expect(host.transfers).toEqual([
      { groupId: 5, to: 3 },
      { groupId: 6, to: 2 },
      { groupId: 6, to: 2 },
    ]);
  });

  it('gives up after leadershipHandoffMsMax when no voter can take over', async () => {
    const host = new FakeHost(1);
    host.groups.set(5, { voters: [1, 2], role: Role.leader, inactive: [2] });
    let nowMs = 0;
    await handOffLeadership(host, 1, silentLogger, { nowMs: () => nowMs, sleepMs: async (ms) => void (nowMs += ms) });
    expect(nowMs).toBe(leadershipHandoffMsMax);
    expect(host.transfers).toEqual([]);
  });
});
