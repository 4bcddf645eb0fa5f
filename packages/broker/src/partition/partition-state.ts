/**
 * The small state of one partition that the log alone does not give cheaply: the next offset and,
 * per idempotent producer, its epoch and the last few batches (sequence range → offsets). Every
 * replica derives it by applying committed batches in log order, so it survives leader changes;
 * it is snapshotted before retention deletes a prefix of the log, so it survives that too.
 */
import { noProducerId } from '@streambus/proto';
import type { RecordBatchHeader } from '@streambus/proto';
import { assert } from '@streambus/raft';
import {
  partitionStateMagic,
  partitionStateVersion,
  producerWindowBatches,
  producersPerPartitionMax,
} from './constants.js';

/** One batch a producer wrote: its sequence range and where it landed. */
export interface ProducerBatch {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most `producerWindowBatches`. */
  batches: ProducerBatch[];
}

/** What a batch from an idempotent producer is, given the producer's state. */
export type SequenceCheck =
  | { readonly kind: 'new' }
  | { readonly kind: 'duplicate'; readonly batch: ProducerBatch }
  /** Appended before the remembered window (Kafka's DUPLICATE_SEQUENCE_NUMBER): its offsets are no longer known. */
  | { readonly kind: 'duplicate-forgotten'; readonly oldestSequence: number }
  | { readonly kind: 'out-of-order'; readonly expected: number }
  | { readonly kind: 'fenced'; readonly currentEpoch: number };

const sequenceMax = 0x7fff_ffff;

export function nextSequence(sequence: number, recordCount: number): number {
  return (sequence + recordCount) % (sequenceMax + 1);
}

/** True when `sequence` is before `other` within half the 31-bit sequence space (wrapping). */
function isBefore(sequence: number, other: number): boolean {
  const distance = (other - sequence + sequenceMax + 1) % (sequenceMax + 1);
  return distance > 0 && distance < (sequenceMax + 1) / 2;
}

export class PartitionState {
  constructor(
    /** The offset the next batch will get. */
    public nextOffset = 0,
    readonly producers = new Map<number, ProducerEntry>(),
  ) {}

  clone(): PartitionState {
    const producers = new Map<number, ProducerEntry>();
    for (const [id, entry] of this.producers) producers.set(id, { epoch: entry.epoch, batches: [...entry.batches] });
    return new PartitionState(this.nextOffset, producers);
  }

  /** Classifies a batch of an idempotent producer; non-idempotent batches are always new. */
  check(header: RecordBatchHeader): SequenceCheck {
    if (header.producerId === noProducerId) return { kind: 'new' };
    const entry = this.producers.get(header.producerId);
    // A producer (or a new epoch of it) starts at sequence 0: accepting a later batch first would
    // let its retried first batch land after it, out of the producer's order.
    if (entry === undefined || header.producerEpoch > entry.epoch) {
      return header.baseSequence === 0 ? { kind: 'new' } : { kind: 'out-of-order', expected: 0 };
    }
    if (header.producerEpoch < entry.epoch) return { kind: 'fenced', currentEpoch: entry.epoch };
    const lastSequence = nextSequence(header.baseSequence, header.recordCount - 1);
    for (const batch of entry.batches) {
      if (batch.firstSequence === header.baseSequence && batch.lastSequence === lastSequence)
        return { kind: 'duplicate', batch };
    }
    const last = entry.batches[entry.batches.length - 1];
    if (last === undefined) return { kind: 'new' };
    const expected = nextSequence(last.lastSequence, 1);
    if (header.baseSequence === expected) return { kind: 'new' };
    // A full window means this epoch wrote batches before it that were forgotten: a batch ending
    // before the oldest remembered one was one of them (a retry that came very late).
    const oldest = entry.batches[0] as ProducerBatch;
    if (entry.batches.length >= producerWindowBatches && isBefore(lastSequence, oldest.firstSequence)) {
      return { kind: 'duplicate-forgotten', oldestSequence: oldest.firstSequence };
    }
    return { kind: 'out-of-order', expected };
  }

  /**
   * Records a batch at `this.nextOffset` and advances it. The header's base offset must be the
   * next offset: offsets are gap-free along the log.
   */
  append(header: RecordBatchHeader): void {
    assert(header.baseOffset === this.nextOffset, 'a batch starts at the partition next offset');
    this.nextOffset = header.lastOffset + 1;
    if (header.producerId === noProducerId) return;
    let entry = this.producers.get(header.producerId);
    if (entry === undefined || header.producerEpoch > entry.epoch) {
      entry = { epoch: header.producerEpoch, batches: [] };
    }
    // Re-insert to keep the map in least-recently-used order.
    this.producers.delete(header.producerId);
    this.producers.set(header.producerId, entry);
    entry.batches.push({
      firstSequence: header.baseSequence,
      lastSequence: nextSequence(header.baseSequence, header.recordCount - 1),
      baseOffset: header.baseOffset,
      lastOffset: header.lastOffset,
    });
    if (entry.batches.length > producerWindowBatches) entry.batches.shift();
    if (this.producers.size > producersPerPartitionMax) {
      const oldest = this.producers.keys().next();
      if (oldest.done !== true) this.producers.delete(oldest.value);
    }
  }

  /** Versioned binary form, for the snapshot that retention writes. */
  encode(): Uint8Array {
    let size = 1 + 1 + 8 + 4;
    for (const entry of this.producers.values()) size += 8 + 4 + 1 + entry.batches.length * 24;
    const out = Buffer.alloc(size);
    let at = 0;
    out.writeUInt8(partitionStateMagic, at++);
    out.writeUInt8(partitionStateVersion, at++);
    out.writeDoubleBE(this.nextOffset, at);
    at += 8;
    out.writeUInt32BE(this.producers.size, at);
    at += 4;
    for (const [id, entry] of this.producers) {
      out.writeDoubleBE(id, at);
      at += 8;
      out.writeInt32BE(entry.epoch, at);
      at += 4;
      out.writeUInt8(entry.batches.length, at++);
      for (const batch of entry.batches) {
        out.writeInt32BE(batch.firstSequence, at);
        out.writeInt32BE(batch.lastSequence, at + 4);
        out.writeDoubleBE(batch.baseOffset, at + 8);
        out.writeDoubleBE(batch.lastOffset, at + 16);
        at += 24;
      }
    }
    assert(at === size, 'partition state encodes to its computed size');
    return out;
  }

  static decode(bytes: Uint8Array): PartitionState {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fail = (what: string): never => {
      throw new PartitionStateError(what);
    };
    if (buffer.length < 14) fail('truncated header');
    if (buffer.readUInt8(0) !== partitionStateMagic) fail('bad magic');
    if (buffer.readUInt8(1) !== partitionStateVersion) fail(`unsupported version ${buffer.readUInt8(1)}`);
    const state = new PartitionState(buffer.readDoubleBE(2));
    const count = buffer.readUInt32BE(10);
    let at = 14;
    for (let i = 0; i < count; i++) {
      if (at + 13 > buffer.length) fail('truncated producer');
      const id = buffer.readDoubleBE(at);
      const epoch = buffer.readInt32BE(at + 8);
      const batchCount = buffer.readUInt8(at + 12);
      at += 13;
      if (at + batchCount * 24 > buffer.length) fail('truncated producer batches');
      const batches: ProducerBatch[] = [];
      for (let b = 0; b < batchCount; b++) {
        batches.push({
          firstSequence: buffer.readInt32BE(at),
          lastSequence: buffer.readInt32BE(at + 4),
          baseOffset: buffer.readDoubleBE(at + 8),
          lastOffset: buffer.readDoubleBE(at + 16),
        });
        at += 24;
      }
      state.producers.set(id, { epoch, batches });
    }
    if (at !== buffer.length) fail('trailing bytes');
    return state;
  }
}

/** A partition-state snapshot that cannot be decoded. */
export class PartitionStateError extends Error {
  readonly code = 'CORRUPT_PARTITION_STATE' as const;
  constructor(what: string) {
    super(`partition state snapshot is corrupt: ${what}`);
  }
}
