/** Record shapes users hand to and get from the SDK, and their conversion to bytes. */
import type { RecordHeader } from '@streambus/proto';

/** Bytes, or a string sent as UTF-8. */
export type BytesLike = Uint8Array | string;

/** A record to produce. */
export interface ProducerRecord {
  /** Topic to write to. */
  topic: string;
  /** Partition; when absent the key picks it (murmur2), or sticky partitioning for null keys. */
  partition?: number;
  /** Key; records with the same key go to the same partition. */
  key?: BytesLike | null;
  /** Value (payload); null is a tombstone. */
  value: BytesLike | null;
  /** Headers, in order. A plain object is sent in its key order. */
  headers?: Record<string, BytesLike | null> | readonly { key: string; value: BytesLike | null }[];
  /** Create time in ms since the epoch; default now. */
  timestamp?: number;
}

/** Where a produced record was written. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  /** Offset in the partition; -1 with acks `none`. */
  offset: number;
  /** The record's timestamp (create time) in ms since the epoch. */
  timestamp: number;
}

/** A topic and one of its partitions. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A record read by a consumer. Key, value and header values are Buffers (views into the fetched batch). */
export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: number;
  /** Create time (or log-append time) in ms since the epoch. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

/** Converts bytes-like input to a Uint8Array (strings as UTF-8). */
export function toBytes(value: BytesLike): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** Converts nullable bytes-like input. */
export function toBytesOrNull(value: BytesLike | null | undefined): Uint8Array | null {
  return value === null || value === undefined ? null : toBytes(value);
}

/** Converts record headers to the batch codec's shape. */
export function toHeaders(headers: ProducerRecord['headers']): RecordHeader[] {
  if (headers === undefined) return [];
  const entries: { key: string; value: BytesLike | null }[] = Array.isArray(headers)
    ? [...(headers as readonly { key: string; value: BytesLike | null }[])]
    : Object.entries(headers as Record<string, BytesLike | null>).map(([key, value]) => ({ key, value }));
  return entries.map((h) => ({ key: h.key, value: toBytesOrNull(h.value) }));
}

/** Views a Uint8Array as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Key for maps by partition. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
