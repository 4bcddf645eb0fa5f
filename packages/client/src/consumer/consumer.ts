/**
 * The consumer: reads assigned partitions with long-poll Fetch requests sent to each partition's
 * leader (one request per broker, many partitions), follows leader changes, and keeps a position
 * per partition. Consumer groups (subscribe, commit) come later; `groupId` is reserved for them.
 *
 * Fetches run in the background, one at a time per leader broker: a poll returns as soon as any
 * of them brought records (a broker whose partitions are caught up long-polls without holding
 * the others back), and fetched batches beyond `pollRecordsMax` wait for the next poll. A
 * partition is fetched again once its fetched batches are all returned, so fetching overlaps
 * the application's processing of the previous poll's records.
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
import type { Context } from '@opentelemetry/api';
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
import { asBuffer, tpKey, type ConsumerRecord, type TopicPartition } from '../records.js';
import { messagingCall } from '../tracing.js';

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
  /** Whole batches fetched and not yet returned, from `fetched[fetchedHead]` on; they hold `position`. */
  fetched: Buffer[];
  fetchedHead: number;
  /** A Fetch for this partition is in flight. */
  fetching: boolean;
  /** A non-retriable failure of this partition, thrown by the next poll that returns nothing. */
  error: Error | undefined;
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
  /** The OpenTelemetry context active at the running `poll()` (its fetches are its children). */
  private pollTrace: Context | undefined;
  private closed = false;
  /** Failed fetch rounds in a row (for the backoff), and when fetching may start again. */
  private idleRounds = 0;
  private retryAtMs = 0;
  /** Leader brokers with a Fetch in flight. */
  private readonly inFlight = new Set<number>();
  /** Wakes a waiting poll when a Fetch ends. */
  private wake: (() => void) | undefined;
  /** A failure of a whole Fetch that is not retriable, thrown by the next poll. */
  private failure: Error | undefined;
  /** Where the next poll starts returning records, so that no partition starves the others. */
  private drainFrom = 0;

  constructor(options: ConsumerOptions) {
    if (options.groupId !== undefined)
      throw new InvalidConfigError('consumer groups are not supported yet; use assign()');
    this.cluster = new Cluster(options);
    this.autoOffsetReset = options.autoOffsetReset ?? 'latest';
    if (!['earliest', 'latest', 'none'].includes(this.autoOffsetReset))
      throw new InvalidConfigError('autoOffsetReset must be earliest, latest or none');
    this.fetchMaxWaitMs = bounded(
      options.fetchMaxWaitMs,
      fetchMaxWaitMsDefault,
      0,
      fetchMaxWaitMsMax,
      'fetchMaxWaitMs',
    );
    this.fetchMinBytes = bounded(options.fetchMinBytes, fetchMinBytesDefault, 0, 2 ** 31 - 1, 'fetchMinBytes');
    this.fetchMaxBytes = bounded(options.fetchMaxBytes, fetchMaxBytesDefault, 1, 2 ** 31 - 1, 'fetchMaxBytes');
    this.partitionFetchBytesMax = bounded(
      options.partitionFetchBytesMax,
      fetchPartitionMaxBytesDefault,
      1,
      2 ** 31 - 1,
      'partitionFetchBytesMax',
    );
    this.pollRecordsMax = bounded(options.pollRecordsMax, pollRecordsMaxDefault, 1, 1_000_000, 'pollRecordsMax');
  }

  /** Replaces the assignment. Partitions that stay assigned keep their positions. */
  assign(partitions: readonly TopicPartition[]): void {
    this.checkOpen();
    if (partitions.length > assignedPartitionsMax)
      throw new InvalidConfigError(`at most ${assignedPartitionsMax} partitions can be assigned`);
    const next = new Map<string, Assigned>();
    for (const { topic, partition } of partitions) {
      if (typeof topic !== 'string' || topic === '' || !Number.isInteger(partition) || partition < 0) {
        throw new InvalidConfigError(`invalid topic partition ${String(topic)}/${String(partition)}`);
      }
      const key = tpKey(topic, partition);
      next.set(
        key,
        this.assigned.get(key) ?? {
          topic,
          partition,
          position: undefined,
          reset: this.autoOffsetReset,
          generation: 0,
          fetched: [],
          fetchedHead: 0,
          fetching: false,
          error: undefined,
        },
      );
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
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new InvalidConfigError(`offset must be a non-negative integer, got ${offset}`);
    const state = this.state(tp);
    state.position = offset;
    discardFetched(state);
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
    if (state.position === undefined)
      throw new IllegalStateError(`${tp.topic}/${tp.partition} has no position yet; retry`);
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
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0)
      throw new InvalidConfigError(`timeoutMs must be >= 0, got ${timeoutMs}`);
    this.polling = true;
    // Fetches started during this poll are children of the caller's span, if it has one.
    this.pollTrace = this.cluster.tracing.activeContext();
    try {
      return await this.pollLoop(Date.now() + timeoutMs);
    } finally {
      this.polling = false;
      this.pollTrace = undefined;
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
        await this.cluster.sleep(Math.max(0, deadlineMs - Date.now()));
        return [];
      }
      const unresolved = states.filter((s) => s.position === undefined);
      if (unresolved.length > 0)
        await this.resolvePositions(unresolved).catch((error: unknown) => this.onRetriable(error));
      const records = this.drain(states);
      // Fetch ahead for the partitions returned in full while the caller handles these records.
      await this.startFetches(
        states,
        records.length > 0 ? this.fetchMaxWaitMs : Math.max(0, Math.min(this.fetchMaxWaitMs, deadlineMs - Date.now())),
      );
      if (records.length > 0) return records;
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) return [];
      await this.waitForFetch(remainingMs);
    }
  }

  /**
   * Up to `pollRecordsMax` fetched records, partition after partition from a rotating start.
   * With none, throws the first failure recorded (a partition's, else a whole Fetch's).
   */
  private drain(states: readonly Assigned[]): ConsumerRecord[] {
    const out: ConsumerRecord[] = [];
    const start = this.drainFrom++ % states.length;
    for (let i = 0; i < states.length && out.length < this.pollRecordsMax; i++) {
      const state = states[(start + i) % states.length] as Assigned;
      if (state.error === undefined) this.decodeInto(state, out);
    }
    if (out.length > 0) return out;
    const failed = states.find((s) => s.error !== undefined);
    const failure = failed?.error ?? this.failure;
    if (failed !== undefined) failed.error = undefined;
    else this.failure = undefined;
    if (failure !== undefined) throw failure;
    return out;
  }

  /** Sends a Fetch to every leader without one in flight, for its partitions with nothing fetched. */
  private async startFetches(states: readonly Assigned[], maxWaitMs: number): Promise<void> {
    if (Date.now() < this.retryAtMs) return;
    const byLeader = new Map<number, Assigned[]>();
    let unroutable = false;
    for (const state of states) {
      if (state.position === undefined) {
        unroutable = true;
        continue;
      }
      if (state.fetching || state.error !== undefined || state.fetchedHead < state.fetched.length) continue;
      if (this.cluster.cachedTopic(state.topic) !== undefined && this.cluster.isStale(state.topic))
        this.refreshSoon([state.topic]);
      if (this.cluster.cachedTopic(state.topic) === undefined) {
        await this.cluster.topicMetadata(state.topic).catch((error: unknown) => this.onRetriable(error));
      }
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === 0) {
        unroutable = true;
        continue;
      }
      if (this.inFlight.has(leader)) continue;
      const list = byLeader.get(leader) ?? [];
      list.push(state);
      byLeader.set(leader, list);
    }
    if (unroutable) this.refreshSoon(states.map((s) => s.topic));
    if (byLeader.size === 0) {
      if (this.inFlight.size === 0 && unroutable) this.failedRound();
      return;
    }
    for (const [leader, list] of byLeader) this.fetchFrom(leader, list, maxWaitMs);
  }

  /** One Fetch to `leader` in the background; its results wait in the partitions' states. */
  private fetchFrom(leader: number, list: Assigned[], maxWaitMs: number): void {
    this.inFlight.add(leader);
    const generations = list.map((s) => s.generation);
    for (const state of list) state.fetching = true;
    const request = {
      maxWaitMs,
      minBytes: this.fetchMinBytes,
      maxBytes: this.fetchMaxBytes,
      replicaId: 0,
      partitions: list.map((s) => ({
        topic: s.topic,
        partition: s.partition,
        fetchOffset: s.position as number,
        partitionMaxBytes: this.partitionFetchBytesMax,
      })),
    };
    const trace = messagingCall(
      'receive',
      request.partitions,
      undefined,
      this.pollTrace === undefined ? [] : [this.pollTrace],
    );
    this.cluster
      .call(leader, 'Fetch', request, maxWaitMs, { trace })
      .then(
        (response) => {
          const byKey = new Map(response.partitions.map((r) => [tpKey(r.topic, r.partition), r]));
          let failed = false;
          list.forEach((state, i) => {
            const result = byKey.get(tpKey(state.topic, state.partition));
            if (
              result === undefined ||
              state.generation !== generations[i] ||
              this.assigned.get(tpKey(state.topic, state.partition)) !== state
            )
              return;
            if (!this.applyFetchResult(state, result)) failed = true;
          });
          if (failed) this.failedRound();
          else this.idleRounds = 0;
        },
        (error: unknown) => {
          if (this.closed) return;
          if (error instanceof StreamBusError && error.retriable) {
            this.failedRound();
            this.refreshSoon(list.map((s) => s.topic));
          } else {
            this.failure ??= error instanceof Error ? error : new Error(String(error));
          }
        },
      )
      .catch((error: unknown) => {
        // A bug while applying the answer: reported by the next poll, never an unhandled rejection.
        this.failure ??= error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => {
        this.inFlight.delete(leader);
        for (const state of list) state.fetching = false;
        this.wake?.();
      });
  }

  /** Waits until a Fetch ends, the retry backoff is over, or `remainingMs` passed. */
  private waitForFetch(remainingMs: number): Promise<void> {
    const backoffMs = this.retryAtMs - Date.now();
    const waitMs = Math.min(remainingMs, backoffMs > 0 ? backoffMs : this.inFlight.size > 0 ? remainingMs : 1);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.wake = done;
    });
  }

  private failedRound(): void {
    this.retryAtMs = Date.now() + this.cluster.backoffMs(this.idleRounds);
    this.idleRounds++;
  }

  /** Applies one partition's fetch result; false when it failed (retriable, or recorded in `state.error`). */
  private applyFetchResult(state: Assigned, result: FetchPartitionResult): boolean {
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      if (this.autoOffsetReset === 'none') {
        state.error = new OffsetOutOfRangeError(
          `${state.topic}/${state.partition}: offset ${state.position} is outside [${result.logStartOffset}, ${result.highWatermark}]; seek to a valid offset`,
        );
        return false;
      }
      state.position = undefined;
      state.reset = this.autoOffsetReset;
      return false;
    }
    if (result.errorCode !== ErrorCode.NONE) {
      const error = errorFromCode(
        result.errorCode,
        `${state.topic}/${state.partition}: ${result.errorMessage}`,
        result.leaderId,
      );
      if (!error.retriable) {
        state.error = error;
        return false;
      }
      if (
        result.errorCode === ErrorCode.NOT_LEADER &&
        this.cluster.applyLeaderHint(state.topic, state.partition, result.leaderId, result.leaderEpoch)
      )
        return false;
      if (result.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.cluster.invalidateTopic(state.topic);
      this.refreshSoon([state.topic]);
      return false;
    }
    // Whole batches laid end to end; a partial trailing one is fetched again next time.
    try {
      state.fetched = splitRecordBatches(asBuffer(result.records)).batches;
      state.fetchedHead = 0;
    } catch (error) {
      if (!(error instanceof RecordBatchError)) throw error;
      state.error = new CorruptMessageError(
        `${state.topic}/${state.partition}: corrupt fetch response at offset ${state.position}: ${error.message}`,
        { cause: error },
      );
    }
    return true;
  }

  /** Moves fetched records of `state` to `out` (up to `pollRecordsMax`), advancing its position. */
  private decodeInto(state: Assigned, out: ConsumerRecord[]): void {
    while (state.fetchedHead < state.fetched.length && out.length < this.pollRecordsMax) {
      const bytesOfBatch = state.fetched[state.fetchedHead] as Buffer;
      let batch;
      try {
        batch = decodeRecordBatch(bytesOfBatch);
      } catch (error) {
        if (!(error instanceof RecordBatchError)) throw error;
        // Reported once the records of the other partitions are returned; the position stays.
        state.error = new CorruptMessageError(
          `${state.topic}/${state.partition}: corrupt batch at offset ${state.position}: ${error.message}`,
          { cause: error },
        );
        discardFetched(state, false);
        return;
      }
      let whole = true;
      for (const record of batch.records) {
        if (record.offset < (state.position as number)) continue;
        if (out.length >= this.pollRecordsMax) {
          whole = false;
          break;
        }
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
      if (!whole) return;
      state.fetchedHead++;
    }
    if (state.fetchedHead >= state.fetched.length) discardFetched(state, false);
  }

  private async resolvePositions(states: readonly Assigned[]): Promise<void> {
    const queries = states.map((s) => {
      if (s.reset === 'none') {
        throw new OffsetOutOfRangeError(
          `${s.topic}/${s.partition} has no position and autoOffsetReset is none; call seek()`,
        );
      }
      return {
        topic: s.topic,
        partition: s.partition,
        timestampMs: s.reset === 'earliest' ? offsetTimestampEarliest : offsetTimestampLatest,
      };
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
      discardFetched(state);
    }
  }

  private state(tp: TopicPartition): Assigned {
    this.checkOpen();
    const state = this.assigned.get(tpKey(tp.topic, tp.partition));
    if (state === undefined)
      throw new IllegalStateError(`${tp.topic}/${tp.partition} is not assigned; call assign() first`);
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

/** Drops what was fetched for `state`; with `newGeneration`, also the results of fetches in flight (a seek). */
function discardFetched(state: Assigned, newGeneration = true): void {
  state.fetched = [];
  state.fetchedHead = 0;
  if (!newGeneration) return;
  state.generation++;
  state.error = undefined;
}

function bounded(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min || v > max)
    throw new InvalidConfigError(`${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}
