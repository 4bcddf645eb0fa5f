/**
 * Typed errors of the client SDK. Each class has a stable `code` (the protocol's error code
 * name, or a client-side code) and a `retriable` flag telling whether the same operation may
 * succeed if tried again. The SDK retries retriable errors itself within its bounds; what reaches
 * the user is final.
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, errorCodeName, readCallError, type ErrorCodeName } from '@streambus/proto';

/** Codes that exist only on the client side. */
export type ClientErrorCode =
  | 'CLIENT_CLOSED'
  | 'DELIVERY_TIMEOUT'
  | 'INVALID_CONFIG'
  | 'ILLEGAL_STATE'
  | 'UNSUPPORTED_VERSION'
  | 'TLS_HANDSHAKE_FAILED';

/** Every code a StreamBus client error may carry. */
export type StreamBusErrorCode = Exclude<ErrorCodeName, 'NONE'> | ClientErrorCode;

/** Base class of every error the SDK reports. */
export abstract class StreamBusError extends Error {
  /** Stable code, safe to switch on. */
  abstract readonly code: StreamBusErrorCode;
  /** True when trying the same operation again may succeed. */
  abstract readonly retriable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The broker does not lead the partition. `leaderId` is the broker's hint, 0 when unknown. */
export class NotLeaderError extends StreamBusError {
  readonly code = 'NOT_LEADER' as const;
  readonly retriable = true;
  constructor(
    message: string,
    readonly leaderId = 0,
  ) {
    super(message);
  }
}
/** The topic or partition does not exist (yet). */
export class UnknownTopicOrPartitionError extends StreamBusError {
  readonly code = 'UNKNOWN_TOPIC_OR_PARTITION' as const;
  readonly retriable = true;
}
/** The offset is outside [log start offset, high watermark]. Seek to a valid offset. */
export class OffsetOutOfRangeError extends StreamBusError {
  readonly code = 'OFFSET_OUT_OF_RANGE' as const;
  readonly retriable = false;
}
/** A record, batch or request exceeds a size bound. Send smaller records or raise the bound. */
export class RequestTooLargeError extends StreamBusError {
  readonly code = 'REQUEST_TOO_LARGE' as const;
  readonly retriable = false;
}
/** The broker lost track of this producer's sequence; records may be missing. */
export class OutOfOrderSequenceError extends StreamBusError {
  readonly code = 'OUT_OF_ORDER_SEQUENCE' as const;
  readonly retriable = false;
}
/** The batch was already written (the SDK treats this as success; users never see it). */
export class DuplicateSequenceError extends StreamBusError {
  readonly code = 'DUPLICATE_SEQUENCE' as const;
  readonly retriable = false;
}
/** A newer producer with the same id fenced this one. Close it. */
export class InvalidProducerEpochError extends StreamBusError {
  readonly code = 'INVALID_PRODUCER_EPOCH' as const;
  readonly retriable = false;
}
/** The broker found a corrupt record batch. */
export class CorruptMessageError extends StreamBusError {
  readonly code = 'CORRUPT_MESSAGE' as const;
  readonly retriable = true;
}
/** The topic exists already. */
export class TopicAlreadyExistsError extends StreamBusError {
  readonly code = 'TOPIC_ALREADY_EXISTS' as const;
  readonly retriable = false;
}
/** The request is malformed. */
export class InvalidRequestError extends StreamBusError {
  readonly code = 'INVALID_REQUEST' as const;
  readonly retriable = false;
}
/** The partition count is out of bounds. */
export class InvalidPartitionsError extends StreamBusError {
  readonly code = 'INVALID_PARTITIONS' as const;
  readonly retriable = false;
}
/** The replication factor is out of bounds (more than the live brokers?). */
export class InvalidReplicationFactorError extends StreamBusError {
  readonly code = 'INVALID_REPLICATION_FACTOR' as const;
  readonly retriable = false;
}
/** Too few in-sync replicas for acks=all. */
export class NotEnoughReplicasError extends StreamBusError {
  readonly code = 'NOT_ENOUGH_REPLICAS' as const;
  readonly retriable = true;
}
/** The broker or the call's deadline timed out. */
export class RequestTimedOutError extends StreamBusError {
  readonly code = 'REQUEST_TIMED_OUT' as const;
  readonly retriable = true;
}
/** The broker is not the controller leader. */
export class NotControllerError extends StreamBusError {
  readonly code = 'NOT_CONTROLLER' as const;
  readonly retriable = true;
  constructor(
    message: string,
    readonly leaderId = 0,
  ) {
    super(message);
  }
}
/** The broker cannot be reached or is not serving. */
export class BrokerNotAvailableError extends StreamBusError {
  readonly code = 'BROKER_NOT_AVAILABLE' as const;
  readonly retriable = true;
}
/** The broker forgot this producer id. */
export class UnknownProducerIdError extends StreamBusError {
  readonly code = 'UNKNOWN_PRODUCER_ID' as const;
  readonly retriable = false;
}
/** A broker bug or an unknown error code. */
export class InternalError extends StreamBusError {
  readonly code = 'INTERNAL' as const;
  readonly retriable = false;
}
/** The client was closed; the operation did not run (or did not finish). */
export class ClientClosedError extends StreamBusError {
  readonly code = 'CLIENT_CLOSED' as const;
  readonly retriable = false;
}
/** A record was not acknowledged within `deliveryTimeoutMs`; `cause` holds the last error. */
export class DeliveryTimeoutError extends StreamBusError {
  readonly code = 'DELIVERY_TIMEOUT' as const;
  readonly retriable = false;
}
/** An option or argument is invalid. */
export class InvalidConfigError extends StreamBusError {
  readonly code = 'INVALID_CONFIG' as const;
  readonly retriable = false;
}
/** The call is not allowed in the client's current state (for example two concurrent polls). */
export class IllegalStateError extends StreamBusError {
  readonly code = 'ILLEGAL_STATE' as const;
  readonly retriable = false;
}

/** The broker does not know the call (gRPC UNIMPLEMENTED): it runs an older StreamBus version. Upgrade it. */
export class UnsupportedVersionError extends StreamBusError {
  readonly code = 'UNSUPPORTED_VERSION' as const;
  readonly retriable = false;
}

/** The group's coordinator is unknown right now (its partition has no leader). The SDK finds it again after a backoff. */
export class CoordinatorNotAvailableError extends StreamBusError {
  readonly code = 'COORDINATOR_NOT_AVAILABLE' as const;
  readonly retriable = true;
}
/** The broker does not coordinate the group. `leaderId` is the broker's hint, 0 when unknown. */
export class NotCoordinatorError extends StreamBusError {
  readonly code = 'NOT_COORDINATOR' as const;
  readonly retriable = true;
  constructor(
    message: string,
    readonly leaderId = 0,
  ) {
    super(message);
  }
}
/** The group's new coordinator is still loading its state. Retried after a short backoff. */
export class CoordinatorLoadInProgressError extends StreamBusError {
  readonly code = 'COORDINATOR_LOAD_IN_PROGRESS' as const;
  readonly retriable = true;
}
/** The member is not in the group (removed after its session timeout): its partitions are lost; it joins again. */
export class UnknownMemberIdError extends StreamBusError {
  readonly code = 'UNKNOWN_MEMBER_ID' as const;
  readonly retriable = false;
}
/** The member's epoch is not the coordinator's (a zombie): its partitions are lost; it joins again. */
export class FencedMemberEpochError extends StreamBusError {
  readonly code = 'FENCED_MEMBER_EPOCH' as const;
  readonly retriable = false;
}
/** A commit from an older member epoch; retried after the next heartbeat for partitions still owned. */
export class StaleMemberEpochError extends StreamBusError {
  readonly code = 'STALE_MEMBER_EPOCH' as const;
  readonly retriable = true;
}
/** The group has as many members as the broker allows (groups.max_size). */
export class GroupMaxSizeReachedError extends StreamBusError {
  readonly code = 'GROUP_MAX_SIZE_REACHED' as const;
  readonly retriable = false;
}
/** The group id or instance id is empty, longer than 249 characters, or not [a-zA-Z0-9._-]. */
export class InvalidGroupIdError extends StreamBusError {
  readonly code = 'INVALID_GROUP_ID' as const;
  readonly retriable = false;
}
/** No such group. */
export class GroupIdNotFoundError extends StreamBusError {
  readonly code = 'GROUP_ID_NOT_FOUND' as const;
  readonly retriable = false;
}
/** The group still has members: stop its consumers (or wait for their session timeout) first. */
export class NonEmptyGroupError extends StreamBusError {
  readonly code = 'NON_EMPTY_GROUP' as const;
  readonly retriable = false;
}
/** Another live member holds this groupInstanceId: stop it first, or use another instance id. */
export class UnreleasedInstanceIdError extends StreamBusError {
  readonly code = 'UNRELEASED_INSTANCE_ID' as const;
  readonly retriable = false;
}
/** The coordinator has no such assignor (it has "uniform" and "range"). */
export class UnsupportedAssignorError extends StreamBusError {
  readonly code = 'UNSUPPORTED_ASSIGNOR' as const;
  readonly retriable = false;
}
/** Commit metadata longer than 4096 bytes. */
export class OffsetMetadataTooLargeError extends StreamBusError {
  readonly code = 'OFFSET_METADATA_TOO_LARGE' as const;
  readonly retriable = false;
}
/** A commit of a negative offset. */
export class InvalidCommitOffsetError extends StreamBusError {
  readonly code = 'INVALID_COMMIT_OFFSET' as const;
  readonly retriable = false;
}

/**
 * The SCRAM handshake failed: a wrong password, an unknown user (the broker answers both alike,
 * so the message never says which), a broker that could not prove it holds the user's credential,
 * or a broker that requires authentication from a client configured without `sasl`. Not retried:
 * the same credentials fail the same way.
 */
export class AuthenticationError extends StreamBusError {
  readonly code = 'AUTHENTICATION_FAILED' as const;
  readonly retriable = false;
}
/**
 * The call's session is unknown to the broker (the connection it was made on has closed). The SDK
 * authenticates again on the current connection and retries the call once; users see this only
 * when that retry failed the same way.
 */
export class SessionExpiredError extends StreamBusError {
  readonly code = 'SESSION_EXPIRED' as const;
  readonly retriable = false;
}
/** An ACL does not allow the call ("user alice may not write topic orders"). Not retried: grant the ACL. */
export class AuthorizationError extends StreamBusError {
  readonly code = 'AUTHORIZATION_FAILED' as const;
  readonly retriable = false;
}
/** No such user (Admin.deleteUser). */
export class UserNotFoundError extends StreamBusError {
  readonly code = 'USER_NOT_FOUND' as const;
  readonly retriable = false;
}
/**
 * The TLS handshake with a broker failed ("TLS handshake: certificate not signed by the configured
 * CA"): a CA file that does not sign the broker's certificate, a certificate that does not name the
 * host dialled, a client certificate the broker does not accept, no common TLS version. Not
 * retried: the configuration has to change.
 */
export class TlsHandshakeError extends StreamBusError {
  readonly code = 'TLS_HANDSHAKE_FAILED' as const;
  readonly retriable = false;
}

/** The typed error for a protocol error code (NONE is not an error and reads as INTERNAL). */
export function errorFromCode(code: ErrorCode, message: string, leaderId = 0): StreamBusError {
  const text = message === '' ? errorCodeName(code).toLowerCase().replace(/_/g, ' ') : message;
  switch (code) {
    case ErrorCode.NOT_LEADER:
      return new NotLeaderError(text, leaderId);
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return new UnknownTopicOrPartitionError(text);
    case ErrorCode.OFFSET_OUT_OF_RANGE:
      return new OffsetOutOfRangeError(text);
    case ErrorCode.REQUEST_TOO_LARGE:
      return new RequestTooLargeError(text);
    case ErrorCode.OUT_OF_ORDER_SEQUENCE:
      return new OutOfOrderSequenceError(text);
    case ErrorCode.DUPLICATE_SEQUENCE:
      return new DuplicateSequenceError(text);
    case ErrorCode.INVALID_PRODUCER_EPOCH:
      return new InvalidProducerEpochError(text);
    case ErrorCode.CORRUPT_MESSAGE:
      return new CorruptMessageError(text);
    case ErrorCode.TOPIC_ALREADY_EXISTS:
      return new TopicAlreadyExistsError(text);
    case ErrorCode.INVALID_REQUEST:
      return new InvalidRequestError(text);
    case ErrorCode.INVALID_PARTITIONS:
      return new InvalidPartitionsError(text);
    case ErrorCode.INVALID_REPLICATION_FACTOR:
      return new InvalidReplicationFactorError(text);
    case ErrorCode.NOT_ENOUGH_REPLICAS:
      return new NotEnoughReplicasError(text);
    case ErrorCode.REQUEST_TIMED_OUT:
      return new RequestTimedOutError(text);
    case ErrorCode.NOT_CONTROLLER:
      return new NotControllerError(text, leaderId);
    case ErrorCode.BROKER_NOT_AVAILABLE:
      return new BrokerNotAvailableError(text);
    case ErrorCode.UNKNOWN_PRODUCER_ID:
      return new UnknownProducerIdError(text);
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
      return new CoordinatorNotAvailableError(text);
    case ErrorCode.NOT_COORDINATOR:
      return new NotCoordinatorError(text, leaderId);
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
      return new CoordinatorLoadInProgressError(text);
    case ErrorCode.UNKNOWN_MEMBER_ID:
      return new UnknownMemberIdError(text);
    case ErrorCode.FENCED_MEMBER_EPOCH:
      return new FencedMemberEpochError(text);
    case ErrorCode.STALE_MEMBER_EPOCH:
      return new StaleMemberEpochError(text);
    case ErrorCode.GROUP_MAX_SIZE_REACHED:
      return new GroupMaxSizeReachedError(text);
    case ErrorCode.INVALID_GROUP_ID:
      return new InvalidGroupIdError(text);
    case ErrorCode.GROUP_ID_NOT_FOUND:
      return new GroupIdNotFoundError(text);
    case ErrorCode.NON_EMPTY_GROUP:
      return new NonEmptyGroupError(text);
    case ErrorCode.UNRELEASED_INSTANCE_ID:
      return new UnreleasedInstanceIdError(text);
    case ErrorCode.UNSUPPORTED_ASSIGNOR:
      return new UnsupportedAssignorError(text);
    case ErrorCode.OFFSET_METADATA_TOO_LARGE:
      return new OffsetMetadataTooLargeError(text);
    case ErrorCode.INVALID_COMMIT_OFFSET:
      return new InvalidCommitOffsetError(text);
    case ErrorCode.AUTHENTICATION_FAILED:
      return new AuthenticationError(text);
    case ErrorCode.SESSION_EXPIRED:
      return new SessionExpiredError(text);
    case ErrorCode.AUTHORIZATION_FAILED:
      return new AuthorizationError(text);
    case ErrorCode.USER_NOT_FOUND:
      return new UserNotFoundError(text);
    default:
      return new InternalError(`${text} (error code ${code})`);
  }
}

/** The typed error for a failed RPC (gRPC status plus StreamBus metadata). */
export function errorFromCall(error: unknown, address: string): StreamBusError {
  if (error instanceof StreamBusError) return error;
  const info = readCallError(error);
  if (info.grpcStatus === grpc.status.UNIMPLEMENTED)
    return new UnsupportedVersionError(
      `${address} does not serve this call: it runs an older StreamBus version; upgrade it first (${info.message})`,
    );
  const detail = info.message === '' ? 'call failed' : info.message;
  if (info.grpcStatus === grpc.status.UNAVAILABLE) {
    // A call that raced a failed reconnect carries grpc-js's "Last error: <the TLS error>".
    const tls = tlsFailureReason(detail);
    if (tls !== undefined) return new TlsHandshakeError(`TLS handshake: ${tls} (${address}: ${detail})`);
  }
  // The security answers are read by their users as they are: "user alice may not write topic
  // orders", "authentication failed for user alice"; the broker's address stays in front.
  const wrapped = errorFromCode(info.errorCode, `${address}: ${detail}`, info.leaderId);
  return wrapped;
}

/**
 * What a TLS failure text (OpenSSL's, as Node.js reports it, alone or inside grpc-js's "No
 * connection established. Last error: ...") means for the user, or undefined when it is not a TLS
 * failure. The texts are OpenSSL's verify results (X509_verify_cert_error_string) and alerts.
 */
export function tlsFailureReason(text: string): string | undefined {
  const lower = text.toLowerCase();
  const has = (...needles: string[]): boolean => needles.some((needle) => lower.includes(needle));
  if (
    has(
      'self-signed certificate',
      'self signed certificate',
      'unable to verify the first certificate',
      'unable to get local issuer certificate',
      'unable to get issuer certificate',
      'certificate signature failure',
      'unable to verify leaf signature',
    )
  )
    return 'certificate not signed by the configured CA';
  if (has("hostname/ip does not match certificate's altnames", 'err_tls_cert_altname_invalid'))
    return "the broker's certificate does not name the host dialled (dial a name it lists, or set tls.servername)";
  if (has('certificate has expired')) return "the broker's certificate has expired";
  if (has('certificate is not yet valid')) return "the broker's certificate is not valid yet (check the clocks)";
  if (has('alert certificate required', 'peer did not return a certificate'))
    return 'the broker requires a client certificate (tls.cert and tls.key)';
  if (has('alert unknown ca', 'alert bad certificate', 'alert certificate unknown'))
    return 'the broker does not accept the client certificate (not signed by its CA)';
  if (has('alert protocol version', 'unsupported protocol', 'no protocols available'))
    return "no TLS version both sides accept (the client's minimum is tls.versionMin, TLS 1.3 by default)";
  if (has('wrong version number', 'packet length too long', 'http_request'))
    return 'the broker did not answer in TLS (is TLS off on its port?)';
  return undefined;
}
