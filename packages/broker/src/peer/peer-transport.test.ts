import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, peerMessageBytesMax, peerServiceDefinition } from '@streambus/proto';
import type { RaftStreamClosed } from '@streambus/proto';
import { MessageType } from '@streambus/raft';
import type { Frame, NodeId } from '@streambus/raft';
import { peerInFlightBytesMax } from './constants.js';
import { PeerCallError } from './errors.js';
import { decodeFrame, encodeFrame } from './frame-codec.js';
import { addPeerService } from './peer-service.js';
import type { PeerServiceHandle, PeerServiceHandlers } from './peer-service.js';
import { PeerTransport } from './peer-transport.js';
import type { PeerTransportOptions } from './peer-transport.js';
import type { PeerLogger } from './logger.js';

// ---- helpers: servers on 127.0.0.1, everything closed after each test ----------------------

const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function bind(server: grpc.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
}

interface PeerNode {
  readonly server: grpc.Server;
  readonly port: number;
  readonly handle: PeerServiceHandle;
  readonly frames: Frame[];
  stop(): void;
}

const noCommands: PeerServiceHandlers['proposeControllerCommand'] = () =>
  Promise.resolve({ errorCode: ErrorCode.NOT_CONTROLLER, leaderHint: 0, result: new Uint8Array(0) });

async function startPeer(nodeId: NodeId, port = 0, proposeControllerCommand = noCommands): Promise<PeerNode> {
  const server = new grpc.Server();
  const frames: Frame[] = [];
  const handle = addPeerService(
    server,
    { onFrame: (frame) => frames.push(frame), proposeControllerCommand },
    { nodeId },
  );
  const bound = await bind(server, port);
  let stopped = false;
  const node: PeerNode = {
    server,
    port: bound,
    handle,
    frames,
    stop: () => {
      if (stopped) return;
      stopped = true;
      handle.closeStreams();
      server.forceShutdown();
    },
  };
  cleanups.push(() => node.stop());
  return node;
}

/** Records what is logged, by level. */
function recordingLogger(): PeerLogger & { readonly lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  return {
    lines,
    debug: (_fields, message) => lines.push({ level: 'debug', message }),
    info: (_fields, message) => lines.push({ level: 'info', message }),
    warn: (_fields, message) => lines.push({ level: 'warn', message }),
  };
}

function transport(options: PeerTransportOptions): PeerTransport {
  const created = new PeerTransport({ reconnectBackoffMsMax: 200, ...options });
  cleanups.push(() => created.close());
  return created;
}

/** A frame that carries a sequence number (as a heartbeat term) and optionally some entry data. */
function frameOf(from: NodeId, to: NodeId, sequence: number, dataBytes = 0): Frame {
  const data = new Uint8Array(dataBytes).fill(sequence % 256);
  return {
    from,
    to,
    session: 42,
    messages:
      dataBytes === 0
        ? []
        : [
            {
              groupId: 1,
              message: {
                type: MessageType.append,
                from,
                to,
                term: 1,
                logTerm: 1,
                index: sequence,
                entries: [{ term: 1, index: sequence + 1, type: 0, data }],
                commit: 0,
                reject: false,
                rejectHint: 0,
                snapshot: null,
                context: new Uint8Array(0),
              },
            },
          ],
    heartbeats: [{ groupId: 1, term: sequence, commit: 0 }],
    heartbeatResponses: [],
    quiesce: [],
  };
}

function sequenceOf(frame: Frame): number {
  return frame.heartbeats[0]?.term ?? -1;
}

/** Polls `condition` until it holds; fails after `timeoutMs` (a liveness bound, not a speed claim). */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function isIncreasing(values: readonly number[]): boolean {
  return values.every((value, i) => i === 0 || value > values[i - 1]!);
}

/** A port nothing listens on: bound once, then released. */
async function freePort(): Promise<number> {
  const server = new grpc.Server();
  const port = await bind(server, 0);
  server.forceShutdown();
  return port;
}

// ---- tests ---------------------------------------------------------------------------------

describe('PeerTransport over real gRPC', () => {
  it('two brokers exchange frames in order, both ways', async () => {
    const peer1 = await startPeer(1);
    const peer2 = await startPeer(2);
    const t1 = transport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${peer2.port}`]]) });
    const t2 = transport({ nodeId: 2, peers: new Map([[1, `127.0.0.1:${peer1.port}`]]) });
    const count = 300;
    for (let i = 1; i <= count; i++) {
      t1.send(frameOf(1, 2, i, i % 10 === 0 ? 5000 : 0));
      t2.send(frameOf(2, 1, i));
    }
    await waitFor(() => peer2.frames.length === count && peer1.frames.length === count, 'every frame');
    expect(peer2.frames.map(sequenceOf)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(peer1.frames.map(sequenceOf)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const tenth = peer2.frames[9]!.messages[0]!.message.entries[0]!;
    expect(tenth.data).toEqual(Buffer.from(frameOf(1, 2, 10, 5000).messages[0]!.message.entries[0]!.data));
    expect({ ...peer2.frames[9]!, messages: [] }).toEqual({ ...frameOf(1, 2, 10, 5000), messages: [] });
    expect(peer2.frames.every((frame) => frame.from === 1 && frame.to === 2)).toBe(true);
    const stats = t1.stats.peers.get(2)!;
    expect(stats.framesSent).toBe(count);
    expect(stats.framesDropped).toBe(0);
    expect(stats.bytesSent).toBeGreaterThan(30 * 5000);
    expect(stats.streamsOpened).toBe(1);
    expect(stats.connected).toBe(true);
    expect(peer2.handle.stats.framesReceived).toBe(count);
    expect(peer2.handle.stats.framesReceivedByPeer.get(1)).toBe(count);
    expect(peer2.handle.stats.bytesReceived).toBe(stats.bytesSent);
    expect(peer2.handle.stats.streamsActive).toBe(1);
    t1.close();
    await waitFor(() => peer2.handle.stats.streamsActive === 0, 'the stream to end at the receiver');
    expect(stats.connected).toBe(false);
  });

  it('server.tryShutdown completes although peers keep their streams open', async () => {
    const peer2 = await startPeer(2);
    const t1 = transport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${peer2.port}`]]) });
    t1.send(frameOf(1, 2, 1));
    await waitFor(() => peer2.frames.length === 1 && t1.stats.peers.get(2)!.connected, 'the stream');
    await new Promise<void>((resolve, reject) =>
      peer2.server.tryShutdown((error) => (error === undefined ? resolve() : reject(error))),
    );
    expect(peer2.handle.stats.streamsActive).toBe(0);
    await waitFor(() => t1.stats.peers.get(2)!.streamFailures >= 1, 'the sender to notice');
  });

  it('a down peer: send never throws, frames beyond the queue bounds are dropped, and once it is known down nothing is queued; the peer comes back on the same port and frames flow again, in order', async () => {
    const port = await freePort();
    const queueFramesMax = 50;
    const queueBytesMax = 64 * 1024;
    const logger = recordingLogger();
    const t1 = transport({
      nodeId: 1,
      peers: new Map([[2, `127.0.0.1:${port}`]]),
      queueFramesMax,
      queueBytesMax,
      logger,
    });
    const stats = t1.stats.peers.get(2)!;
    let sequence = 0;
    for (let i = 0; i < 5000; i++)
      expect(() => t1.send(frameOf(1, 2, ++sequence, i % 7 === 0 ? 3000 : 0))).not.toThrow();
    expect(stats.framesQueued).toBeLessThanOrEqual(queueFramesMax);
    expect(stats.bytesQueuedPeak).toBeLessThanOrEqual(queueBytesMax);
    // Accepted frames are queued or handed to the (not yet failed) first stream: grpc-js buffers
    // at most its writable high-water mark of them.
    expect(stats.framesDropped).toBeGreaterThanOrEqual(5000 - queueFramesMax - 20);
    expect(stats.framesDroppedQueueFull).toBe(stats.framesDropped);
    await waitFor(() => stats.streamFailures >= 2, 'failed reconnects to the down peer');
    expect(stats.connected).toBe(false);
    // One warn line per reason, not one per dropped frame (the rest go to debug).
    expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
      'peer queue full; dropping raft frames',
      'raft stream to peer broken; reconnecting',
    ]);
    // Known down (between reconnect attempts): a new frame is dropped, not queued, and the queue
    // is empty (stale appends and heartbeats must not reach the peer in a burst when it comes back).
    await waitFor(() => {
      t1.send(frameOf(1, 2, ++sequence));
      return stats.framesDroppedPeerDown > 0;
    }, 'a frame dropped while the peer is known down');
    expect(stats.framesQueued).toBe(0);
    const downAt = sequence;

    const peer2 = await startPeer(2, port);
    const interval = setInterval(() => t1.send(frameOf(1, 2, ++sequence)), 20);
    cleanups.push(() => clearInterval(interval));
    const restartedAt = sequence;
    await waitFor(
      () => peer2.frames.some((frame) => sequenceOf(frame) > restartedAt),
      'frames after the peer came back',
    );
    expect(peer2.frames.some((frame) => sequenceOf(frame) <= downAt)).toBe(false);
    // The peer's stream headers may reach the sender after its first frames reached the peer.
    await waitFor(() => stats.connected, 'the sender to see the accepted stream');
    expect(stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(isIncreasing(peer2.frames.map(sequenceOf))).toBe(true);

    // The peer restarts once more: the broken stream is noticed and reopened.
    peer2.stop();
    await waitFor(() => !stats.connected, 'the stream to break');
    const peer2Again = await startPeer(2, port);
    const againAt = sequence;
    await waitFor(
      () => peer2Again.frames.some((frame) => sequenceOf(frame) > againAt),
      'frames after the second restart',
    );
    expect(isIncreasing(peer2Again.frames.map(sequenceOf))).toBe(true);
    expect(stats.framesQueued).toBeLessThanOrEqual(queueFramesMax);
  });

  it('a slow peer (HTTP/2 flow control): the queue stays within its bounds, extra frames are dropped, the rest arrive in order', async () => {
    const server = new grpc.Server();
    const received: number[] = [];
    let paused: grpc.ServerReadableStream<Buffer, RaftStreamClosed> | undefined;
    server.addService(peerServiceDefinition(), {
      Raft: (
        call: grpc.ServerReadableStream<Buffer, RaftStreamClosed>,
        callback: grpc.sendUnaryData<RaftStreamClosed>,
      ) => {
        call.sendMetadata(new grpc.Metadata());
        call.on('data', (bytes: Buffer) => received.push(sequenceOf(decodeFrame(bytes))));
        call.on('end', () => callback(null, { framesReceived: received.length, framesDropped: 0 }));
        call.on('error', () => undefined);
        call.pause();
        paused = call;
      },
      ProposeControllerCommand: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback({ code: grpc.status.UNIMPLEMENTED }),
    });
    const port = await bind(server, 0);
    cleanups.push(() => server.forceShutdown());
    const queueFramesMax = 8;
    const queueBytesMax = 4 * 1024 * 1024;
    const t1 = transport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${port}`]]), queueFramesMax, queueBytesMax });
    const stats = t1.stats.peers.get(2)!;
    t1.send(frameOf(1, 2, 0));
    await waitFor(() => stats.connected && paused !== undefined, 'the stream to be accepted');
    const frameBytes = 1024 * 1024;
    let sequence = 0;
    const total = 60;
    for (let i = 0; i < total; i++) {
      t1.send(frameOf(1, 2, ++sequence, frameBytes));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(stats.framesDroppedQueueFull).toBeGreaterThan(0);
    expect(stats.framesQueued).toBeLessThanOrEqual(queueFramesMax);
    expect(stats.bytesQueuedPeak).toBeLessThanOrEqual(queueBytesMax);
    // What grpc-js holds is bounded in bytes too: at most one frame beyond the in-flight bound.
    expect(stats.bytesInFlightPeak).toBeLessThan(peerInFlightBytesMax + frameBytes + 1024);
    paused!.resume();
    await waitFor(() => stats.framesQueued === 0 && received.length === stats.framesSent, 'the queue to drain');
    expect(isIncreasing(received)).toBe(true);
    expect(received.length + stats.framesDropped).toBe(total + 1);
    expect(stats.bytesInFlight).toBe(0);
    expect(stats.framesDropped).toBe(stats.framesDroppedQueueFull);
  });

  it('drops malformed and misaddressed frames from a peer without ending its stream', async () => {
    const peer2 = await startPeer(2);
    const client = new grpc.Client(`127.0.0.1:${peer2.port}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const method = peerServiceDefinition()['Raft']!;
    const closed = new Promise<RaftStreamClosed>((resolve, reject) => {
      const stream = client.makeClientStreamRequest<Buffer, RaftStreamClosed>(
        method.path,
        (bytes) => bytes,
        method.responseDeserialize as (bytes: Buffer) => RaftStreamClosed,
        (error, response) =>
          error !== null || response === undefined ? reject(error ?? new Error('no response')) : resolve(response),
      );
      stream.write(Buffer.from([0xff, 0xff, 0xff, 0x01]));
      stream.write(encodeFrame(frameOf(1, 3, 1)));
      stream.write(Buffer.alloc(0));
      stream.write(encodeFrame(frameOf(1, 2, 2)));
      stream.end();
    });
    const answer = await closed;
    expect(peer2.frames.map(sequenceOf)).toEqual([2]);
    // An empty message is a valid (all-default) protobuf of protocol version 0: dropped too.
    expect(answer).toEqual({ framesReceived: 1, framesDropped: 3 });
    expect(peer2.handle.stats.framesMalformed).toBe(2);
    expect(peer2.handle.stats.framesMisaddressed).toBe(1);
    expect(peer2.handle.stats.framesDropped).toBe(3);
  });

  it('a frame larger than the receiver accepts breaks only that stream; the sender reconnects', async () => {
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
    const frames: Frame[] = [];
    addPeerService(
      server,
      { onFrame: (frame) => frames.push(frame), proposeControllerCommand: noCommands },
      { nodeId: 2 },
    );
    const port = await bind(server, 0);
    cleanups.push(() => server.forceShutdown());
    const t1 = transport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${port}`]]) });
    const stats = t1.stats.peers.get(2)!;
    t1.send(frameOf(1, 2, 1));
    await waitFor(() => frames.length === 1, 'the first frame');
    t1.send(frameOf(1, 2, 2, 128 * 1024));
    await waitFor(() => stats.streamFailures === 1, 'the stream to fail');
    let sequence = 2;
    const interval = setInterval(() => t1.send(frameOf(1, 2, ++sequence)), 20);
    cleanups.push(() => clearInterval(interval));
    await waitFor(() => frames.length >= 2, 'frames on the reopened stream');
    expect(frames.map(sequenceOf).includes(2)).toBe(false);
    expect(stats.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('counts frames for unknown peers and frames after close as dropped, never throwing', async () => {
    const t1 = transport({ nodeId: 1, peers: new Map([[2, '127.0.0.1:1']]) });
    expect(() => t1.send(frameOf(1, 9, 1))).not.toThrow();
    expect(() => t1.send(frameOf(3, 2, 1))).not.toThrow();
    expect(t1.stats.framesMisaddressed).toBe(2);
    t1.close();
    expect(() => t1.send(frameOf(1, 2, 1))).not.toThrow();
    expect(t1.stats.peers.get(2)!.framesDropped).toBe(1);
    await expect(t1.proposeControllerCommand(2, new Uint8Array([1]), 1000)).rejects.toMatchObject({
      code: 'TRANSPORT_CLOSED',
    });
  });

  it('drops (and counts) a frame that encodes larger than a peer message, without throwing', () => {
    const t1 = transport({ nodeId: 1, peers: new Map([[2, '127.0.0.1:1']]) });
    expect(() => t1.send(frameOf(1, 2, 1, peerMessageBytesMax + 1))).not.toThrow();
    const stats = t1.stats.peers.get(2)!;
    expect(stats.framesDropped).toBe(1);
    expect(stats.framesQueued + stats.framesSent).toBe(0);
  });

  it('a peer address grpc-js cannot parse: the link is retried, frames dropped meanwhile, calls rejected, nothing throws', async () => {
    const t1 = transport({ nodeId: 1, peers: new Map([[2, '']]), queueFramesMax: 4 });
    for (let i = 1; i <= 10; i++) expect(() => t1.send(frameOf(1, 2, i))).not.toThrow();
    const stats = t1.stats.peers.get(2)!;
    expect(stats.framesQueued).toBe(0);
    expect(stats.framesDropped).toBe(10);
    expect(stats.framesDroppedPeerDown).toBe(10);
    await waitFor(() => stats.streamFailures >= 2, 'retries');
    await expect(t1.proposeControllerCommand(2, new Uint8Array([1]), 1000)).rejects.toMatchObject({
      code: 'PEER_UNAVAILABLE',
    });
  });
});

describe('proposeControllerCommand over real gRPC', () => {
  it('round-trips a command and its answer', async () => {
    const seen: { command: number[]; from: number }[] = [];
    const peer2 = await startPeer(2, 0, (command, from) => {
      seen.push({ command: [...command], from });
      return Promise.resolve({ errorCode: ErrorCode.NONE, leaderHint: 2, result: Uint8Array.from(command).reverse() });
    });
    const t1 = transport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${peer2.port}`]]) });
    const answer = await t1.proposeControllerCommand(2, new Uint8Array([1, 2, 3]), 5000);
    expect(answer.errorCode).toBe(ErrorCode.NONE);
    expect(answer.leaderHint).toBe(2);
    expect([...answer.result]).toEqual([3, 2, 1]);
    expect(seen).toEqual([{ command: [1, 2, 3], from: 1 }]);
  });

  it('passes NOT_CONTROLLER answers through and turns handler failures into INTERNAL', async () => {
    let fail = false;
    const peer2 = await startPeer(2, 0, () =>
      fail
        ? Promise.reject(new Error('boom'))
        : Promise.resolve({ errorCode: ErrorCode.NOT_CONTROLLER, leaderHint: 3, result: new Uint8Array(0) }),
    );
    const t1 = transport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${peer2.port}`]]) });
    expect(await t1.proposeControllerCommand(2, new Uint8Array([1]), 5000)).toEqual({
      errorCode: ErrorCode.NOT_CONTROLLER,
      leaderHint: 3,
      result: new Uint8Array(0),
    });
    fail = true;
    const answer = await t1.proposeControllerCommand(2, new Uint8Array([1]), 5000);
    expect(answer.errorCode).toBe(ErrorCode.INTERNAL);
  });

  it('rejects with typed errors: deadline, unknown peer, unreachable peer, command too large', async () => {
    const never = new Promise<never>(() => undefined);
    const peer2 = await startPeer(2, 0, () => never);
    const down = await freePort();
    const t1 = transport({
      nodeId: 1,
      peers: new Map([
        [2, `127.0.0.1:${peer2.port}`],
        [3, `127.0.0.1:${down}`],
      ]),
    });
    const late = await t1.proposeControllerCommand(2, new Uint8Array([1]), 100).catch((error: unknown) => error);
    expect(late).toBeInstanceOf(PeerCallError);
    expect(late).toMatchObject({ code: 'DEADLINE_EXCEEDED', peerId: 2, errorCode: ErrorCode.REQUEST_TIMED_OUT });
    await expect(t1.proposeControllerCommand(7, new Uint8Array([1]), 100)).rejects.toMatchObject({
      code: 'UNKNOWN_PEER',
    });
    await expect(t1.proposeControllerCommand(3, new Uint8Array([1]), 5000)).rejects.toMatchObject({
      code: 'PEER_UNAVAILABLE',
      errorCode: ErrorCode.BROKER_NOT_AVAILABLE,
    });
    await expect(t1.proposeControllerCommand(2, new Uint8Array(2 * 1024 * 1024), 100)).rejects.toMatchObject({
      code: 'COMMAND_TOO_LARGE',
    });
  });

  it('cancels a call to a peer that never answers when its signal aborts', async () => {
    const peer2 = await startPeer(2, 0, () => new Promise<never>(() => undefined));
    const t1 = transport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${peer2.port}`]]) });
    const abort = new AbortController();
    const started = Date.now();
    const pending = t1.proposeControllerCommand(2, new Uint8Array([1]), 10_000, abort.signal).catch((e: unknown) => e);
    setTimeout(() => abort.abort(), 100);
    expect(await pending).toMatchObject({ code: 'CANCELLED', peerId: 2, errorCode: ErrorCode.BROKER_NOT_AVAILABLE });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
