/**
 * Messages released by one loop turn, coalesced into one frame per destination (more only when
 * a frame would exceed `frameMessagesMax` or `frameBytesMax`), with plain heartbeats compacted.
 */
import { frameBytesMax, frameMessagesMax } from '../constants.js';
import { assert } from '../errors.js';
import { MessageType } from '../types.js';
import type { Entry, GroupId, Message, NodeId } from '../types.js';
import type {
  Frame,
  FrameHeartbeat,
  FrameHeartbeatResponse,
  FrameMessage,
  FrameQuiesce,
  RaftTransport,
} from './frame.js';

const emptyBytes = new Uint8Array(0);
const emptyEntries: readonly Entry[] = Object.freeze([]);

/** Bytes of payload a message carries towards `frameBytesMax`. */
export function messageBytes(message: Message): number {
  let bytes = 0;
  for (const entry of message.entries) bytes += entry.data.byteLength;
  if (message.snapshot !== null) bytes += message.snapshot.data.byteLength;
  return bytes + message.context.byteLength;
}

/** True when every field a coalesced heartbeat drops is empty, so expanding it gives `message` back. */
function isPlainBeat(message: Message): boolean {
  return (
    message.logTerm === 0 &&
    message.index === 0 &&
    message.entries.length === 0 &&
    !message.reject &&
    message.rejectHint === 0 &&
    message.snapshot === null &&
    message.context.byteLength === 0
  );
}

/** The Message a coalesced heartbeat stands for. */
export function expandHeartbeat(frame: Frame, beat: FrameHeartbeat): Message {
  return plainMessage(MessageType.heartbeat, frame.from, frame.to, beat.term, beat.commit);
}

/** The Message a coalesced heartbeat response stands for. */
export function expandHeartbeatResponse(frame: Frame, beat: FrameHeartbeatResponse): Message {
  return plainMessage(MessageType.heartbeatResponse, frame.from, frame.to, beat.term, 0);
}

function plainMessage(type: MessageType, from: NodeId, to: NodeId, term: number, commit: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: emptyEntries,
    commit,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: emptyBytes,
  };
}

class PeerOutbox {
  readonly sealed: Frame[] = [];
  messages: FrameMessage[] = [];
  heartbeats: FrameHeartbeat[] = [];
  heartbeatResponses: FrameHeartbeatResponse[] = [];
  quiesce: FrameQuiesce[] = [];
  count = 0;
  bytes = 0;

  constructor(
    readonly from: NodeId,
    readonly to: NodeId,
    readonly session: number,
  ) {}

  /** Makes room for one more item of `bytes`, sealing the current frame when it is full. */
  reserve(bytes: number): void {
    if (this.count > 0 && (this.count + 1 > frameMessagesMax || this.bytes + bytes > frameBytesMax)) this.seal();
    this.count++;
    this.bytes += bytes;
  }

  seal(): void {
    this.sealed.push({
      from: this.from,
      to: this.to,
      session: this.session,
      messages: this.messages,
      heartbeats: this.heartbeats,
      heartbeatResponses: this.heartbeatResponses,
      quiesce: this.quiesce,
    });
    this.messages = [];
    this.heartbeats = [];
    this.heartbeatResponses = [];
    this.quiesce = [];
    this.count = 0;
    this.bytes = 0;
  }
}

export class Outbox {
  private readonly peers = new Map<NodeId, PeerOutbox>();

  constructor(
    private readonly self: NodeId,
    private readonly session: number,
  ) {}

  /** True when nothing waits to be sent. */
  isEmpty(): boolean {
    return this.peers.size === 0;
  }

  addMessage(groupId: GroupId, message: Message): void {
    assert(message.from === this.self, 'outgoing message is from this host');
    assert(message.to !== this.self, 'outgoing message is not to this host');
    const peer = this.peer(message.to);
    if (message.type === MessageType.heartbeat && isPlainBeat(message)) {
      peer.reserve(0);
      peer.heartbeats.push({ groupId, term: message.term, commit: message.commit });
    } else if (message.type === MessageType.heartbeatResponse && message.commit === 0 && isPlainBeat(message)) {
      peer.reserve(0);
      peer.heartbeatResponses.push({ groupId, term: message.term });
    } else {
      const bytes = messageBytes(message);
      assert(bytes <= frameBytesMax, 'one message fits in one frame');
      peer.reserve(bytes);
      peer.messages.push({ groupId, message });
    }
  }

  addQuiesce(to: NodeId, groupId: GroupId, term: number): void {
    const peer = this.peer(to);
    peer.reserve(0);
    peer.quiesce.push({ groupId, term });
  }

  /** Makes sure `to` gets a frame at the next flush, empty if nothing else (liveness). */
  touch(to: NodeId): void {
    this.peer(to);
  }

  /** Sends everything, one frame per destination unless bounds split it. Returns frames sent. */
  flush(transport: RaftTransport): number {
    let frames = 0;
    for (const peer of this.peers.values()) {
      if (peer.count > 0 || peer.sealed.length === 0) peer.seal();
      for (const frame of peer.sealed) transport.send(frame);
      frames += peer.sealed.length;
    }
    this.peers.clear();
    return frames;
  }

  private peer(to: NodeId): PeerOutbox {
    let peer = this.peers.get(to);
    if (peer === undefined) {
      peer = new PeerOutbox(this.self, to, this.session);
      this.peers.set(to, peer);
    }
    return peer;
  }
}
