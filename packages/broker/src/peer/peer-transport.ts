/**
 * `PeerTransport`: how a broker's RaftHost reaches its peers over gRPC.
 *
 * One grpc-js channel and one long-lived client stream (`Peer.Raft`) per peer, opened lazily on
 * the first frame and reopened with bounded exponential backoff whenever it breaks. `send(frame)`
 * never throws and never blocks: it encodes the frame (its size counts towards the queue bounds,
 * and nothing of the caller's frame is retained) and writes it to the peer's stream. While the
 * stream is down, or not writable (grpc-js's write() returned false: HTTP/2 flow control, a slow
 * peer; or `peerInFlightBytesMax` bytes are written but not yet taken by HTTP/2), frames wait in a per-peer FIFO bounded in frames and bytes; beyond the bound the NEW
 * frame is dropped and counted (Raft retries: heartbeats, append retries, snapshot resends).
 * Frames to one peer keep their order; frames in flight or queued when a stream breaks are lost.
 * While the peer is known to be down (a stream broke or could not open, and the next attempt
 * waits for its backoff) frames are dropped at once, unencoded: a peer that comes back gets
 * fresh frames, not a burst of stale appends and heartbeats, and a down peer costs no memory.
 *
 * The same channel carries unary `ProposeControllerCommand` calls (`proposeControllerCommand`).
 */
import * as grpc from '@grpc/grpc-js';
import {
  peerControllerCommandBytesMax,
  peerMessageBytesMax,
  peerProposeControllerCommandMethodPath,
  peerRaftMethodPath,
  peerServiceDefinition,
} from '@streambus/proto';
import type { ControllerCommandRequest, ControllerCommandResponse, RaftStreamClosed } from '@streambus/proto';
import type { NodeId, RaftTransport } from '@streambus/raft';
import {
  peerCallDeadlineMsMax,
  peerDnsResolutionMsMin,
  peerInFlightBytesMax,
  peerKeepaliveMs,
  peerKeepaliveTimeoutMs,
  peerQueueBytesMaxDefault,
  peerQueueCompactHeadMin,
  peerQueueFramesMaxDefault,
  peerReconnectBackoffMsMaxDefault,
  peerReconnectBackoffMsMin,
  peerReconnectDoublingsMax,
  peerWarnIntervalMs,
} from './constants.js';
import { PeerCallError } from './errors.js';
import { encodeFrame } from './frame-codec.js';
import type { TracedFrame } from './frame-codec.js';
import { silentPeerLogger, WarnLimiter } from './logger.js';
import type { PeerLogger } from './logger.js';
import { rethrowBug } from '../bugs.js';
import { peerChannelOptions } from '../security/tls/peer-credentials.js';

export interface PeerTransportOptions {
  /** This broker's id (> 0): every frame sent must be from it. */
  readonly nodeId: NodeId;
  /** Every other broker's id and peer address, `host:port`. */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly logger?: PeerLogger;
  /** Frames queued per peer before new ones are dropped. Default `peerQueueFramesMaxDefault`. */
  readonly queueFramesMax?: number;
  /** Encoded bytes queued per peer before new frames are dropped. Default `peerQueueBytesMaxDefault`. */
  readonly queueBytesMax?: number;
  /** Longest wait before reopening a broken stream. Default `peerReconnectBackoffMsMaxDefault`. */
  readonly reconnectBackoffMsMax?: number;
  /** Channel credentials; insecure by default. */
  readonly credentials?: grpc.ChannelCredentials;
  /**
   * Credentials per peer, asked each time a channel is made (wins over `credentials`): mutual TLS
   * that checks the peer's broker id (security/tls/peer-credentials.ts). When it answers a new
   * value (a rotated certificate), a link makes a new channel at its next stream.
   */
  readonly credentialsFor?: (peerId: NodeId) => grpc.ChannelCredentials;
  /** Extra grpc-js channel options (they win over the transport's). */
  readonly channelOptions?: grpc.ChannelOptions;
  /** Randomness in [0, 1) for backoff jitter. Default Math.random. */
  readonly random?: () => number;
}

/** Counters of one peer link, live (read them any time; never reset). */
export interface PeerLinkStats {
  readonly peerId: NodeId;
  readonly address: string;
  /** Frames written to the stream, and their encoded bytes (a stream that breaks loses what it had in flight). */
  framesSent: number;
  bytesSent: number;
  /** Frames dropped: queue full, peer down, transport closed, too large, or not encodable. */
  framesDropped: number;
  /** Of `framesDropped`, those dropped because the queue was at its bound. */
  framesDroppedQueueFull: number;
  /** Of `framesDropped`, those dropped because the peer was down (sent during a reconnect backoff, or queued when a stream broke). */
  framesDroppedPeerDown: number;
  /** Frames waiting now, and their bytes. */
  framesQueued: number;
  bytesQueued: number;
  /** Highest `bytesQueued` seen. */
  bytesQueuedPeak: number;
  /** Bytes written to the stream that grpc-js has not yet handed to HTTP/2, and the highest seen. */
  bytesInFlight: number;
  bytesInFlightPeak: number;
  /** Streams opened (the first included). */
  streamsOpened: number;
  /** Streams reopened after a failure. */
  reconnects: number;
  /** Streams that ended without `close()`. */
  streamFailures: number;
  /** True while a stream is open and the peer has accepted it. */
  connected: boolean;
}

/** Everything the transport counts, live. */
export interface PeerTransportStats {
  readonly peers: ReadonlyMap<NodeId, PeerLinkStats>;
  /** Frames for an id that is not a configured peer (or for this broker, or not from it). */
  framesMisaddressed: number;
}

interface LinkSettings {
  readonly nodeId: NodeId;
  readonly logger: PeerLogger;
  readonly queueFramesMax: number;
  readonly queueBytesMax: number;
  readonly backoffMsMax: number;
  readonly credentialsFor: (peerId: NodeId) => grpc.ChannelCredentials;
  readonly channelOptions: grpc.ChannelOptions;
  readonly random: () => number;
}

type RaftStream = grpc.ClientWritableStream<Buffer>;

const passBuffer = (bytes: Buffer): Buffer => bytes;

/** One peer: its channel, its stream and its queue. */
class PeerLink {
  readonly stats: PeerLinkStats;
  private client: grpc.Client | null = null;
  /** The credentials `client` was made with. */
  private clientCredentials: grpc.ChannelCredentials | null = null;
  private stream: RaftStream | null = null;
  private writable = false;
  /** FIFO of encoded frames; `head` is the next to write (compacted when half is consumed). */
  private queue: Buffer[] = [];
  private head = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Consecutive failed streams (reset once a peer accepts a stream). */
  private failures = 0;
  private closed = false;
  private readonly warnings: WarnLimiter;

  constructor(
    readonly peerId: NodeId,
    readonly address: string,
    private readonly settings: LinkSettings,
  ) {
    this.stats = {
      peerId,
      address,
      framesSent: 0,
      bytesSent: 0,
      framesDropped: 0,
      framesDroppedQueueFull: 0,
      framesDroppedPeerDown: 0,
      framesQueued: 0,
      bytesQueued: 0,
      bytesQueuedPeak: 0,
      bytesInFlight: 0,
      bytesInFlightPeak: 0,
      streamsOpened: 0,
      reconnects: 0,
      streamFailures: 0,
      connected: false,
    };
    this.warnings = new WarnLimiter(settings.logger, peerWarnIntervalMs);
  }

  /** Writes or queues one encoded frame; drops it when the queue is full or the link closed. */
  send(bytes: Buffer): void {
    if (this.closed) {
      this.stats.framesDropped++;
      return;
    }
    if (this.stream === null && this.retryTimer === null) this.open();
    if (this.stream === null) {
      this.dropPeerDown(1);
      return;
    }
    if (this.writable && this.stats.framesQueued === 0) {
      this.write(bytes);
      return;
    }
    this.enqueue(bytes);
  }

  /**
   * True when a frame sent now would be dropped whatever its size: the link is closed, or frames
   * must wait and the queue is at a bound. Lets the transport skip encoding it.
   */
  isFull(): boolean {
    if (this.closed || this.isDown()) return true;
    const mustQueue = !this.writable || this.stats.framesQueued > 0;
    return (
      mustQueue &&
      (this.stats.framesQueued >= this.settings.queueFramesMax || this.stats.bytesQueued >= this.settings.queueBytesMax)
    );
  }

  /** Counts a frame dropped before it reached `send` (see `isFull`). */
  dropFull(): void {
    if (this.closed) this.stats.framesDropped++;
    else if (this.isDown()) this.dropPeerDown(1);
    else this.dropQueueFull();
  }

  /** No stream, and the next attempt waits for its backoff. */
  private isDown(): boolean {
    return this.stream === null && this.retryTimer !== null;
  }

  /** The channel, created on first use (streams and unary calls share it). */
  channel(): grpc.Client {
    const credentials = this.settings.credentialsFor(this.peerId);
    // New credentials (a rotated certificate) take over between streams, not under an open one.
    if (this.client !== null && this.stream === null && credentials !== this.clientCredentials) {
      this.client.close();
      this.client = null;
    }
    if (this.client === null) {
      this.client = new grpc.Client(this.address, credentials, {
        ...peerChannelOptions(this.peerId),
        ...this.settings.channelOptions,
      });
      this.clientCredentials = credentials;
    }
    return this.client;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const stream = this.stream;
    this.stream = null;
    this.writable = false;
    this.stats.bytesInFlight = 0;
    this.stats.connected = false;
    this.stats.framesDropped += this.clearQueue();
    if (stream !== null) stream.end();
    if (this.client !== null) this.client.close();
  }

  private open(): void {
    this.stats.streamsOpened++;
    let stream: RaftStream;
    try {
      stream = this.startStream();
    } catch (error) {
      rethrowBug(error);
      // grpc-js refused to create the channel or call (a bad address): retry like a broken stream.
      this.stats.streamFailures++;
      this.scheduleRetry(
        { peer: this.peerId, address: this.address, reason: error instanceof Error ? error.message : String(error) },
        true,
      );
      return;
    }
    this.stream = stream;
    this.writable = true;
    this.flush();
  }

  private startStream(): RaftStream {
    const stream: RaftStream = this.channel().makeClientStreamRequest<Buffer, RaftStreamClosed>(
      peerRaftMethodPath,
      passBuffer,
      peerServiceDefinition()['Raft']!.responseDeserialize as (bytes: Buffer) => RaftStreamClosed,
      new grpc.Metadata(),
      {},
      (error) => this.onEnded(stream, error),
    );
    // The receiver sends its headers as soon as it accepts the stream: the peer is reachable.
    stream.on('metadata', () => {
      if (this.stream !== stream) return;
      if (this.failures > 0)
        this.settings.logger.info({ peer: this.peerId, address: this.address }, 'raft stream to peer reconnected');
      this.failures = 0;
      this.stats.connected = true;
    });
    stream.on('drain', () => this.resume(stream));
    // Failures arrive through the call's callback; an 'error' event must never crash the broker.
    stream.on('error', (error: Error) =>
      this.settings.logger.debug({ peer: this.peerId, error: error.message }, 'raft stream error'),
    );
    return stream;
  }

  private onEnded(stream: RaftStream, error: grpc.ServiceError | null): void {
    if (this.stream !== stream) return;
    this.stream = null;
    this.writable = false;
    this.stats.bytesInFlight = 0;
    const wasConnected = this.stats.connected;
    this.stats.connected = false;
    if (this.closed) return;
    this.stats.streamFailures++;
    // Queued frames would reach the peer only after the backoff: stale by then. Raft resends.
    this.dropPeerDown(this.clearQueue());
    this.scheduleRetry(
      {
        peer: this.peerId,
        address: this.address,
        code: error?.code ?? grpc.status.OK,
        reason: error?.details ?? 'stream closed by peer',
      },
      wasConnected,
    );
  }

  private scheduleRetry(fields: Record<string, unknown>, wasConnected: boolean): void {
    const delayMs = this.backoffMs();
    this.failures++;
    if (wasConnected || this.failures === 1)
      this.warnings.log({ ...fields, retryMs: delayMs }, 'raft stream to peer broken; reconnecting');
    else this.settings.logger.debug({ ...fields, retryMs: delayMs }, 'raft stream to peer still down');
    this.retryTimer = setTimeout(() => this.retry(), delayMs);
    this.retryTimer.unref();
  }

  private retry(): void {
    this.retryTimer = null;
    if (this.closed) return;
    this.stats.reconnects++;
    this.open();
  }

  /** min * 2^failures, capped, with up to 50% jitter below so that peers do not retry in step. */
  private backoffMs(): number {
    const exponent = Math.min(this.failures, peerReconnectDoublingsMax);
    const capped = Math.min(this.settings.backoffMsMax, peerReconnectBackoffMsMin * 2 ** exponent);
    return Math.max(1, Math.round(capped * (0.5 + 0.5 * this.settings.random())));
  }

  private write(bytes: Buffer): void {
    const stream = this.stream;
    if (stream === null) return;
    this.stats.framesSent++;
    this.stats.bytesSent += bytes.byteLength;
    const bytesLength = bytes.byteLength;
    this.stats.bytesInFlight += bytesLength;
    if (this.stats.bytesInFlight > this.stats.bytesInFlightPeak)
      this.stats.bytesInFlightPeak = this.stats.bytesInFlight;
    const accepted = stream.write(bytes, () => {
      if (this.stream !== stream) return;
      this.stats.bytesInFlight -= bytesLength;
      this.resume(stream);
    });
    if (!accepted || this.stats.bytesInFlight >= peerInFlightBytesMax) this.writable = false;
  }

  /** Writes again once grpc-js drained (after write() returned false) and the bytes in flight are below their bound. */
  private resume(stream: RaftStream): void {
    if (
      this.stream !== stream ||
      this.writable ||
      stream.writableNeedDrain ||
      this.stats.bytesInFlight >= peerInFlightBytesMax
    )
      return;
    this.writable = true;
    this.flush();
  }

  private enqueue(bytes: Buffer): void {
    const { stats, settings } = this;
    if (
      stats.framesQueued + 1 > settings.queueFramesMax ||
      stats.bytesQueued + bytes.byteLength > settings.queueBytesMax
    ) {
      this.dropQueueFull();
      return;
    }
    this.queue.push(bytes);
    stats.framesQueued++;
    stats.bytesQueued += bytes.byteLength;
    if (stats.bytesQueued > stats.bytesQueuedPeak) stats.bytesQueuedPeak = stats.bytesQueued;
  }

  /** Empties the queue; returns how many frames it held. */
  private clearQueue(): number {
    const frames = this.stats.framesQueued;
    this.queue = [];
    this.head = 0;
    this.stats.framesQueued = 0;
    this.stats.bytesQueued = 0;
    return frames;
  }

  private dropPeerDown(frames: number): void {
    this.stats.framesDropped += frames;
    this.stats.framesDroppedPeerDown += frames;
  }

  private dropQueueFull(): void {
    const { stats } = this;
    stats.framesDropped++;
    stats.framesDroppedQueueFull++;
    this.warnings.log(
      {
        peer: this.peerId,
        dropped: stats.framesDroppedQueueFull,
        queued: stats.framesQueued,
        bytesQueued: stats.bytesQueued,
      },
      'peer queue full; dropping raft frames',
    );
  }

  private flush(): void {
    while (this.writable && this.stream !== null && this.head < this.queue.length) {
      const bytes = this.queue[this.head]!;
      this.queue[this.head] = emptyBuffer;
      this.head++;
      this.stats.framesQueued--;
      this.stats.bytesQueued -= bytes.byteLength;
      this.write(bytes);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > peerQueueCompactHeadMin && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

const emptyBuffer = Buffer.alloc(0);

export class PeerTransport implements RaftTransport {
  readonly nodeId: NodeId;
  readonly stats: PeerTransportStats;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly logger: PeerLogger;
  private readonly warnings: WarnLimiter;
  private closed = false;

  constructor(options: PeerTransportOptions) {
    if (!Number.isInteger(options.nodeId) || options.nodeId <= 0)
      throw new RangeError(`broker id ${options.nodeId} must be a positive integer`);
    this.nodeId = options.nodeId;
    this.logger = options.logger ?? silentPeerLogger;
    this.warnings = new WarnLimiter(this.logger, peerWarnIntervalMs);
    const backoffMsMax = options.reconnectBackoffMsMax ?? peerReconnectBackoffMsMaxDefault;
    const settings: LinkSettings = {
      nodeId: this.nodeId,
      logger: this.logger,
      queueFramesMax: options.queueFramesMax ?? peerQueueFramesMaxDefault,
      queueBytesMax: options.queueBytesMax ?? peerQueueBytesMaxDefault,
      backoffMsMax,
      credentialsFor:
        options.credentialsFor ?? constantCredentials(options.credentials ?? grpc.credentials.createInsecure()),
      channelOptions: {
        'grpc.max_send_message_length': peerMessageBytesMax,
        'grpc.max_receive_message_length': peerMessageBytesMax,
        'grpc.keepalive_time_ms': peerKeepaliveMs,
        'grpc.keepalive_timeout_ms': peerKeepaliveTimeoutMs,
        'grpc.initial_reconnect_backoff_ms': peerReconnectBackoffMsMin,
        'grpc.max_reconnect_backoff_ms': backoffMsMax,
        'grpc.dns_min_time_between_resolutions_ms': peerDnsResolutionMsMin,
        ...options.channelOptions,
      },
      random: options.random ?? Math.random,
    };
    if (settings.queueFramesMax < 1 || settings.queueBytesMax < 1)
      throw new RangeError('peer queue bounds must be positive');
    if (backoffMsMax < peerReconnectBackoffMsMin)
      throw new RangeError(`reconnectBackoffMsMax must be at least ${peerReconnectBackoffMsMin}`);
    const peers = new Map<NodeId, PeerLinkStats>();
    for (const [peerId, address] of options.peers) {
      if (peerId === this.nodeId) continue;
      const link = new PeerLink(peerId, address, settings);
      this.links.set(peerId, link);
      peers.set(peerId, link.stats);
    }
    this.stats = { peers, framesMisaddressed: 0 };
  }

  /**
   * Sends a frame to `frame.to`: never throws, never blocks; may drop it (see the file comment).
   * A frame's trace context, when it has one, goes with it.
   */
  send(frame: TracedFrame): void {
    const link = this.links.get(frame.to);
    if (link === undefined || frame.from !== this.nodeId) {
      this.stats.framesMisaddressed++;
      this.warnings.log({ from: frame.from, to: frame.to }, 'raft frame for an unknown peer dropped');
      return;
    }
    if (link.isFull()) {
      link.dropFull();
      return;
    }
    let bytes: Buffer;
    try {
      bytes = encodeFrame(frame);
    } catch (error) {
      rethrowBug(error);
      link.stats.framesDropped++;
      this.warnings.log(
        { peer: frame.to, error: error instanceof Error ? error.message : String(error) },
        'raft frame not encodable; dropped',
      );
      return;
    }
    if (bytes.byteLength > peerMessageBytesMax) {
      link.stats.framesDropped++;
      this.warnings.log(
        { peer: frame.to, bytes: bytes.byteLength, bytesMax: peerMessageBytesMax },
        'raft frame larger than a peer message; dropped',
      );
      return;
    }
    link.send(bytes);
  }

  /**
   * Asks broker `to` (the controller leader, presumably) to propose `command` to the controller
   * group, and resolves with its answer (errorCode NONE, NOT_CONTROLLER with a leader hint, ...).
   * Rejects with PeerCallError: UNKNOWN_PEER, COMMAND_TOO_LARGE, DEADLINE_EXCEEDED (after
   * `deadlineMs`), PEER_UNAVAILABLE, TRANSPORT_CLOSED, PEER_CALL_FAILED, CANCELLED (`signal` aborted).
   */
  proposeControllerCommand(
    to: NodeId,
    command: Uint8Array,
    deadlineMs: number,
    signal?: AbortSignal,
  ): Promise<ControllerCommandResponse> {
    if (this.closed) return Promise.reject(new PeerCallError('TRANSPORT_CLOSED', to, 'the peer transport is closed'));
    const link = this.links.get(to);
    if (link === undefined)
      return Promise.reject(new PeerCallError('UNKNOWN_PEER', to, `broker ${to} is not a configured peer`));
    if (command.byteLength > peerControllerCommandBytesMax) {
      return Promise.reject(
        new PeerCallError(
          'COMMAND_TOO_LARGE',
          to,
          `controller command of ${command.byteLength} bytes exceeds ${peerControllerCommandBytesMax}`,
        ),
      );
    }
    const method = peerServiceDefinition()['ProposeControllerCommand']!;
    const request: ControllerCommandRequest = { command, fromBroker: this.nodeId };
    const timeoutMs = Math.min(Math.max(1, deadlineMs), peerCallDeadlineMsMax);
    return new Promise((resolve, reject) => {
      let channel: grpc.Client;
      try {
        channel = link.channel();
      } catch (error) {
        rethrowBug(error);
        reject(
          new PeerCallError(
            'PEER_UNAVAILABLE',
            to,
            `broker ${to} at ${link.address} is unreachable: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
        return;
      }
      const cancel = (): void => call.cancel();
      const call = channel.makeUnaryRequest<ControllerCommandRequest, ControllerCommandResponse>(
        peerProposeControllerCommandMethodPath,
        method.requestSerialize as (request: ControllerCommandRequest) => Buffer,
        method.responseDeserialize as (bytes: Buffer) => ControllerCommandResponse,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          signal?.removeEventListener('abort', cancel);
          if (error === null && response !== undefined) resolve(response);
          else if (signal?.aborted === true)
            reject(new PeerCallError('CANCELLED', to, `the call to broker ${to} was cancelled`));
          else reject(this.callError(to, error, timeoutMs));
        },
      );
      if (signal === undefined) return;
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    });
  }

  /** Ends every stream and closes every channel; later frames are dropped, later calls rejected. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
  }

  private callError(to: NodeId, error: grpc.ServiceError | null | undefined, timeoutMs: number): PeerCallError {
    if (error === null || error === undefined)
      return new PeerCallError('PEER_CALL_FAILED', to, `broker ${to} sent no answer`);
    if (error.code === grpc.status.DEADLINE_EXCEEDED)
      return new PeerCallError('DEADLINE_EXCEEDED', to, `broker ${to} did not answer within ${timeoutMs} ms`);
    if (error.code === grpc.status.UNAVAILABLE)
      return new PeerCallError('PEER_UNAVAILABLE', to, `broker ${to} is unreachable: ${error.details}`);
    if (this.closed && error.code === grpc.status.CANCELLED)
      return new PeerCallError('TRANSPORT_CLOSED', to, 'the peer transport was closed during the call');
    return new PeerCallError('PEER_CALL_FAILED', to, `call to broker ${to} failed: ${error.details}`);
  }
}

function constantCredentials(credentials: grpc.ChannelCredentials): (peerId: NodeId) => grpc.ChannelCredentials {
  return () => credentials;
}
