/** The producer's data: records waiting for their result, batches, and each partition's queues. */
import type { Context } from '@opentelemetry/api';
import type { RecordInput } from '@streambus/proto';
import type { StreamBusError } from '../errors.js';
import type { RecordMetadata } from '../records.js';

/** How a record's delivery promise is settled, and the flush epoch it was sent in. */
export interface Settlement {
  readonly resolve: (metadata: RecordMetadata) => void;
  readonly reject: (error: StreamBusError) => void;
  readonly epoch: number;
  /** The OpenTelemetry context active at `send()`, when it held a span. */
  readonly trace?: Context;
}

/** A record in a batch, with the callbacks of its delivery promise. */
export interface PendingRecord extends Settlement {
  readonly input: RecordInput;
  readonly timestamp: number;
  readonly sizeBytes: number;
}

/** One record batch of one partition, from its first record to its result. */
export class ProducerBatch {
  readonly records: PendingRecord[] = [];
  sizeBytes = 0;
  /** -1 until the first send assigns it. */
  baseSequence = -1;
  producerId = -1;
  producerEpoch = -1;
  /** The bytes sent, encoded once at the first send: a retry resends the very same bytes. */
  encoded: Buffer | undefined;
  attempts = 0;
  retryAtMs = 0;
  lastError: StreamBusError | undefined;
  /** Contexts of traced records in it (the first is the send span's parent), at most traceLinksMax + 1. */
  readonly traces: Context[] = [];
  constructor(readonly createdAtMs: number) {}
}

/** One partition's batches: the one filling, those queued to send, those in flight. */
export class PartitionState {
  open: ProducerBatch | undefined;
  lingerTimer: NodeJS.Timeout | undefined;
  /** Closed batches waiting to be sent, in sequence order (resends first). */
  readonly queue: ProducerBatch[] = [];
  readonly inFlight: ProducerBatch[] = [];
  nextSequence = 0;
  /** Set after a retriable failure: send nothing until the in-flight batches have settled. */
  resendAfterDrain = false;
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/** Counters the parts of the producer share (see ProducerStats). */
export interface ProducerCounters {
  produceRequests: number;
  batchesSent: number;
  batchRetries: number;
  recordsAcked: number;
  recordsFailed: number;
}
