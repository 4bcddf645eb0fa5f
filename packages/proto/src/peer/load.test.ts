import { describe, expect, it } from 'vitest';
import { peerMessageBytesMax, peerProtocolVersion } from './constants.js';
import { peerProtoTypes, peerServiceDefinition, wireBytes, wireNumber } from './load.js';
import type { ControllerCommandRequest, ControllerCommandResponse, RaftStreamClosed } from './types.js';

describe('peer protocol loading', () => {
  it('defines the Peer service: Raft is client-streaming with raw frames, ProposeControllerCommand is unary', () => {
    const service = peerServiceDefinition();
    expect(Object.keys(service).sort()).toEqual(['ProposeControllerCommand', 'Raft']);
    const raft = service['Raft']!;
    expect(raft.path).toBe('/streambus.peer.v1.Peer/Raft');
    expect(raft.requestStream).toBe(true);
    expect(raft.responseStream).toBe(false);
    const frame = Buffer.from([1, 2, 3]);
    expect(raft.requestSerialize(frame)).toBe(frame);
    expect(raft.requestDeserialize(frame)).toBe(frame);
    const closed: RaftStreamClosed = { framesReceived: 2 ** 40, framesDropped: 3 };
    expect(raft.responseDeserialize(raft.responseSerialize(closed))).toEqual(closed);
    expect(peerServiceDefinition()).toBe(service);
    expect(peerProtocolVersion).toBe(1);
    expect(peerMessageBytesMax).toBeGreaterThan(4 * 1024 * 1024);
  });

  it('round-trips controller command messages; bytes decode as views into the message', () => {
    const method = peerServiceDefinition()['ProposeControllerCommand']!;
    const request: ControllerCommandRequest = { command: new Uint8Array(1000).fill(7), fromBroker: 4 };
    const requestBytes = method.requestSerialize(request);
    const decodedRequest = method.requestDeserialize(requestBytes) as ControllerCommandRequest;
    expect(decodedRequest.fromBroker).toBe(4);
    expect([...decodedRequest.command]).toEqual([...request.command]);
    expect(decodedRequest.command.buffer).toBe(requestBytes.buffer);
    const response: ControllerCommandResponse = { errorCode: 15, leaderHint: 2, result: new Uint8Array(0) };
    const decodedResponse = method.responseDeserialize(method.responseSerialize(response)) as ControllerCommandResponse;
    expect(decodedResponse.errorCode).toBe(15);
    expect(decodedResponse.leaderHint).toBe(2);
    expect(decodedResponse.result.byteLength).toBe(0);
  });

  it('keeps uint64 values up to 2^53 - 1 exact', () => {
    const type = peerProtoTypes().raftFrame;
    const decoded = type.decode(
      type.encode({ protocolVersion: 1, from: 1, to: 2, session: Number.MAX_SAFE_INTEGER }).finish(),
    ) as unknown as Record<string, unknown>;
    expect(wireNumber(decoded['session'])).toBe(Number.MAX_SAFE_INTEGER);
    expect(wireNumber('7')).toBeNaN();
    expect(wireBytes([]).byteLength).toBe(0);
  });
});
