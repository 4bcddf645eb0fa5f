/**
 * The receiving side of the peer protocol: `addPeerService` registers `streambus.peer.v1.Peer` on
 * the broker's gRPC server (the same server, and port, as the client API).
 *
 * Each incoming `Raft` stream hands decoded frames to `onFrame` in order. A frame that does not
 * decode, has an unknown protocol version, or (when `nodeId` is given) is addressed to another
 * broker is logged (rate-limited) and dropped; the stream goes on.
 *
 * With `requireProvenBroker` (security.tls_enabled) every Peer call must come over a connection
 * whose CA-verified certificate names a broker (`provenBrokerId`, security.proto "Broker
 * identity"): others are refused with UNAUTHENTICATED, so a client connection can never deliver
 * a Raft message or a controller command. A Raft frame whose `from` is not that broker, and a
 * controller command whose `from_broker` is not, are refused too (a broker speaks for itself).
 *
 * Streams are long-lived, so a plain `server.tryShutdown` would wait for the peers to hang up,
 * which they never do. `addPeerService` therefore wraps the server's `tryShutdown` so that it first
 * answers and ends the open Raft streams (`closeStreams()` on the returned handle does the same
 * explicitly). Peers see their stream end and reconnect, with backoff, to whoever serves next.
 */
import * as grpc from '@grpc/grpc-js';
import type { NodeId } from '@streambus/raft';
import { ErrorCode, peerControllerCommandBytesMax, peerServiceDefinition } from '@streambus/proto';
import type { ControllerCommandRequest, ControllerCommandResponse, RaftStreamClosed } from '@streambus/proto';
import { rethrowBug } from '../bugs.js';
import { provenBrokerId } from '../security/peer-identity.js';
import { peerWarnIntervalMs } from './constants.js';
import { PeerError } from './errors.js';
import { decodeFrame } from './frame-codec.js';
import type { TracedFrame } from './frame-codec.js';
import { silentPeerLogger, WarnLimiter } from './logger.js';
import type { PeerLogger } from './logger.js';

/** What the broker does with peer traffic. */
export interface PeerServiceHandlers {
  /** A decoded, validated frame from a peer (typically `raftHost.receive`), with its trace context if any. */
  onFrame(frame: TracedFrame): void;
  /**
   * A controller command forwarded by broker `from`. Should never reject: failures are answers
   * (errorCode NOT_CONTROLLER + leaderHint, REQUEST_TIMED_OUT, ...). A rejection is answered
   * with INTERNAL; an AssertionError is rethrown (it is a bug, it crashes).
   */
  proposeControllerCommand(command: Uint8Array, from: number): Promise<ControllerCommandResponse>;
}

export interface PeerServiceOptions {
  /** This broker's id; when given, frames addressed to another broker are dropped here. */
  readonly nodeId?: NodeId;
  readonly logger?: PeerLogger;
  /** Serve only calls whose connection proved a broker id by certificate (TLS on). Default false. */
  readonly requireProvenBroker?: boolean;
}

/** Counters of the receiving side, live. */
export interface PeerServiceStats {
  /** Frames handed to `onFrame`, and the bytes of every frame received (dropped ones included). */
  framesReceived: number;
  bytesReceived: number;
  /** Frames dropped: malformed, unsupported version, or misaddressed. */
  framesDropped: number;
  framesMalformed: number;
  framesMisaddressed: number;
  /** Of `framesDropped`, those whose `from` was not the broker the connection proved. */
  framesImpersonated: number;
  /** Peer calls refused: no proven broker, or a controller command for another broker. */
  callsUnauthenticated: number;
  /** Frames received per sending broker (accepted ones). */
  readonly framesReceivedByPeer: Map<NodeId, number>;
  streamsOpened: number;
  streamsActive: number;
  controllerCommands: number;
}

export interface PeerServiceHandle {
  readonly stats: PeerServiceStats;
  /** Answers and ends every open Raft stream (peers reconnect later, to whoever serves then). */
  closeStreams(): void;
}

interface OpenStream {
  readonly call: grpc.ServerReadableStream<Buffer, RaftStreamClosed>;
  readonly callback: grpc.sendUnaryData<RaftStreamClosed>;
  received: number;
  dropped: number;
  ended: boolean;
  /** The broker the connection proved (requireProvenBroker), or undefined. */
  readonly provenId: NodeId | undefined;
}

const emptyBytes = new Uint8Array(0);

/** Registers the Peer service on `server`; returns its stats and a way to end its streams. */
export function addPeerService(
  server: grpc.Server,
  handlers: PeerServiceHandlers,
  options: PeerServiceOptions = {},
): PeerServiceHandle {
  const logger = options.logger ?? silentPeerLogger;
  const warnings = new WarnLimiter(logger, peerWarnIntervalMs);
  const open = new Set<OpenStream>();
  const stats: PeerServiceStats = {
    framesReceived: 0,
    bytesReceived: 0,
    framesDropped: 0,
    framesMalformed: 0,
    framesMisaddressed: 0,
    framesImpersonated: 0,
    callsUnauthenticated: 0,
    framesReceivedByPeer: new Map(),
    streamsOpened: 0,
    streamsActive: 0,
    controllerCommands: 0,
  };

  const finish = (stream: OpenStream): void => {
    if (stream.ended) return;
    stream.ended = true;
    open.delete(stream);
    stats.streamsActive = open.size;
    stream.callback(null, { framesReceived: stream.received, framesDropped: stream.dropped });
  };

  const forget = (stream: OpenStream): void => {
    stream.ended = true;
    open.delete(stream);
    stats.streamsActive = open.size;
  };

  const receive = (stream: OpenStream, bytes: Buffer): void => {
    stats.bytesReceived += bytes.byteLength;
    let frame: TracedFrame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      if (!(error instanceof PeerError)) throw error;
      stream.dropped++;
      stats.framesDropped++;
      stats.framesMalformed++;
      warnings.log(
        { code: error.code, reason: error.message, peerAddress: stream.call.getPeer() },
        'raft frame from peer dropped',
      );
      return;
    }
    if (options.nodeId !== undefined && frame.to !== options.nodeId) {
      stream.dropped++;
      stats.framesDropped++;
      stats.framesMisaddressed++;
      warnings.log({ from: frame.from, to: frame.to, self: options.nodeId }, 'raft frame for another broker dropped');
      return;
    }
    if (stream.provenId !== undefined && frame.from !== stream.provenId) {
      stream.dropped++;
      stats.framesDropped++;
      stats.framesImpersonated++;
      warnings.log(
        { from: frame.from, proven: stream.provenId, peerAddress: stream.call.getPeer() },
        'raft frame claiming another broker dropped',
      );
      return;
    }
    stream.received++;
    stats.framesReceived++;
    stats.framesReceivedByPeer.set(frame.from, (stats.framesReceivedByPeer.get(frame.from) ?? 0) + 1);
    handlers.onFrame(frame);
  };

  /** The broker a call's connection proved; undefined when none is required. Refuses the call when one is missing. */
  const proven = (
    call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<Buffer, RaftStreamClosed>,
    callback: (error: grpc.ServiceError) => void,
  ): { readonly ok: true; readonly id: NodeId | undefined } | { readonly ok: false } => {
    if (options.requireProvenBroker !== true) return { ok: true, id: undefined };
    const id = provenBrokerId(call);
    if (id !== undefined) return { ok: true, id };
    stats.callsUnauthenticated++;
    warnings.log(
      { peerAddress: call.getPeer(), method: call.getPath() },
      'peer call refused: its connection proved no broker certificate',
    );
    callback(unauthenticated('peer calls need a broker certificate signed by the cluster CA (mutual TLS)'));
    return { ok: false };
  };

  const raft = (
    call: grpc.ServerReadableStream<Buffer, RaftStreamClosed>,
    callback: grpc.sendUnaryData<RaftStreamClosed>,
  ): void => {
    const identity = proven(call, callback);
    if (!identity.ok) return;
    const stream: OpenStream = { call, callback, received: 0, dropped: 0, ended: false, provenId: identity.id };
    open.add(stream);
    stats.streamsOpened++;
    stats.streamsActive = open.size;
    // Headers now tell the sender that its stream is accepted (it resets its backoff on them).
    call.sendMetadata(new grpc.Metadata());
    call.on('data', (bytes: Buffer) => {
      if (!stream.ended) receive(stream, bytes);
    });
    call.on('end', () => finish(stream));
    call.on('cancelled', () => forget(stream));
    call.on('error', (error: Error) => {
      forget(stream);
      logger.debug({ reason: error.message }, 'raft stream from peer failed');
    });
  };

  const proposeControllerCommand = (
    call: grpc.ServerUnaryCall<ControllerCommandRequest, ControllerCommandResponse>,
    callback: grpc.sendUnaryData<ControllerCommandResponse>,
  ): void => {
    const { command, fromBroker } = call.request;
    const identity = proven(call, callback);
    if (!identity.ok) return;
    if (identity.id !== undefined && identity.id !== fromBroker) {
      stats.callsUnauthenticated++;
      warnings.log(
        { from: fromBroker, proven: identity.id, peerAddress: call.getPeer() },
        'controller command claiming another broker refused',
      );
      callback(unauthenticated(`broker ${identity.id} may not send a controller command as broker ${fromBroker}`));
      return;
    }
    stats.controllerCommands++;
    if (command.byteLength > peerControllerCommandBytesMax) {
      callback(null, { errorCode: ErrorCode.REQUEST_TOO_LARGE, leaderHint: 0, result: emptyBytes });
      return;
    }
    handlers.proposeControllerCommand(command, fromBroker).then(
      (response) => callback(null, response),
      (error: unknown) => {
        rethrowBug(error);
        logger.warn(
          { from: fromBroker, reason: error instanceof Error ? error.message : String(error) },
          'forwarded controller command failed',
        );
        callback(null, { errorCode: ErrorCode.INTERNAL, leaderHint: 0, result: emptyBytes });
      },
    );
  };

  server.addService(peerServiceDefinition(), {
    Raft: raft,
    ProposeControllerCommand: proposeControllerCommand,
  });

  const closeStreams = (): void => {
    for (const stream of [...open]) finish(stream);
  };
  const tryShutdown = server.tryShutdown.bind(server);
  server.tryShutdown = (callback: (error?: Error) => void): void => {
    closeStreams();
    tryShutdown(callback);
  };
  return { stats, closeStreams };
}

function unauthenticated(details: string): grpc.ServiceError {
  return Object.assign(new Error(details), {
    code: grpc.status.UNAUTHENTICATED,
    details,
    metadata: new grpc.Metadata(),
  });
}
