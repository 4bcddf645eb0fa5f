/**
 * Retention, every retentionCheckMs: each hosted partition deletes the prefix of its log that is
 * older than storage.retention_age or beyond storage.retention_bytes, after a snapshot of the
 * partition's small state at the cut (see LevelRaftStore.applyRetention). Compacted partitions
 * (__consumer_offsets) are exempt from age and size: their coordinator cuts them below a
 * checkpoint instead (`cutBelow`).
 */
import type { ConfState, GroupId } from '@streambus/raft';
import type { RetentionPolicy, RetentionResult } from '@streambus/storage';
import { rethrowBug } from '../bugs.js';
import type { Logger } from '../logging/logger.js';

/** The RaftHost calls of retention. */
export interface RetentionHost {
  hasGroup(groupId: GroupId): boolean;
  confStateAt(groupId: GroupId, index: number): ConfState | undefined;
}

export interface RetentionStore {
  applyRetention(groupId: GroupId, policy: RetentionPolicy, partitionState: Uint8Array): Promise<RetentionResult>;
}

/** A replica's state as of its applied index (PartitionReplica.stateSnapshot). */
export interface RetainedReplica {
  stateSnapshot(): { readonly data: Uint8Array; readonly appliedIndex: number };
}

export interface RetentionOptions {
  readonly host: RetentionHost;
  readonly store: RetentionStore;
  readonly replicas: ReadonlyMap<GroupId, RetainedReplica>;
  /** storage.retention_age; 0: no age limit. */
  readonly ageMsMax: number;
  /** storage.retention_bytes; 0: no size limit. */
  readonly bytesMax: number;
  /** Groups age and size never apply to (the partitions of compacted internal topics). */
  readonly exempt?: (groupId: GroupId) => boolean;
  readonly logger: Logger;
  readonly nowMs?: () => number;
}

export class RetentionEnforcer {
  private readonly nowMs: () => number;

  constructor(private readonly options: RetentionOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Applies the limits to every hosted partition once. */
  run(): void {
    const { host, ageMsMax, bytesMax } = this.options;
    if (ageMsMax === 0 && bytesMax === 0) return;
    for (const [groupId, replica] of this.options.replicas) {
      if (!host.hasGroup(groupId) || this.options.exempt?.(groupId) === true) continue;
      this.apply(groupId, replica, {
        ...(ageMsMax > 0 ? { ageMsMax } : {}),
        ...(bytesMax > 0 ? { bytesMax } : {}),
      }).catch((error: unknown) => {
        rethrowBug(error);
        this.options.logger.warn({ group: groupId, err: (error as Error).message }, 'retention failed');
      });
    }
  }

  /**
   * Deletes the batches of a hosted group whose records all lie below `offset` (never above its
   * applied index). Resolves with whether anything was deleted.
   */
  async cutBelow(groupId: GroupId, offset: number): Promise<boolean> {
    const replica = this.options.replicas.get(groupId);
    if (replica === undefined || !this.options.host.hasGroup(groupId)) return false;
    const result = await this.apply(groupId, replica, { offsetBelow: offset });
    return result.snapshotIndex !== null;
  }

  private apply(
    groupId: GroupId,
    replica: RetainedReplica,
    limits: Pick<RetentionPolicy, 'ageMsMax' | 'bytesMax' | 'offsetBelow'>,
  ): Promise<RetentionResult> {
    const host = this.options.host;
    const { data, appliedIndex } = replica.stateSnapshot();
    // The snapshot is cut at or below the applied index: its membership must be the one there.
    const confStateAt = (index: number): ConfState | undefined =>
      host.hasGroup(groupId) ? host.confStateAt(groupId, index) : undefined;
    return this.options.store.applyRetention(
      groupId,
      { now: this.nowMs(), appliedIndex, confStateAt, ...limits },
      data,
    );
  }
}
