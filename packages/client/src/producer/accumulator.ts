/**
 * The producer's record accumulator: admission of each record (validation, partition choice,
 * backpressure while the buffer is full, waiting for metadata), batching per partition (by
 * `lingerMs`, `batchBytesMax`, `recordsPerBatchMax`), and the buffer's byte count. Records keep
 * their order per partition: when one must wait, those behind it queue in one admission chain.
 */
import { ErrorCode } from '@streambus/proto';
import { assert } from '../assert.js';
import type { Cluster } from '../cluster/cluster.js';
import { recordOverheadBytes, recordsPerBatchMax, traceLinksMax } from '../constants.js';
import {
  ClientClosedError,
  DeliveryTimeoutError,
  InvalidConfigError,
  InvalidRequestError,
  RequestTooLargeError,
  StreamBusError,
  errorFromCode,
} from '../errors.js';
import { partitionForKey } from '../murmur2.js';
import { toBytesOrNull, toHeaders, tpKey, type ProducerRecord, type RecordMetadata } from '../records.js';
import { PartitionState, ProducerBatch, type ProducerCounters, type Settlement } from './batch.js';
import type { FlushTracker } from './flush-tracker.js';
import type { RecordInput } from '@streambus/proto';

/**
 * Picks a partition for a record without an explicit partition. Return undefined to fall back
 * to the default (murmur2 of the key, sticky for null keys).
 */
export type Partitioner = (topic: string, key: Uint8Array | null, partitionCount: number) => number | undefined;

export interface AccumulatorOptions {
  readonly lingerMs: number;
  readonly batchBytesMax: number;
  readonly bufferBytesMax: number;
  readonly deliveryTimeoutMs: number;
  readonly partitioner: Partitioner | undefined;
}

/** What the accumulator needs from the producer around it. */
export interface AccumulatorHost {
  readonly cluster: Cluster;
  readonly tracker: FlushTracker;
  readonly counters: ProducerCounters;
  /** True once the producer stopped admitting records for good. */
  isClosed(): boolean;
  /** A batch was closed: send what is ready soon. */
  drainSoon(): void;
  /** The topic's metadata is stale: refresh it in the background. */
  refreshMetadata(topic: string): void;
}

interface PreparedRecord {
  readonly input: RecordInput;
  readonly sizeBytes: number;
  readonly key: Uint8Array | null;
  readonly timestamp: number;
}

export class RecordAccumulator {
  /** Every partition written to, by `tpKey`. */
  readonly partitions = new Map<string, PartitionState>();
  private readonly sticky = new Map<string, number>();
  private admission: Promise<void> = Promise.resolve();
  /** Records waiting in the admission chain; while > 0 new records queue behind them. */
  private admissionQueued = 0;
  private spaceWaiters: (() => void)[] = [];
  private buffered = 0;

  constructor(
    private readonly options: AccumulatorOptions,
    private readonly host: AccumulatorHost,
  ) {}

  /** Bytes of records buffered (queued and in flight). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Settles when every record enqueued before the call has been admitted (or refused). */
  admitted(): Promise<void> {
    return this.admission;
  }

  /**
   * Takes one record; the promise settles with its result. Admits it at once when nothing waits
   * ahead, its topic's metadata is cached and the buffer has room; otherwise in the chain.
   */
  enqueue(record: ProducerRecord): Promise<RecordMetadata> {
    let prepared: PreparedRecord;
    try {
      prepared = this.prepare(record);
    } catch (error) {
      return Promise.reject(
        error instanceof StreamBusError
          ? error
          : new InvalidRequestError(`invalid record: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
    const startedAtMs = Date.now();
    const epoch = this.host.tracker.entered();
    let resolveDelivery!: (metadata: RecordMetadata) => void;
    let rejectDelivery!: (error: StreamBusError) => void;
    const delivery = new Promise<RecordMetadata>((resolve, reject) => {
      resolveDelivery = resolve;
      rejectDelivery = reject;
    });
    const trace = this.host.cluster.tracing.activeContext();
    const settlement: Settlement = {
      resolve: resolveDelivery,
      reject: rejectDelivery,
      epoch,
      ...(trace === undefined ? {} : { trace }),
    };
    // Fast path: nothing queued ahead, metadata cached, buffer room: admit synchronously.
    if (this.admissionQueued === 0 && this.tryAdmitNow(record, prepared, startedAtMs, settlement)) return delivery;
    // Slow path: one chain, so that records keep their order per partition even when some wait
    // for metadata or buffer space.
    this.admissionQueued++;
    this.admission = this.admission.then(() =>
      this.admit(record, prepared, startedAtMs, settlement)
        .catch((error: unknown) => this.refuse(settlement, asStreamBusError(error)))
        .finally(() => {
          this.admissionQueued--;
        }),
    );
    return delivery;
  }

  /** Closes every partition's open batch (a flush: nothing waits for `lingerMs`). */
  closeAll(): void {
    for (const state of this.partitions.values()) this.closeOpenBatch(state);
  }

  /** Moves a partition's open batch to its send queue. */
  closeOpenBatch(state: PartitionState): void {
    clearTimeout(state.lingerTimer);
    state.lingerTimer = undefined;
    const batch = state.open;
    if (batch === undefined) return;
    state.open = undefined;
    state.queue.push(batch);
    // Sticky partitioning: once a batch of the sticky partition is sent, move to another one.
    if (this.sticky.get(state.topic) === state.partition) {
      const count = this.host.cluster.cachedTopic(state.topic)?.partitions.length ?? 1;
      if (count > 1) {
        const next = Math.floor(this.host.cluster.options.random() * (count - 1));
        this.sticky.set(state.topic, next >= state.partition ? next + 1 : next);
      }
    }
  }

  /** Gives a settled batch's bytes back to the buffer and wakes records waiting for room. */
  release(batch: ProducerBatch): void {
    this.buffered -= batch.sizeBytes;
    assert(this.buffered >= 0, 'buffered bytes never go negative');
    batch.sizeBytes = 0;
    this.wakeSpaceWaiters();
  }

  /** Wakes every record waiting for buffer room (they see the producer closed, or room). */
  wakeSpaceWaiters(): void {
    for (const wake of this.spaceWaiters.splice(0)) wake();
  }

  /** Admits at once when possible; false when the record must wait (metadata, buffer space). */
  private tryAdmitNow(
    record: ProducerRecord,
    prepared: PreparedRecord,
    startedAtMs: number,
    settlement: Settlement,
  ): boolean {
    const cluster = this.host.cluster;
    const cached = cluster.cachedTopic(record.topic);
    if (
      cached === undefined ||
      this.host.isClosed() ||
      this.buffered + prepared.sizeBytes > this.options.bufferBytesMax
    )
      return false;
    if (cluster.isStale(record.topic)) this.host.refreshMetadata(record.topic);
    try {
      this.append(
        record.topic,
        this.choosePartition(record, prepared.key, cached.partitions.length),
        prepared,
        startedAtMs,
        settlement,
      );
    } catch (error) {
      this.refuse(settlement, asStreamBusError(error));
    }
    return true;
  }

  private refuse(settlement: Settlement, error: StreamBusError): void {
    settlement.reject(error);
    this.host.counters.recordsFailed++;
    this.host.tracker.settled(settlement.epoch);
  }

  private prepare(record: ProducerRecord): PreparedRecord {
    if (typeof record.topic !== 'string' || record.topic === '')
      throw new InvalidRequestError('record.topic must be a non-empty string');
    const key = toBytesOrNull(record.key);
    const value = toBytesOrNull(record.value);
    const headers = toHeaders(record.headers);
    const timestamp = record.timestamp ?? Date.now();
    if (!Number.isSafeInteger(timestamp) || timestamp < 0)
      throw new InvalidRequestError(`record.timestamp must be ms since the epoch, got ${timestamp}`);
    let sizeBytes = recordOverheadBytes + (key?.byteLength ?? 0) + (value?.byteLength ?? 0);
    for (const h of headers) sizeBytes += Buffer.byteLength(h.key) + (h.value?.byteLength ?? 0) + 10;
    if (sizeBytes > this.options.batchBytesMax) {
      throw new RequestTooLargeError(
        `record of ${sizeBytes} bytes exceeds batchBytesMax ${this.options.batchBytesMax}; send smaller records or raise batchBytesMax`,
      );
    }
    return { input: { key, value, headers, timestamp }, sizeBytes, key, timestamp };
  }

  private async admit(
    record: ProducerRecord,
    prepared: PreparedRecord,
    startedAtMs: number,
    settlement: Settlement,
  ): Promise<void> {
    const cluster = this.host.cluster;
    if (this.host.isClosed()) throw new ClientClosedError('the producer is closed');
    const cached = cluster.cachedTopic(record.topic);
    if (cached !== undefined && cluster.isStale(record.topic)) this.host.refreshMetadata(record.topic);
    const partitionCount =
      cached !== undefined ? cached.partitions.length : await this.partitionCountWithin(record.topic, startedAtMs);
    const partition = this.choosePartition(record, prepared.key, partitionCount);
    while (this.buffered + prepared.sizeBytes > this.options.bufferBytesMax) {
      const remainingMs = startedAtMs + this.options.deliveryTimeoutMs - Date.now();
      if (remainingMs <= 0)
        throw new DeliveryTimeoutError(
          `no buffer space within deliveryTimeoutMs ${this.options.deliveryTimeoutMs}; the brokers are slower than the producer`,
        );
      if (this.host.isClosed()) throw new ClientClosedError('the producer is closed');
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, remainingMs);
        this.spaceWaiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
    if (this.host.isClosed()) throw new ClientClosedError('the producer is closed');
    this.append(record.topic, partition, prepared, startedAtMs, settlement);
  }

  /**
   * The topic's partition count. While no broker answers (a whole-cluster outage, a restart)
   * it keeps asking, with backoff, until the record's delivery timeout: the record waits like
   * one already in a batch would, instead of failing after a few attempts.
   */
  private async partitionCountWithin(topic: string, startedAtMs: number): Promise<number> {
    const cluster = this.host.cluster;
    for (let attempt = 0; ; attempt++) {
      try {
        return await cluster.partitionCount(topic);
      } catch (error) {
        const typed = asStreamBusError(error);
        const unreachable = typed.code === 'BROKER_NOT_AVAILABLE' || typed.code === 'REQUEST_TIMED_OUT';
        const remainingMs = startedAtMs + this.options.deliveryTimeoutMs - Date.now();
        if (!unreachable || this.host.isClosed()) throw typed;
        if (remainingMs <= 0)
          throw new DeliveryTimeoutError(
            `no metadata for topic "${topic}" within deliveryTimeoutMs ${this.options.deliveryTimeoutMs}; last error: ${typed.message}`,
            { cause: typed },
          );
        await cluster.sleep(Math.min(remainingMs, cluster.backoffMs(attempt)));
      }
    }
  }

  /** Adds an admitted record to its partition's open batch (closing it when full). */
  private append(
    topic: string,
    partition: number,
    prepared: PreparedRecord,
    startedAtMs: number,
    settlement: Settlement,
  ): void {
    const state = this.partitionState(topic, partition);
    if (
      state.open !== undefined &&
      (state.open.sizeBytes + prepared.sizeBytes > this.options.batchBytesMax ||
        state.open.records.length >= recordsPerBatchMax)
    ) {
      this.closeOpenBatch(state);
    }
    if (state.open === undefined) {
      state.open = new ProducerBatch(startedAtMs);
      if (this.options.lingerMs > 0) {
        state.lingerTimer = setTimeout(() => {
          state.lingerTimer = undefined;
          this.closeOpenBatch(state);
          this.host.drainSoon();
        }, this.options.lingerMs);
      }
    }
    const batch = state.open;
    batch.records.push({
      input: prepared.input,
      timestamp: prepared.timestamp,
      sizeBytes: prepared.sizeBytes,
      epoch: settlement.epoch,
      resolve: settlement.resolve,
      reject: settlement.reject,
    });
    if (settlement.trace !== undefined && batch.traces.length <= traceLinksMax) batch.traces.push(settlement.trace);
    batch.sizeBytes += prepared.sizeBytes;
    this.buffered += prepared.sizeBytes;
    if (this.options.lingerMs === 0 || batch.sizeBytes >= this.options.batchBytesMax) this.closeOpenBatch(state);
    this.host.drainSoon();
  }

  private choosePartition(record: ProducerRecord, key: Uint8Array | null, partitionCount: number): number {
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= partitionCount) {
        throw errorFromCode(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `partition ${record.partition} of topic "${record.topic}" does not exist (it has ${partitionCount})`,
        );
      }
      return record.partition;
    }
    const custom = this.options.partitioner?.(record.topic, key, partitionCount);
    if (custom !== undefined) {
      if (!Number.isInteger(custom) || custom < 0 || custom >= partitionCount)
        throw new InvalidConfigError(`the partitioner returned ${custom} for ${partitionCount} partitions`);
      return custom;
    }
    if (key !== null) return partitionForKey(key, partitionCount);
    let sticky = this.sticky.get(record.topic);
    if (sticky === undefined || sticky >= partitionCount) {
      sticky = Math.floor(this.host.cluster.options.random() * partitionCount);
      this.sticky.set(record.topic, sticky);
    }
    return sticky;
  }

  private partitionState(topic: string, partition: number): PartitionState {
    const key = tpKey(topic, partition);
    let state = this.partitions.get(key);
    if (state === undefined) {
      state = new PartitionState(topic, partition);
      this.partitions.set(key, state);
    }
    return state;
  }
}

/** A typed error for anything thrown inside the producer (a bug shows as INTERNAL). */
export function asStreamBusError(error: unknown): StreamBusError {
  if (error instanceof StreamBusError) return error;
  return errorFromCode(ErrorCode.INTERNAL, error instanceof Error ? error.message : String(error));
}
