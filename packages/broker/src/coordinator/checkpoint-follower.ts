/**
 * Compaction on the replicas that do not lead an offsets partition: the coordinator (the leader)
 * cuts its own log below each checkpoint it commits, but a cut is local to a replica's store.
 * Every checkpointFollowMs, this broker reads the new committed batches of each offsets partition
 * it follows (at most checkpointFollowBytesMax a time, going on from there the next time), finds
 * the checkpoint markers, and cuts its log below the start of the last checkpoint found. So a
 * follower's log stays as small as the leader's, and a follower that becomes coordinator loads from
 * a checkpoint too.
 */
import { decodeRecordBatch } from '@streambus/proto';
import type { GroupId } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { Logger } from '../logging/logger.js';
import { checkpointFollowBytesMax, loadReadBytesMax } from './constants.js';
import { checkpointStart, isCheckpointMarker } from './coordinator-partition.js';

/** A followed replica as the follower reads it (PartitionReplica). */
export interface FollowedReplica {
  readonly appliedRaftIndex: number;
  readonly highWatermark: number;
  logStartOffset(): number;
}

export interface CheckpointFollowerOptions {
  /** The Raft group of each __consumer_offsets partition. */
  readonly offsetsPartitions: () => readonly GroupId[];
  /** True when this broker hosts the group and does not lead it. */
  readonly follows: (groupId: GroupId) => boolean;
  readonly replica: (groupId: GroupId) => FollowedReplica | undefined;
  /** Committed batches from an offset, never past a raft index (LevelRaftStore.readBatches). */
  readonly readBatches: (
    groupId: GroupId,
    fromOffset: number,
    bytesMax: number,
    indexMaxInclusive: number,
  ) => Promise<readonly { readonly data: Uint8Array }[]>;
  readonly cutBelow: (groupId: GroupId, offset: number) => Promise<boolean>;
  readonly logger: Logger;
}

export class CheckpointFollower {
  /** The next offset to read, by group. */
  private readonly scanned = new Map<GroupId, number>();
  /** The start of the last checkpoint found, by group: cut below it (tried again until the log starts there). */
  private readonly cuts = new Map<GroupId, number>();
  private running = false;

  constructor(private readonly options: CheckpointFollowerOptions) {}

  /** One round over the followed offsets partitions (skipped while the last one runs). */
  run(): void {
    if (this.running) return;
    this.running = true;
    void this.round()
      .catch(rethrowBug)
      .finally(() => {
        this.running = false;
      });
  }

  private async round(): Promise<void> {
    const groups = this.options.offsetsPartitions();
    for (const groupId of [...this.scanned.keys()])
      if (!groups.includes(groupId)) {
        this.scanned.delete(groupId);
        this.cuts.delete(groupId);
      }
    for (const groupId of groups) {
      const replica = this.options.replica(groupId);
      if (replica === undefined || !this.options.follows(groupId)) continue;
      try {
        await this.follow(groupId, replica);
      } catch (error) {
        rethrowBug(error);
        // Cut under the read (a snapshot installed), or a corrupt batch (the scrubber's): read again from the start next time.
        this.scanned.delete(groupId);
        this.options.logger.debug({ group: groupId, err: (error as Error).message }, 'checkpoint follow read failed');
      }
    }
  }

  private async follow(groupId: GroupId, replica: FollowedReplica): Promise<void> {
    const start = replica.logStartOffset();
    let offset = Math.max(this.scanned.get(groupId) ?? start, start);
    const end = replica.highWatermark;
    let bytes = 0;
    let cut = this.cuts.get(groupId) ?? -1;
    while (offset < end && bytes < checkpointFollowBytesMax) {
      const batches = await this.options.readBatches(groupId, offset, loadReadBytesMax, replica.appliedRaftIndex);
      if (batches.length === 0) break;
      for (const stored of batches) {
        bytes += stored.data.byteLength;
        const batch = decodeRecordBatch(stored.data);
        for (const record of batch.records) {
          if (record.offset < offset || record.key === null || !isCheckpointMarker(record.key)) continue;
          const begins = checkpointStart(record.offset, record.value);
          if (begins !== null) cut = begins;
        }
        offset = Math.max(offset, batch.header.lastOffset + 1);
      }
    }
    this.scanned.set(groupId, offset);
    if (cut <= start) {
      this.cuts.delete(groupId);
      return;
    }
    // Kept until the log starts there: a cut the store refused this time (the membership at the
    // cut not known yet) is tried again at the next round.
    this.cuts.set(groupId, cut);
    const done = await this.options.cutBelow(groupId, cut);
    if (done) this.options.logger.info({ group: groupId, log_start_offset: cut }, 'offsets log cut below a checkpoint');
  }
}
