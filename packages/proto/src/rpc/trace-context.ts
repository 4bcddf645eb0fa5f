/**
 * How StreamBus carries OpenTelemetry context and names what it traces, for every language's
 * client and broker alike.
 *
 * Context: W3C Trace Context (`traceparent`, `tracestate`) in the gRPC metadata of unary calls,
 * from a client to a broker and from a broker to the leader it forwards a produce to (Raft
 * frames carry theirs in `RaftFrame.traceparent`). Attributes: the OpenTelemetry messaging
 * semantic conventions (`messaging.*`), with `messaging.system` "streambus"; the names are copied
 * here rather than imported from the conventions' incubating entry point, as it advises.
 */
import type * as grpc from '@grpc/grpc-js';
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** gRPC metadata keys of W3C Trace Context. */
export const traceparentMetadataKey = 'traceparent';
export const tracestateMetadataKey = 'tracestate';

/** Reads W3C Trace Context from gRPC metadata (for a propagator's `extract`). */
export const metadataTraceGetter: TextMapGetter<grpc.Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key);
    if (values.length === 0) return undefined;
    return values.length === 1 ? String(values[0]) : values.map(String);
  },
};

/** Writes W3C Trace Context into gRPC metadata (for a propagator's `inject`). */
export const metadataTraceSetter: TextMapSetter<grpc.Metadata> = {
  set: (metadata, key, value) => metadata.set(key, value),
};

/** `messaging.system` of every StreamBus span. */
export const messagingSystemName = 'streambus';

/** Attribute names of the OpenTelemetry messaging semantic conventions that StreamBus spans set. */
export const messagingAttributes = {
  system: 'messaging.system',
  destinationName: 'messaging.destination.name',
  partitionId: 'messaging.destination.partition.id',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  batchMessageCount: 'messaging.batch.message_count',
  clientId: 'messaging.client.id',
  consumerGroupName: 'messaging.consumer.group.name',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  rpcSystem: 'rpc.system',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
  errorType: 'error.type',
} as const;

/** `messaging.operation.type` values (send: a produce; receive: a fetch; process: a broker's own work). */
export type MessagingOperationType = 'send' | 'receive' | 'process' | 'settle';
