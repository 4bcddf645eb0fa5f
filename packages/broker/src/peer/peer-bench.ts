/**
 * Peer transport benchmark: what a frame costs to encode and decode, and what one stream carries
 * between two PeerTransports over real gRPC on 127.0.0.1 (one process, both ends).
 *
 *  1. codec: encode + decode of (a) a heartbeat frame of 256 coalesced heartbeats, (b) an append
 *     frame of one message with 64 entries of 1 KiB; frames per second of one core;
 *  2. stream: frames sent by broker 1 to broker 2, the sender keeping a few frames queued so
 *     that the stream never waits for it; frames and MB per second received (decoded and handed
 *     to onFrame), for small heartbeat frames and 1 MiB append frames.
 *
 * Run: `npm run build -w @streambus/broker && node packages/broker/dist/peer/peer-bench.js`
 * (or from sources: `node --conditions=@streambus/source --import tsx packages/broker/src/peer/peer-bench.ts`).
 * Flags: --seconds S (each stream run, default 3).
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorCode } from '@streambus/proto';
import { MessageType } from '@streambus/raft';
import type { Frame } from '@streambus/raft';
import { decodeFrame, encodeFrame } from './frame-codec.js';
import { addPeerService } from './peer-service.js';
import { PeerTransport } from './peer-transport.js';

function heartbeatFrame(beats: number, sequence: number): Frame {
  return {
    from: 1,
    to: 2,
    session: 1,
    messages: [],
    heartbeats: Array.from({ length: beats }, (_, groupId) => ({ groupId, term: sequence, commit: 1000 + groupId })),
    heartbeatResponses: [],
    quiesce: [],
  };
}

function appendFrame(entries: number, entryBytes: number, sequence: number): Frame {
  const data = new Uint8Array(entryBytes).fill(7);
  return {
    from: 1,
    to: 2,
    session: 1,
    messages: [
      {
        groupId: 3,
        message: {
          type: MessageType.append,
          from: 1,
          to: 2,
          term: 5,
          logTerm: 5,
          index: sequence * entries,
          entries: Array.from({ length: entries }, (_, i) => ({
            term: 5,
            index: sequence * entries + i + 1,
            type: 0,
            data,
          })),
          commit: sequence * entries,
          reject: false,
          rejectHint: 0,
          snapshot: null,
          context: new Uint8Array(0),
        },
      },
    ],
    heartbeats: [{ groupId: 0, term: sequence, commit: 0 }],
    heartbeatResponses: [],
    quiesce: [],
  };
}

function codecRate(frame: Frame, seconds: number): number {
  // Warm up first: the first second of a process mostly measures the JIT.
  for (let i = 0; i < 2000; i++) decodeFrame(encodeFrame(frame));
  const deadline = performance.now() + seconds * 1000;
  let count = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 100; i++) decodeFrame(encodeFrame(frame));
    count += 100;
  }
  return count / seconds;
}

/** Frames the sender keeps queued: enough that the stream never waits for the sender. */
const queuedTarget = 4;

async function streamRate(
  makeFrame: (sequence: number) => Frame,
  seconds: number,
): Promise<{ frames: number; megabytes: number; dropped: number }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  let framesReceived = 0;
  const service = addPeerService(
    server,
    {
      onFrame: () => framesReceived++,
      proposeControllerCommand: () =>
        Promise.resolve({ errorCode: ErrorCode.NONE, leaderHint: 0, result: new Uint8Array(0) }),
    },
    { nodeId: 2 },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const transport = new PeerTransport({ nodeId: 1, peers: new Map([[2, `127.0.0.1:${port}`]]) });
  const stats = transport.stats.peers.get(2)!;
  transport.send(makeFrame(0));
  while (!stats.connected) await new Promise((resolve) => setTimeout(resolve, 5));
  const startFrames = framesReceived;
  const startBytes = service.stats.bytesReceived;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let sequence = 1;
  while (performance.now() < deadline) {
    // Keep a few frames queued (the stream is never idle) and let the event loop deliver.
    while (stats.framesQueued < queuedTarget) transport.send(makeFrame(sequence++));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  const result = {
    frames: (framesReceived - startFrames) / elapsedSeconds,
    megabytes: (service.stats.bytesReceived - startBytes) / 1e6 / elapsedSeconds,
    dropped: stats.framesDropped,
  };
  transport.close();
  service.closeStreams();
  server.forceShutdown();
  return result;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flagIndex = argv.indexOf('--seconds');
  const seconds = flagIndex >= 0 ? Number(argv[flagIndex + 1]) : 3;
  const heartbeats = heartbeatFrame(256, 1);
  const append = appendFrame(64, 1024, 1);
  console.log(`peer bench: node ${process.version}, ${process.platform}/${process.arch}`);
  console.log(
    `codec, 256 heartbeats (${encodeFrame(heartbeats).byteLength} B): ${Math.round(codecRate(heartbeats, seconds))} encode+decode/s`,
  );
  console.log(
    `codec, 64 x 1 KiB entries (${encodeFrame(append).byteLength} B): ${Math.round(codecRate(append, seconds))} encode+decode/s`,
  );
  const small = await streamRate((sequence) => heartbeatFrame(16, sequence), seconds);
  console.log(
    `stream, 16-heartbeat frames: ${Math.round(small.frames)} frames/s received, ${small.megabytes.toFixed(1)} MB/s, ${small.dropped} dropped`,
  );
  const big = await streamRate((sequence) => appendFrame(1, 1024 * 1024, sequence), seconds);
  console.log(
    `stream, 1 MiB append frames: ${Math.round(big.frames)} frames/s received, ${big.megabytes.toFixed(1)} MB/s, ${big.dropped} dropped`,
  );
}

await main();
