/**
 * What partition leaders tell the controller, and what they do with its state: leader, ISR and
 * high watermark reports of the groups this broker leads (sent when they change, and refreshed
 * every partitionReportRefreshMs); leadership handed back to a partition's preferred replica
 * (the first) once it is live and in sync; and the controller log compacted every
 * controllerCompactEntries applied entries.
 */
import { assert, Role } from '@streambus/raft';
import type { GroupId, HostGroupStatus, NodeId } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerResult, PartitionReport } from '../controller/commands.js';
import { controllerGroupId } from '../controller/constants.js';
import type { ControllerState } from '../controller/state.js';
import type { Logger } from '../logging/logger.js';
import { controllerCommandDeadlineMs, controllerCompactEntries, partitionReportRefreshMs } from './constants.js';
import { inSyncReplicas, readyToLead } from './follower-progress.js';

/** The RaftHost calls of the reporter. */
export interface PartitionReporterHost {
  groupIds(): GroupId[];
  isLeader(groupId: GroupId): boolean;
  status(groupId: GroupId): HostGroupStatus;
  transferLeadership(groupId: GroupId, to: NodeId): void;
  compact(groupId: GroupId, snapshotData: Uint8Array, appliedIndex: number): Promise<void>;
}

/** The controller's state machine as the reporter reads it (ControllerStateMachine). */
export interface ReportedController {
  readonly state: Pick<ControllerState, 'partition' | 'isLive'>;
  readonly appliedIndex: number;
  snapshot(): Uint8Array;
}

export interface PartitionReporterOptions {
  readonly nodeId: NodeId;
  readonly host: PartitionReporterHost;
  readonly controller: ReportedController;
  /** Proposes a controller command from this broker (ControllerGateway.propose). */
  readonly propose: (command: ControllerCommand, deadlineMs: number) => Promise<ControllerResult>;
  /** The partition replicas hosted here, by group: their high watermarks go into the reports. */
  readonly replicas: ReadonlyMap<GroupId, { readonly highWatermark: number }>;
  /** True once this broker is registered with the controller (reports wait for it). */
  readonly registered: () => boolean;
  readonly logger: Logger;
  readonly nowMs?: () => number;
}

interface SentReport {
  /** Term and ISR as last sent: a change of either is reported at once. */
  readonly key: string;
  readonly atMs: number;
}

export class PartitionReporter {
  private readonly nodeId: NodeId;
  private readonly host: PartitionReporterHost;
  private readonly controller: ReportedController;
  private readonly nowMs: () => number;
  private readonly sent = new Map<GroupId, SentReport>();
  /** A report command in flight: the next waits for its outcome. */
  private reporting = false;
  private stopped = false;
  private controllerSnapshotIndex = 0;

  constructor(private readonly options: PartitionReporterOptions) {
    this.nodeId = options.nodeId;
    this.host = options.host;
    this.controller = options.controller;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Sends the reports of led groups whose term or ISR changed, or whose last report is old. */
  report(): void {
    if (this.reporting || this.stopped || !this.options.registered()) return;
    const now = this.nowMs();
    const reports: PartitionReport[] = [];
    for (const [groupId, replica] of this.options.replicas) {
      if (!this.host.isLeader(groupId)) continue;
      const report = this.reportOf(groupId, replica.highWatermark);
      const key = `${report.term}/${report.isr.join(',')}`;
      const sent = this.sent.get(groupId);
      if (sent !== undefined && sent.key === key && now - sent.atMs < partitionReportRefreshMs) continue;
      reports.push(report);
      this.sent.set(groupId, { key, atMs: now });
    }
    if (reports.length === 0) return;
    this.reporting = true;
    this.options
      .propose({ type: 'reportPartitions', reports }, controllerCommandDeadlineMs)
      .catch((error: unknown) => {
        rethrowBug(error);
        for (const report of reports) this.sent.delete(report.groupId);
        this.options.logger.debug({ err: (error as Error).message }, 'partition report not delivered; will retry');
      })
      .finally(() => {
        this.reporting = false;
      });
  }

  /** Hands leadership back to the preferred replica when it is live and in sync; then compacts the controller log when due. */
  restorePreferredLeaders(): void {
    if (this.stopped) return;
    const state = this.controller.state;
    for (const groupId of this.host.groupIds()) {
      if (groupId === controllerGroupId || !this.host.isLeader(groupId)) continue;
      const preferred = state.partition(groupId)?.replicas[0];
      if (preferred === undefined || preferred === this.nodeId || !state.isLive(preferred)) continue;
      if (!readyToLead(preferred, this.host.status(groupId))) continue;
      this.host.transferLeadership(groupId, preferred);
    }
    this.compactController();
  }

  /** A new leadership (or the loss of one) is reported at the next round, whatever was sent before. */
  onLeaderChange(groupId: GroupId, role: Role): void {
    if (role === Role.leader) this.sent.delete(groupId);
  }

  /** The controller restored a snapshot at `index`: compaction counts from there. */
  onControllerSnapshot(index: number): void {
    this.controllerSnapshotIndex = index;
  }

  /** Forgets a group removed from this broker. */
  forget(groupId: GroupId): void {
    this.sent.delete(groupId);
  }

  stop(): void {
    this.stopped = true;
  }

  private reportOf(groupId: GroupId, highWatermark: number): PartitionReport {
    assert(this.host.isLeader(groupId), 'only a leader reports its partition');
    const status = this.host.status(groupId);
    return {
      groupId,
      leaderId: this.nodeId,
      term: status.hardState.term,
      isr: inSyncReplicas(this.nodeId, status),
      highWatermark,
    };
  }

  private compactController(): void {
    const applied = this.controller.appliedIndex;
    if (applied - this.controllerSnapshotIndex < controllerCompactEntries) return;
    this.controllerSnapshotIndex = applied;
    this.host.compact(controllerGroupId, this.controller.snapshot(), applied).catch((error: unknown) => {
      rethrowBug(error);
      this.options.logger.warn({ err: (error as Error).message }, 'controller log compaction failed');
    });
  }
}
