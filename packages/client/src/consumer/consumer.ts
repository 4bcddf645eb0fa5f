/**
 * The consumer: reads assigned partitions with long-poll Fetch requests sent to each partition's
 * leader (one request per broker, many partitions), follows leader changes, and keeps a position
 * per partition. Consumer groups (subscribe, commit) come later; `groupId` is reserved for them.
 */
import {
  ErrorCode,
  decodeRecordBatch,
  splitRecordBatches,
  fetchMaxWaitMsMax,
  offsetTimestampEarliest,
  offsetTimestampLatest,
  RecordBatchError,
  type FetchPartitionResult,
} from '@streambus/proto';
import { Cluster } from '../cluster/cluster.js';
import { listOffsetsAtLeaders } from '../cluster/list-offsets.js';
import type { ClientOptions } from '../cluster/options.js';
import {
  assignedPartitionsMax,
  fetchMaxBytesDefault,
  fetchMaxWaitMsDefault,
  fetchMinBytesDefault,
  fetchPartitionMaxBytesDefault,
  pollRecordsMaxDefault,
} from '../constants.js';
import {
  ClientClosedError,
  CorruptMessageError,
  IllegalStateError,
  InvalidConfigError,
  OffsetOutOfRangeError,
  StreamBusError,
  errorFromCode,
} from '../errors.js';
import { sleep } from '../backoff.js';
import { asBuffer, tpKey, type ConsumerRecord, type TopicPartition } from '../records.js';

/** Where to start when a partition has no position or its position is out of range. */
export type OffsetResetPolicy = 'earliest' | 'latest' | 'none';

/** Consumer options (all optional except `bootstrapServers`). */
export interface ConsumerOptions extends ClientOptions {
  /** Reserved for consumer groups (not supported yet: setting it throws INVALID_CONFIG). */
  groupId?: string;
  /** Start of partitions without a position (default `latest`, as Kafka). `none` throws OFFSET_OUT_OF_RANGE. */
  autoOffsetReset?: OffsetResetPolicy;
  /** Longest a Fetch waits at the broker for data (default 500 ms, at most 30000). */
  fetchMaxWaitMs?: number;
  /** Bytes a Fetch waits for (default 1: any data). */
  fetchMinBytes?: number;
  /** Bytes per Fetch response (default 16 MiB). */
  fetchMaxBytes?: number;
  /** Bytes per partition per Fetch (default 1 MiB). */
  partitionFetchBytesMax?: number;
  /** Records one poll returns at most (default 10000). */
  pollRecordsMax?: number;
}

interface Assigned {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to read; undefined until resolved by `reset`. */
  position: number | undefined;
  reset: OffsetResetPolicy;
  /** Bumped by every seek, to discard fetches that were in flight before it. */
  generation: number;
}

/** Reads records from assigned partitions. */
export class Consumer {
  private readonly cluster: Cluster;
  private readonly autoOffsetReset: OffsetResetPolicy;
  private readonly fetchMaxWaitMs: number;
  private readonly fetchMinBytes: number;
  private readonly fetchMaxBytes: number;
  private readonly partitionFetchBytesMax: number;
  private readonly pollRecordsMax: number;
  private readonly assigned = new Map<string, Assigned>();
  private polling = false;
  private closed = false;
  private idleRounds = 0;

  constructor(options: ConsumerOptions) {
    if (options.groupId !== undefined) throw new InvalidConfigError('consumer groups are not supported yet; use assign()');
    this.cluster = new Cluster(options);
    this.autoOffsetReset = options.autoOffsetReset ?? 'latest';
    if (!['earliest', 'latest', 'none'].includes(this.autoOffsetReset)) throw new InvalidConfigError('autoOffsetReset must be earliest, latest or none');
    this.fetchMaxWaitMs = bounded(options.fetchMaxWaitMs, fetchMaxWaitMsDefault, 0, fetchMaxWaitMsMax, 'fetchMaxWaitMs');
    this.fetchMinBytes = bounded(options.fetchMinBytes, fetchMinBytesDefault, 0, 2 ** 31 - 1, 'fetchMinBytes');
    this.fetchMaxBytes = bounded(options.fetchMaxBytes, fetchMaxBytesDefault, 1, 2 ** 31 - 1, 'fetchMaxBytes');
    this.partitionFetchBytesMax = bounded(options.partitionFetchBytesMax, fetchPartitionMaxBytesDefault, 1, 2 ** 31 - 1, 'partitionFetchBytesMax');
    this.pollRecordsMax = bounded(options.pollRecordsMax, pollRecordsMaxDefault, 1, 1_000_000, 'pollRecordsMax');
  }

  /** Replaces the assignment. Partitions that stay assigned keep their positions. */
  assign(partitions: readonly TopicPartition[]): void {
    this.checkOpen();
    if (partitions.length > assignedPartitionsMax) throw new InvalidConfigError(`at most ${assignedPartitionsMax} partitions can be assigned`);
    const next = new Map<string, Assigned>();
    for (const { topic, partition } of partitions) {
      if (typeof topic !== 'string' || topic === '' || !Number.isInteger(partition) || partition < 0) {
        throw new InvalidConfigError(`invalid topic partition ${String(topic)}/${String(partition)}`);
      }
      const key = tpKey(topic, partition);
      next.set(key, this.assigned.get(key) ?? { topic, partition, position: undefined, reset: this.autoOffsetReset, generation: 0 });
    }
    this.assigned.clear();
    for (const [key, value] of next) this.assigned.set(key, value);
  }

  /** The assigned partitions. */
  assignment(): TopicPartition[] {
    return [...this.assigned.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Sets the next offset `poll()` reads from `tp` (which must be assigned). */
  seek(tp: TopicPartition, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidConfigError(`offset must be a non-negative integer, got ${offset}`);
    const state = this.state(tp);
    state.position = offset;
    state.generation++;
  }

  /** Moves the given partitions (default all assigned) to their log start offset. */
  seekToBeginning(partitions?: readonly TopicPartition[]): void {
    this.resetTo(partitions, 'earliest');
  }

  /** Moves the given partitions (default all assigned) to their end (the high watermark). */
  seekToEnd(partitions?: readonly TopicPartition[]): void {
    this.resetTo(partitions, 'latest');
  }

  /** The next offset `poll()` will read from `tp`, resolving a pending reset first. */
  async position(tp: TopicPartition): Promise<number> {
    const state = this.state(tp);
    if (state.position === undefined) await this.resolvePositions([state]);
    if (state.position === undefined) throw new IllegalStateError(`${tp.topic}/${tp.partition} has no position yet; retry`);
    return state.position;
  }

  /**
   * Fetches records from the assigned partitions, waiting up to `timeoutMs` for some to arrive.
   * Returns [] when none arrived in time. Records of one partition are in offset order.
   * Throws typed errors: OFFSET_OUT_OF_RANGE (with autoOffsetReset `none`), CORRUPT_MESSAGE,
   * UNKNOWN_TOPIC_OR_PARTITION (topic deleted), CLIENT_CLOSED. One poll at a time.
   */
  async poll(timeoutMs: number): Promise<ConsumerRecord[]> {
    this.checkOpen();
    if (this.polling) throw new IllegalStateError('poll() is already running; await it before calling poll() again');
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new InvalidConfigError(`timeoutMs must be >= 0, got ${timeoutMs}`);
    this.polling = true;
    try {
      return await this.pollLoop(Date.now() + timeoutMs);
    } finally {
      this.polling = false;
    }
  }

  /** Closes the connections. A poll in progress ends with CLIENT_CLOSED. */
  close(): Promise<void> {
    this.closed = true;
    this.cluster.close();
    return Promise.resolve();
  }

  private async pollLoop(deadlineMs: number): Promise<ConsumerRecord[]> {
    for (;;) {
      if (this.closed) throw new ClientClosedError('the consumer is closed');
      const states = [...this.assigned.values()];
      if (states.length === 0) {
        await sleep(Math.max(0, deadlineMs - Date.now()));
        return [];
      }
      const unresolved = states.filter((s) => s.position === undefined);
      if (unresolved.length > 0) await this.resolvePositions(unresolved).catch((error: unknown) => this.onRetriable(error));
      const records = await this.fetchOnce(states, deadlineMs);
      if (records.length > 0) {
        this.idleRounds = 0;
        return records;
      }
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) return [];
      if (this.idleRounds > 0) await sleep(Math.min(remainingMs, this.cluster.backoffMs(this.idleRounds - 1)));
    }
  }

  /** One Fetch per leader broker, in parallel. */
  private async fetchOnce(states: readonly Assigned[], deadlineMs: number): Promise<ConsumerRecord[]> {
    const byLeader = new Map<number, Assigned[]>();
    let unroutable = false;
    for (const state of states) {
      if (state.position === undefined) {
        unroutable = true;
        continue;
      }
      if (this.cluster.cachedTopic(state.topic) !== undefined && this.cluster.isStale(state.topic)) this.refreshSoon([state.topic]);
      if (this.cluster.cachedTopic(state.topic) === undefined) {
        await this.cluster.topicMetadata(state.topic).catch((error: unknown) => this.onRetriable(error));
      }
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === 0) {
        unroutable = true;
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      list.push(state);
      byLeader.set(leader, list);
    }
    if (unroutable) this.refreshSoon(states.map((s) => s.topic));
    if (byLeader.size === 0) {
      this.idleRounds++;
      return [];
    }
    const maxWaitMs = Math.max(0, Math.min(this.fetchMaxWaitMs, deadlineMs - Date.now()));
    const out: ConsumerRecord[] = [];
    let failed = false;
    let fatal: unknown;
    await Promise.all(
      [...byLeader].map(async ([leader, list]) => {
        const generations = list.map((s) => s.generation);
        const request = {
          maxWaitMs,
          minBytes: this.fetchMinBytes,
          maxBytes: this.fetchMaxBytes,
          replicaId: 0,
          partitions: list.map((s) => ({ topic: s.topic, partition: s.partition, fetchOffset: s.position as number, partitionMaxBytes: this.partitionFetchBytesMax })),
        };
        let results: FetchPartitionResult[];
        try {
          results = (await this.cluster.call(leader, 'Fetch', request, maxWaitMs)).partitions;
        } catch (error) {
          failed = true;
          this.onRetriable(error);
          this.refreshSoon(list.map((s) => s.topic));
          return;
        }
        const byKey = new Map(results.map((r) => [tpKey(r.topic, r.partition), r]));
        list.forEach((state, i) => {
          const result = byKey.get(tpKey(state.topic, state.partition));
          if (result === undefined || state.generation !== generations[i] || this.assigned.get(tpKey(state.topic, state.partition)) !== state) return;
          try {
            if (!this.applyFetchResult(state, result, out)) failed = true;
          } catch (error) {
            // Reported once the records fetched from the other partitions are returned: the
            // failing partition keeps its position, so the error comes back on the next poll.
            fatal ??= error;
          }
        });
      }),
    );
    if (fatal !== undefined && out.length === 0) throw fatal;
    this.idleRounds = failed ? this.idleRounds + 1 : 0;
    return out;
  }

  /** Applies one partition's fetch result; false when it failed (retriable). */
  private applyFetchResult(state: Assigned, result: FetchPartitionResult, out: ConsumerRecord[]): boolean {
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      if (this.autoOffsetReset === 'none') {
        throw new OffsetOutOfRangeError(`${state.topic}/${state.partition}: offset ${state.position} is outside [${result.logStartOffset}, ${result.highWatermark}]; seek to a valid offset`);
      }
      state.position = undefined;
      state.reset = this.autoOffsetReset;
      return false;
    }
    if (result.errorCode !== ErrorCode.NONE) {
      const error = errorFromCode(result.errorCode, `${state.topic}/${state.partition}: ${result.errorMessage}`, result.leaderId);
      if (!error.retriable) throw error;
      if (result.errorCode === ErrorCode.NOT_LEADER && this.cluster.applyLeaderHint(state.topic, state.partition, result.leaderId, result.leaderEpoch)) return false;
      if (result.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.cluster.invalidateTopic(state.topic);
      this.refreshSoon([state.topic]);
      return false;
    }
    this.decodeInto(state, asBuffer(result.records), out);
    return true;
  }

  private decodeInto(state: Assigned, bytes: Buffer, out: ConsumerRecord[]): void {
    // Whole batches laid end to end; a partial trailing one is fetched again next time.
    let split: Buffer[];
    try {
      split = splitRecordBatches(bytes).batches;
    } catch (error) {
      if (error instanceof RecordBatchError) {
        throw new CorruptMessageError(`${state.topic}/${state.partition}: corrupt fetch response at offset ${state.position}: ${error.message}`, { cause: error });
      }
      throw error;
    }
    for (const bytesOfBatch of split) {
      if (out.length >= this.pollRecordsMax) break;
      let batch;
      try {
        batch = decodeRecordBatch(bytesOfBatch);
      } catch (error) {
        if (error instanceof RecordBatchError) {
          throw new CorruptMessageError(`${state.topic}/${state.partition}: corrupt batch at offset ${state.position}: ${error.message}`, { cause: error });
        }
        throw error;
      }
      for (const record of batch.records) {
        if (record.offset < (state.position as number)) continue;
        if (out.length >= this.pollRecordsMax) break;
        out.push({
          topic: state.topic,
          partition: state.partition,
          offset: record.offset,
          timestamp: record.timestamp,
          key: record.key === null ? null : asBuffer(record.key),
          value: record.value === null ? null : asBuffer(record.value),
          headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : asBuffer(h.value) })),
        });
        state.position = record.offset + 1;
      }
    }
  }

  private async resolvePositions(states: readonly Assigned[]): Promise<void> {
    const queries = states.map((s) => {
      if (s.reset === 'none') {
        throw new OffsetOutOfRangeError(`${s.topic}/${s.partition} has no position and autoOffsetReset is none; call seek()`);
      }
      return { topic: s.topic, partition: s.partition, timestampMs: s.reset === 'earliest' ? offsetTimestampEarliest : offsetTimestampLatest };
    });
    const generations = states.map((s) => s.generation);
    const answers = await listOffsetsAtLeaders(this.cluster, queries);
    answers.forEach((answer, i) => {
      const state = states[i] as Assigned;
      if (state.generation === generations[i] && state.position === undefined) state.position = answer.offset;
    });
  }

  private resetTo(partitions: readonly TopicPartition[] | undefined, reset: 'earliest' | 'latest'): void {
    const states = partitions === undefined ? [...this.assigned.values()] : partitions.map((tp) => this.state(tp));
    for (const state of states) {
      state.position = undefined;
      state.reset = reset;
      state.generation++;
    }
  }

  private state(tp: TopicPartition): Assigned {
    this.checkOpen();
    const state = this.assigned.get(tpKey(tp.topic, tp.partition));
    if (state === undefined) throw new IllegalStateError(`${tp.topic}/${tp.partition} is not assigned; call assign() first`);
    return state;
  }

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('the consumer is closed');
  }

  /** Swallows retriable errors (the loop retries); rethrows the others. */
  private onRetriable(error: unknown): void {
    if (error instanceof StreamBusError && error.retriable) return;
    throw error;
  }

  private refreshSoon(topics: readonly string[]): void {
    this.cluster.refreshMetadata([...new Set(topics)]).catch(() => {
      // The next round retries; a broker that stays unreachable shows up as empty polls.
    });
  }
}

function bounded(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min || v > max) throw new InvalidConfigError(`${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}
