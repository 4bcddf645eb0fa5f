/**
 * The producer's sender: takes the head batch of each partition queue, groups them per target
 * broker (the partition's leader, or another broker that forwards when this client cannot reach
 * the leader) into one Produce each, and settles every batch from the answer: acknowledged,
 * resent with backoff (in sequence order, after the partition's in-flight batches settle), or
 * failed. Bounds: `inFlightRequestsPerBroker` Produce requests per broker and
 * `inFlightBatchesPerPartition` batches per partition (<= the broker's dedupe window of 5).
 */
import { Acks, ErrorCode, encodeRecordBatch, RecordBatchError, type PartitionProduceResult } from '@streambus/proto';
import { assert } from '../assert.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Context } from '@opentelemetry/api';
import { produceDeadlineMarginMs, traceLinksMax } from '../constants.js';
import {
  DeliveryTimeoutError,
  InvalidRequestError,
  RequestTooLargeError,
  errorFromCode,
  type StreamBusError,
} from '../errors.js';
import { tpKey } from '../records.js';
import { asStreamBusError, type RecordAccumulator } from './accumulator.js';
import type { PartitionState, ProducerBatch, ProducerCounters } from './batch.js';
import type { FlushTracker } from './flush-tracker.js';
import { IdempotenceState } from './idempotence.js';
import { messagingCall } from '../tracing.js';

/** Batch compression. */
export type CompressionMode = 'none' | 'gzip';

export interface SenderOptions {
  readonly acks: Acks;
  readonly idempotent: boolean;
  readonly compression: CompressionMode;
  readonly deliveryTimeoutMs: number;
  readonly inFlightRequestsPerBroker: number;
  readonly inFlightBatchesPerPartition: number;
}

interface Entry {
  readonly state: PartitionState;
  readonly batch: ProducerBatch;
}

export class Sender {
  /** The producer id, epoch and sequences; undefined without idempotence. */
  readonly idempotence: IdempotenceState | undefined;
  private readonly brokerInFlight = new Map<number, number>();
  private drainScheduled = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAtMs = Infinity;
  private refreshPending = false;
  private refreshAttempts = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly accumulator: RecordAccumulator,
    private readonly tracker: FlushTracker,
    private readonly counters: ProducerCounters,
    private readonly options: SenderOptions,
  ) {
    this.idempotence = options.idempotent
      ? new IdempotenceState(cluster, {
          partitions: () => accumulator.partitions.values(),
          failBatch: (batch, error) => this.failBatch(batch, error),
          drainSoon: () => this.scheduleDrain(),
          drainAt: (atMs) => this.wakeAt(atMs),
        })
      : undefined;
  }

  /** Runs a drain on the next turn (once, however often it is asked for before). */
  scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  /** Fails every batch not yet settled with `error` and stops the timers (the producer closes). */
  failAll(error: StreamBusError): void {
    for (const state of this.accumulator.partitions.values()) {
      clearTimeout(state.lingerTimer);
      for (const batch of [...state.queue, ...state.inFlight]) this.failBatch(batch, error);
      if (state.open !== undefined) this.failBatch(state.open, error);
      state.open = undefined;
      state.queue.length = 0;
      state.inFlight.length = 0;
    }
    clearTimeout(this.wakeTimer);
  }

  /** Refreshes the topic's metadata in the background (one refresh at a time), then drains. */
  refreshMetadata(topic: string, invalidate = false): void {
    if (invalidate) this.cluster.invalidateTopic(topic);
    if (this.refreshPending) return;
    this.refreshPending = true;
    this.cluster
      .refreshMetadata([topic])
      .then(
        () => {
          this.refreshAttempts = 0;
        },
        () => {
          this.refreshAttempts++;
        },
      )
      .finally(() => {
        this.refreshPending = false;
        this.wakeAt(Date.now() + this.cluster.backoffMs(this.refreshAttempts));
      });
  }

  private wakeAt(atMs: number): void {
    if (atMs >= this.wakeAtMs) return;
    clearTimeout(this.wakeTimer);
    this.wakeAtMs = atMs;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAtMs = Infinity;
        this.wakeTimer = undefined;
        this.drain();
      },
      Math.max(0, atMs - Date.now()),
    );
  }

  private drain(): void {
    if (this.cluster.isClosed) return;
    const now = Date.now();
    this.expireQueued(now);
    if (this.idempotence !== undefined && !this.idempotence.ensure()) return;
    const requests = new Map<number, Entry[]>();
    for (const state of this.accumulator.partitions.values()) {
      const batch = state.queue[0];
      if (batch === undefined) continue;
      if (state.inFlight.length >= this.options.inFlightBatchesPerPartition) continue;
      if (state.resendAfterDrain && state.inFlight.length > 0) continue;
      if (batch.retryAtMs > now) {
        this.wakeAt(batch.retryAtMs);
        continue;
      }
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === 0) {
        this.refreshMetadata(state.topic);
        continue;
      }
      // A leader this client cannot reach (while the cluster still can) is reached through
      // another broker, which forwards the very same batch: one hop, no new sequence.
      const target = this.cluster.routeAround(leader);
      const list = requests.get(target) ?? [];
      if (list.length === 0 && (this.brokerInFlight.get(target) ?? 0) >= this.options.inFlightRequestsPerBroker)
        continue;
      list.push({ state, batch });
      requests.set(target, list);
    }
    let sent = false;
    for (const [brokerId, entries] of requests) {
      const ready = entries.filter((entry) => this.prepareForSend(entry.state, entry.batch));
      if (ready.length === 0) continue;
      this.sendRequest(brokerId, ready);
      sent = true;
    }
    if (sent) this.scheduleDrain();
  }

  /** Fails queued batches whose delivery timeout passed. */
  private expireQueued(now: number): void {
    for (const state of this.accumulator.partitions.values()) {
      while (state.queue.length > 0) {
        const batch = state.queue[0] as ProducerBatch;
        if (now - batch.createdAtMs < this.options.deliveryTimeoutMs) break;
        state.queue.shift();
        const cause = batch.lastError;
        const error = new DeliveryTimeoutError(
          `no acknowledgement for ${state.topic}/${state.partition} within deliveryTimeoutMs ${this.options.deliveryTimeoutMs}${cause !== undefined ? `; last error: ${cause.message}` : ''}`,
          { cause },
        );
        this.failBatch(batch, error);
        // A batch that was sent may or may not be written: later sequences cannot follow it.
        if (batch.baseSequence >= 0) this.idempotence?.requestReset();
      }
    }
  }

  /** Assigns the sequence and encodes the batch on its first send. False if it failed. */
  private prepareForSend(state: PartitionState, batch: ProducerBatch): boolean {
    if (batch.encoded !== undefined) return true;
    this.idempotence?.stamp(state, batch);
    try {
      batch.encoded = encodeRecordBatch(
        {
          producerId: batch.producerId,
          producerEpoch: batch.producerEpoch,
          baseSequence: batch.baseSequence,
          records: batch.records.map((r) => r.input),
        },
        { compression: this.options.compression },
      );
    } catch (error) {
      state.queue.shift();
      batch.baseSequence = -1;
      const message = error instanceof Error ? error.message : String(error);
      const typed =
        error instanceof RecordBatchError && error.code === 'TOO_LARGE'
          ? new RequestTooLargeError(message)
          : new InvalidRequestError(message);
      this.failBatch(batch, typed);
      return false;
    }
    this.idempotence?.advance(state, batch);
    return true;
  }

  private sendRequest(brokerId: number, entries: readonly Entry[]): void {
    for (const { state, batch } of entries) {
      const head = state.queue.shift();
      assert(head === batch, 'the batch sent is the head of its partition queue');
      state.inFlight.push(batch);
      batch.attempts++;
      if (batch.attempts > 1) this.counters.batchRetries++;
      this.counters.batchesSent++;
    }
    this.counters.produceRequests++;
    this.brokerInFlight.set(brokerId, (this.brokerInFlight.get(brokerId) ?? 0) + 1);
    const request = {
      acks: this.options.acks,
      timeoutMs: this.cluster.options.requestTimeoutMs,
      transactionalId: '',
      partitions: entries.map(({ state, batch }) => ({
        topic: state.topic,
        partition: state.partition,
        records: batch.encoded as Buffer,
      })),
    };
    // One span for the request: child of its first traced record's context, linked to the others'.
    const traces: Context[] = [];
    let records = 0;
    for (const { batch } of entries) {
      records += batch.records.length;
      for (const trace of batch.traces) if (traces.length <= traceLinksMax) traces.push(trace);
    }
    const trace = messagingCall('send', request.partitions, records, traces);
    // The broker answers REQUEST_TIMED_OUT after timeoutMs; the gRPC deadline leaves it room to.
    this.cluster.call(brokerId, 'Produce', request, produceDeadlineMarginMs, { trace }).then(
      (response) => {
        this.requestDone(brokerId);
        const results = new Map<string, PartitionProduceResult>();
        for (const result of response.partitions) results.set(tpKey(result.topic, result.partition), result);
        for (const { state, batch } of entries)
          this.settle(brokerId, state, batch, results.get(tpKey(state.topic, state.partition)));
        this.scheduleDrain();
      },
      (error: unknown) => {
        this.requestDone(brokerId);
        const typed = asStreamBusError(error);
        for (const { state, batch } of entries) this.batchFailed(state, batch, typed);
        this.scheduleDrain();
      },
    );
  }

  /** Applies one partition's result of a Produce answered by `brokerId`. */
  private settle(
    brokerId: number,
    state: PartitionState,
    batch: ProducerBatch,
    result: PartitionProduceResult | undefined,
  ): void {
    if (result === undefined) {
      if (this.options.acks === Acks.NONE) this.completeBatch(state, batch, -1);
      else
        this.batchFailed(
          state,
          batch,
          errorFromCode(ErrorCode.INTERNAL, `broker ${brokerId} sent no result for ${state.topic}/${state.partition}`),
        );
      return;
    }
    if (result.errorCode === ErrorCode.NONE || result.errorCode === ErrorCode.DUPLICATE_SEQUENCE) {
      this.completeBatch(state, batch, result.baseOffset);
      return;
    }
    if (
      result.errorCode === ErrorCode.NOT_LEADER &&
      !this.cluster.applyLeaderHint(state.topic, state.partition, result.leaderId, result.leaderEpoch)
    ) {
      // No usable hint: wait for the metadata refresh instead of asking the old leader again.
      this.cluster.forgetLeader(state.topic, state.partition);
    }
    this.batchFailed(
      state,
      batch,
      errorFromCode(result.errorCode, `${state.topic}/${state.partition}: ${result.errorMessage}`, result.leaderId),
    );
  }

  private requestDone(brokerId: number): void {
    const count = this.brokerInFlight.get(brokerId) ?? 0;
    assert(count > 0, 'a request completes only once');
    this.brokerInFlight.set(brokerId, count - 1);
  }

  private removeInFlight(state: PartitionState, batch: ProducerBatch): void {
    const index = state.inFlight.indexOf(batch);
    if (index < 0) return; // already failed by close()
    state.inFlight.splice(index, 1);
    if (state.inFlight.length === 0) state.resendAfterDrain = false;
  }

  private completeBatch(state: PartitionState, batch: ProducerBatch, baseOffset: number): void {
    if (!state.inFlight.includes(batch)) return; // already failed by close()
    this.removeInFlight(state, batch);
    batch.records.forEach((record, i) => {
      record.resolve({
        topic: state.topic,
        partition: state.partition,
        offset: baseOffset < 0 ? -1 : baseOffset + i,
        timestamp: record.timestamp,
      });
      this.tracker.settled(record.epoch);
    });
    this.counters.recordsAcked += batch.records.length;
    this.accumulator.release(batch);
  }

  private batchFailed(state: PartitionState, batch: ProducerBatch, error: StreamBusError): void {
    if (!state.inFlight.includes(batch)) return; // already failed by close()
    this.removeInFlight(state, batch);
    batch.lastError = error;
    if (
      error.code === 'NOT_LEADER' ||
      error.code === 'UNKNOWN_TOPIC_OR_PARTITION' ||
      error.code === 'BROKER_NOT_AVAILABLE' ||
      error.code === 'REQUEST_TIMED_OUT'
    ) {
      this.refreshMetadata(state.topic, error.code !== 'NOT_LEADER');
    }
    // A batch behind a failed one gets OUT_OF_ORDER_SEQUENCE: it is retriable as long as an
    // earlier batch of the partition is still to be resent or settled.
    const behindFailure =
      error.code === 'OUT_OF_ORDER_SEQUENCE' &&
      [...state.queue, ...state.inFlight].some(
        (other) => other.baseSequence >= 0 && other.baseSequence < batch.baseSequence,
      );
    const retriable = error.retriable || behindFailure;
    const expired = Date.now() - batch.createdAtMs >= this.options.deliveryTimeoutMs;
    if (retriable && !expired && !this.cluster.isClosed) {
      batch.retryAtMs = Date.now() + this.cluster.backoffMs(batch.attempts - 1);
      const at = state.queue.findIndex((q) => q.baseSequence < 0 || q.baseSequence > batch.baseSequence);
      state.queue.splice(at < 0 ? state.queue.length : at, 0, batch);
      if (state.inFlight.length > 0) state.resendAfterDrain = true;
      return;
    }
    const final =
      retriable && expired
        ? new DeliveryTimeoutError(
            `no acknowledgement for ${state.topic}/${state.partition} within deliveryTimeoutMs ${this.options.deliveryTimeoutMs}; last error: ${error.message}`,
            { cause: error },
          )
        : error;
    this.failBatch(batch, final);
    if (batch.baseSequence >= 0) this.idempotence?.requestReset();
  }

  /** Fails a batch for good: its records reject with `error`, its bytes leave the buffer. */
  private failBatch(batch: ProducerBatch, error: StreamBusError): void {
    for (const record of batch.records) {
      record.reject(error);
      this.tracker.settled(record.epoch);
    }
    this.counters.recordsFailed += batch.records.length;
    this.accumulator.release(batch);
  }
}
