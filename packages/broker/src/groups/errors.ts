/** Expected failures of the group record codec, as typed values with a stable `code`. */

export type GroupRecordErrorCode =
  /** Not a group record: truncated, trailing bytes, an unknown key type, values out of range. */
  | 'GROUP_RECORD_MALFORMED'
  /** A record format newer than this broker understands: upgrade the broker. */
  | 'GROUP_RECORD_UNSUPPORTED_VERSION'
  /**
   * The key starts with 0xff, reserved for the broker's own records (its checkpoint marker): not a
   * group record and not corruption. The wiring must skip these before decoding (`isBrokerReservedKey`).
   */
  | 'GROUP_RECORD_BROKER_RESERVED'
  /** The record would exceed a bound of its format. */
  | 'GROUP_RECORD_TOO_LARGE';

/**
 * A record of "__consumer_offsets" the decoder does not accept. The log is committed Raft data, so
 * a caller that gets this while loading must stop: it is corruption (or a newer broker's format).
 */
export class GroupRecordError extends Error {
  constructor(
    readonly code: GroupRecordErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GroupRecordError';
  }
}
