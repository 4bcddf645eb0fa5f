/**
 * Decoded shapes of the peer protocol's unary messages (camelCase, every field present, uint64 as
 * number, bytes as Uint8Array). RaftFrame is encoded and decoded by the broker's frame codec
 * against the protobufjs type of `peerProtoTypes().raftFrame`, not through these shapes.
 */

/** The answer to a Raft stream, sent when the stream ends. */
export interface RaftStreamClosed {
  readonly framesReceived: number;
  readonly framesDropped: number;
}

export interface ControllerCommandRequest {
  /** An encoded controller command. */
  readonly command: Uint8Array;
  /** The proposing broker's id. */
  readonly fromBroker: number;
}

export interface ControllerCommandResponse {
  /** A streambus.v1 ErrorCode number (NONE, NOT_CONTROLLER, REQUEST_TIMED_OUT, ...). */
  readonly errorCode: number;
  /** With NOT_CONTROLLER: the controller leader the receiver knows, 0 when none. */
  readonly leaderHint: number;
  /** The encoded result of the applied command (empty on error). */
  readonly result: Uint8Array;
}
