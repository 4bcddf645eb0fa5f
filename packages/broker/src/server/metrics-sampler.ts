/**
 * The gauges of a broker and the Raft host's totals, sampled once per scrape: Raft groups and
 * leaders, partitions, under-replicated and offline partitions, replication lag per follower,
 * the controller leader flag, and the storage footprint (database files, LevelDB's log and
 * memtable, the file system's free space by statfs).
 *
 * Replication lag in seconds is the time since a follower last had all of its leader's log; a
 * timer (`sampleCatchUp`, every replicationLagSampleMs) notes when each follower was caught up, so
 * that the figure does not depend on how often Prometheus scrapes.
 */
import { statfs } from 'node:fs/promises';
import type { GroupId, HostGroupStatus, HostMetrics, NodeId } from '@streambus/raft';
import type { StoreFootprint } from '@streambus/storage';
import type { BrokerMetrics } from '../admin/metrics.js';
import { mirrorTotal } from '../admin/metrics.js';
import { controllerGroupId } from '../controller/constants.js';
import type { ControllerState } from '../controller/state.js';
import { inSyncReplicas } from './follower-progress.js';

/** The RaftHost calls of the sampler. */
export interface SampledHost {
  readonly metrics: HostMetrics;
  groupIds(): GroupId[];
  isLeader(groupId: GroupId): boolean;
  leaderOf(groupId: GroupId): NodeId;
  status(groupId: GroupId): HostGroupStatus;
  peerAlive(nodeId: NodeId): boolean;
}

export interface MetricsSamplerOptions {
  readonly nodeId: NodeId;
  readonly host: SampledHost;
  readonly controller: { readonly state: Pick<ControllerState, 'partitions'> };
  /** The controller leader as this broker sees it; 0 when unknown. */
  readonly controllerLeaderId: () => NodeId;
  readonly store: {
    footprint(): Promise<StoreFootprint>;
    recordsAfter(groupId: GroupId, raftIndex: number): number;
  };
  /** statfs of this directory gives the available and total bytes. */
  readonly dataDir: string;
  readonly nowMs?: () => number;
}

export class MetricsSampler {
  private readonly nowMs: () => number;
  /** When each follower of each group led here last had the leader's whole log. */
  private readonly caughtUpMs = new Map<GroupId, Map<NodeId, number>>();

  constructor(private readonly options: MetricsSamplerOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Registers the scrape samplers; returns their unregister functions. */
  register(metrics: BrokerMetrics): (() => void)[] {
    const totals = this.hostTotals(metrics);
    return [
      metrics.onScrape(() => {
        totals();
        this.sampleGroups(metrics);
        this.sampleReplication(metrics);
      }),
      metrics.onScrape(() => this.sampleStorage(metrics)),
    ];
  }

  /** Notes which followers are caught up now (see the module comment). */
  sampleCatchUp(): void {
    this.forEachFollower(() => undefined);
  }

  private hostTotals(metrics: BrokerMetrics): () => void {
    const host = this.options.host;
    const mirrors: ReadonlyArray<readonly [(total: number) => void, () => number]> = [
      [mirrorTotal(metrics.raftElectionsTotal), () => host.metrics.elections],
      [mirrorTotal(metrics.raftTermChangesTotal), () => host.metrics.termChanges],
      [mirrorTotal(metrics.raftProposalsTotal), () => host.metrics.proposals],
      [mirrorTotal(metrics.raftProposalsDroppedTotal), () => host.metrics.proposalsDropped],
      [mirrorTotal(metrics.raftSnapshotsSentTotal), () => host.metrics.snapshotsSent],
      [mirrorTotal(metrics.raftSnapshotsReceivedTotal), () => host.metrics.snapshotsReceived],
    ];
    return () => {
      for (const [mirror, total] of mirrors) mirror(total());
    };
  }

  private sampleGroups(metrics: BrokerMetrics): void {
    const { host, nodeId } = this.options;
    const groupIds = host.groupIds();
    let leaders = 0;
    let leaderless = 0;
    let partitions = 0;
    let partitionLeaders = 0;
    let underReplicated = 0;
    for (const groupId of groupIds) {
      const leads = host.isLeader(groupId);
      if (leads) leaders += 1;
      if (host.leaderOf(groupId) === 0) leaderless += 1;
      if (groupId === controllerGroupId) continue;
      partitions += 1;
      if (!leads) continue;
      partitionLeaders += 1;
      const status = host.status(groupId);
      if (inSyncReplicas(nodeId, status).length < votersOf(status)) underReplicated += 1;
    }
    metrics.raftGroups.set(groupIds.length);
    metrics.raftLeaders.set(leaders);
    metrics.raftLeaderlessGroups.set(leaderless);
    metrics.partitions.set(partitions);
    metrics.partitionLeaders.set(partitionLeaders);
    metrics.underReplicatedPartitions.set(underReplicated);
    const leadsController = this.options.controllerLeaderId() === nodeId;
    metrics.controllerLeader.set(leadsController ? 1 : 0);
    metrics.offlinePartitions.set(leadsController ? this.offlinePartitions() : 0);
  }

  /**
   * Partitions whose reported leader is unknown or not heard from: the controller leader's view.
   * (Not the fenced flag: a drained broker is fenced while it still hands its leaderships away.)
   */
  private offlinePartitions(): number {
    const { controller, host } = this.options;
    let offline = 0;
    for (const info of controller.state.partitions()) {
      const leaderId = info.leader?.leaderId ?? 0;
      if (leaderId === 0 || !host.peerAlive(leaderId)) offline += 1;
    }
    return offline;
  }

  private sampleReplication(metrics: BrokerMetrics): void {
    const records = new Map<NodeId, number>();
    const seconds = new Map<NodeId, number>();
    const nowMs = this.nowMs();
    this.forEachFollower((groupId, follower, match, caughtUpMs) => {
      const behind = this.options.store.recordsAfter(groupId, match);
      records.set(follower, Math.max(records.get(follower) ?? 0, behind));
      seconds.set(follower, Math.max(seconds.get(follower) ?? 0, (nowMs - caughtUpMs) / 1000));
    });
    metrics.replicationLagRecords.reset();
    metrics.replicationLagSeconds.reset();
    for (const [follower, value] of records) metrics.replicationLagRecords.set({ follower: String(follower) }, value);
    for (const [follower, value] of seconds) metrics.replicationLagSeconds.set({ follower: String(follower) }, value);
  }

  /**
   * Visits every voter follower of every partition led here with its match index and when it was
   * last caught up (now when it is), and forgets the groups no longer led here.
   */
  private forEachFollower(
    visit: (groupId: GroupId, follower: NodeId, match: number, caughtUpMs: number) => void,
  ): void {
    const { host, nodeId } = this.options;
    const nowMs = this.nowMs();
    const led = new Set<GroupId>();
    for (const groupId of host.groupIds()) {
      if (groupId === controllerGroupId || !host.isLeader(groupId)) continue;
      led.add(groupId);
      const status = host.status(groupId);
      let followers = this.caughtUpMs.get(groupId);
      if (followers === undefined) {
        followers = new Map();
        this.caughtUpMs.set(groupId, followers);
      }
      for (const [id, progress] of status.progress) {
        if (id === nodeId || progress.isLearner) continue;
        if (progress.match >= status.lastIndex || !followers.has(id)) followers.set(id, nowMs);
        visit(groupId, id, progress.match, followers.get(id) ?? nowMs);
      }
    }
    for (const groupId of this.caughtUpMs.keys()) if (!led.has(groupId)) this.caughtUpMs.delete(groupId);
  }

  private async sampleStorage(metrics: BrokerMetrics): Promise<void> {
    const [footprint, fs] = await Promise.all([this.options.store.footprint(), statfs(this.options.dataDir)]);
    metrics.storageBytesUsed.set(footprint.diskBytes);
    metrics.walSizeBytes.set(footprint.walBytes);
    metrics.memtableSizeBytes.set(footprint.memtableBytes);
    metrics.storageBytesAvailable.set(fs.bavail * fs.bsize);
    metrics.storageCapacityBytes.set(fs.blocks * fs.bsize);
  }
}

function votersOf(status: HostGroupStatus): number {
  let voters = 0;
  for (const progress of status.progress.values()) if (!progress.isLearner) voters += 1;
  return voters;
}
