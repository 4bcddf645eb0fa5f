/**
 * A typed, promise-returning grpc-js client of the StreamBus service. One instance owns one
 * channel to one broker. Every call takes a deadline: there is no call without one.
 */
import * as grpc from '@grpc/grpc-js';
import { streamBusServiceDefinition } from './load.js';
import { messageBytesMax } from './constants.js';
import type { StreamBusMethodName, StreamBusMethods } from './types.js';

/** Per-call options. */
export interface RpcCallOptions {
  /** Milliseconds from now after which the call fails with DEADLINE_EXCEEDED. */
  deadlineMs: number;
  /** Extra request metadata (for example W3C `traceparent`). */
  metadata?: grpc.Metadata;
}

/** One unary RPC of the StreamBus service. */
export type RpcMethod<M extends StreamBusMethodName> = (
  request: StreamBusMethods[M]['request'],
  options: RpcCallOptions,
) => Promise<StreamBusMethods[M]['response']>;

/** A channel to one broker with a typed method per RPC. */
export type StreamBusRpcClient = { readonly [M in StreamBusMethodName]: RpcMethod<M> } & {
  /** The `host:port` this client talks to. */
  readonly address: string;
  /** Closes the channel; calls in flight fail with CANCELLED/UNAVAILABLE. */
  close(): void;
};

/** Options of a client channel. */
export interface RpcClientOptions {
  /** Channel credentials; insecure by default. */
  credentials?: grpc.ChannelCredentials;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

const methodNames: readonly StreamBusMethodName[] = [
  'Metadata', 'CreateTopics', 'DeleteTopics', 'ReassignPartitions', 'ClusterStatus', 'InitProducerId', 'Produce', 'Fetch', 'ListOffsets',
];

type UnaryCallback = (error: grpc.ServiceError | null, response?: unknown) => void;
type UnaryInvoker = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: UnaryCallback) => grpc.ClientUnaryCall;

/** Opens a channel to `address` (`host:port`). The connection is made lazily on the first call. */
export function createStreamBusRpcClient(address: string, options: RpcClientOptions = {}): StreamBusRpcClient {
  const Ctor = grpc.makeGenericClientConstructor(streamBusServiceDefinition(), 'StreamBus');
  const client = new Ctor(address, options.credentials ?? grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': messageBytesMax,
    'grpc.max_receive_message_length': messageBytesMax,
    ...options.channelOptions,
  });
  const methods = client as unknown as Record<string, UnaryInvoker>;
  const result: Record<string, unknown> = {
    address,
    close: () => client.close(),
  };
  for (const name of methodNames) {
    const invoke = methods[name];
    if (invoke === undefined) throw new Error(`the loaded service has no method ${name}`);
    result[name] = (request: unknown, callOptions: RpcCallOptions) =>
      new Promise((resolve, reject) => {
        invoke.call(
          client,
          request,
          callOptions.metadata ?? new grpc.Metadata(),
          { deadline: Date.now() + callOptions.deadlineMs },
          (error, response) => (error !== null ? reject(error) : resolve(response)),
        );
      });
  }
  return result as StreamBusRpcClient;
}
