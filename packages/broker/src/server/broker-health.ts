/**
 * What a broker says about itself: readiness (why it is not ready, for /ready and the test
 * harness) and the components of /health (raft, controller, storage, peers). Its gauges are
 * MetricsSampler's (metrics-sampler.ts).
 */
import { statfs } from 'node:fs/promises';
import type { GroupId, HostGroupStatus, NodeId } from '@streambus/raft';
import type { StoreStats } from '@streambus/storage';
import type { ComponentHealth, HealthRegistry } from '../admin/health.js';
import { diskFreeRatioDegraded } from './constants.js';
import { controllerGroupId } from '../controller/constants.js';
import type { ControllerState } from '../controller/state.js';

/** The RaftHost calls of health. */
export interface HealthHost {
  groupIds(): GroupId[];
  isLeader(groupId: GroupId): boolean;
  leaderOf(groupId: GroupId): NodeId;
  status(groupId: GroupId): HostGroupStatus;
  peerAlive(nodeId: NodeId): boolean;
}

export interface BrokerHealthOptions {
  readonly nodeId: NodeId;
  readonly host: HealthHost;
  readonly controller: {
    readonly state: Pick<ControllerState, 'broker' | 'partitions'>;
    readonly appliedIndex: number;
  };
  /** The controller leader as this broker sees it; 0 when unknown. */
  readonly controllerLeaderId: () => NodeId;
  /** True when this broker's controller state has caught up with the controller's commit. */
  readonly controllerCaughtUp: () => boolean;
  readonly store: { stats(): StoreStats };
  /** storage.wal_sync, shown in the storage component. */
  readonly walSync: string;
  /** Why the broker stopped serving (its store failed), or null. */
  readonly fatal: () => Error | null;
  readonly stopping: () => boolean;
  /** True once the controller accepted this broker's registration. */
  readonly registered: () => boolean;
  /** The static members (server.peers), this broker among them; empty for a single broker. */
  readonly peerIds: readonly NodeId[];
  /** statfs of this directory says how full the disk is. */
  readonly dataDir: string;
}

export class BrokerHealth {
  constructor(private readonly options: BrokerHealthOptions) {}

  /** Why this broker is not ready, or null when it is. */
  notReadyReason(): string | null {
    const { fatal, host } = this.options;
    const failure = fatal();
    if (failure !== null) return `storage failed (${failure.message}); restart the broker`;
    if (this.options.stopping()) return 'broker is stopping';
    if (this.options.controllerLeaderId() === 0) return 'no controller leader (waiting for a quorum of brokers)';
    // Registered, and the registration applied here too (the leader applied it first).
    if (!this.options.registered()) return 'not yet registered with the controller';
    if (this.options.controller.state.broker(this.options.nodeId) === undefined)
      return 'not yet registered with the controller';
    if (!this.options.controllerCaughtUp()) return 'controller state not caught up';
    for (const groupId of host.groupIds()) {
      if (groupId === controllerGroupId) continue;
      const reason = partitionNotReady(groupId, host);
      if (reason !== null) return reason;
    }
    return null;
  }

  /**
   * Registers the readiness check and the components (raft: the quorum of the groups hosted
   * here; controller; storage, with the file system's free space; peers: which are heard from);
   * returns their unregister functions.
   */
  register(health: HealthRegistry): (() => void)[] {
    return [
      health.registerReadinessCheck('broker', () => {
        const reason = this.notReadyReason();
        return { ready: reason === null, reason: reason ?? '' };
      }),
      health.registerComponent('raft', () => this.raftHealth()),
      health.registerComponent('controller', () => this.controllerHealth()),
      health.registerComponent('storage', () => this.storageHealth()),
      health.registerComponent('peers', () => this.peersHealth()),
    ];
  }

  private raftHealth(): ComponentHealth {
    const { host, nodeId } = this.options;
    const groupIds = host.groupIds();
    let leaders = 0;
    let leaderless = 0;
    let withoutQuorum = 0;
    for (const groupId of groupIds) {
      const leader = host.leaderOf(groupId);
      if (leader === 0) leaderless += 1;
      if (leader !== nodeId) continue;
      leaders += 1;
      if (!hasActiveQuorum(nodeId, host.status(groupId))) withoutQuorum += 1;
    }
    const problems = leaderless + withoutQuorum;
    return {
      status: problems === 0 ? 'healthy' : 'degraded',
      detail: `${groupIds.length} groups, leader of ${leaders}, ${leaderless} without a leader, ${withoutQuorum} led without a quorum heard from`,
    };
  }

  private controllerHealth(): ComponentHealth {
    const leader = this.options.controllerLeaderId();
    if (leader === 0) return { status: 'unhealthy', detail: 'no controller leader (no quorum of brokers)' };
    return { status: 'healthy', detail: `leader broker ${leader}, applied ${this.options.controller.appliedIndex}` };
  }

  private async storageHealth(): Promise<ComponentHealth> {
    const failure = this.options.fatal();
    if (failure !== null) return { status: 'unhealthy', detail: `failed: ${failure.message}; restart the broker` };
    const stats = this.options.store.stats();
    const fs = await statfs(this.options.dataDir);
    const freeRatio = fs.blocks === 0 ? 1 : fs.bavail / fs.blocks;
    const freePercent = Math.floor(freeRatio * 100);
    return {
      status: freeRatio < diskFreeRatioDegraded ? 'degraded' : 'healthy',
      detail: `${stats.groupCount} groups, ${stats.batchCount} batches, ${stats.batchBytes} bytes, disk ${freePercent}% free, wal_sync ${this.options.walSync}`,
    };
  }

  private peersHealth(): ComponentHealth {
    const peers = this.options.peerIds.filter((id) => id !== this.options.nodeId);
    if (peers.length === 0) return { status: 'healthy', detail: 'single broker, no peers' };
    const silent = peers.filter((id) => !this.options.host.peerAlive(id));
    const heard = peers.length - silent.length;
    const detail =
      silent.length === 0
        ? `${heard} of ${peers.length} peers heard from`
        : `${heard} of ${peers.length} peers heard from; silent: ${silent.join(', ')}`;
    if (silent.length === 0) return { status: 'healthy', detail };
    return { status: heard === 0 ? 'unhealthy' : 'degraded', detail };
  }
}

/** True when the voters heard from recently (the leader counts) make a majority. */
function hasActiveQuorum(selfId: NodeId, status: HostGroupStatus): boolean {
  let voters = 0;
  let active = 0;
  for (const [id, progress] of status.progress) {
    if (progress.isLearner) continue;
    voters += 1;
    if (id === selfId || progress.recentActive) active += 1;
  }
  return active * 2 > voters;
}

/** Why one partition group is not ready here, or null. */
function partitionNotReady(groupId: GroupId, host: HealthHost): string | null {
  if (host.leaderOf(groupId) === 0) return `partition group ${groupId} has no leader yet`;
  const status = host.status(groupId);
  if (status.applied < status.hardState.commit)
    return `partition group ${groupId} is catching up (${status.applied}/${status.hardState.commit})`;
  if (status.repairIndex > 0)
    return `partition group ${groupId} is re-replicating a corrupt log (${status.lastIndex}/${status.repairIndex})`;
  return null;
}
