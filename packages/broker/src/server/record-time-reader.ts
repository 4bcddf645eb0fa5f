/**
 * Reads the timestamp of one record of a partition for the unconsumed record ages of the group
 * coordinators: from this broker's replica when it leads the partition (its fetch path:
 * committed data only), else with one Fetch to the leader whose partition_max_bytes (1) brings
 * back just the batch holding the offset. An offset below the log start (retention removed it)
 * is read again at the log start the answer names.
 */
import { ErrorCode, errorCodeName, splitRecordBatches } from '@streambus/proto';
import type { FetchRequest, FetchResponse } from '@streambus/proto';
import type { NodeId } from '@streambus/raft';
import type { ControllerState } from '../controller/state.js';
import { recordTimestampAt } from '../coordinator/unconsumed-age.js';
import type { FetchOutcome } from '../partition/partition-replica.js';

/** A record's timestamp could not be read this time (the partition keeps its last value). */
export class RecordTimeUnavailableError extends Error {
  override readonly name = 'RecordTimeUnavailableError';
}

export interface RecordTimeReaderDeps {
  readonly nodeId: NodeId;
  controllerState(): ControllerState;
  /** This broker's replica of the group when it leads it, else undefined. */
  leaderReplica(groupId: number): { fetch(fetchOffset: number, bytesMax: number): Promise<FetchOutcome> } | undefined;
  /** The partition's leader as this broker sees it; 0 when unknown. */
  partitionLeader(groupId: number): NodeId;
  /** Sends a Fetch to peer `leaderId` (Forwarder.fetch). */
  fetchFrom(leaderId: NodeId, request: FetchRequest, deadlineMs: number): Promise<FetchResponse>;
}

/** What one read brought: whole batches, or where the log starts when the offset lies below it. */
interface ReadOutcome {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  readonly logStartOffset: number;
  readonly batches: readonly Uint8Array[];
}

export class RecordTimeReader {
  constructor(private readonly deps: RecordTimeReaderDeps) {}

  /** The RecordTimeRead of UnconsumedAge. */
  async read(topic: string, partition: number, offset: number, deadlineMs: number): Promise<number> {
    const deadline = Date.now() + deadlineMs;
    let outcome = await this.readOnce(topic, partition, offset, deadlineMs);
    let from = offset;
    if (outcome.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && outcome.logStartOffset > offset) {
      from = outcome.logStartOffset;
      outcome = await this.readOnce(topic, partition, from, deadline - Date.now());
    }
    if (outcome.errorCode !== ErrorCode.NONE)
      throw new RecordTimeUnavailableError(
        `${topic}/${partition} at ${from}: ${errorCodeName(outcome.errorCode)} ${outcome.errorMessage}`,
      );
    const timestampMs = recordTimestampAt(outcome.batches, from);
    if (timestampMs === null)
      throw new RecordTimeUnavailableError(`${topic}/${partition} has no record at ${from} yet`);
    return timestampMs;
  }

  private async readOnce(topic: string, partition: number, offset: number, deadlineMs: number): Promise<ReadOutcome> {
    if (deadlineMs <= 0) throw new RecordTimeUnavailableError(`${topic}/${partition}: no time left to read`);
    const info = this.deps.controllerState().partitionOf(topic, partition);
    if (info === undefined) throw new RecordTimeUnavailableError(`${topic}/${partition} does not exist`);
    const replica = this.deps.leaderReplica(info.groupId);
    if (replica !== undefined) return withDeadline(replica.fetch(offset, 1), deadlineMs, `${topic}/${partition}`);
    const leaderId = this.deps.partitionLeader(info.groupId);
    if (leaderId === 0 || leaderId === this.deps.nodeId)
      throw new RecordTimeUnavailableError(`${topic}/${partition} has no leader to read from`);
    const response = await this.deps.fetchFrom(
      leaderId,
      {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1,
        partitions: [{ topic, partition, fetchOffset: offset, partitionMaxBytes: 1 }],
        replicaId: -1,
      },
      deadlineMs,
    );
    const answer = response.partitions[0];
    if (answer === undefined)
      throw new RecordTimeUnavailableError(`${topic}/${partition}: the leader answered nothing`);
    return { ...answer, batches: splitRecordBatches(answer.records).batches };
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new RecordTimeUnavailableError(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
