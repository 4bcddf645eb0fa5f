/**
 * Invariant checks. A failure is a bug in the client: it throws `AssertionError` and is never
 * turned into a typed client error. (The client depends only on @streambus/proto, so it keeps
 * this one-liner instead of importing the one of @streambus/raft.)
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(`assertion failed: ${message}`);
}
