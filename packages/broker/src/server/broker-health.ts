/**
 * What a broker says about itself: readiness (why it is not ready, for /ready and the test
 * harness), the components of /health (raft, controller, storage), and the gauges sampled every
 * metricsRefreshMs (counters and histograms are fed on the request paths).
 */
import type { GroupId, HostGroupStatus, NodeId } from '@streambus/raft';
import type { StoreStats } from '@streambus/storage';
import type { HealthRegistry } from '../admin/health.js';
import type { BrokerMetrics } from '../admin/metrics.js';
import { controllerGroupId } from '../controller/constants.js';
import type { ControllerState } from '../controller/state.js';

/** The RaftHost calls of health. */
export interface HealthHost {
  groupIds(): GroupId[];
  isLeader(groupId: GroupId): boolean;
  leaderOf(groupId: GroupId): NodeId;
  status(groupId: GroupId): HostGroupStatus;
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

  /** Registers the readiness check and the components; returns their unregister functions. */
  register(health: HealthRegistry): (() => void)[] {
    const { host, nodeId, controller, store } = this.options;
    return [
      health.registerReadinessCheck('broker', () => {
        const reason = this.notReadyReason();
        return { ready: reason === null, reason: reason ?? '' };
      }),
      health.registerComponent('raft', () => {
        const groups = host.groupIds().length;
        let leaders = 0;
        let leaderless = 0;
        for (const groupId of host.groupIds()) {
          const leader = host.leaderOf(groupId);
          if (leader === nodeId) leaders += 1;
          if (leader === 0) leaderless += 1;
        }
        return {
          status: leaderless === 0 ? 'ok' : 'degraded',
          detail: `${groups} groups, leader of ${leaders}, ${leaderless} without a leader`,
        };
      }),
      health.registerComponent('controller', () => {
        const leader = this.options.controllerLeaderId();
        return {
          status: leader === 0 ? 'down' : 'ok',
          detail: leader === 0 ? 'no controller leader' : `leader broker ${leader}, applied ${controller.appliedIndex}`,
        };
      }),
      health.registerComponent('storage', () => {
        const stats = store.stats();
        return {
          status: 'ok',
          detail: `${stats.groupCount} groups, ${stats.batchCount} batches, ${stats.batchBytes} bytes, wal_sync ${this.options.walSync}`,
        };
      }),
    ];
  }

  /** Samples the gauges. */
  refreshGauges(metrics: BrokerMetrics): void {
    const { host } = this.options;
    const groupIds = host.groupIds();
    metrics.raftGroups.set(groupIds.length);
    metrics.raftLeaders.set(groupIds.filter((groupId) => host.isLeader(groupId)).length);
    metrics.controllerLeader.set(this.options.controllerLeaderId());
    metrics.storageBytesUsed.set(this.options.store.stats().batchBytes);
    let underReplicated = 0;
    for (const info of this.options.controller.state.partitions()) {
      if (info.leader !== null && info.leader.isr.length < info.replicas.length) underReplicated += 1;
    }
    metrics.underReplicatedPartitions.set(underReplicated);
  }
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
