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
  /** Cancels the call when aborted: it fails with CANCELLED at once. */
  signal?: AbortSignal;
}

/** One unary RPC of the StreamBus service. */
export type RpcMethod<M extends StreamBusMethodName> = (
  request: StreamBusMethods[M]['request'],
  options: RpcCallOptions,
) => Promise<StreamBusMethods[M]['response']>;

/**
 * How a wait for a connection ended: `ready` (connected), `failed` (the broker refused or
 * dropped the connection: nothing listens there, or it reset), `timeout` (no connection within
 * the wait: the broker is paused, overloaded or unreachable).
 */
export type ConnectOutcome = 'ready' | 'failed' | 'timeout';

/** A channel to one broker with a typed method per RPC. */
export type StreamBusRpcClient = { readonly [M in StreamBusMethodName]: RpcMethod<M> } & {
  /** The `host:port` this client talks to. */
  readonly address: string;
  /**
   * Connects if needed and waits at most `timeoutMs` for the connection (HTTP/2 settings from
   * the broker, not only TCP: a paused process accepts TCP in its kernel and answers nothing).
   * Resolves at once when already connected.
   */
  waitConnected(timeoutMs: number): Promise<ConnectOutcome>;
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
  'Metadata',
  'CreateTopics',
  'DeleteTopics',
  'ReassignPartitions',
  'ClusterStatus',
  'InitProducerId',
  'Produce',
  'Fetch',
  'ListOffsets',
  'SetBrokerDrained',
  'DescribeFeatures',
  'FinalizeFeatureLevel',
  'ExportControllerState',
  'FindCoordinator',
  'ConsumerGroupHeartbeat',
  'OffsetCommit',
  'OffsetFetch',
  'ListGroups',
  'DescribeGroups',
  'DeleteGroups',
  'Authenticate',
  'UpsertUser',
  'DeleteUser',
  'ListUsers',
  'CreateAcls',
  'DeleteAcls',
  'ListAcls',
];

type UnaryCallback = (error: grpc.ServiceError | null, response?: unknown) => void;
type UnaryInvoker = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: UnaryCallback,
) => grpc.ClientUnaryCall;

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
    waitConnected: (timeoutMs: number) => waitConnected(client.getChannel(), timeoutMs),
  };
  for (const name of methodNames) {
    const invoke = methods[name];
    if (invoke === undefined) throw new Error(`the loaded service has no method ${name}`);
    result[name] = (request: unknown, callOptions: RpcCallOptions) =>
      new Promise((resolve, reject) => {
        const signal = callOptions.signal;
        const cancel = (): void => call.cancel();
        const call = invoke.call(
          client,
          request,
          callOptions.metadata ?? new grpc.Metadata(),
          { deadline: Date.now() + callOptions.deadlineMs },
          (error, response) => {
            signal?.removeEventListener('abort', cancel);
            if (error !== null) reject(error);
            else resolve(response);
          },
        );
        if (signal === undefined) return;
        if (signal.aborted) cancel();
        else signal.addEventListener('abort', cancel, { once: true });
      });
  }
  return result as StreamBusRpcClient;
}

function waitConnected(channel: ReturnType<grpc.Client['getChannel']>, timeoutMs: number): Promise<ConnectOutcome> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve('ready');
      // TRANSIENT_FAILURE stays until a reconnect succeeds (grpc's "sticky" failure state).
      if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN)
        return resolve('failed');
      if (Date.now() >= deadline) return resolve('timeout');
      channel.watchConnectivityState(state, deadline, (error) => (error === undefined ? check() : resolve('timeout')));
    };
    check();
  });
}
