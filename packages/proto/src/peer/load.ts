/**
 * Loads the peer protocol (`streambus.peer.v1`, proto/streambus/v1/peer.proto) with protobufjs and
 * builds its grpc-js service definition.
 *
 * Unlike the client API (loaded through @grpc/proto-loader), the Raft stream carries frames that
 * the sender has ALREADY encoded (it needs their byte size for its queue bounds) and that the
 * receiver decodes itself (so that one malformed frame is dropped alone instead of failing the
 * whole stream in grpc-js's deserializer). So the Raft method's request (de)serializers pass
 * Buffers through untouched. Decoding with protobufjs gives `bytes` fields as Buffer views into
 * the received message (no copy); see the broker's frame codec.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { protoRootPath } from '../rpc/load.js';
import { peerProposeControllerCommandMethodPath, peerRaftMethodPath } from './constants.js';
import type { ControllerCommandRequest, ControllerCommandResponse, RaftStreamClosed } from './types.js';

/** Path of the peer protocol file, relative to `protoRootPath`. */
export const peerProtoFile = 'streambus/v1/peer.proto';

/** The protobufjs message types of the peer protocol. */
export interface PeerProtoTypes {
  readonly raftFrame: protobuf.Type;
  readonly raftStreamClosed: protobuf.Type;
  readonly controllerCommandRequest: protobuf.Type;
  readonly controllerCommandResponse: protobuf.Type;
}

let cachedTypes: PeerProtoTypes | undefined;
let cachedService: grpc.ServiceDefinition | undefined;

/** The peer protocol's message types, loaded once. */
export function peerProtoTypes(): PeerProtoTypes {
  if (cachedTypes !== undefined) return cachedTypes;
  const root = protobuf.loadSync(join(protoRootPath, peerProtoFile));
  root.resolveAll();
  cachedTypes = {
    raftFrame: root.lookupType('streambus.peer.v1.RaftFrame'),
    raftStreamClosed: root.lookupType('streambus.peer.v1.RaftStreamClosed'),
    controllerCommandRequest: root.lookupType('streambus.peer.v1.ControllerCommandRequest'),
    controllerCommandResponse: root.lookupType('streambus.peer.v1.ControllerCommandResponse'),
  };
  return cachedTypes;
}

/** A decoded uint64/uint32 as a number (protobufjs gives a Long for 64-bit fields). */
export function wireNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && 'toNumber' in value && typeof value.toNumber === 'function')
    return (value.toNumber as () => number).call(value);
  return Number.NaN;
}

const emptyBytes = new Uint8Array(0);

/** A decoded `bytes` field (protobufjs leaves an empty array default when absent). */
export function wireBytes(value: unknown): Uint8Array {
  return value instanceof Uint8Array ? value : emptyBytes;
}

function encodeWith(type: protobuf.Type): (value: object) => Buffer {
  return (value) => toBuffer(type.encode(value).finish());
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeStreamClosed(bytes: Buffer): RaftStreamClosed {
  const message = peerProtoTypes().raftStreamClosed.decode(bytes) as unknown as Record<string, unknown>;
  return { framesReceived: wireNumber(message['framesReceived']), framesDropped: wireNumber(message['framesDropped']) };
}

function decodeCommandRequest(bytes: Buffer): ControllerCommandRequest {
  const message = peerProtoTypes().controllerCommandRequest.decode(bytes) as unknown as Record<string, unknown>;
  return { command: wireBytes(message['command']), fromBroker: wireNumber(message['fromBroker']) };
}

function decodeCommandResponse(bytes: Buffer): ControllerCommandResponse {
  const message = peerProtoTypes().controllerCommandResponse.decode(bytes) as unknown as Record<string, unknown>;
  return {
    errorCode: wireNumber(message['errorCode']),
    leaderHint: wireNumber(message['leaderHint']),
    result: wireBytes(message['result']),
  };
}

const passBuffer = (bytes: Buffer): Buffer => bytes;

/**
 * The grpc-js service definition of `streambus.peer.v1.Peer`. `Raft` requests are encoded
 * RaftFrame Buffers on both sides; the other messages use the shapes of `types.ts`.
 */
export function peerServiceDefinition(): grpc.ServiceDefinition {
  if (cachedService !== undefined) return cachedService;
  const types = peerProtoTypes();
  cachedService = {
    Raft: {
      path: peerRaftMethodPath,
      requestStream: true,
      responseStream: false,
      requestSerialize: passBuffer,
      requestDeserialize: passBuffer,
      responseSerialize: encodeWith(types.raftStreamClosed),
      responseDeserialize: decodeStreamClosed,
      originalName: 'raft',
    },
    ProposeControllerCommand: {
      path: peerProposeControllerCommandMethodPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: encodeWith(types.controllerCommandRequest),
      requestDeserialize: decodeCommandRequest,
      responseSerialize: encodeWith(types.controllerCommandResponse),
      responseDeserialize: decodeCommandResponse,
      originalName: 'proposeControllerCommand',
    },
  };
  return cachedService;
}
