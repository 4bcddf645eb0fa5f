/**
 * The record batch: StreamBus's unit of produce, replication, storage and fetch. A batch is
 * written once by the producer, stamped with its base offset by the partition leader, carried
 * as the data of one Raft entry, stored as is, and served to consumers without re-encoding.
 *
 * Layout (big-endian), Kafka-v2-like:
 *
 *   0  magic            u8    0xB5: tells a batch from other Raft payloads
 *   1  version          u8    1
 *   2  baseOffset       u64   stamped by the leader; NOT covered by the CRC
 *  10  batchLength      u32   bytes after this field
 *  14  crc              u32   CRC32C (Castagnoli) of bytes [18, end)
 *  18  attributes       u16   bits 0-2: compression codec; other bits zero
 *  20  lastOffsetDelta  i32   recordCount - 1
 *  24  firstTimestamp   i64   ms, the first record's timestamp
 *  32  maxTimestamp     i64   ms, the largest record timestamp
 *  40  producerId       i64   -1 when the producer is not idempotent
 *  48  producerEpoch    i16   -1 when none
 *  50  baseSequence     i32   -1 when none
 *  54  recordCount      i32   >= 1
 *  58  records          (compressed as one block when the codec is not `none`)
 *
 * Record: length (varint, bytes after it), attributes (u8, 0), timestampDelta (varint, from
 * firstTimestamp), offsetDelta (varint, equal to the record's position), key (varint length,
 * -1 = null, bytes), value (same), header count (varint), then per header: key (varint length,
 * UTF-8), value (varint length, -1 = null, bytes). Varints are zigzag, as in Kafka.
 * PROTOCOL.md (package root) describes it for other languages, with test vectors.
 */
import { isUtf8 } from 'node:buffer';
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import {
  attributesKnownMask,
  batchBytesMax,
  batchHeaderBytes,
  batchLengthFieldEnd,
  codecMask,
  decompressedBytesMax,
  headerLayout as at,
  headersPerRecordMax,
  noProducerEpoch,
  noProducerId,
  noSequence,
  recordBatchMagic,
  recordBatchVersion,
  recordsPerBatchMax,
} from './constants.js';
import { RecordBatchError } from './errors.js';
import { Reader, unzigzag, varintBytes, writeVarint } from './varint.js';

/**
 * Compression codecs, numbered as in Kafka. Only `none` and `gzip` are implemented; the others
 * are reserved so that adding them (e.g. the `zstd-napi` or `lz4-napi` packages) changes no
 * stored byte.
 */
export const CompressionCodec = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
} as const;
export type CompressionCodec = (typeof CompressionCodec)[keyof typeof CompressionCodec];
export type CompressionCodecName = keyof typeof CompressionCodec;

export interface RecordHeader {
  readonly key: string;
  readonly value: Uint8Array | null;
}

/** One record to encode. `timestamp` defaults to `EncodeOptions.timestampMs`. */
export interface RecordInput {
  readonly key?: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers?: readonly RecordHeader[];
  readonly timestamp?: number;
}

export interface RecordBatchInput {
  /** Usually 0: the partition leader stamps the real one with `stampBaseOffset`. */
  readonly baseOffset?: number;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly records: readonly RecordInput[];
}

export interface EncodeOptions {
  /** Default `none`. */
  readonly compression?: CompressionCodecName;
  /** The timestamp of records that carry none. Default `Date.now()`. */
  readonly timestampMs?: number;
}

/** The fixed header of a batch, read without touching its records. */
export interface RecordBatchHeader {
  readonly version: number;
  readonly baseOffset: number;
  /** The offset of the last record: baseOffset + lastOffsetDelta. */
  readonly lastOffset: number;
  /** Bytes after the batchLength field. */
  readonly batchLength: number;
  /** Bytes of the whole batch. */
  readonly sizeBytes: number;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: CompressionCodec;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

/** A decoded record. `key`, `value` and header values are views into the batch (or its decompressed block). */
export interface DecodedRecord {
  readonly offset: number;
  readonly offsetDelta: number;
  readonly timestamp: number;
  readonly timestampDelta: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly RecordHeader[];
}

export interface RecordBatch {
  readonly header: RecordBatchHeader;
  readonly records: readonly DecodedRecord[];
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function invalid(detail: string): never {
  throw new RecordBatchError('INVALID_INPUT', detail);
}

function checkInt(value: number, min: number, max: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max)
    invalid(`${what} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

function nullableBytes(bytes: Uint8Array | null | undefined): number {
  return bytes == null ? varintBytes(-1) : varintBytes(bytes.byteLength) + bytes.byteLength;
}

interface SizedRecord {
  readonly bodyBytes: number;
  readonly headerKeys: readonly Buffer[];
}

/** Encodes a batch into one freshly allocated buffer (two with compression). */
export function encodeRecordBatch(input: RecordBatchInput, options: EncodeOptions = {}): Buffer {
  const records = input.records;
  if (records.length === 0) invalid('a batch holds at least one record');
  if (records.length > recordsPerBatchMax)
    throw new RecordBatchError('TOO_LARGE', `${records.length} records exceed ${recordsPerBatchMax}`);
  const codecName = options.compression ?? 'none';
  const codec = CompressionCodec[codecName];
  if (codec !== CompressionCodec.none && codec !== CompressionCodec.gzip) {
    throw new RecordBatchError('UNSUPPORTED_CODEC', `${codecName} is not available in this build (gzip and none are)`);
  }
  const baseOffset = checkInt(input.baseOffset ?? 0, 0, Number.MAX_SAFE_INTEGER, 'baseOffset');
  const producerId = checkInt(input.producerId ?? noProducerId, -1, Number.MAX_SAFE_INTEGER, 'producerId');
  const producerEpoch = checkInt(input.producerEpoch ?? noProducerEpoch, -1, 0x7fff, 'producerEpoch');
  const baseSequence = checkInt(input.baseSequence ?? noSequence, -1, 0x7fffffff, 'baseSequence');
  // What validateRecordBatch refuses, the encoder never writes.
  if (producerId !== noProducerId && (producerEpoch < 0 || baseSequence < 0))
    invalid(`producerId ${producerId} needs producerEpoch and baseSequence >= 0`);
  const now = options.timestampMs ?? Date.now();

  const first = records[0] as RecordInput;
  const firstTimestamp = checkInt(
    first.timestamp ?? now,
    -Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
    'timestamp',
  );
  let maxTimestamp = firstTimestamp;
  const sized: SizedRecord[] = new Array<SizedRecord>(records.length);
  let recordsBytes = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as RecordInput;
    const timestamp = checkInt(r.timestamp ?? now, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'timestamp');
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const headers = r.headers ?? [];
    if (headers.length > headersPerRecordMax)
      throw new RecordBatchError('TOO_LARGE', `${headers.length} headers exceed ${headersPerRecordMax}`);
    const headerKeys: Buffer[] = [];
    let body =
      1 + varintBytes(timestamp - firstTimestamp) + varintBytes(i) + nullableBytes(r.key) + nullableBytes(r.value);
    body += varintBytes(headers.length);
    for (const h of headers) {
      const keyBytes = Buffer.from(h.key, 'utf8');
      headerKeys.push(keyBytes);
      body += varintBytes(keyBytes.byteLength) + keyBytes.byteLength + nullableBytes(h.value);
    }
    sized[i] = { bodyBytes: body, headerKeys };
    recordsBytes += varintBytes(body) + body;
    if (recordsBytes > decompressedBytesMax)
      throw new RecordBatchError('TOO_LARGE', `records exceed ${decompressedBytesMax} bytes`);
  }

  const plain = codec === CompressionCodec.none;
  const out = Buffer.allocUnsafe(plain ? batchHeaderBytes + recordsBytes : recordsBytes);
  let pos = plain ? batchHeaderBytes : 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as RecordInput;
    const s = sized[i] as SizedRecord;
    pos = writeVarint(out, pos, s.bodyBytes);
    out[pos++] = 0;
    pos = writeVarint(out, pos, (r.timestamp ?? now) - firstTimestamp);
    pos = writeVarint(out, pos, i);
    pos = writeNullable(out, pos, r.key);
    pos = writeNullable(out, pos, r.value);
    const headers = r.headers ?? [];
    pos = writeVarint(out, pos, headers.length);
    for (let h = 0; h < headers.length; h++) {
      const keyBytes = s.headerKeys[h] as Buffer;
      pos = writeVarint(out, pos, keyBytes.byteLength);
      out.set(keyBytes, pos);
      pos += keyBytes.byteLength;
      pos = writeNullable(out, pos, (headers[h] as RecordHeader).value);
    }
  }
  let batch = out;
  if (!plain) {
    const block = gzipSync(out);
    batch = Buffer.allocUnsafe(batchHeaderBytes + block.byteLength);
    batch.set(block, batchHeaderBytes);
  }
  if (batch.byteLength > batchBytesMax)
    throw new RecordBatchError('TOO_LARGE', `${batch.byteLength} bytes exceed ${batchBytesMax}`);

  batch[at.magic] = recordBatchMagic;
  batch[at.version] = recordBatchVersion;
  writeU64(batch, at.baseOffset, baseOffset);
  batch.writeUInt32BE(batch.byteLength - batchLengthFieldEnd, at.batchLength);
  batch.writeUInt16BE(codec, at.attributes);
  batch.writeInt32BE(records.length - 1, at.lastOffsetDelta);
  batch.writeBigInt64BE(BigInt(firstTimestamp), at.firstTimestamp);
  batch.writeBigInt64BE(BigInt(maxTimestamp), at.maxTimestamp);
  batch.writeBigInt64BE(BigInt(producerId), at.producerId);
  batch.writeInt16BE(producerEpoch, at.producerEpoch);
  batch.writeInt32BE(baseSequence, at.baseSequence);
  batch.writeInt32BE(records.length, at.recordCount);
  batch.writeUInt32BE(crc32c(batch.subarray(at.crcStart)) >>> 0, at.crc);
  return batch;
}

function writeNullable(out: Buffer, pos: number, bytes: Uint8Array | null | undefined): number {
  if (bytes == null) return writeVarint(out, pos, -1);
  pos = writeVarint(out, pos, bytes.byteLength);
  out.set(bytes, pos);
  return pos + bytes.byteLength;
}

function writeU64(buf: Buffer, pos: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), pos);
  buf.writeUInt32BE(value % 0x1_0000_0000, pos + 4);
}

function readU64(buf: Buffer, pos: number, what: string): number {
  const value = buf.readUInt32BE(pos) * 0x1_0000_0000 + buf.readUInt32BE(pos + 4);
  if (!Number.isSafeInteger(value)) throw new RecordBatchError('CORRUPT_RECORD', `${what} ${value} exceeds 2^53`);
  return value;
}

function readI64(buf: Buffer, pos: number, what: string): number {
  const value = buf.readBigInt64BE(pos);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RecordBatchError('CORRUPT_RECORD', `${what} ${value} exceeds 2^53`);
  }
  return Number(value);
}

/** True when `bytes` starts like a record batch (its first byte is the magic). */
export function isRecordBatch(bytes: Uint8Array): boolean {
  return bytes.byteLength > 0 && bytes[0] === recordBatchMagic;
}

/** Checks magic, version and length: the fields outside the CRC. */
function checkFrame(buf: Buffer): void {
  if (buf.byteLength < 1) throw new RecordBatchError('TRUNCATED', 'empty input');
  if (buf[at.magic] !== recordBatchMagic)
    throw new RecordBatchError('BAD_MAGIC', `first byte is 0x${(buf[0] as number).toString(16)}, not a record batch`);
  if (buf.byteLength < 2)
    throw new RecordBatchError('TRUNCATED', `${buf.byteLength} bytes, the header needs ${batchHeaderBytes}`);
  if (buf[at.version] !== recordBatchVersion)
    throw new RecordBatchError(
      'UNSUPPORTED_VERSION',
      `version ${buf[at.version]}; this build reads version ${recordBatchVersion}`,
    );
  if (buf.byteLength < batchHeaderBytes)
    throw new RecordBatchError('TRUNCATED', `${buf.byteLength} bytes, the header needs ${batchHeaderBytes}`);
  if (buf.byteLength > batchBytesMax)
    throw new RecordBatchError('TOO_LARGE', `${buf.byteLength} bytes exceed ${batchBytesMax}`);
  const batchLength = buf.readUInt32BE(at.batchLength);
  const actual = buf.byteLength - batchLengthFieldEnd;
  if (batchLength > actual)
    throw new RecordBatchError('TRUNCATED', `batch length says ${batchLength} bytes, ${actual} present`);
  if (batchLength !== actual)
    throw new RecordBatchError('BAD_LENGTH', `batch length says ${batchLength} bytes, ${actual} present`);
}

/**
 * The header of a batch, without checking the CRC or touching the records: cheap, for indexing
 * batches whose integrity is checked elsewhere. Throws RecordBatchError on a malformed frame.
 */
export function readBatchHeader(bytes: Uint8Array): RecordBatchHeader {
  const buf = asBuffer(bytes);
  checkFrame(buf);
  const attributes = buf.readUInt16BE(at.attributes);
  if ((attributes & ~attributesKnownMask) !== 0)
    throw new RecordBatchError('CORRUPT_RECORD', `unknown attribute bits 0x${attributes.toString(16)}`);
  const codec = attributes & codecMask;
  if (codec > CompressionCodec.zstd) throw new RecordBatchError('UNSUPPORTED_CODEC', `codec ${codec} is unknown`);
  const recordCount = buf.readInt32BE(at.recordCount);
  const lastOffsetDelta = buf.readInt32BE(at.lastOffsetDelta);
  if (recordCount < 1 || recordCount > recordsPerBatchMax)
    throw new RecordBatchError('CORRUPT_RECORD', `record count ${recordCount} outside [1, ${recordsPerBatchMax}]`);
  if (lastOffsetDelta !== recordCount - 1)
    throw new RecordBatchError('CORRUPT_RECORD', `last offset delta ${lastOffsetDelta} with ${recordCount} records`);
  const baseOffset = readU64(buf, at.baseOffset, 'base offset');
  if (baseOffset + lastOffsetDelta > Number.MAX_SAFE_INTEGER)
    throw new RecordBatchError('CORRUPT_RECORD', 'last offset exceeds 2^53');
  const firstTimestamp = readI64(buf, at.firstTimestamp, 'first timestamp');
  const maxTimestamp = readI64(buf, at.maxTimestamp, 'max timestamp');
  if (maxTimestamp < firstTimestamp)
    throw new RecordBatchError(
      'CORRUPT_RECORD',
      `max timestamp ${maxTimestamp} before first timestamp ${firstTimestamp}`,
    );
  const producerId = readI64(buf, at.producerId, 'producer id');
  if (producerId < -1) throw new RecordBatchError('CORRUPT_RECORD', `producer id ${producerId}`);
  return {
    version: buf[at.version] as number,
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    batchLength: buf.readUInt32BE(at.batchLength),
    sizeBytes: buf.byteLength,
    crc: buf.readUInt32BE(at.crc),
    attributes,
    compression: codec as CompressionCodec,
    lastOffsetDelta,
    firstTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch: buf.readInt16BE(at.producerEpoch),
    baseSequence: buf.readInt32BE(at.baseSequence),
    recordCount,
  };
}

/** The CRC32C a batch should carry (of everything after its CRC field). */
export function computeBatchCrc(bytes: Uint8Array): number {
  return crc32c(bytes.subarray(at.crcStart)) >>> 0;
}

/** Checks the frame and the CRC; returns the header. Throws RecordBatchError (BAD_CRC, ...). */
export function verifyBatch(bytes: Uint8Array): RecordBatchHeader {
  const buf = asBuffer(bytes);
  checkFrame(buf);
  const stored = buf.readUInt32BE(at.crc);
  const actual = computeBatchCrc(buf);
  if (stored !== actual)
    throw new RecordBatchError(
      'BAD_CRC',
      `stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}: the batch is corrupt`,
    );
  return readBatchHeader(buf);
}

/**
 * Writes the base offset in place. The CRC does not cover it, so a leader stamps a batch
 * without re-checksumming. The batch must be owned by the caller (not yet proposed).
 */
export function stampBaseOffset(bytes: Uint8Array, baseOffset: number): void {
  const buf = asBuffer(bytes);
  checkFrame(buf);
  checkInt(baseOffset, 0, Number.MAX_SAFE_INTEGER - (buf.readInt32BE(at.lastOffsetDelta) >>> 0), 'baseOffset');
  writeU64(buf, at.baseOffset, baseOffset);
}

/** Decodes a whole batch after verifying its CRC. Records are views, not copies. */
export function decodeRecordBatch(bytes: Uint8Array): RecordBatch {
  const buf = asBuffer(bytes);
  const header = verifyBatch(buf);
  const records: DecodedRecord[] = [];
  readBlock(buf, header, records);
  return { header, records };
}

/**
 * Checks a whole batch the way a partition leader must before it appends one (as Kafka's
 * LogValidator does): the frame, the CRC and the header fields; the producer fields of an
 * idempotent batch; then every record, in one pass that allocates nothing (a compressed batch
 * is decompressed, within `decompressedBytesMax`): its length against its bytes, every varint
 * (well-formed, in range, zigzag), offset deltas 0..count-1 in order, timestamps against the
 * header's first and max timestamps, header counts and keys (non-null, UTF-8), no bytes left
 * over. A batch it accepts, `decodeRecordBatch` decodes. Returns the header; throws
 * RecordBatchError (CORRUPT_RECORD names the record, its byte position and what is wrong).
 */
export function validateRecordBatch(bytes: Uint8Array): RecordBatchHeader {
  const buf = asBuffer(bytes);
  const header = verifyBatch(buf);
  checkProducerFields(header);
  readBlock(buf, header, null);
  return header;
}

/**
 * Producer fields the leader's sequence check relies on. Only for produced batches: stored
 * batches are read with the rules they were written under.
 */
function checkProducerFields(header: RecordBatchHeader): void {
  if (header.producerId === noProducerId) return;
  if (header.producerEpoch < 0) {
    throw new RecordBatchError(
      'CORRUPT_RECORD',
      `producer id ${header.producerId} with epoch ${header.producerEpoch}: an idempotent batch carries the epoch InitProducerId returned (0..32767)`,
    );
  }
  if (header.baseSequence < 0) {
    throw new RecordBatchError(
      'CORRUPT_RECORD',
      `producer id ${header.producerId} with base sequence ${header.baseSequence}: an idempotent batch carries a sequence in 0..2^31-1`,
    );
  }
}

/** Reads the records section of a verified batch (decompressing it first); with `out`, collects the records. */
function readBlock(buf: Buffer, header: RecordBatchHeader, out: DecodedRecord[] | null): void {
  let block: Buffer = buf;
  let start: number = batchHeaderBytes;
  if (header.compression === CompressionCodec.gzip) {
    block = gunzip(buf.subarray(batchHeaderBytes));
    start = 0;
  } else if (header.compression !== CompressionCodec.none) {
    throw new RecordBatchError(
      'UNSUPPORTED_CODEC',
      `codec ${header.compression} is not available in this build (gzip and none are)`,
    );
  }
  try {
    readRecords(block, start, header, out, true);
  } catch (error: unknown) {
    if (error instanceof RecordBatchError && readsAsUnsigned(block, start, header)) {
      throw new RecordBatchError(
        error.code,
        `${error.detail}; the records are well-formed if their varints are read as unsigned: StreamBus varints are zigzag-encoded (protobuf sint32/sint64, Kafka's varint)`,
      );
    }
    throw error;
  }
}

/** True when the records parse with plain unsigned varints: the writer forgot zigzag encoding. Failure path only. */
function readsAsUnsigned(block: Buffer, start: number, header: RecordBatchHeader): boolean {
  try {
    readRecords(block, start, header, null, false);
    return true;
  } catch {
    return false;
  }
}

function gunzip(compressed: Buffer): Buffer {
  try {
    return gunzipSync(compressed, { maxOutputLength: decompressedBytesMax });
  } catch (error: unknown) {
    throw new RecordBatchError(
      'CORRUPT_RECORD',
      `gzip block does not decompress within ${decompressedBytesMax} bytes: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * The one reader of record bytes, so that decoding and validation accept exactly the same
 * batches: reads `header.recordCount` records from `block[start..]` in one pass and checks each
 * against the header; with `out` it also collects them (views of `block`, header keys as
 * strings), without it nothing is allocated.
 */
function readRecords(
  block: Buffer,
  start: number,
  header: RecordBatchHeader,
  out: DecodedRecord[] | null,
  zigzag: boolean,
): void {
  const blockEnd = block.byteLength;
  const r = new Reader(block, start, blockEnd, zigzag);
  let maxTimestamp = -Number.MAX_SAFE_INTEGER;
  for (let i = 0; i < header.recordCount; i++) {
    r.record = i;
    r.recordStart = r.pos;
    r.end = blockEnd;
    if (r.pos >= blockEnd) r.fail(`missing: the header says ${header.recordCount} records, the batch holds ${i}`);
    const length = r.varint32('length');
    if (length < 1 || length > blockEnd - r.pos)
      r.fail(`length ${length} does not fit the ${blockEnd - r.pos} bytes left in the batch`);
    const end = r.pos + length;
    r.end = end;
    const attributes = r.u8('attributes');
    if (attributes !== 0) r.fail(`attributes 0x${attributes.toString(16)}; record attributes are 0`);
    const timestampDelta = r.varint64('timestamp delta');
    const offsetDelta = r.varint32('offset delta');
    if (offsetDelta !== i)
      r.fail(
        `offset delta ${offsetDelta}; the record at position ${i} has offset delta ${i}${zigzag && unzigzag(i) === offsetDelta ? ` (read unsigned it is ${i}: varints are zigzag-encoded)` : ''}`,
      );
    const keyLength = r.nullableLength('key');
    const keyEnd = r.pos;
    const valueLength = r.nullableLength('value');
    const valueEnd = r.pos;
    const headerCount = r.varint32('header count');
    if (headerCount < 0 || headerCount > headersPerRecordMax)
      r.fail(`header count ${headerCount} outside [0, ${headersPerRecordMax}]`);
    const headers: RecordHeader[] | null = out === null ? null : [];
    for (let h = 0; h < headerCount; h++) {
      r.header = h;
      const headerKeyLength = r.nullableLength('key');
      if (headerKeyLength === -1) r.fail('key is null; a header key is a UTF-8 string');
      const headerKeyEnd = r.pos;
      if (!isUtf8Range(block, headerKeyEnd - headerKeyLength, headerKeyEnd)) r.fail('key is not valid UTF-8');
      const headerValueLength = r.nullableLength('value');
      headers?.push({
        key: block.toString('utf8', headerKeyEnd - headerKeyLength, headerKeyEnd),
        value: headerValueLength === -1 ? null : block.subarray(r.pos - headerValueLength, r.pos),
      });
    }
    r.header = -1;
    if (r.pos !== end) r.fail(`${end - r.pos} bytes left over after its last field (its length says ${length})`);
    if (i === 0 && timestampDelta !== 0)
      r.fail(`timestamp delta ${timestampDelta}; the first record carries the batch's first timestamp (delta 0)`);
    const timestamp = header.firstTimestamp + timestampDelta;
    if (!Number.isSafeInteger(timestamp)) r.fail(`timestamp ${timestamp} exceeds 2^53`);
    if (timestamp > header.maxTimestamp)
      r.fail(`timestamp ${timestamp} is after the batch's max timestamp ${header.maxTimestamp}`);
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    out?.push({
      offset: header.baseOffset + i,
      offsetDelta,
      timestamp,
      timestampDelta,
      key: keyLength === -1 ? null : block.subarray(keyEnd - keyLength, keyEnd),
      value: valueLength === -1 ? null : block.subarray(valueEnd - valueLength, valueEnd),
      headers: headers ?? [],
    });
  }
  r.record = -1;
  if (r.pos !== blockEnd)
    r.fail(`${blockEnd - r.pos} bytes after the last record (the header says ${header.recordCount} records)`);
  if (maxTimestamp !== header.maxTimestamp)
    r.fail(`max timestamp ${header.maxTimestamp}, but the largest record timestamp is ${maxTimestamp}`);
}

/** UTF-8 validity of `buf[start, end)`; ASCII (the usual header key) is checked without a view. */
function isUtf8Range(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if ((buf[i] as number) >= 0x80) return isUtf8(buf.subarray(start, end));
  }
  return true;
}

/**
 * Splits whole batches laid end to end (as a Fetch returns them) into views of each batch, in
 * order, without copying or checking CRCs. A trailing partial batch is left out (`restBytes`
 * says how much). Throws RecordBatchError when a batch does not start with the magic byte.
 */
export function splitRecordBatches(bytes: Uint8Array): { readonly batches: Buffer[]; readonly restBytes: number } {
  const buf = asBuffer(bytes);
  const batches: Buffer[] = [];
  let pos = 0;
  while (pos + batchLengthFieldEnd <= buf.byteLength) {
    if (buf[pos + at.magic] !== recordBatchMagic)
      throw new RecordBatchError('BAD_MAGIC', `byte ${pos} does not start a record batch`);
    const size = batchLengthFieldEnd + buf.readUInt32BE(pos + at.batchLength);
    if (pos + size > buf.byteLength) break;
    batches.push(buf.subarray(pos, pos + size));
    pos += size;
  }
  return { batches, restBytes: buf.byteLength - pos };
}
