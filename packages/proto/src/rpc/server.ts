/**
 * Server side of the StreamBus service for grpc-js: typed handler shapes and a helper that adds
 * them to a `grpc.Server`. Brokers (and test doubles) implement `StreamBusHandlers`.
 */
import * as grpc from '@grpc/grpc-js';
import { streamBusServiceDefinition } from './load.js';
import type { StreamBusMethodName, StreamBusMethods } from './types.js';

/** One unary handler of the service. */
export type StreamBusHandler<M extends StreamBusMethodName> = grpc.handleUnaryCall<
  StreamBusMethods[M]['request'],
  StreamBusMethods[M]['response']
>;

/** Handlers for every RPC of the StreamBus service. */
export type StreamBusHandlers = { [M in StreamBusMethodName]: StreamBusHandler<M> };

/** Registers `handlers` as the `streambus.v1.StreamBus` service of `server`. */
export function addStreamBusService(server: grpc.Server, handlers: StreamBusHandlers): void {
  server.addService(streamBusServiceDefinition(), handlers);
}
