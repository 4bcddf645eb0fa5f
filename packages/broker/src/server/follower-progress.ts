/**
 * What a leader reads from its followers' progress: who is in sync, and who can take leadership
 * over. Pure functions of a group's HostGroupStatus, shared by the partition reports, the client
 * service's metadata, the hand-off of a stopping broker and that of a corrupt replica.
 */
import type { HostGroupStatus, NodeId } from '@streambus/raft';
import { isrLagEntriesMax } from './constants.js';

/**
 * In-sync replicas of a group `selfId` leads: itself, and the voters heard from recently within
 * isrLagEntriesMax of its last index. Sorted. (Only a leader tracks progress: elsewhere it is
 * whatever the status holds, usually nobody.)
 */
export function inSyncReplicas(selfId: NodeId, status: HostGroupStatus): NodeId[] {
  const isr: NodeId[] = [];
  for (const [id, progress] of status.progress) {
    if (progress.isLearner) continue;
    if (id === selfId || (progress.recentActive && status.lastIndex - progress.match <= isrLagEntriesMax)) isr.push(id);
  }
  return isr.sort((a, b) => a - b);
}

/**
 * The voter to hand leadership to: the live one with the longest log among those `eligible`
 * accepts (default all: a stopping broker takes any; a drained one skips the drained); 0 when
 * there is none.
 */
export function handOffTarget(
  selfId: NodeId,
  status: HostGroupStatus,
  eligible: (id: NodeId) => boolean = () => true,
): NodeId {
  let best: NodeId = 0;
  let bestMatch = -1;
  for (const [id, progress] of status.progress) {
    if (id === selfId || progress.isLearner || !progress.recentActive || !eligible(id)) continue;
    if (progress.match > bestMatch) {
      best = id;
      bestMatch = progress.match;
    }
  }
  return best;
}

/**
 * True when `id` can lead at once: a live voter with the leader's whole log. A learner (a replica a
 * reassignment is still adding) cannot lead yet; nor can a lagging or repairing replica (its match
 * was moved back).
 */
export function readyToLead(id: NodeId, status: HostGroupStatus): boolean {
  const progress = status.progress.get(id);
  if (progress === undefined) return false;
  if (progress.isLearner) return false;
  if (!progress.recentActive) return false;
  return progress.match >= status.lastIndex;
}
