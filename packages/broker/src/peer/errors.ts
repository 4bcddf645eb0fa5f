/**
 * Expected failures of the peer transport, as typed values with a stable `code`. A malformed
 * frame from a peer is one of them (logged and dropped, never a crash); bugs are assertions.
 */
import { ErrorCode } from '@streambus/proto';

export type PeerErrorCode =
  | 'MALFORMED_FRAME'
  | 'UNSUPPORTED_VERSION'
  | 'UNKNOWN_PEER'
  | 'PEER_UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'TRANSPORT_CLOSED'
  | 'COMMAND_TOO_LARGE'
  | 'CANCELLED'
  | 'PEER_CALL_FAILED';

export abstract class PeerError extends Error {
  abstract readonly code: PeerErrorCode;
}

/** Bytes from a peer that are not a valid RaftFrame (bad protobuf, out-of-range numbers, bad shape). */
export class MalformedFrameError extends PeerError {
  readonly code = 'MALFORMED_FRAME' as const;
  constructor(readonly reason: string) {
    super(`malformed raft frame from a peer: ${reason}`);
  }
}

/** A frame of a peer protocol version this broker does not speak (a newer broker in a rolling upgrade). */
export class UnsupportedVersionError extends PeerError {
  readonly code = 'UNSUPPORTED_VERSION' as const;
  constructor(readonly version: number) {
    super(`raft frame of peer protocol version ${version} is not supported; upgrade this broker`);
  }
}

/**
 * A call to another broker failed. `errorCode` is the streambus.v1 ErrorCode a caller can answer
 * its own client with (REQUEST_TIMED_OUT, BROKER_NOT_AVAILABLE, REQUEST_TOO_LARGE, INTERNAL).
 */
export class PeerCallError extends PeerError {
  constructor(
    readonly code:
      | 'UNKNOWN_PEER'
      | 'PEER_UNAVAILABLE'
      | 'DEADLINE_EXCEEDED'
      | 'TRANSPORT_CLOSED'
      | 'COMMAND_TOO_LARGE'
      | 'CANCELLED'
      | 'PEER_CALL_FAILED',
    readonly peerId: number,
    message: string,
  ) {
    super(message);
  }

  /** The wire error code that stands for this failure. */
  get errorCode(): ErrorCode {
    switch (this.code) {
      case 'DEADLINE_EXCEEDED':
        return ErrorCode.REQUEST_TIMED_OUT;
      case 'UNKNOWN_PEER':
      case 'PEER_UNAVAILABLE':
      case 'TRANSPORT_CLOSED':
      case 'CANCELLED':
        return ErrorCode.BROKER_NOT_AVAILABLE;
      case 'COMMAND_TOO_LARGE':
        return ErrorCode.REQUEST_TOO_LARGE;
      case 'PEER_CALL_FAILED':
        return ErrorCode.INTERNAL;
    }
  }
}
