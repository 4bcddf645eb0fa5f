/**
 * Retention, every retentionCheckMs: each hosted partition deletes the prefix of its log that is
 * older than storage.retention_age or beyond storage.retention_bytes, after a snapshot of the
 * partition's small state at the cut (see LevelRaftStore.applyRetention).
 */
import type { ConfState, GroupId } from '@streambus/raft';
import type { RetentionPolicy } from '@streambus/storage';
import { rethrowBug } from '../bugs.js';
import type { Logger } from '../logging/logger.js';

/** The RaftHost calls of retention. */
export interface RetentionHost {
  hasGroup(groupId: GroupId): boolean;
  confStateAt(groupId: GroupId, index: number): ConfState | undefined;
}

export interface RetentionStore {
  applyRetention(groupId: GroupId, policy: RetentionPolicy, partitionState: Uint8Array): Promise<unknown>;
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
      if (!host.hasGroup(groupId)) continue;
      const { data, appliedIndex } = replica.stateSnapshot();
      // The snapshot is cut at or below the applied index: its membership must be the one there.
      const confStateAt = (index: number): ConfState | undefined =>
        host.hasGroup(groupId) ? host.confStateAt(groupId, index) : undefined;
      const policy: RetentionPolicy = {
        now: this.nowMs(),
        appliedIndex,
        confStateAt,
        ...(ageMsMax > 0 ? { ageMsMax } : {}),
        ...(bytesMax > 0 ? { bytesMax } : {}),
      };
      this.options.store.applyRetention(groupId, policy, data).catch((error: unknown) => {
        rethrowBug(error);
        this.options.logger.warn({ group: groupId, err: (error as Error).message }, 'retention failed');
      });
    }
  }
}
