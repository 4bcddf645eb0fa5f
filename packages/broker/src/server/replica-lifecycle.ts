/**
 * The partition replicas of this broker follow the controller's assignments: a group is created
 * when a partition assigned here lands in the applied controller state, removed when its topic is
 * deleted or a reassignment took this broker out of it for good, and reconciled every
 * reconcileIntervalMs against the whole state (an event may have been missed across a restore).
 * While this broker leads a group, it steps the group's Raft membership towards the controller's
 * replicas (see reconfigurer.ts).
 */
import { assert, Role } from '@streambus/raft';
import type { ConfState, GroupConfig, GroupId, HostGroupStatus, NodeId, OpenGroupOptions } from '@streambus/raft';
import type { ControllerEvent, ControllerState, PartitionInfo } from '../controller/state.js';
import { controllerGroupId } from '../controller/constants.js';
import type { Logger } from '../logging/logger.js';
import { removedReplicaGraceMs } from './constants.js';
import { inSyncReplicas } from './follower-progress.js';
import type { ReconfigureTarget } from './reconfigurer.js';

/** The RaftHost calls of the lifecycle. */
export interface LifecycleHost {
  hasGroup(groupId: GroupId): boolean;
  isLeader(groupId: GroupId): boolean;
  leaderOf(groupId: GroupId): NodeId;
  groupIds(): GroupId[];
  status(groupId: GroupId): HostGroupStatus;
  createGroup(groupId: GroupId, bootstrap: ConfState | null, overrides?: GroupConfig, options?: OpenGroupOptions): void;
  campaign(groupId: GroupId): void;
  removeGroup(groupId: GroupId): Promise<void>;
}

/** What the lifecycle does with a replica object (PartitionReplica): label it, close it. */
export interface ManagedReplica {
  topic: string;
  partition: number;
  close(): void;
}

export interface ReplicaLifecycleOptions<R extends ManagedReplica> {
  readonly nodeId: NodeId;
  readonly host: LifecycleHost;
  /** Deletes a removed group's data (LevelRaftStore.deleteGroup). */
  readonly store: { deleteGroup(groupId: GroupId): Promise<void> };
  /** The controller state as applied here. */
  readonly controllerState: () => ControllerState;
  /** True when this broker's controller state has caught up with the controller's commit. */
  readonly controllerCaughtUp: () => boolean;
  /** A new replica object for a hosted group. */
  readonly createReplica: (groupId: GroupId) => R;
  /** True while a group is closed in the host for its repair (see scrub-repair.ts): not re-created meanwhile. */
  readonly isRepairing: (groupId: GroupId) => boolean;
  /** Steps led groups' membership (Reconfigurer). */
  readonly reconfigurer: { run(targets: Iterable<ReconfigureTarget>): void; forget(groupId: GroupId): void };
  /** Called when a group is removed from this broker (so that others forget it too). */
  readonly onDropped: (groupId: GroupId) => void;
  readonly logger: Logger;
  readonly nowMs?: () => number;
}

export class ReplicaLifecycle<R extends ManagedReplica> {
  private readonly nodeId: NodeId;
  private readonly host: LifecycleHost;
  private readonly nowMs: () => number;
  private readonly replicaMap = new Map<GroupId, R>();
  /** Groups moved off this broker, by when their leader was first seen reporting an ISR without it. */
  private readonly outOfIsrSinceMs = new Map<GroupId, number>();
  /** Groups being removed from the host and store: not re-created until that finished. */
  private readonly dropping = new Set<GroupId>();
  private stopped = false;

  constructor(private readonly options: ReplicaLifecycleOptions<R>) {
    this.nodeId = options.nodeId;
    this.host = options.host;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** The replica objects, by group. */
  get replicas(): ReadonlyMap<GroupId, R> {
    return this.replicaMap;
  }

  /** The replica object of a hosted group, created on first use (also during recovery). */
  replica(groupId: GroupId): R {
    let replica = this.replicaMap.get(groupId);
    if (replica === undefined) {
      replica = this.options.createReplica(groupId);
      const info = this.options.controllerState().partition(groupId);
      if (info !== undefined) label(replica, info);
      this.replicaMap.set(groupId, replica);
    }
    return replica;
  }

  /** The replica of a group the host has, or undefined. */
  hosted(groupId: GroupId): R | undefined {
    return this.host.hasGroup(groupId) ? this.replicaMap.get(groupId) : undefined;
  }

  /** True when this broker hosts the group and leads it. */
  isLeader(groupId: GroupId): boolean {
    return this.host.isLeader(groupId);
  }

  /** The group's leader as this broker last saw it; 0 when unknown or the group is not hosted here. */
  leaderOf(groupId: GroupId): NodeId {
    return this.host.hasGroup(groupId) ? this.host.leaderOf(groupId) : 0;
  }

  /** Term and in-sync replicas of a group this broker leads. */
  leadership(groupId: GroupId): { readonly term: number; readonly isr: readonly NodeId[] } {
    assert(this.host.isLeader(groupId), 'only a leader knows its in-sync replicas');
    const status = this.host.status(groupId);
    return { term: status.hardState.term, isr: inSyncReplicas(this.nodeId, status) };
  }

  /** A fresh state machine for a group reopened by a repair (it is re-applied from its snapshot and log). */
  reset(groupId: GroupId): void {
    this.replicaMap.get(groupId)?.close();
    this.replicaMap.delete(groupId);
    this.replica(groupId);
  }

  /** Follows one applied controller event. */
  onControllerEvent(event: ControllerEvent): void {
    if (event.type === 'topicCreated' || event.type === 'partitionsAdded')
      for (const partition of event.partitions) this.ensure(partition);
    else if (event.type === 'assignmentChanged') this.ensure(event.partition);
    else if (event.type === 'topicDeleted') for (const partition of event.partitions) void this.drop(partition.groupId);
  }

  /** Follows a restored controller snapshot. */
  onControllerRestored(state: ControllerState): void {
    for (const partition of state.partitions()) this.ensure(partition);
  }

  /** Creates the group of a partition assigned here, unless it exists, is being removed or is under repair. */
  ensure(partition: PartitionInfo): void {
    if (this.stopped) return;
    if (!partition.replicas.includes(this.nodeId)) return;
    if (this.options.isRepairing(partition.groupId)) return;
    if (this.dropping.has(partition.groupId)) return;
    label(this.replica(partition.groupId), partition);
    if (this.host.hasGroup(partition.groupId)) return;
    // Every member bootstraps with the group's FIRST voters, a replica added by a reassignment
    // too: the log from index 1 (conf changes included) replays on top of them. A joiner is no
    // voter there, so it never campaigns; it learns the membership from the log or a snapshot.
    // A replica created for a partition that already ran (a reassignment, or a copy lost with its
    // disk) may have voted in this group before: it joins, voting only once a leader was heard.
    const fresh = partition.leader === null && partition.initialReplicas.includes(this.nodeId);
    this.host.createGroup(partition.groupId, confState(partition.initialReplicas), {}, fresh ? {} : { joining: true });
    // The preferred leader of a new partition campaigns at once, so leaders start balanced as placement made them.
    if (fresh && partition.replicas[0] === this.nodeId) this.host.campaign(partition.groupId);
  }

  /** Closes the replica and removes the group from the host and the store. */
  async drop(groupId: GroupId): Promise<void> {
    const replica = this.replicaMap.get(groupId);
    this.replicaMap.delete(groupId);
    replica?.close();
    this.options.onDropped(groupId);
    this.outOfIsrSinceMs.delete(groupId);
    this.options.reconfigurer.forget(groupId);
    if (!this.host.hasGroup(groupId) || this.dropping.has(groupId)) return;
    this.dropping.add(groupId);
    try {
      await this.host.removeGroup(groupId);
      await this.options.store.deleteGroup(groupId);
    } finally {
      this.dropping.delete(groupId);
    }
    this.options.logger.info({ group: groupId }, 'partition group removed');
  }

  /** Creates missing groups and removes those no longer assigned here, once the controller is caught up. */
  reconcile(): void {
    if (!this.options.controllerCaughtUp()) return;
    const state = this.options.controllerState();
    for (const partition of state.partitions()) this.ensure(partition);
    for (const groupId of this.host.groupIds()) {
      if (groupId === controllerGroupId) continue;
      const info = state.partition(groupId);
      if (info === undefined || this.movedAway(info)) void this.drop(groupId);
    }
  }

  /** Leaders step their groups' Raft membership towards the controller's replicas. */
  reconfigure(): void {
    if (this.stopped || !this.options.controllerCaughtUp()) return;
    const state = this.options.controllerState();
    const targets = this.host.groupIds().flatMap((groupId) => {
      if (groupId === controllerGroupId || !this.host.isLeader(groupId)) return [];
      const info = state.partition(groupId);
      return info === undefined ? [] : [{ groupId, replicas: info.replicas }];
    });
    this.options.reconfigurer.run(targets);
  }

  /** Closes every replica: pending produce and fetch calls end. */
  closeAll(): void {
    for (const replica of this.replicaMap.values()) replica.close();
  }

  /** No group is created or reconfigured after this. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * True when a reassignment took this broker out of the group for good. The controller's list
   * alone is not enough: until the leader removes it, this broker is still a voter the group may
   * need for its quorum. It is out once its own applied ConfState lacks it, or once the group's
   * leader (another broker) has reported an ISR without it for a while (a removed follower may
   * never apply its own removal: the leader stops replicating to it once it applied it).
   */
  private movedAway(info: PartitionInfo): boolean {
    const groupId = info.groupId;
    if (info.replicas.includes(this.nodeId)) {
      this.outOfIsrSinceMs.delete(groupId);
      return false;
    }
    const status = this.host.status(groupId);
    if (!isMember(this.nodeId, status.confState)) return true;
    if (!this.removalReported(info, status)) {
      this.outOfIsrSinceMs.delete(groupId);
      return false;
    }
    const now = this.nowMs();
    const since = this.outOfIsrSinceMs.get(groupId) ?? now;
    this.outOfIsrSinceMs.set(groupId, since);
    return now - since >= removedReplicaGraceMs;
  }

  /**
   * True when another broker leads the group and reports an ISR without this one, while every
   * target replica is in it: then the move is at its removal step, not waiting for this (maybe
   * lagging, still voting) replica.
   */
  private removalReported(info: PartitionInfo, status: HostGroupStatus): boolean {
    if (status.role === Role.leader) return false;
    const report = info.leader;
    if (report === null) return false;
    if (report.leaderId === this.nodeId) return false;
    if (report.isr.includes(this.nodeId)) return false;
    return info.replicas.every((id) => report.isr.includes(id));
  }
}

function label(replica: ManagedReplica, info: PartitionInfo): void {
  replica.topic = info.topic;
  replica.partition = info.partition;
}

function isMember(id: NodeId, conf: ConfState): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id) || conf.votersOutgoing.includes(id);
}

/** A group's bootstrap configuration: these voters, nobody else. */
export function confState(voters: readonly NodeId[]): ConfState {
  return { voters: [...voters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}
