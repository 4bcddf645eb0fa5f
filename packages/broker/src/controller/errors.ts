/** Expected failures of the controller's codec, as typed values with a stable `code`. */

export type ControllerCodecErrorCode =
  /** Not a controller command or snapshot: wrong magic, truncated, trailing bytes, bad values. */
  | 'CONTROLLER_MALFORMED'
  /** A known command or snapshot format in a version newer than this broker understands. */
  | 'CONTROLLER_UNSUPPORTED_VERSION'
  /** A command type this broker does not know: written by a newer broker. */
  | 'CONTROLLER_UNKNOWN_COMMAND'
  /** The encoded command or snapshot would exceed its size bound. */
  | 'CONTROLLER_TOO_LARGE';

export class ControllerCodecError extends Error {
  constructor(
    readonly code: ControllerCodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ControllerCodecError';
  }

  /** True when the bytes came from a newer broker: this broker must be upgraded to go on. */
  get needsUpgrade(): boolean {
    return this.code === 'CONTROLLER_UNSUPPORTED_VERSION' || this.code === 'CONTROLLER_UNKNOWN_COMMAND';
  }
}
