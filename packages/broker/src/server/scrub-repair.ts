/**
 * Corrupt replicas, found and mended. A replica that finds a corrupt batch in its own log (a read,
 * or the scrubber below) must not serve it nor lead while healthy replicas can, and its copy is
 * repaired from the leader: once this broker follows another leader, the host drops the log from
 * the corrupt batch on (term and vote kept) and re-replicates it. Until the log is as long as
 * before, this replica grants no votes (see RaftHost.repairGroup). Acknowledged data is safe as
 * long as the corruption is on a minority: the leader and the other replicas still hold it.
 *
 * The scrubber is the background verification: each pass CRC-checks a bounded slice of the
 * committed, stored batches, group after group, reading LevelDB itself, so that corruption on a
 * follower is found before that follower ever leads or serves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assert, Role } from '@streambus/raft';
import type { GroupId, HostGroupStatus, NodeId } from '@streambus/raft';
import type { CorruptBatchError, ScrubResult } from '@streambus/storage';
import { rethrowBug } from '../bugs.js';
import { controllerGroupId } from '../controller/constants.js';
import type { Logger } from '../logging/logger.js';
import { repairRetryMs, scrubBytesPerPassMax } from './constants.js';
import { handOffTarget } from './follower-progress.js';

/** The RaftHost calls of scrubbing and repair. */
export interface ScrubRepairHost {
  hasGroup(groupId: GroupId): boolean;
  isLeader(groupId: GroupId): boolean;
  groupIds(): GroupId[];
  status(groupId: GroupId): HostGroupStatus;
  transferLeadership(groupId: GroupId, to: NodeId): void;
  repairGroup(groupId: GroupId, fromIndex: number, beforeReopen: () => void): Promise<void>;
}

/** The store's verification read (LevelRaftStore.scrub). */
export interface ScrubStore {
  scrub(groupId: GroupId, fromIndex: number, indexMaxInclusive: number, bytesMax: number): Promise<ScrubResult>;
}

export interface ScrubRepairOptions {
  readonly nodeId: NodeId;
  readonly host: ScrubRepairHost;
  readonly store: ScrubStore;
  /** Gives a group a fresh state machine while a repair reopens it (it is re-applied from its snapshot and log). */
  readonly resetReplica: (groupId: GroupId) => void;
  readonly logger: Logger;
  /** The pause between repair attempts; default real time. */
  readonly sleepMs?: (ms: number) => Promise<unknown>;
}

export class ScrubRepair {
  private readonly nodeId: NodeId;
  private readonly host: ScrubRepairHost;
  private readonly store: ScrubStore;
  private readonly resetReplica: (groupId: GroupId) => void;
  private readonly logger: Logger;
  private readonly sleepMs: (ms: number) => Promise<unknown>;
  /** Groups whose local log holds a corrupt batch, with the lowest raft index found corrupt. */
  private readonly corrupt = new Map<GroupId, number>();
  /** Groups closed in the host while their corrupt suffix is dropped: not re-created meanwhile. */
  private readonly repairing = new Set<GroupId>();
  /** Where the next scrub pass starts, per group. */
  private readonly scrubCursor = new Map<GroupId, number>();
  private scrubbing = false;
  private scrubRotation = 0;
  private stopped = false;

  constructor(options: ScrubRepairOptions) {
    this.nodeId = options.nodeId;
    this.host = options.host;
    this.store = options.store;
    this.resetReplica = options.resetReplica;
    this.logger = options.logger;
    this.sleepMs = options.sleepMs ?? sleep;
  }

  /** True while the group is closed in the host for its repair: it must not be re-created meanwhile. */
  isRepairing(groupId: GroupId): boolean {
    return this.repairing.has(groupId);
  }

  /** True while the group's local log is known to hold a corrupt batch. */
  isCorrupt(groupId: GroupId): boolean {
    return this.corrupt.has(groupId);
  }

  /** A replica found a corrupt batch in its own log: hand leadership away, then repair it. */
  onCorrupt(error: CorruptBatchError): void {
    const groupId = error.groupId;
    const known = this.corrupt.get(groupId);
    if (known !== undefined && known <= error.index) return;
    this.logger.error(
      { group: groupId, index: error.index, offset: error.offset, err: error.reason },
      'corrupt batch in the local log: repairing this replica from the leader',
    );
    this.corrupt.set(groupId, error.index);
    this.handOff(groupId);
    if (known === undefined) void this.repair(groupId);
  }

  /** A corrupt replica elected leader hands leadership on again (once the election settled). */
  onLeaderChange(groupId: GroupId, role: Role): void {
    if (role === Role.leader && this.corrupt.has(groupId)) queueMicrotask(() => this.handOff(groupId));
  }

  /** Starts a scrub pass unless one is running. */
  scrub(): void {
    if (this.scrubbing || this.stopped) return;
    this.scrubbing = true;
    void this.scrubPass()
      .catch((error: unknown) => {
        rethrowBug(error);
        this.logger.warn({ err: (error as Error).message }, 'scrub pass failed');
      })
      .finally(() => {
        this.scrubbing = false;
      });
  }

  /** No pass or repair attempt starts after this. */
  stop(): void {
    this.stopped = true;
  }

  private handOff(groupId: GroupId): void {
    if (!this.host.isLeader(groupId)) return;
    const target = handOffTarget(this.nodeId, this.host.status(groupId));
    if (target !== 0) this.host.transferLeadership(groupId, target);
  }

  /** Waits until another broker leads the group, then drops the corrupt suffix and re-replicates it. */
  private async repair(groupId: GroupId): Promise<void> {
    while (!this.stopped && this.corrupt.has(groupId)) {
      if (!this.host.hasGroup(groupId)) {
        this.corrupt.delete(groupId);
        return;
      }
      const status = this.host.status(groupId);
      if (followsAnotherLeader(this.nodeId, status)) {
        if (await this.repairOnce(groupId, status.leaderId)) return;
      } else {
        this.handOff(groupId);
      }
      await this.sleepMs(repairRetryMs);
    }
  }

  /** One repair attempt of a group that follows `leaderId`; true when it is done (or the broker stops). */
  private async repairOnce(groupId: GroupId, leaderId: NodeId): Promise<boolean> {
    const fromIndex = this.corrupt.get(groupId);
    assert(fromIndex !== undefined, 'a group under repair has a corrupt index');
    this.repairing.add(groupId);
    try {
      await this.host.repairGroup(groupId, fromIndex, () => this.resetReplica(groupId));
      this.corrupt.delete(groupId);
      this.scrubCursor.delete(groupId);
      this.logger.warn(
        { group: groupId, from_index: fromIndex, leader: leaderId },
        'corrupt suffix dropped: re-replicating it from the leader',
      );
      return true;
    } catch (error) {
      rethrowBug(error);
      if (this.stopped) return true;
      this.logger.error(
        { group: groupId, err: (error as Error).message },
        'repair of a corrupt replica failed; retrying',
      );
      return false;
    } finally {
      this.repairing.delete(groupId);
    }
  }

  private async scrubPass(): Promise<void> {
    let budget = scrubBytesPerPassMax;
    const groups = this.host
      .groupIds()
      .filter((groupId) => groupId !== controllerGroupId && !this.corrupt.has(groupId));
    // Each pass starts one group further on, so a busy group cannot take every pass's budget.
    this.scrubRotation = groups.length === 0 ? 0 : (this.scrubRotation + 1) % groups.length;
    for (const groupId of [...groups.slice(this.scrubRotation), ...groups.slice(0, this.scrubRotation)]) {
      if (budget <= 0 || this.stopped) return;
      if (!this.host.hasGroup(groupId) || this.repairing.has(groupId)) continue;
      const from = this.scrubCursor.get(groupId) ?? 1;
      const commit = this.host.status(groupId).hardState.commit;
      if (from > commit) continue;
      const pass = await this.store.scrub(groupId, from, commit, budget);
      budget -= Math.max(1, pass.bytes);
      if (pass.corrupt !== null) {
        this.onCorrupt(pass.corrupt);
        continue;
      }
      // At the end the cursor waits at the commit index: the next passes check what commits later.
      this.scrubCursor.set(groupId, pass.nextIndex === 0 ? commit + 1 : pass.nextIndex);
    }
  }
}

/** True when the group has other voters and another broker leads it: the repair can copy from that leader. */
function followsAnotherLeader(selfId: NodeId, status: HostGroupStatus): boolean {
  const others = status.confState.voters.filter((id) => id !== selfId);
  if (others.length === 0) return false;
  if (status.leaderId === 0) return false;
  if (status.leaderId === selfId) return false;
  return status.role !== Role.leader;
}
