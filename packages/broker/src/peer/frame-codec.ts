/**
 * Frame <-> protobuf (`streambus.peer.v1.RaftFrame`). Encoding writes entry data and snapshot
 * chunks once into the frame's buffer; decoding returns them as Buffer views into the received
 * message, not copies (protobufjs's BufferReader slices). The views keep the whole received
 * message alive while any entry of it is retained (the log's tail cache, for example): a frame is
 * at most a few MiB, and a copy per entry would cost more than that memory.
 *
 * Decoding validates everything the Raft core relies on (ids, safe integers, known types, message
 * addresses equal to the frame's) and throws a typed error instead of handing a peer's garbage to
 * the core. A frame's trace context (`traceparent`, `tracestate`) is optional and never a reason
 * to drop it: a malformed one is left out.
 */
import { peerProtocolVersion, peerProtoTypes, wireBytes, wireNumber } from '@streambus/proto';
import { EntryType, MessageType } from '@streambus/raft';
import type {
  ConfState,
  Entry,
  Frame,
  FrameHeartbeat,
  FrameHeartbeatResponse,
  FrameMessage,
  FrameQuiesce,
  Message,
  SnapshotChunk,
  SnapshotMetadata,
} from '@streambus/raft';
import { MalformedFrameError, UnsupportedVersionError } from './errors.js';
import { rethrowBug } from '../bugs.js';
import { traceparentLengthMax, tracestateLengthMax } from '../tracing/constants.js';

type Wire = Record<string, unknown>;

/**
 * A frame with the W3C Trace Context of the leader's replicate span (RaftFrame.traceparent), set
 * when it carries entries of sampled produces (see tracing/raft-tracer.ts). The Raft host ignores it.
 */
export interface TracedFrame extends Frame {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** Encodes a frame as a RaftFrame of this protocol version. Never mutates the frame. */
export function encodeFrame(frame: TracedFrame): Buffer {
  const wire = {
    ...(frame.traceparent === undefined ? {} : { traceparent: frame.traceparent }),
    ...(frame.tracestate === undefined ? {} : { tracestate: frame.tracestate }),
    protocolVersion: peerProtocolVersion,
    from: frame.from,
    to: frame.to,
    session: frame.session,
    messages: frame.messages.map(wireGroupMessage),
    heartbeats: frame.heartbeats.map((beat) => ({ groupId: beat.groupId, term: beat.term, commit: beat.commit })),
    heartbeatResponses: frame.heartbeatResponses.map((beat) => ({ groupId: beat.groupId, term: beat.term })),
    quiesce: frame.quiesce.map((marker) => ({ groupId: marker.groupId, term: marker.term })),
  };
  const bytes = peerProtoTypes().raftFrame.encode(wire).finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function wireGroupMessage({ groupId, message }: FrameMessage): object {
  return {
    groupId,
    message: {
      type: message.type,
      from: message.from,
      to: message.to,
      term: message.term,
      logTerm: message.logTerm,
      index: message.index,
      entries: message.entries.map((entry) => ({
        term: entry.term,
        index: entry.index,
        type: entry.type,
        data: entry.data,
      })),
      commit: message.commit,
      reject: message.reject,
      rejectHint: message.rejectHint,
      snapshot: message.snapshot === null ? null : wireSnapshotChunk(message.snapshot),
      context: message.context,
    },
  };
}

function wireSnapshotChunk(chunk: SnapshotChunk): object {
  const { metadata } = chunk;
  return {
    metadata: { index: metadata.index, term: metadata.term, confState: wireConfState(metadata.confState) },
    offset: chunk.offset,
    totalBytes: chunk.totalBytes,
    data: chunk.data,
    done: chunk.done,
  };
}

function wireConfState(conf: ConfState): object {
  return {
    voters: conf.voters,
    learners: conf.learners,
    votersOutgoing: conf.votersOutgoing,
    learnersNext: conf.learnersNext,
    autoLeave: conf.autoLeave,
  };
}

/**
 * Decodes and validates a RaftFrame. Throws MalformedFrameError (bad protobuf or shape) or
 * UnsupportedVersionError; never anything else for any input bytes.
 */
export function decodeFrame(bytes: Uint8Array): TracedFrame {
  let wire: Wire;
  try {
    wire = peerProtoTypes().raftFrame.decode(bytes);
  } catch (error) {
    rethrowBug(error);
    throw new MalformedFrameError(error instanceof Error ? error.message : 'undecodable protobuf');
  }
  const version = wireNumber(wire['protocolVersion']);
  if (version !== peerProtocolVersion) throw new UnsupportedVersionError(version);
  const from = nodeId(wire['from'], 'from');
  const to = nodeId(wire['to'], 'to');
  const traceparent = traceText(wire['traceparent'], traceparentLengthMax);
  const tracestate = traceparent === undefined ? undefined : traceText(wire['tracestate'], tracestateLengthMax);
  return {
    ...(traceparent === undefined ? {} : { traceparent }),
    ...(tracestate === undefined ? {} : { tracestate }),
    from,
    to,
    session: safe(wire['session'], 'session'),
    messages: list(wire['messages']).map((item) => readGroupMessage(item, from, to)),
    heartbeats: list(wire['heartbeats']).map(readHeartbeat),
    heartbeatResponses: list(wire['heartbeatResponses']).map(readHeartbeatResponse),
    quiesce: list(wire['quiesce']).map(readQuiesce),
  };
}

function readGroupMessage(item: Wire, from: number, to: number): FrameMessage {
  const groupId = uint32(item['groupId'], 'group id');
  const wire = item['message'];
  if (!isWire(wire)) throw new MalformedFrameError(`message of group ${groupId} is missing`);
  return { groupId, message: readMessage(wire, from, to) };
}

function readMessage(wire: Wire, from: number, to: number): Message {
  const type = wireNumber(wire['type']);
  if (!messageTypes.has(type)) throw new MalformedFrameError(`unknown message type ${type}`);
  if (nodeId(wire['from'], 'message from') !== from)
    throw new MalformedFrameError('message from differs from the frame');
  if (nodeId(wire['to'], 'message to') !== to) throw new MalformedFrameError('message to differs from the frame');
  const snapshot = wire['snapshot'];
  return {
    type: type as MessageType,
    from,
    to,
    term: safe(wire['term'], 'term'),
    logTerm: safe(wire['logTerm'], 'log term'),
    index: safe(wire['index'], 'index'),
    entries: list(wire['entries']).map(readEntry),
    commit: safe(wire['commit'], 'commit'),
    reject: wire['reject'] === true,
    rejectHint: safe(wire['rejectHint'], 'reject hint'),
    snapshot: isWire(snapshot) ? readSnapshotChunk(snapshot) : null,
    context: wireBytes(wire['context']),
  };
}

function readEntry(wire: Wire): Entry {
  const type = wireNumber(wire['type']);
  if (type !== EntryType.normal && type !== EntryType.confChange)
    throw new MalformedFrameError(`unknown entry type ${type}`);
  return {
    term: safe(wire['term'], 'entry term'),
    index: safe(wire['index'], 'entry index'),
    type,
    data: wireBytes(wire['data']),
  };
}

function readSnapshotChunk(wire: Wire): SnapshotChunk {
  const metadata = wire['metadata'];
  if (!isWire(metadata)) throw new MalformedFrameError('snapshot chunk without metadata');
  return {
    metadata: readSnapshotMetadata(metadata),
    offset: safe(wire['offset'], 'snapshot offset'),
    totalBytes: safe(wire['totalBytes'], 'snapshot total bytes'),
    data: wireBytes(wire['data']),
    done: wire['done'] === true,
  };
}

function readSnapshotMetadata(wire: Wire): SnapshotMetadata {
  const conf = wire['confState'];
  if (!isWire(conf)) throw new MalformedFrameError('snapshot metadata without conf state');
  return {
    index: safe(wire['index'], 'snapshot index'),
    term: safe(wire['term'], 'snapshot term'),
    confState: readConfState(conf),
  };
}

function readConfState(wire: Wire): ConfState {
  return {
    voters: nodeIds(wire['voters'], 'voter'),
    learners: nodeIds(wire['learners'], 'learner'),
    votersOutgoing: nodeIds(wire['votersOutgoing'], 'outgoing voter'),
    learnersNext: nodeIds(wire['learnersNext'], 'next learner'),
    autoLeave: wire['autoLeave'] === true,
  };
}

function readHeartbeat(wire: Wire): FrameHeartbeat {
  return {
    groupId: uint32(wire['groupId'], 'group id'),
    term: safe(wire['term'], 'heartbeat term'),
    commit: safe(wire['commit'], 'heartbeat commit'),
  };
}

function readHeartbeatResponse(wire: Wire): FrameHeartbeatResponse {
  return { groupId: uint32(wire['groupId'], 'group id'), term: safe(wire['term'], 'heartbeat response term') };
}

function readQuiesce(wire: Wire): FrameQuiesce {
  return { groupId: uint32(wire['groupId'], 'group id'), term: safe(wire['term'], 'quiesce term') };
}

/** A trace header of a frame, or undefined when absent, empty or longer than W3C allows. */
function traceText(value: unknown, lengthMax: number): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) return undefined;
  return value;
}

const messageTypes: ReadonlySet<number> = new Set(Object.values(MessageType));

function isWire(value: unknown): value is Wire {
  return typeof value === 'object' && value !== null;
}

function list(value: unknown): Wire[] {
  if (!Array.isArray(value)) return [];
  for (const item of value) if (!isWire(item)) throw new MalformedFrameError('a repeated message holds a non-message');
  return value as Wire[];
}

/** A uint64 the core can hold: a safe non-negative integer. */
function safe(value: unknown, what: string): number {
  const number = wireNumber(value);
  if (!Number.isSafeInteger(number) || number < 0)
    throw new MalformedFrameError(`${what} ${String(value)} is not an integer in [0, 2^53)`);
  return number;
}

function uint32(value: unknown, what: string): number {
  const number = wireNumber(value);
  if (!Number.isInteger(number) || number < 0 || number > 0xffff_ffff)
    throw new MalformedFrameError(`${what} ${String(value)} is not a uint32`);
  return number;
}

function nodeId(value: unknown, what: string): number {
  const id = uint32(value, what);
  if (id === 0) throw new MalformedFrameError(`${what} is 0 (no broker)`);
  return id;
}

function nodeIds(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) return [];
  return value.map((item: unknown) => nodeId(item, what));
}
