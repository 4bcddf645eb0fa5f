/**
 * A graceful stop's first step: every group this broker leads is handed to its most caught-up
 * live voter, asked again every leadershipHandoffPollMs until none is led here or
 * leadershipHandoffMsMax passed. Clients then find the new leaders instead of a dead one, which is
 * what makes a rolling restart cost no unavailability.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { GroupId, HostGroupStatus, NodeId } from '@streambus/raft';
import type { Logger } from '../logging/logger.js';
import { leadershipHandoffMsMax, leadershipHandoffPollMs } from './constants.js';
import { handOffTarget } from './follower-progress.js';

/** The RaftHost calls of the hand-off. */
export interface HandOffHost {
  groupIds(): GroupId[];
  isLeader(groupId: GroupId): boolean;
  status(groupId: GroupId): HostGroupStatus;
  transferLeadership(groupId: GroupId, to: NodeId): void;
}

export interface HandOffOptions {
  readonly nowMs?: () => number;
  readonly sleepMs?: (ms: number) => Promise<unknown>;
}

/** Hands away every group `selfId` leads; resolves when none is led here or the time is up. */
export async function handOffLeadership(
  host: HandOffHost,
  selfId: NodeId,
  logger: Logger,
  options: HandOffOptions = {},
): Promise<void> {
  const nowMs = options.nowMs ?? Date.now;
  const sleepMs = options.sleepMs ?? sleep;
  const deadline = nowMs() + leadershipHandoffMsMax;
  let asked = 0;
  while (nowMs() < deadline) {
    const led = ledGroups(host);
    if (led.length === 0) break;
    for (const groupId of led) {
      const target = handOffTarget(selfId, host.status(groupId));
      if (target === 0) continue;
      host.transferLeadership(groupId, target);
      asked += 1;
    }
    await sleepMs(leadershipHandoffPollMs);
  }
  logger.info({ transfers_asked: asked, still_leading: ledGroups(host).length }, 'leadership hand-off done');
}

function ledGroups(host: HandOffHost): GroupId[] {
  return host.groupIds().filter((groupId) => host.isLeader(groupId));
}
