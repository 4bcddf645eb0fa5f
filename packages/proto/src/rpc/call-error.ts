/**
 * Request-level failures: a whole RPC failed with a gRPC status, and the StreamBus error code
 * (and leader hint) travel in the response metadata. Both sides use these helpers so the
 * mapping is written once.
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, errorCodeFromName, errorCodeName } from './error-code.js';
import { errorCodeMetadataKey, leaderIdMetadataKey } from './constants.js';

/** The gRPC status a broker uses for each request-level error code. */
export function grpcStatusForErrorCode(code: ErrorCode): grpc.status {
  switch (code) {
    case ErrorCode.REQUEST_TOO_LARGE:
      return grpc.status.RESOURCE_EXHAUSTED;
    case ErrorCode.INVALID_REQUEST:
    case ErrorCode.INVALID_PARTITIONS:
    case ErrorCode.INVALID_REPLICATION_FACTOR:
    case ErrorCode.CORRUPT_MESSAGE:
      return grpc.status.INVALID_ARGUMENT;
    case ErrorCode.REQUEST_TIMED_OUT:
      return grpc.status.DEADLINE_EXCEEDED;
    case ErrorCode.BROKER_NOT_AVAILABLE:
    case ErrorCode.NOT_LEADER:
    case ErrorCode.NOT_CONTROLLER:
      return grpc.status.UNAVAILABLE;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.USER_NOT_FOUND:
      return grpc.status.NOT_FOUND;
    case ErrorCode.AUTHENTICATION_FAILED:
    case ErrorCode.SESSION_EXPIRED:
      return grpc.status.UNAUTHENTICATED;
    case ErrorCode.AUTHORIZATION_FAILED:
      return grpc.status.PERMISSION_DENIED;
    case ErrorCode.TOPIC_ALREADY_EXISTS:
      return grpc.status.ALREADY_EXISTS;
    case ErrorCode.OFFSET_OUT_OF_RANGE:
      return grpc.status.OUT_OF_RANGE;
    case ErrorCode.OUT_OF_ORDER_SEQUENCE:
    case ErrorCode.DUPLICATE_SEQUENCE:
    case ErrorCode.INVALID_PRODUCER_EPOCH:
    case ErrorCode.UNKNOWN_PRODUCER_ID:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
      return grpc.status.FAILED_PRECONDITION;
    default:
      return grpc.status.INTERNAL;
  }
}

/** Builds the error a server handler passes to its callback for a request-level failure. */
export function makeCallError(code: ErrorCode, message: string, leaderId = 0): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(errorCodeMetadataKey, errorCodeName(code));
  if (leaderId !== 0) metadata.set(leaderIdMetadataKey, String(leaderId));
  return { code: grpcStatusForErrorCode(code), details: message, metadata };
}

/** What a client learns from a failed call. */
export interface CallErrorInfo {
  /** The StreamBus code: from metadata when the broker set it, else derived from the status. */
  errorCode: ErrorCode;
  /** The gRPC status code. */
  grpcStatus: grpc.status;
  /** Leader hint, 0 when none. */
  leaderId: number;
  /** The status details. */
  message: string;
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number';
}

/** Reads a failed call's status and metadata; errors that are not gRPC errors read as INTERNAL. */
export function readCallError(error: unknown): CallErrorInfo {
  if (!isServiceError(error)) {
    return { errorCode: ErrorCode.INTERNAL, grpcStatus: grpc.status.UNKNOWN, leaderId: 0, message: String(error) };
  }
  const metadata = error.metadata instanceof grpc.Metadata ? error.metadata : new grpc.Metadata();
  const name = metadata.get(errorCodeMetadataKey)[0];
  const leader = Number(metadata.get(leaderIdMetadataKey)[0] ?? 0);
  const errorCode = name !== undefined ? errorCodeFromName(String(name)) : errorCodeForGrpcStatus(error.code);
  return { errorCode, grpcStatus: error.code, leaderId: Number.isInteger(leader) ? leader : 0, message: error.details };
}

/** The code a client assumes when a status arrives without StreamBus metadata (proxy, transport). */
export function errorCodeForGrpcStatus(status: grpc.status): ErrorCode {
  switch (status) {
    case grpc.status.RESOURCE_EXHAUSTED:
      return ErrorCode.REQUEST_TOO_LARGE;
    case grpc.status.INVALID_ARGUMENT:
      return ErrorCode.INVALID_REQUEST;
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
      return ErrorCode.REQUEST_TIMED_OUT;
    case grpc.status.UNAVAILABLE:
      return ErrorCode.BROKER_NOT_AVAILABLE;
    case grpc.status.NOT_FOUND:
      return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    case grpc.status.ALREADY_EXISTS:
      return ErrorCode.TOPIC_ALREADY_EXISTS;
    case grpc.status.OUT_OF_RANGE:
      return ErrorCode.OFFSET_OUT_OF_RANGE;
    default:
      return ErrorCode.INTERNAL;
  }
}
