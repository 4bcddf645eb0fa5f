/** ListOffsets routed to each partition's leader, retried on leader changes. */
import { ErrorCode, type ListOffsetsPartitionResult } from '@streambus/proto';
import { adminAttemptsMax } from '../constants.js';
import { BrokerNotAvailableError, StreamBusError, errorFromCode } from '../errors.js';
import { tpKey } from '../records.js';
import type { Cluster } from './cluster.js';

/** One offset lookup: timestamp -1 latest, -2 earliest, else the first offset at or after it. */
export interface OffsetQuery {
  topic: string;
  partition: number;
  timestampMs: number;
}

/** The answer to an OffsetQuery. */
export interface OffsetAnswer {
  topic: string;
  partition: number;
  offset: number;
  /** Timestamp of the record found by time; -1 otherwise. */
  timestampMs: number;
}

/**
 * Looks up offsets at the partitions' leaders. Retriable errors (NOT_LEADER, unknown topic,
 * unreachable broker) refresh metadata and retry, up to `adminAttemptsMax` rounds; other errors
 * throw at once, typed.
 */
export async function listOffsetsAtLeaders(cluster: Cluster, queries: readonly OffsetQuery[]): Promise<OffsetAnswer[]> {
  const answers = new Map<string, OffsetAnswer>();
  let pending = [...queries];
  let lastError: StreamBusError | undefined;
  for (let attempt = 0; attempt < adminAttemptsMax && pending.length > 0; attempt++) {
    if (attempt > 0) {
      await cluster.backoff(attempt - 1);
      await cluster.refreshMetadata(pending.map((q) => q.topic)).catch((error: unknown) => {
        if (error instanceof StreamBusError) lastError = error;
      });
    }
    for (const topic of new Set(pending.map((q) => q.topic))) await cluster.topicMetadata(topic);
    const byLeader = new Map<number, OffsetQuery[]>();
    const retry: OffsetQuery[] = [];
    for (const query of pending) {
      const partitions = cluster.cachedTopic(query.topic)?.partitions.length ?? 0;
      if (query.partition < 0 || query.partition >= partitions) {
        throw errorFromCode(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `partition ${query.partition} of topic "${query.topic}" does not exist (it has ${partitions})`,
        );
      }
      const leader = cluster.leaderOf(query.topic, query.partition);
      if (leader === 0) {
        retry.push(query);
        lastError = new BrokerNotAvailableError(`${query.topic}/${query.partition} has no leader right now`);
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      list.push(query);
      byLeader.set(leader, list);
    }
    await Promise.all(
      [...byLeader].map(async ([leader, list]) => {
        let results: ListOffsetsPartitionResult[];
        try {
          results = (await cluster.call(leader, 'ListOffsets', { partitions: list })).partitions;
        } catch (error) {
          if (!(error instanceof StreamBusError) || !error.retriable) throw error;
          lastError = error;
          retry.push(...list);
          return;
        }
        const byKey = new Map(results.map((r) => [tpKey(r.topic, r.partition), r]));
        for (const query of list) {
          const result = byKey.get(tpKey(query.topic, query.partition));
          if (result === undefined) {
            retry.push(query);
            continue;
          }
          if (result.errorCode === ErrorCode.NONE) {
            answers.set(tpKey(query.topic, query.partition), {
              topic: query.topic,
              partition: query.partition,
              offset: result.offset,
              timestampMs: result.timestampMs,
            });
            continue;
          }
          const error = errorFromCode(
            result.errorCode,
            `${query.topic}/${query.partition}: ${result.errorMessage}`,
            result.leaderId,
          );
          if (!error.retriable) throw error;
          if (result.errorCode === ErrorCode.NOT_LEADER)
            cluster.applyLeaderHint(query.topic, query.partition, result.leaderId, 0);
          lastError = error;
          retry.push(query);
        }
      }),
    );
    pending = retry;
  }
  if (pending.length > 0) throw lastError ?? new BrokerNotAvailableError('offsets could not be listed');
  return queries.map((q) => answers.get(tpKey(q.topic, q.partition)) as OffsetAnswer);
}
