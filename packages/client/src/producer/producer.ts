/**
 * The producer: buffers records per partition into record batches (by `lingerMs` and
 * `batchBytesMax`), sends one Produce per broker carrying many partitions, and retries with
 * backoff until `deliveryTimeoutMs`. Idempotent by default: each batch carries the producer id,
 * epoch and a per-partition base sequence assigned once, at its first send; a retry resends the
 * very same bytes, so the broker drops duplicates. At most `inFlightBatchesPerPartition` (<= 5,
 * the broker's dedupe window) batches of a partition are in flight, and after a retriable
 * failure a partition waits for its in-flight batches to settle and resends in sequence order.
 */
import { Acks, ErrorCode, encodeRecordBatch, RecordBatchError, type PartitionProduceResult, type RecordInput } from '@streambus/proto';
import { assert } from '../assert.js';
import { Cluster } from '../cluster/cluster.js';
import type { ClientOptions } from '../cluster/options.js';
import {
  batchBytesMaxDefault,
  batchBytesMaxLimit,
  bufferBytesMaxDefault,
  deliveryTimeoutMsDefault,
  inFlightBatchesPerPartitionMax,
  inFlightRequestsPerBrokerDefault,
  inFlightRequestsPerBrokerLimit,
  lingerMsDefault,
  produceDeadlineMarginMs,
  recordOverheadBytes,
  recordsPerBatchMax,
  sequenceModulus,
} from '../constants.js';
import {
  ClientClosedError,
  DeliveryTimeoutError,
  InvalidConfigError,
  InvalidRequestError,
  OutOfOrderSequenceError,
  RequestTooLargeError,
  StreamBusError,
  errorFromCode,
} from '../errors.js';
import { partitionForKey } from '../murmur2.js';
import { toBytesOrNull, toHeaders, tpKey, type ProducerRecord, type RecordMetadata } from '../records.js';

/** When the broker acknowledges: `all` (quorum on disk, default), `leader`, `none`. */
export type AcksMode = 'all' | 'leader' | 'none';

/** Compression of record batches. */
export type CompressionMode = 'none' | 'gzip';

/**
 * Picks a partition for a record without an explicit partition. Return undefined to fall back
 * to the default (murmur2 of the key, sticky for null keys).
 */
export type Partitioner = (topic: string, key: Uint8Array | null, partitionCount: number) => number | undefined;

/** Producer options (all optional except `bootstrapServers`). */
export interface ProducerOptions extends ClientOptions {
  /** Default `all`. Idempotence needs `all`. */
  acks?: AcksMode;
  /** Exactly-once per partition across retries (default true; needs acks `all`). */
  idempotent?: boolean;
  /** Wait this long for more records before sending a partial batch (default 5). */
  lingerMs?: number;
  /** Largest batch per partition in bytes, before compression (default 256 KiB, at most 8 MiB). */
  batchBytesMax?: number;
  /** Bytes buffered (queued plus in flight) before `send()` waits for room (default 32 MiB). */
  bufferBytesMax?: number;
  /** Batch compression (default `none`). */
  compression?: CompressionMode;
  /** Time from `send()` to the result, retries included (default 120000). */
  deliveryTimeoutMs?: number;
  /** Produce requests in flight per broker (default 5). */
  inFlightRequestsPerBroker?: number;
  /** Batches in flight per partition (default and maximum 5). */
  inFlightBatchesPerPartition?: number;
  /** Custom partitioner. */
  partitioner?: Partitioner;
}

/** Counters for tests and monitoring. */
export interface ProducerStats {
  /** Produce RPCs sent (first tries and retries). */
  produceRequests: number;
  /** Batches sent (each attempt counts). */
  batchesSent: number;
  /** Batches resent after a retriable failure. */
  batchRetries: number;
  /** Records acknowledged. */
  recordsAcked: number;
  /** Records failed. */
  recordsFailed: number;
  /** Bytes of records currently buffered. */
  bufferedBytes: number;
}

interface PreparedRecord {
  readonly input: RecordInput;
  readonly sizeBytes: number;
  readonly key: Uint8Array | null;
  readonly timestamp: number;
}

/** A record with the callbacks of its delivery promise and the flush epoch it was sent in. */
interface PendingRecord {
  readonly input: RecordInput;
  readonly timestamp: number;
  readonly sizeBytes: number;
  readonly epoch: number;
  readonly resolve: (metadata: RecordMetadata) => void;
  readonly reject: (error: StreamBusError) => void;
}

class ProducerBatch {
  readonly records: PendingRecord[] = [];
  sizeBytes = 0;
  /** -1 until the first send assigns it. */
  baseSequence = -1;
  producerId = -1;
  producerEpoch = -1;
  encoded: Buffer | undefined;
  attempts = 0;
  retryAtMs = 0;
  lastError: StreamBusError | undefined;
  constructor(readonly createdAtMs: number) {}
}

class PartitionState {
  open: ProducerBatch | undefined;
  lingerTimer: NodeJS.Timeout | undefined;
  /** Closed batches waiting to be sent, in sequence order (resends first). */
  readonly queue: ProducerBatch[] = [];
  readonly inFlight: ProducerBatch[] = [];
  nextSequence = 0;
  /** Set after a retriable failure: send nothing until the in-flight batches have settled. */
  resendAfterDrain = false;
  constructor(readonly topic: string, readonly partition: number) {}
}


function ignore(): void {}

/** Producer of records. Create it, `send()`, then `close()` (which flushes). */
export class Producer {
  private readonly cluster: Cluster;
  private readonly acks: Acks;
  private readonly idempotent: boolean;
  private readonly lingerMs: number;
  private readonly batchBytesMax: number;
  private readonly bufferBytesMax: number;
  private readonly compression: CompressionMode;
  private readonly deliveryTimeoutMs: number;
  private readonly inFlightRequestsPerBroker: number;
  private readonly inFlightBatchesPerPartition: number;
  private readonly partitioner: Partitioner | undefined;

  private readonly partitions = new Map<string, PartitionState>();
  private readonly sticky = new Map<string, number>();
  private readonly brokerInFlight = new Map<number, number>();
  /** Unsettled records per flush epoch (epochs in increasing insertion order). */
  private readonly unsettledByEpoch = new Map<number, number>();
  private flushEpoch = 0;
  private flushWaiters: { epoch: number; resolve: () => void }[] = [];
  private admission: Promise<void> = Promise.resolve();
  /** Records waiting in the admission chain; while > 0 new records queue behind them. */
  private admissionQueued = 0;
  private spaceWaiters: (() => void)[] = [];
  private bufferedBytes = 0;
  private flushing = 0;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private drainScheduled = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAtMs = Infinity;
  private producerId = -1;
  private producerEpoch = -1;
  private producerIdPending = false;
  private producerIdAttempts = 0;
  private resetSequences = false;
  private refreshPending = false;
  private refreshAttempts = 0;
  private readonly counters = { produceRequests: 0, batchesSent: 0, batchRetries: 0, recordsAcked: 0, recordsFailed: 0 };

  constructor(options: ProducerOptions) {
    this.cluster = new Cluster(options);
    const acks = options.acks ?? 'all';
    if (acks !== 'all' && acks !== 'leader' && acks !== 'none') throw new InvalidConfigError(`acks must be all, leader or none, got ${String(acks)}`);
    if (options.idempotent === true && acks !== 'all') throw new InvalidConfigError('idempotence needs acks "all"; set idempotent: false for acks leader/none');
    this.acks = acks === 'all' ? Acks.ALL : acks === 'leader' ? Acks.LEADER : Acks.NONE;
    this.idempotent = options.idempotent ?? acks === 'all';
    this.lingerMs = nonNegative(options.lingerMs, lingerMsDefault, 'lingerMs');
    this.batchBytesMax = nonNegative(options.batchBytesMax, batchBytesMaxDefault, 'batchBytesMax');
    if (this.batchBytesMax < 1 || this.batchBytesMax > batchBytesMaxLimit) throw new InvalidConfigError(`batchBytesMax must be in [1, ${batchBytesMaxLimit}]`);
    this.bufferBytesMax = nonNegative(options.bufferBytesMax, Math.max(bufferBytesMaxDefault, this.batchBytesMax), 'bufferBytesMax');
    if (this.bufferBytesMax < this.batchBytesMax) throw new InvalidConfigError('bufferBytesMax must be >= batchBytesMax');
    this.compression = options.compression ?? 'none';
    if (this.compression !== 'none' && this.compression !== 'gzip') throw new InvalidConfigError('compression must be none or gzip');
    this.deliveryTimeoutMs = nonNegative(options.deliveryTimeoutMs, deliveryTimeoutMsDefault, 'deliveryTimeoutMs');
    this.inFlightRequestsPerBroker = nonNegative(options.inFlightRequestsPerBroker, inFlightRequestsPerBrokerDefault, 'inFlightRequestsPerBroker');
    if (this.inFlightRequestsPerBroker < 1 || this.inFlightRequestsPerBroker > inFlightRequestsPerBrokerLimit) {
      throw new InvalidConfigError(`inFlightRequestsPerBroker must be in [1, ${inFlightRequestsPerBrokerLimit}]`);
    }
    this.inFlightBatchesPerPartition = nonNegative(options.inFlightBatchesPerPartition, inFlightBatchesPerPartitionMax, 'inFlightBatchesPerPartition');
    if (this.inFlightBatchesPerPartition < 1 || this.inFlightBatchesPerPartition > inFlightBatchesPerPartitionMax) {
      throw new InvalidConfigError(`inFlightBatchesPerPartition must be in [1, ${inFlightBatchesPerPartitionMax}]`);
    }
    this.partitioner = options.partitioner;
  }

  /** Counters: requests, batches, retries, acknowledged and failed records, buffered bytes. */
  stats(): ProducerStats {
    return { ...this.counters, bufferedBytes: this.bufferedBytes };
  }

  /** The producer id and epoch in use (-1 before the first send, or without idempotence). */
  producerIdentity(): { producerId: number; producerEpoch: number } {
    return { producerId: this.producerId, producerEpoch: this.producerEpoch };
  }

  /**
   * Sends one record. Resolves with its partition and offset once acknowledged (per `acks`), or
   * rejects with a typed StreamBusError. Waits (backpressure) while the buffer is full. The
   * returned promise never causes an unhandled rejection, even if the caller drops it.
   */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    const delivery = this.enqueue(record);
    delivery.catch(ignore);
    return delivery;
  }

  /** Sends many records; resolves when all are acknowledged, rejects with the first failure. */
  sendBatch(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    const all = Promise.all(records.map((r) => this.send(r)));
    all.catch(ignore);
    return all;
  }

  /**
   * Sends everything buffered now (without waiting for `lingerMs`) and resolves when every
   * record sent before the call has settled (acknowledged or failed). Never rejects.
   */
  async flush(): Promise<void> {
    const epoch = this.flushEpoch++;
    const admitted = this.admission;
    this.flushing++;
    try {
      await admitted;
      for (const state of this.partitions.values()) this.closeOpenBatch(state);
      this.scheduleDrain();
      if (!this.settledThrough(epoch)) await new Promise<void>((resolve) => this.flushWaiters.push({ epoch, resolve }));
    } finally {
      this.flushing--;
    }
  }

  /**
   * Stops accepting records, flushes, and closes the connections. Records not settled within
   * `timeoutMs` (default: deliveryTimeoutMs) fail with ClientClosedError. Never rejects.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closePromise ??= this.doClose(options.timeoutMs ?? this.deliveryTimeoutMs);
    return this.closePromise;
  }

  private async doClose(timeoutMs: number): Promise<void> {
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.flush(), timedOut]);
    clearTimeout(timer);
    this.closed = true;
    const closed = new ClientClosedError('the producer was closed before the record was acknowledged');
    for (const state of this.partitions.values()) {
      clearTimeout(state.lingerTimer);
      for (const batch of [...state.queue, ...state.inFlight]) this.failBatch(batch, closed);
      if (state.open !== undefined) this.failBatch(state.open, closed);
      state.open = undefined;
      state.queue.length = 0;
      state.inFlight.length = 0;
    }
    clearTimeout(this.wakeTimer);
    for (const wake of this.spaceWaiters.splice(0)) wake();
    this.cluster.close();
  }

  // ------------------------------------------------------------------------------------------
  // Admission: partitioning, backpressure, batching

  private enqueue(record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closing) return Promise.reject(new ClientClosedError('the producer is closed; create a new one'));
    let prepared: PreparedRecord;
    try {
      prepared = this.prepare(record);
    } catch (error) {
      return Promise.reject(error instanceof StreamBusError ? error : new InvalidRequestError(`invalid record: ${error instanceof Error ? error.message : String(error)}`));
    }
    const startedAtMs = Date.now();
    const epoch = this.flushEpoch;
    this.unsettledByEpoch.set(epoch, (this.unsettledByEpoch.get(epoch) ?? 0) + 1);
    let resolveDelivery!: (metadata: RecordMetadata) => void;
    let rejectDelivery!: (error: StreamBusError) => void;
    const delivery = new Promise<RecordMetadata>((resolve, reject) => {
      resolveDelivery = resolve;
      rejectDelivery = reject;
    });
    const pending = { resolve: resolveDelivery, reject: rejectDelivery, epoch };
    // Fast path: nothing queued ahead, metadata cached, buffer room: admit synchronously.
    if (this.admissionQueued === 0 && this.tryAdmitNow(record, prepared, startedAtMs, pending)) return delivery;
    // Slow path: one chain, so that records keep their order per partition even when some wait
    // for metadata or buffer space.
    this.admissionQueued++;
    this.admission = this.admission.then(() =>
      this.admit(record, prepared, startedAtMs, pending)
        .catch((error: unknown) => this.rejectUnadmitted(pending, asStreamBusError(error)))
        .finally(() => {
          this.admissionQueued--;
        }),
    );
    return delivery;
  }

  /** Admits at once when possible; false when the record must wait (metadata, buffer space). */
  private tryAdmitNow(record: ProducerRecord, prepared: PreparedRecord, startedAtMs: number, pending: Pick<PendingRecord, 'resolve' | 'reject' | 'epoch'>): boolean {
    const cached = this.cluster.cachedTopic(record.topic);
    if (cached === undefined || this.closed || this.bufferedBytes + prepared.sizeBytes > this.bufferBytesMax) return false;
    if (this.cluster.isStale(record.topic)) this.refreshMetadata(record.topic);
    try {
      this.append(record.topic, this.choosePartition(record, prepared.key, cached.partitions.length), prepared, startedAtMs, pending);
    } catch (error) {
      this.rejectUnadmitted(pending, asStreamBusError(error));
    }
    return true;
  }

  private rejectUnadmitted(pending: Pick<PendingRecord, 'reject' | 'epoch'>, error: StreamBusError): void {
    pending.reject(error);
    this.counters.recordsFailed++;
    this.recordSettled(pending.epoch);
  }

  private recordSettled(epoch: number): void {
    const left = (this.unsettledByEpoch.get(epoch) ?? 0) - 1;
    assert(left >= 0, 'a record settles once');
    if (left > 0) {
      this.unsettledByEpoch.set(epoch, left);
      return;
    }
    this.unsettledByEpoch.delete(epoch);
    if (this.flushWaiters.length === 0) return;
    const waiting: { epoch: number; resolve: () => void }[] = [];
    for (const waiter of this.flushWaiters) {
      if (this.settledThrough(waiter.epoch)) waiter.resolve();
      else waiting.push(waiter);
    }
    this.flushWaiters = waiting;
  }

  /** True when every record sent in epochs <= `epoch` has settled. */
  private settledThrough(epoch: number): boolean {
    for (const pendingEpoch of this.unsettledByEpoch.keys()) return pendingEpoch > epoch;
    return true;
  }

  private prepare(record: ProducerRecord): PreparedRecord {
    if (typeof record.topic !== 'string' || record.topic === '') throw new InvalidRequestError('record.topic must be a non-empty string');
    const key = toBytesOrNull(record.key);
    const value = toBytesOrNull(record.value);
    const headers = toHeaders(record.headers);
    const timestamp = record.timestamp ?? Date.now();
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new InvalidRequestError(`record.timestamp must be ms since the epoch, got ${timestamp}`);
    let sizeBytes = recordOverheadBytes + (key?.byteLength ?? 0) + (value?.byteLength ?? 0);
    for (const h of headers) sizeBytes += Buffer.byteLength(h.key) + (h.value?.byteLength ?? 0) + 10;
    if (sizeBytes > this.batchBytesMax) {
      throw new RequestTooLargeError(`record of ${sizeBytes} bytes exceeds batchBytesMax ${this.batchBytesMax}; send smaller records or raise batchBytesMax`);
    }
    return { input: { key, value, headers, timestamp }, sizeBytes, key, timestamp };
  }

  private async admit(record: ProducerRecord, prepared: PreparedRecord, startedAtMs: number, pending: Pick<PendingRecord, 'resolve' | 'reject' | 'epoch'>): Promise<void> {
    if (this.closed) throw new ClientClosedError('the producer is closed');
    const cached = this.cluster.cachedTopic(record.topic);
    if (cached !== undefined && this.cluster.isStale(record.topic)) this.refreshMetadata(record.topic);
    const partitionCount = cached !== undefined ? cached.partitions.length : await this.partitionCountWithin(record.topic, startedAtMs);
    const partition = this.choosePartition(record, prepared.key, partitionCount);
    while (this.bufferedBytes + prepared.sizeBytes > this.bufferBytesMax) {
      const remainingMs = startedAtMs + this.deliveryTimeoutMs - Date.now();
      if (remainingMs <= 0) throw new DeliveryTimeoutError(`no buffer space within deliveryTimeoutMs ${this.deliveryTimeoutMs}; the brokers are slower than the producer`);
      if (this.closed) throw new ClientClosedError('the producer is closed');
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, remainingMs);
        this.spaceWaiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
    if (this.closed) throw new ClientClosedError('the producer is closed');
    this.append(record.topic, partition, prepared, startedAtMs, pending);
  }

  /**
   * The topic's partition count. While no broker answers (a whole-cluster outage, a restart)
   * it keeps asking, with backoff, until the record's delivery timeout: the record waits like
   * one already in a batch would, instead of failing after a few attempts.
   */
  private async partitionCountWithin(topic: string, startedAtMs: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.cluster.partitionCount(topic);
      } catch (error) {
        const typed = asStreamBusError(error);
        const unreachable = typed.code === 'BROKER_NOT_AVAILABLE' || typed.code === 'REQUEST_TIMED_OUT';
        const remainingMs = startedAtMs + this.deliveryTimeoutMs - Date.now();
        if (!unreachable || this.closed) throw typed;
        if (remainingMs <= 0) throw new DeliveryTimeoutError(`no metadata for topic "${topic}" within deliveryTimeoutMs ${this.deliveryTimeoutMs}; last error: ${typed.message}`, { cause: typed });
        await this.cluster.sleep(Math.min(remainingMs, this.cluster.backoffMs(attempt)));
      }
    }
  }

  /** Adds an admitted record to its partition's open batch (closing it when full). */
  private append(topic: string, partition: number, prepared: PreparedRecord, startedAtMs: number, pending: Pick<PendingRecord, 'resolve' | 'reject' | 'epoch'>): void {
    const state = this.partitionState(topic, partition);
    if (state.open !== undefined && (state.open.sizeBytes + prepared.sizeBytes > this.batchBytesMax || state.open.records.length >= recordsPerBatchMax)) {
      this.closeOpenBatch(state);
    }
    if (state.open === undefined) {
      state.open = new ProducerBatch(startedAtMs);
      if (this.lingerMs > 0) {
        state.lingerTimer = setTimeout(() => {
          state.lingerTimer = undefined;
          this.closeOpenBatch(state);
          this.scheduleDrain();
        }, this.lingerMs);
      }
    }
    const batch = state.open;
    batch.records.push({ input: prepared.input, timestamp: prepared.timestamp, sizeBytes: prepared.sizeBytes, epoch: pending.epoch, resolve: pending.resolve, reject: pending.reject });
    batch.sizeBytes += prepared.sizeBytes;
    this.bufferedBytes += prepared.sizeBytes;
    if (this.lingerMs === 0 || batch.sizeBytes >= this.batchBytesMax) this.closeOpenBatch(state);
    this.scheduleDrain();
  }

  private choosePartition(record: ProducerRecord, key: Uint8Array | null, partitionCount: number): number {
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= partitionCount) {
        throw errorFromCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${record.partition} of topic "${record.topic}" does not exist (it has ${partitionCount})`);
      }
      return record.partition;
    }
    const custom = this.partitioner?.(record.topic, key, partitionCount);
    if (custom !== undefined) {
      if (!Number.isInteger(custom) || custom < 0 || custom >= partitionCount) throw new InvalidConfigError(`the partitioner returned ${custom} for ${partitionCount} partitions`);
      return custom;
    }
    if (key !== null) return partitionForKey(key, partitionCount);
    let sticky = this.sticky.get(record.topic);
    if (sticky === undefined || sticky >= partitionCount) {
      sticky = Math.floor(this.cluster.options.random() * partitionCount);
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

  private closeOpenBatch(state: PartitionState): void {
    clearTimeout(state.lingerTimer);
    state.lingerTimer = undefined;
    const batch = state.open;
    if (batch === undefined) return;
    state.open = undefined;
    state.queue.push(batch);
    // Sticky partitioning: once a batch of the sticky partition is sent, move to another one.
    if (this.sticky.get(state.topic) === state.partition) {
      const count = this.cluster.cachedTopic(state.topic)?.partitions.length ?? 1;
      if (count > 1) {
        const next = Math.floor(this.cluster.options.random() * (count - 1));
        this.sticky.set(state.topic, next >= state.partition ? next + 1 : next);
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private wakeAt(atMs: number): void {
    if (atMs >= this.wakeAtMs) return;
    clearTimeout(this.wakeTimer);
    this.wakeAtMs = atMs;
    this.wakeTimer = setTimeout(() => {
      this.wakeAtMs = Infinity;
      this.wakeTimer = undefined;
      this.drain();
    }, Math.max(0, atMs - Date.now()));
  }

  private drain(): void {
    if (this.cluster.isClosed) return;
    const now = Date.now();
    this.expireQueued(now);
    if (this.idempotent && !this.ensureProducerId()) return;
    const requests = new Map<number, { state: PartitionState; batch: ProducerBatch }[]>();
    for (const state of this.partitions.values()) {
      const batch = state.queue[0];
      if (batch === undefined) continue;
      if (state.inFlight.length >= this.inFlightBatchesPerPartition) continue;
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
      if (list.length === 0 && (this.brokerInFlight.get(target) ?? 0) >= this.inFlightRequestsPerBroker) continue;
      list.push({ state, batch });
      requests.set(target, list);
    }
    let sent = false;
    for (const [brokerId, entries] of requests) {
      const ready: { state: PartitionState; batch: ProducerBatch }[] = [];
      for (const entry of entries) {
        if (this.prepareForSend(entry.state, entry.batch)) ready.push(entry);
      }
      if (ready.length === 0) continue;
      this.sendRequest(brokerId, ready);
      sent = true;
    }
    if (sent) this.scheduleDrain();
  }

  /** Fails queued batches whose delivery timeout passed. */
  private expireQueued(now: number): void {
    for (const state of this.partitions.values()) {
      while (state.queue.length > 0) {
        const batch = state.queue[0] as ProducerBatch;
        if (now - batch.createdAtMs < this.deliveryTimeoutMs) break;
        state.queue.shift();
        const cause = batch.lastError;
        const error = new DeliveryTimeoutError(
          `no acknowledgement for ${state.topic}/${state.partition} within deliveryTimeoutMs ${this.deliveryTimeoutMs}${cause !== undefined ? `; last error: ${cause.message}` : ''}`,
          { cause },
        );
        this.failBatch(batch, error);
        // A batch that was sent may or may not be written: later sequences cannot follow it.
        if (this.idempotent && batch.baseSequence >= 0) this.requestSequenceReset();
      }
    }
  }

  /** True when a producer id is ready; else starts InitProducerId and returns false. */
  private ensureProducerId(): boolean {
    if (this.producerId >= 0 && !this.resetSequences) return true;
    if (this.resetSequences && this.producerId >= 0) {
      for (const state of this.partitions.values()) if (state.inFlight.length > 0) return false;
    }
    if (this.producerIdPending) return false;
    this.producerIdPending = true;
    const request = { transactionalId: '', producerId: this.producerId, producerEpoch: this.producerEpoch };
    this.cluster
      .callWithRetries('any', 'InitProducerId', request)
      .then(
        (response) => {
          Cluster.throwIfError(response.errorCode, 'InitProducerId failed');
          this.adoptProducerId(response.producerId, response.producerEpoch);
          this.producerIdAttempts = 0;
        },
        (error: unknown) => {
          for (const state of this.partitions.values()) {
            const head = state.queue[0];
            if (head !== undefined) head.lastError = asStreamBusError(error);
          }
          this.producerIdAttempts++;
        },
      )
      .catch((error: unknown) => {
        this.producerIdAttempts++;
        for (const state of this.partitions.values()) {
          const head = state.queue[0];
          if (head !== undefined) head.lastError = asStreamBusError(error);
        }
      })
      .finally(() => {
        this.producerIdPending = false;
        if (this.producerId >= 0 && !this.resetSequences) this.scheduleDrain();
        else this.wakeAt(Date.now() + this.cluster.backoffMs(this.producerIdAttempts));
      });
    return false;
  }

  private adoptProducerId(producerId: number, producerEpoch: number): void {
    const reset = this.resetSequences;
    this.producerId = producerId;
    this.producerEpoch = producerEpoch;
    this.resetSequences = false;
    if (!reset) return;
    for (const state of this.partitions.values()) {
      state.nextSequence = 0;
      state.resendAfterDrain = false;
      // Batches sent under the old identity may have been written: resending them under the new
      // one could duplicate them, so they fail; never-sent batches go out with new sequences.
      const keep: ProducerBatch[] = [];
      for (const batch of state.queue) {
        if (batch.baseSequence < 0) {
          keep.push(batch);
          continue;
        }
        const cause = batch.lastError;
        this.failBatch(batch, new OutOfOrderSequenceError(`${state.topic}/${state.partition}: the producer was reset after a failed batch; this record may or may not have been written${cause !== undefined ? ` (last error: ${cause.message})` : ''}`, { cause }));
      }
      state.queue.length = 0;
      state.queue.push(...keep);
    }
  }

  private requestSequenceReset(): void {
    this.resetSequences = true;
  }

  /** Assigns the sequence and encodes the batch on its first send. False if it failed. */
  private prepareForSend(state: PartitionState, batch: ProducerBatch): boolean {
    if (batch.encoded !== undefined) return true;
    if (this.idempotent) {
      batch.producerId = this.producerId;
      batch.producerEpoch = this.producerEpoch;
      batch.baseSequence = state.nextSequence;
    }
    try {
      batch.encoded = encodeRecordBatch(
        {
          producerId: batch.producerId,
          producerEpoch: batch.producerEpoch,
          baseSequence: batch.baseSequence,
          records: batch.records.map((r) => r.input),
        },
        { compression: this.compression },
      );
    } catch (error) {
      state.queue.shift();
      batch.baseSequence = -1;
      const message = error instanceof Error ? error.message : String(error);
      const typed = error instanceof RecordBatchError && error.code === 'TOO_LARGE' ? new RequestTooLargeError(message) : new InvalidRequestError(message);
      this.failBatch(batch, typed);
      return false;
    }
    if (this.idempotent) state.nextSequence = (state.nextSequence + batch.records.length) % sequenceModulus;
    return true;
  }

  private sendRequest(brokerId: number, entries: { state: PartitionState; batch: ProducerBatch }[]): void {
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
      acks: this.acks,
      timeoutMs: this.cluster.options.requestTimeoutMs,
      transactionalId: '',
      partitions: entries.map(({ state, batch }) => ({ topic: state.topic, partition: state.partition, records: batch.encoded as Buffer })),
    };
    // The broker answers REQUEST_TIMED_OUT after timeoutMs; the gRPC deadline leaves it room to.
    this.cluster.call(brokerId, 'Produce', request, produceDeadlineMarginMs).then(
      (response) => {
        this.requestDone(brokerId);
        const results = new Map<string, PartitionProduceResult>();
        for (const result of response.partitions) results.set(tpKey(result.topic, result.partition), result);
        for (const { state, batch } of entries) {
          const result = results.get(tpKey(state.topic, state.partition));
          if (result === undefined) {
            if (this.acks === Acks.NONE) this.completeBatch(state, batch, -1);
            else this.batchFailed(state, batch, errorFromCode(ErrorCode.INTERNAL, `broker ${brokerId} sent no result for ${state.topic}/${state.partition}`));
            continue;
          }
          if (result.errorCode === ErrorCode.NONE || result.errorCode === ErrorCode.DUPLICATE_SEQUENCE) {
            this.completeBatch(state, batch, result.baseOffset);
          } else {
            if (result.errorCode === ErrorCode.NOT_LEADER && !this.cluster.applyLeaderHint(state.topic, state.partition, result.leaderId, result.leaderEpoch)) {
              // No usable hint: wait for the metadata refresh instead of asking the old leader again.
              this.cluster.forgetLeader(state.topic, state.partition);
            }
            this.batchFailed(state, batch, errorFromCode(result.errorCode, `${state.topic}/${state.partition}: ${result.errorMessage}`, result.leaderId));
          }
        }
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
      record.resolve({ topic: state.topic, partition: state.partition, offset: baseOffset < 0 ? -1 : baseOffset + i, timestamp: record.timestamp });
      this.recordSettled(record.epoch);
    });
    this.counters.recordsAcked += batch.records.length;
    this.release(batch);
  }

  private batchFailed(state: PartitionState, batch: ProducerBatch, error: StreamBusError): void {
    if (!state.inFlight.includes(batch)) return; // already failed by close()
    this.removeInFlight(state, batch);
    batch.lastError = error;
    if (error.code === 'NOT_LEADER' || error.code === 'UNKNOWN_TOPIC_OR_PARTITION' || error.code === 'BROKER_NOT_AVAILABLE' || error.code === 'REQUEST_TIMED_OUT') {
      this.refreshMetadata(state.topic, error.code !== 'NOT_LEADER');
    }
    // A batch behind a failed one gets OUT_OF_ORDER_SEQUENCE: it is retriable as long as an
    // earlier batch of the partition is still to be resent or settled.
    const behindFailure =
      error.code === 'OUT_OF_ORDER_SEQUENCE' &&
      [...state.queue, ...state.inFlight].some((other) => other.baseSequence >= 0 && other.baseSequence < batch.baseSequence);
    const retriable = error.retriable || behindFailure;
    const expired = Date.now() - batch.createdAtMs >= this.deliveryTimeoutMs;
    if (retriable && !expired && !this.cluster.isClosed) {
      batch.retryAtMs = Date.now() + this.cluster.backoffMs(batch.attempts - 1);
      const at = state.queue.findIndex((q) => q.baseSequence < 0 || q.baseSequence > batch.baseSequence);
      state.queue.splice(at < 0 ? state.queue.length : at, 0, batch);
      if (state.inFlight.length > 0) state.resendAfterDrain = true;
      return;
    }
    const final = retriable && expired
      ? new DeliveryTimeoutError(`no acknowledgement for ${state.topic}/${state.partition} within deliveryTimeoutMs ${this.deliveryTimeoutMs}; last error: ${error.message}`, { cause: error })
      : error;
    this.failBatch(batch, final);
    if (this.idempotent && batch.baseSequence >= 0) this.requestSequenceReset();
  }

  private failBatch(batch: ProducerBatch, error: StreamBusError): void {
    for (const record of batch.records) {
      record.reject(error);
      this.recordSettled(record.epoch);
    }
    this.counters.recordsFailed += batch.records.length;
    this.release(batch);
  }

  private release(batch: ProducerBatch): void {
    this.bufferedBytes -= batch.sizeBytes;
    assert(this.bufferedBytes >= 0, 'buffered bytes never go negative');
    batch.sizeBytes = 0;
    for (const wake of this.spaceWaiters.splice(0)) wake();
  }

  private refreshMetadata(topic: string, invalidate = false): void {
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
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new InvalidConfigError(`${name} must be a non-negative number, got ${v}`);
  return v;
}

function asStreamBusError(error: unknown): StreamBusError {
  if (error instanceof StreamBusError) return error;
  return errorFromCode(ErrorCode.INTERNAL, error instanceof Error ? error.message : String(error));
}
