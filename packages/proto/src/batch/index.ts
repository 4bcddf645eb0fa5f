// The record batch format: the public binary protocol for records (clients build batches).
export {
  CompressionCodec,
  encodeRecordBatch,
  decodeRecordBatch,
  validateRecordBatch,
  readBatchHeader,
  verifyBatch,
  stampBaseOffset,
  isRecordBatch,
  computeBatchCrc,
  splitRecordBatches,
} from './record-batch.js';
export type {
  CompressionCodecName,
  RecordHeader,
  RecordInput,
  RecordBatchInput,
  EncodeOptions,
  RecordBatchHeader,
  DecodedRecord,
  RecordBatch,
} from './record-batch.js';
export { RecordBatchError } from './errors.js';
export type { RecordBatchErrorCode } from './errors.js';
export {
  recordBatchMagic,
  recordBatchVersion,
  batchHeaderBytes,
  batchBytesMax,
  decompressedBytesMax,
  recordsPerBatchMax,
  headersPerRecordMax,
  noProducerId,
  noProducerEpoch,
  noSequence,
} from './constants.js';
