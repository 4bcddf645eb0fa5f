/**
 * Bounds and fixed values of the record batch format. A malformed or hostile batch can never
 * make a decoder allocate or loop beyond these.
 */

/** The first byte of every record batch: storage tells batches from other Raft payloads by it. */
export const recordBatchMagic = 0xb5;
/** The format version this codec writes and reads. */
export const recordBatchVersion = 1;

/** Byte positions of the header fields (big-endian). */
export const headerLayout = {
  magic: 0,
  version: 1,
  baseOffset: 2,
  batchLength: 10,
  crc: 14,
  /** The CRC covers [crcStart, end): everything after the CRC field. */
  crcStart: 18,
  attributes: 18,
  lastOffsetDelta: 20,
  firstTimestamp: 24,
  maxTimestamp: 32,
  producerId: 40,
  producerEpoch: 48,
  baseSequence: 50,
  recordCount: 54,
  records: 58,
} as const;

/** Bytes of the fixed header; records follow. */
export const batchHeaderBytes = headerLayout.records;
/** `batchLength` counts the bytes after its own field. */
export const batchLengthFieldEnd = headerLayout.crc;

/** Largest encoded batch (header + possibly compressed records). */
export const batchBytesMax = 32 * 1024 * 1024;
/** Largest records section once decompressed (bounds a decompression bomb). */
export const decompressedBytesMax = 64 * 1024 * 1024;
/** Records in one batch. */
export const recordsPerBatchMax = 1_000_000;
/** Headers on one record. */
export const headersPerRecordMax = 4096;
/** Bytes of one varint: 5 for 32-bit fields, 10 for 64-bit ones. */
export const varint32BytesMax = 5;
export const varint64BytesMax = 10;
/** A 32-bit field's varint, before zigzag decoding, is below 2^32 (so it decodes into int32). */
export const varint32RawLimit = 2 ** 32;

/** The low bits of `attributes` name the compression codec; the others must be zero. */
export const codecMask = 0x07;
export const attributesKnownMask = codecMask;

/** Producer fields when the producer is not idempotent. */
export const noProducerId = -1;
export const noProducerEpoch = -1;
export const noSequence = -1;

if (batchHeaderBytes + 1 > batchBytesMax) throw new Error('a batch must fit its header');
if (batchBytesMax > decompressedBytesMax) throw new Error('decompressed bound must cover an uncompressed batch');
