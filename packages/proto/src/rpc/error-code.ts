/**
 * The stable error codes of the StreamBus protocol (proto enum `streambus.v1.ErrorCode`).
 * Values are the wire numbers; they never change. Names are the enum names without the
 * `ERROR_CODE_` prefix, and are what travels in the `streambus-error-code` gRPC metadata key.
 */
export const ErrorCode = {
  NONE: 0,
  NOT_LEADER: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 2,
  OFFSET_OUT_OF_RANGE: 3,
  REQUEST_TOO_LARGE: 4,
  OUT_OF_ORDER_SEQUENCE: 5,
  DUPLICATE_SEQUENCE: 6,
  INVALID_PRODUCER_EPOCH: 7,
  CORRUPT_MESSAGE: 8,
  TOPIC_ALREADY_EXISTS: 9,
  INVALID_REQUEST: 10,
  INVALID_PARTITIONS: 11,
  INVALID_REPLICATION_FACTOR: 12,
  NOT_ENOUGH_REPLICAS: 13,
  REQUEST_TIMED_OUT: 14,
  NOT_CONTROLLER: 15,
  BROKER_NOT_AVAILABLE: 16,
  UNKNOWN_PRODUCER_ID: 17,
  INTERNAL: 18,
  COORDINATOR_NOT_AVAILABLE: 19,
  NOT_COORDINATOR: 20,
  COORDINATOR_LOAD_IN_PROGRESS: 21,
  UNKNOWN_MEMBER_ID: 22,
  FENCED_MEMBER_EPOCH: 23,
  STALE_MEMBER_EPOCH: 24,
  GROUP_MAX_SIZE_REACHED: 25,
  INVALID_GROUP_ID: 26,
  GROUP_ID_NOT_FOUND: 27,
  NON_EMPTY_GROUP: 28,
  UNRELEASED_INSTANCE_ID: 29,
  UNSUPPORTED_ASSIGNOR: 30,
  OFFSET_METADATA_TOO_LARGE: 31,
  INVALID_COMMIT_OFFSET: 32,
  AUTHENTICATION_FAILED: 33,
  SESSION_EXPIRED: 34,
  AUTHORIZATION_FAILED: 35,
  USER_NOT_FOUND: 36,
} as const;

/** A wire error code value. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
/** An error code name, for example `'NOT_LEADER'`. */
export type ErrorCodeName = keyof typeof ErrorCode;

const namesByValue: ReadonlyMap<number, ErrorCodeName> = new Map(
  (Object.keys(ErrorCode) as ErrorCodeName[]).map((name) => [ErrorCode[name], name]),
);

/** The name of a wire code; unknown values (from a newer broker) read as `'INTERNAL'`. */
export function errorCodeName(code: number): ErrorCodeName {
  return namesByValue.get(code) ?? 'INTERNAL';
}

/** The wire code of a name; unknown names read as INTERNAL. */
export function errorCodeFromName(name: string): ErrorCode {
  return Object.hasOwn(ErrorCode, name) ? ErrorCode[name as ErrorCodeName] : ErrorCode.INTERNAL;
}

/**
 * Codes after which the same request may succeed later (usually after a metadata refresh and a
 * backoff), as documented in errors.proto.
 */
const retriableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.NOT_LEADER,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.CORRUPT_MESSAGE,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.BROKER_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.STALE_MEMBER_EPOCH,
]);

/** True when a request that failed with `code` may be retried as is. */
export function isRetriableErrorCode(code: ErrorCode): boolean {
  return retriableCodes.has(code);
}
