/**
 * Loads the StreamBus .proto files for @grpc/grpc-js. The files ship in the package's `proto/`
 * folder (the `./proto/*` export), so other languages compile the very same definitions.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Absolute path of the folder holding `streambus/v1/*.proto` (the proto include root). */
export const protoRootPath: string = fileURLToPath(new URL('../../proto/', import.meta.url));

/** Path of the client API file, relative to `protoRootPath`. */
export const streamBusProtoFile = 'streambus/v1/streambus.proto';

/**
 * Options that give the decoded shapes of `types.ts`: camelCase names, int64 as number, enums as
 * numbers, every field present (defaults filled), bytes as Buffer.
 */
export const protoLoaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
  includeDirs: [protoRootPath],
};

let cachedService: grpc.ServiceDefinition | undefined;

/** The loaded package definition of the client API (for callers that load more files beside it). */
export function loadStreamBusPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(streamBusProtoFile, protoLoaderOptions);
}

/** The grpc-js service definition of `streambus.v1.StreamBus`, loaded once. */
export function streamBusServiceDefinition(): grpc.ServiceDefinition {
  if (cachedService !== undefined) return cachedService;
  const loaded = grpc.loadPackageDefinition(loadStreamBusPackageDefinition());
  const streambus = loaded['streambus'] as grpc.GrpcObject;
  const v1 = streambus['v1'] as grpc.GrpcObject;
  const ctor = v1['StreamBus'] as grpc.ServiceClientConstructor;
  cachedService = ctor.service;
  return cachedService;
}
