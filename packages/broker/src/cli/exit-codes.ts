/**
 * Exit codes scripts can trust. Documented in `streambus --help`.
 *   0  ok
 *   1  the operation failed (topic exists, unknown topic, broker reported down, verify found damage)
 *   2  usage or configuration error (bad flag, bad config; nothing was attempted)
 *   3  unavailable or timed out (no broker reachable, no leader, deadline passed): retrying may help
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  unavailable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Error codes (from @streambus/client errors, gRPC or the OS) meaning "could not reach a broker
 * or a leader in time": the operation may succeed later, so they map to exit code 3.
 */
export const unavailableErrorCodes: ReadonlySet<string> = new Set([
  'BROKER_NOT_AVAILABLE',
  'REQUEST_TIMED_OUT',
  'DELIVERY_TIMEOUT',
  'NOT_ENOUGH_REPLICAS',
  'NOT_LEADER',
  'NOT_CONTROLLER',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'UNAVAILABLE',
  'TIMEOUT',
  'DEADLINE_EXCEEDED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'ABORT_ERR',
]);

/** Usage error codes: the request itself was wrong, map to exit code 2. */
export const usageErrorCodes: ReadonlySet<string> = new Set(['INVALID_CONFIG', 'BACKUP_INVALID_REQUEST']);

/** The exit code for an error thrown by an operation. */
export function exitCodeForError(error: unknown): ExitCode {
  const code = errorCode(error);
  if (code !== undefined && unavailableErrorCodes.has(code)) return ExitCode.unavailable;
  if (code !== undefined && usageErrorCodes.has(code)) return ExitCode.usage;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return ExitCode.unavailable;
  return ExitCode.failed;
}

/** The stable `code` of an error, looking through `cause` (fetch wraps socket errors). */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if ('code' in current && typeof current.code === 'string') return current.code;
    current = 'cause' in current ? current.cause : undefined;
  }
  return undefined;
}
