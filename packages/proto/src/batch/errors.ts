/** Why a byte string is not a valid record batch. Stable codes; they may cross the wire. */
export type RecordBatchErrorCode =
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'BAD_LENGTH'
  | 'BAD_CRC'
  | 'UNSUPPORTED_CODEC'
  | 'CORRUPT_RECORD'
  | 'TOO_LARGE'
  | 'INVALID_INPUT';

/** A malformed, corrupted or over-limit record batch (or invalid input to the encoder). */
export class RecordBatchError extends Error {
  override readonly name = 'RecordBatchError';
  /** What is wrong, without the code's prefix (the message is the code's words, then this). */
  readonly detail: string;

  constructor(
    readonly code: RecordBatchErrorCode,
    detail: string,
  ) {
    super(`record batch ${code.toLowerCase().replace(/_/g, ' ')}: ${detail}`);
    this.detail = detail;
  }
}
