/**
 * The producer's public API. Records go through three parts, each in its own file:
 * - the accumulator (accumulator.ts) admits them, partitions them and batches them per partition
 *   (by `lingerMs` and `batchBytesMax`) within the buffer's bound;
 * - the sender (sender.ts) sends one Produce per broker carrying many partitions and retries with
 *   backoff until `deliveryTimeoutMs`;
 * - the idempotence state machine (idempotence.ts), on by default, gives each batch the producer
 *   id, epoch and a per-partition base sequence once, at its first send; a retry resends the very
 *   same bytes, so the broker drops duplicates. At most `inFlightBatchesPerPartition` (<= 5, the
 *   broker's dedupe window) batches of a partition are in flight, and after a retriable failure a
 *   partition waits for its in-flight batches to settle and resends in sequence order.
 */
import { Acks } from '@streambus/proto';
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
} from '../constants.js';
import { ClientClosedError, InvalidConfigError } from '../errors.js';
import type { ProducerRecord, RecordMetadata } from '../records.js';
import { RecordAccumulator, type Partitioner } from './accumulator.js';
import type { ProducerCounters } from './batch.js';
import { FlushTracker } from './flush-tracker.js';
import { Sender, type CompressionMode } from './sender.js';

export type { Partitioner } from './accumulator.js';
export type { CompressionMode } from './sender.js';

/** When the broker acknowledges: `all` (quorum on disk, default), `leader`, `none`. */
export type AcksMode = 'all' | 'leader' | 'none';

/** Producer options (all optional except `bootstrapServers`). */
export interface ProducerOptions extends ClientOptions {
  /** Default `all`. Idempotence needs `all`. */
  acks?: AcksMode;
  /** Exactly-once per partition across retries (default true; needs acks `all`). */
  idempotent?: boolean;
  /** Wait this long for more records before sending a partial batch (default 5). */
  lingerMs?: number;
  /** Largest batch per partition in bytes, before compression (default 256 KiB, at most 4 MiB). */
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

function ignore(): void {}

/** Producer of records. Create it, `send()`, then `close()` (which flushes). */
export class Producer {
  private readonly cluster: Cluster;
  private readonly deliveryTimeoutMs: number;
  private readonly tracker = new FlushTracker();
  private readonly counters: ProducerCounters = {
    produceRequests: 0,
    batchesSent: 0,
    batchRetries: 0,
    recordsAcked: 0,
    recordsFailed: 0,
  };
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;

  constructor(options: ProducerOptions) {
    this.cluster = new Cluster(options);
    const acks = options.acks ?? 'all';
    if (acks !== 'all' && acks !== 'leader' && acks !== 'none')
      throw new InvalidConfigError(`acks must be all, leader or none, got ${String(acks)}`);
    if (options.idempotent === true && acks !== 'all')
      throw new InvalidConfigError('idempotence needs acks "all"; set idempotent: false for acks leader/none');
    const lingerMs = nonNegative(options.lingerMs, lingerMsDefault, 'lingerMs');
    const batchBytesMax = nonNegative(options.batchBytesMax, batchBytesMaxDefault, 'batchBytesMax');
    if (batchBytesMax < 1 || batchBytesMax > batchBytesMaxLimit)
      throw new InvalidConfigError(`batchBytesMax must be in [1, ${batchBytesMaxLimit}]`);
    const bufferBytesMax = nonNegative(
      options.bufferBytesMax,
      Math.max(bufferBytesMaxDefault, batchBytesMax),
      'bufferBytesMax',
    );
    if (bufferBytesMax < batchBytesMax) throw new InvalidConfigError('bufferBytesMax must be >= batchBytesMax');
    const compression = options.compression ?? 'none';
    if (compression !== 'none' && compression !== 'gzip')
      throw new InvalidConfigError('compression must be none or gzip');
    this.deliveryTimeoutMs = nonNegative(options.deliveryTimeoutMs, deliveryTimeoutMsDefault, 'deliveryTimeoutMs');
    const inFlightRequestsPerBroker = nonNegative(
      options.inFlightRequestsPerBroker,
      inFlightRequestsPerBrokerDefault,
      'inFlightRequestsPerBroker',
    );
    if (inFlightRequestsPerBroker < 1 || inFlightRequestsPerBroker > inFlightRequestsPerBrokerLimit) {
      throw new InvalidConfigError(`inFlightRequestsPerBroker must be in [1, ${inFlightRequestsPerBrokerLimit}]`);
    }
    const inFlightBatchesPerPartition = nonNegative(
      options.inFlightBatchesPerPartition,
      inFlightBatchesPerPartitionMax,
      'inFlightBatchesPerPartition',
    );
    if (inFlightBatchesPerPartition < 1 || inFlightBatchesPerPartition > inFlightBatchesPerPartitionMax) {
      throw new InvalidConfigError(`inFlightBatchesPerPartition must be in [1, ${inFlightBatchesPerPartitionMax}]`);
    }
    this.accumulator = new RecordAccumulator(
      {
        lingerMs,
        batchBytesMax,
        bufferBytesMax,
        deliveryTimeoutMs: this.deliveryTimeoutMs,
        partitioner: options.partitioner,
      },
      {
        cluster: this.cluster,
        tracker: this.tracker,
        counters: this.counters,
        isClosed: () => this.closed,
        drainSoon: () => this.sender.scheduleDrain(),
        refreshMetadata: (topic) => this.sender.refreshMetadata(topic),
      },
    );
    this.sender = new Sender(this.cluster, this.accumulator, this.tracker, this.counters, {
      acks: acks === 'all' ? Acks.ALL : acks === 'leader' ? Acks.LEADER : Acks.NONE,
      idempotent: options.idempotent ?? acks === 'all',
      compression,
      deliveryTimeoutMs: this.deliveryTimeoutMs,
      inFlightRequestsPerBroker,
      inFlightBatchesPerPartition,
    });
  }

  /** Counters: requests, batches, retries, acknowledged and failed records, buffered bytes. */
  stats(): ProducerStats {
    return { ...this.counters, bufferedBytes: this.accumulator.bufferedBytes };
  }

  /** The producer id and epoch in use (-1 before the first send, or without idempotence). */
  producerIdentity(): { producerId: number; producerEpoch: number } {
    const identity = this.sender.idempotence;
    return { producerId: identity?.producerId ?? -1, producerEpoch: identity?.producerEpoch ?? -1 };
  }

  /**
   * Sends one record. Resolves with its partition and offset once acknowledged (per `acks`), or
   * rejects with a typed StreamBusError. Waits (backpressure) while the buffer is full. The
   * returned promise never causes an unhandled rejection, even if the caller drops it.
   */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    const delivery = this.closing
      ? Promise.reject(new ClientClosedError('the producer is closed; create a new one'))
      : this.accumulator.enqueue(record);
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
    const epoch = this.tracker.begin();
    await this.accumulator.admitted();
    this.accumulator.closeAll();
    this.sender.scheduleDrain();
    await this.tracker.wait(epoch);
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
    this.sender.failAll(new ClientClosedError('the producer was closed before the record was acknowledged'));
    this.accumulator.wakeSpaceWaiters();
    this.cluster.close();
  }
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new InvalidConfigError(`${name} must be a non-negative number, got ${v}`);
  return v;
}
