// rpc: the public client protocol (streambus.v1)
export { ErrorCode, errorCodeName, errorCodeFromName, isRetriableErrorCode } from './rpc/error-code.js';
export type { ErrorCodeName } from './rpc/error-code.js';
export {
  apiVersion,
  messageBytesMax,
  recordBatchBytesMax,
  partitionsPerRequestMax,
  topicsPerRequestMax,
  topicNameLengthMax,
  topicNamePattern,
  partitionsPerTopicMax,
  fetchMaxWaitMsMax,
  fetchBytesMax,
  fetchPartitionBytesDefault,
  fetchBytesDefault,
  requestTimeoutMsDefault,
  produceTimeoutMsMax,
  adminTimeoutMsMax,
  producerDedupeWindowBatches,
  drainWaitMsMax,
  drainPartitionsListedMax,
  offsetTimestampLatest,
  offsetTimestampEarliest,
  errorCodeMetadataKey,
  leaderIdMetadataKey,
} from './rpc/constants.js';
export {
  traceparentMetadataKey,
  tracestateMetadataKey,
  metadataTraceGetter,
  metadataTraceSetter,
  messagingSystemName,
  messagingAttributes,
} from './rpc/trace-context.js';
export type { MessagingOperationType } from './rpc/trace-context.js';
export { Acks } from './rpc/types.js';
export type {
  MetadataRequest,
  MetadataResponse,
  BrokerInfo,
  PartitionMetadata,
  TopicMetadata,
  CreatableTopic,
  CreateTopicsRequest,
  CreateTopicsResponse,
  TopicResult,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  PartitionReassignment,
  ReassignPartitionsRequest,
  PartitionReassignmentResult,
  ReassignPartitionsResponse,
  ClusterStatusRequest,
  ClusterStatusResponse,
  BrokerStatus,
  PartitionRef,
  InitProducerIdRequest,
  InitProducerIdResponse,
  PartitionProduceData,
  ProduceRequest,
  PartitionProduceResult,
  ProduceResponse,
  FetchPartition,
  FetchRequest,
  FetchPartitionResult,
  FetchResponse,
  ListOffsetsPartition,
  ListOffsetsRequest,
  ListOffsetsPartitionResult,
  ListOffsetsResponse,
  SetBrokerDrainedRequest,
  SetBrokerDrainedResponse,
  FeatureLevelInfo,
  BrokerFeatures,
  DescribeFeaturesRequest,
  DescribeFeaturesResponse,
  FinalizeFeatureLevelRequest,
  FinalizeFeatureLevelResponse,
  ExportControllerStateRequest,
  ExportControllerStateResponse,
  StreamBusMethods,
  StreamBusMethodName,
} from './rpc/types.js';
export {
  protoRootPath,
  streamBusProtoFile,
  protoLoaderOptions,
  loadStreamBusPackageDefinition,
  streamBusServiceDefinition,
} from './rpc/load.js';
export { createStreamBusRpcClient } from './rpc/client.js';
export type { ConnectOutcome, StreamBusRpcClient, RpcCallOptions, RpcClientOptions, RpcMethod } from './rpc/client.js';
export { addStreamBusService } from './rpc/server.js';
export type { StreamBusHandler, StreamBusHandlers } from './rpc/server.js';
export { makeCallError, readCallError, grpcStatusForErrorCode, errorCodeForGrpcStatus } from './rpc/call-error.js';
export type { CallErrorInfo } from './rpc/call-error.js';

// batch: the record batch format (binary, versioned, CRC32C); see batch/record-batch.ts
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
  RecordBatchError,
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
} from './batch/index.js';
export type {
  CompressionCodecName,
  RecordHeader,
  RecordInput,
  RecordBatchInput,
  EncodeOptions,
  RecordBatchHeader,
  DecodedRecord,
  RecordBatch,
  RecordBatchErrorCode,
} from './batch/index.js';

// peer: the broker-to-broker protocol (streambus.peer.v1); see peer/load.ts
export {
  peerProtocolVersion,
  peerMessageBytesMax,
  peerControllerCommandBytesMax,
  peerRaftMethodPath,
  peerProposeControllerCommandMethodPath,
  peerProtoFile,
  peerProtoTypes,
  peerServiceDefinition,
  wireNumber,
  wireBytes,
} from './peer/index.js';
export type {
  PeerProtoTypes,
  RaftStreamClosed,
  ControllerCommandRequest,
  ControllerCommandResponse,
} from './peer/index.js';
// end peer
