/** Raw record batches of one partition, fetched from its leader, retried on leader changes. */
import { ErrorCode, splitRecordBatches } from '@streambus/proto';
import { adminAttemptsMax } from '../constants.js';
import { BrokerNotAvailableError, StreamBusError, errorFromCode } from '../errors.js';
import type { TopicPartition } from '../records.js';
import type { Cluster } from './cluster.js';

/** What one read returned. */
export interface StoredBatches {
  /** Whole record batches in offset order, exactly as stored (the first may begin before the offset asked for). */
  batches: Uint8Array[];
  /** Offset one past the last committed record. */
  highWatermark: number;
  /** First offset still stored. */
  logStartOffset: number;
}

/**
 * Committed batches of `tp` from `offset`, about `bytesMax` of them (the first whole even when
 * larger), without waiting for new data. NOT_LEADER and unreachable leaders refresh metadata and
 * retry up to `adminAttemptsMax` times; other errors (OFFSET_OUT_OF_RANGE, ...) throw at once.
 */
export async function readBatchesAtLeader(
  cluster: Cluster,
  tp: TopicPartition,
  offset: number,
  bytesMax: number,
): Promise<StoredBatches> {
  let lastError: StreamBusError | undefined;
  for (let attempt = 0; attempt < adminAttemptsMax; attempt++) {
    if (attempt > 0) {
      await cluster.backoff(attempt - 1);
      await cluster.refreshMetadata([tp.topic]).catch((error: unknown) => {
        if (error instanceof StreamBusError) lastError = error;
      });
    }
    const metadata = await cluster.topicMetadata(tp.topic);
    if (tp.partition < 0 || tp.partition >= metadata.partitions.length)
      throw errorFromCode(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `partition ${tp.partition} of topic "${tp.topic}" does not exist (it has ${metadata.partitions.length})`,
      );
    const leader = cluster.leaderOf(tp.topic, tp.partition);
    if (leader === 0) {
      lastError = new BrokerNotAvailableError(`${tp.topic}/${tp.partition} has no leader right now`);
      continue;
    }
    let response;
    try {
      response = await cluster.call(leader, 'Fetch', {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: bytesMax,
        partitions: [{ topic: tp.topic, partition: tp.partition, fetchOffset: offset, partitionMaxBytes: bytesMax }],
        replicaId: 0,
      });
    } catch (error) {
      if (!(error instanceof StreamBusError) || !error.retriable) throw error;
      lastError = error;
      continue;
    }
    const result = response.partitions[0];
    if (result === undefined) {
      lastError = new BrokerNotAvailableError(`${tp.topic}/${tp.partition}: the leader answered no partition`);
      continue;
    }
    if (result.errorCode !== ErrorCode.NONE) {
      const error = errorFromCode(
        result.errorCode,
        `${tp.topic}/${tp.partition}: ${result.errorMessage}`,
        result.leaderId,
      );
      if (!error.retriable) throw error;
      if (result.errorCode === ErrorCode.NOT_LEADER) cluster.forgetLeader(tp.topic, tp.partition);
      lastError = error;
      continue;
    }
    const { batches } = splitRecordBatches(result.records);
    return {
      batches: batches.map((batch) => new Uint8Array(batch.buffer, batch.byteOffset, batch.byteLength)),
      highWatermark: result.highWatermark,
      logStartOffset: result.logStartOffset,
    };
  }
  throw lastError ?? new BrokerNotAvailableError(`${tp.topic}/${tp.partition}: no leader answered`);
}
