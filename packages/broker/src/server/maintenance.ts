/**
 * Maintenance mode (`streambus broker drain` / `undrain`). The flag is the controller's `fenced`
 * bit of a broker (SetBrokerFencedCommand, a command every broker version reads), so that a drain
 * is recorded once and seen everywhere, survives the drained broker's restart, and needs no new
 * format during a rolling upgrade. What it means:
 *
 *  - the drained broker hands every group it leads (partitions and the controller group) to the
 *    most caught-up live voter that is not drained, and keeps doing so every drainHandOffPollMs,
 *    since an election may give it a leadership again;
 *  - leaders do not hand partitions back to it (PartitionReporter only restores a preferred leader
 *    that is live, and a fenced broker is not), and placement gives it no new replicas;
 *  - it still follows, so it stays in sync and takes its leaderships back after an undrain.
 *
 * A drain is sent to the broker being drained: it records the flag, then answers once it leads
 * nothing or the caller's wait passed, with what it still leads.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { drainPartitionsListedMax, drainWaitMsMax } from '@streambus/proto';
import type { PartitionRef } from '@streambus/proto';
import { assert } from '@streambus/raft';
import type { GroupId, HostGroupStatus, NodeId } from '@streambus/raft';
import type { ControllerCommand, ControllerResult } from '../controller/commands.js';
import { controllerGroupId } from '../controller/constants.js';
import type { ControllerState } from '../controller/state.js';
import type { Logger } from '../logging/logger.js';
import { controllerCommandDeadlineMs, drainHandOffPollMs } from './constants.js';
import { handOffTarget } from './follower-progress.js';

/** The RaftHost calls of maintenance mode. */
export interface MaintenanceHost {
  groupIds(): GroupId[];
  isLeader(groupId: GroupId): boolean;
  status(groupId: GroupId): HostGroupStatus;
  transferLeadership(groupId: GroupId, to: NodeId): void;
}

export interface MaintenanceOptions {
  readonly nodeId: NodeId;
  readonly host: MaintenanceHost;
  /** The controller state as applied here. */
  readonly state: () => Pick<ControllerState, 'broker' | 'isLive' | 'partition' | 'partitions'>;
  /** The controller leader as this broker sees it, 0 when unknown. */
  readonly controllerLeaderId: () => NodeId;
  /** Proposes a controller command from this broker (ControllerGateway.propose). */
  readonly propose: (command: ControllerCommand, deadlineMs: number) => Promise<ControllerResult>;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  readonly sleepMs?: (ms: number) => Promise<unknown>;
}

/** Where a broker stands in maintenance mode. */
export interface DrainStatus {
  readonly brokerId: NodeId;
  /** The flag as the controller recorded it. */
  readonly drained: boolean;
  /** Groups it leads, the controller group included. */
  readonly groupsLed: number;
  readonly controllerLeader: boolean;
  /** Up to drainPartitionsListedMax of the partitions it leads. */
  readonly partitionsLed: readonly PartitionRef[];
  /** The broker that counted: exact when it is `brokerId`, else the controller's last reports. */
  readonly answeredBy: NodeId;
}

/** A drain or undrain the controller refused (an unknown broker). */
export class DrainRefusedError extends Error {
  readonly code = 'DRAIN_REFUSED' as const;
}

export class Maintenance {
  private readonly nodeId: NodeId;
  private readonly host: MaintenanceHost;
  private readonly nowMs: () => number;
  private readonly sleepMs: (ms: number) => Promise<unknown>;
  private handedOff = 0;

  constructor(private readonly options: MaintenanceOptions) {
    this.nodeId = options.nodeId;
    this.host = options.host;
    this.nowMs = options.nowMs ?? Date.now;
    this.sleepMs = options.sleepMs ?? sleep;
  }

  /** True while the controller has this broker in maintenance mode. */
  get drained(): boolean {
    return this.options.state().broker(this.nodeId)?.fenced === true;
  }

  /** Transfers asked since start (for logs and tests). */
  get transfersAsked(): number {
    return this.handedOff;
  }

  /** While drained: asks each group led here to move to a live, undrained voter. Run periodically. */
  handOff(): void {
    if (!this.drained) return;
    const state = this.options.state();
    for (const groupId of this.ledGroups()) {
      const target = handOffTarget(this.nodeId, this.host.status(groupId), (id) => state.isLive(id));
      if (target === 0) continue;
      this.host.transferLeadership(groupId, target);
      this.handedOff += 1;
    }
  }

  /**
   * Records maintenance mode on or off for `brokerId` (0: this broker). A drain of this broker then
   * waits up to `waitMs` (bounded by drainWaitMsMax) for it to lead nothing. Throws
   * DrainRefusedError for an unknown broker, ControllerUnavailableError without a controller.
   */
  async setDrained(brokerId: NodeId, drained: boolean, waitMs: number): Promise<DrainStatus> {
    const target = brokerId === 0 ? this.nodeId : brokerId;
    const state = this.options.state();
    const known = state.broker(target);
    if (known === undefined || known.fenced !== drained) {
      const result = await this.options.propose(
        { type: 'setBrokerFenced', brokerId: target, fenced: drained },
        controllerCommandDeadlineMs,
      );
      if (!result.ok) throw new DrainRefusedError(result.message);
      this.options.logger.info({ broker: target, drained }, drained ? 'broker drained' : 'broker undrained');
    }
    if (target !== this.nodeId || !drained) return this.status(target);
    const deadline = this.nowMs() + Math.min(Math.max(0, waitMs), drainWaitMsMax);
    for (;;) {
      this.handOff();
      const status = this.status(target);
      if (status.groupsLed === 0 || this.nowMs() >= deadline) return status;
      await this.sleepMs(Math.min(drainHandOffPollMs, Math.max(1, deadline - this.nowMs())));
    }
  }

  /** What `brokerId` leads: counted here for this broker, else from the controller's reports. */
  status(brokerId: NodeId): DrainStatus {
    const state = this.options.state();
    const drained = state.broker(brokerId)?.fenced === true;
    const controllerLeader = this.options.controllerLeaderId() === brokerId;
    const partitionsLed: PartitionRef[] = [];
    let groupsLed = 0;
    const list = (groupId: GroupId): void => {
      const partition = state.partition(groupId);
      if (partition !== undefined && partitionsLed.length < drainPartitionsListedMax)
        partitionsLed.push({ topic: partition.topic, partition: partition.partition });
    };
    if (brokerId === this.nodeId) {
      for (const groupId of this.ledGroups()) {
        groupsLed += 1;
        if (groupId !== controllerGroupId) list(groupId);
      }
    } else {
      for (const partition of state.partitions()) {
        if (partition.leader?.leaderId !== brokerId) continue;
        groupsLed += 1;
        list(partition.groupId);
      }
      if (controllerLeader) groupsLed += 1;
    }
    assert(partitionsLed.length <= groupsLed, 'the partitions listed are among the groups led');
    return { brokerId, drained, groupsLed, controllerLeader, partitionsLed, answeredBy: this.nodeId };
  }

  private ledGroups(): GroupId[] {
    return this.host.groupIds().filter((groupId) => this.host.isLeader(groupId));
  }
}
