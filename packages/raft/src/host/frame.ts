/**
 * What one host sends another: every Raft message of every group bound for that peer in one
 * loop turn, with heartbeats in a compact, coalesced form and quiescence markers. Plain data, so
 * the broker can encode it in protobuf; a transport must deliver a frame's parts in the order
 * `messages`, `heartbeats`, `heartbeatResponses`, `quiesce` (the receiver processes them so).
 */
import type { GroupId, Message, NodeId } from '../types.js';

/** One Raft message of one group. `message.from`/`message.to` equal the frame's `from`/`to`. */
export interface FrameMessage {
  readonly groupId: GroupId;
  readonly message: Message;
}

/**
 * A leader's heartbeat without read context, coalesced: it stands for the Message of type
 * `heartbeat` from `frame.from` to `frame.to` with this term and commit and every other field
 * empty. Heartbeats that carry a ReadIndex context travel in `messages`.
 */
export interface FrameHeartbeat {
  readonly groupId: GroupId;
  readonly term: number;
  readonly commit: number;
}

/** A follower's answer to a coalesced heartbeat: a `heartbeatResponse` with only a term. */
export interface FrameHeartbeatResponse {
  readonly groupId: GroupId;
  readonly term: number;
}

/**
 * The leader of `groupId` in `term` stopped ticking it (the group is fully replicated and idle);
 * the follower may stop ticking it too, until any message, proposal or the leader's silence wakes it.
 */
export interface FrameQuiesce {
  readonly groupId: GroupId;
  readonly term: number;
}

export interface Frame {
  readonly from: NodeId;
  readonly to: NodeId;
  /**
   * A random id of the sender's current run. A change tells the receiver that the peer restarted,
   * so quiesced leaders wake to heartbeat it. Every frame, even an empty one, proves liveness:
   * a host sends at least one frame per peer per tick.
   */
  readonly session: number;
  readonly messages: readonly FrameMessage[];
  readonly heartbeats: readonly FrameHeartbeat[];
  readonly heartbeatResponses: readonly FrameHeartbeatResponse[];
  readonly quiesce: readonly FrameQuiesce[];
}

/**
 * How frames leave a host. Best effort: `send` never throws and may drop a frame (Raft retries);
 * it must not mutate or retain-and-mutate the frame. Ordering between frames to one peer should
 * be kept where the medium allows (a stream per peer); Raft is correct either way.
 */
export interface RaftTransport {
  send(frame: Frame): void;
}
