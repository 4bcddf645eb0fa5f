import { Role } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import { isrLagEntriesMax } from '../../src/server/constants.js';
import { handOffTarget, inSyncReplicas, readyToLead } from '../../src/server/follower-progress.js';
import { groupStatus } from './fakes.js';

const lastIndex = 5_000;

describe('inSyncReplicas (leader 1)', () => {
  it('holds the leader and the live voters within isrLagEntriesMax of its last index, sorted', () => {
    const status = groupStatus(1, {
      role: Role.leader,
      voters: [3, 1, 2, 4],
      lastIndex,
      match: { 2: lastIndex - isrLagEntriesMax, 3: lastIndex - isrLagEntriesMax - 1 },
    });
    expect(inSyncReplicas(1, status)).toEqual([1, 2, 4]);
  });

  it('leaves out learners and voters not heard from recently, but never the leader itself', () => {
    const status = groupStatus(1, {
      role: Role.leader,
      voters: [1, 2, 3],
      learners: [4],
      inactive: [1, 3],
      match: { 1: 0 },
    });
    expect(inSyncReplicas(1, status)).toEqual([1, 2]);
  });

  it('is empty on a follower (only a leader tracks progress)', () => {
    expect(inSyncReplicas(1, groupStatus(1, { voters: [1, 2, 3] }))).toEqual([]);
  });
});

describe('handOffTarget (leader 1)', () => {
  it('picks the live voter with the longest log', () => {
    const status = groupStatus(1, {
      role: Role.leader,
      voters: [1, 2, 3, 4],
      learners: [5],
      inactive: [4],
      match: { 2: 10, 3: 20, 4: 30, 5: 40 },
    });
    expect(handOffTarget(1, status)).toBe(3);
  });

  it('is 0 when no other voter is live', () => {
    expect(handOffTarget(1, groupStatus(1, { role: Role.leader, voters: [1, 2], inactive: [2] }))).toBe(0);
    expect(handOffTarget(1, groupStatus(1, { role: Role.leader, voters: [1] }))).toBe(0);
  });
});

describe('readyToLead (leader 1)', () => {
  it('is true for a live voter with the whole log only', () => {
    const status = groupStatus(1, {
      role: Role.leader,
      voters: [1, 2, 3, 4],
      learners: [5],
      inactive: [4],
      match: { 3: lastIndex - 1 },
      lastIndex,
    });
    expect([2, 3, 4, 5, 6].map((id) => readyToLead(id, status))).toEqual([true, false, false, false, false]);
  });
});
