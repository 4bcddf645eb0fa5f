/**
 * The one rule for every catch-all in the broker: an assertion failure is a bug. It crashes the
 * process (rethrown from a callback it is an uncaught exception; from a promise handler an
 * unhandled rejection, which Node turns into one); it never becomes an answer to a client, a log
 * line or a retry. RaftHost does the same with its own `isAssertion`.
 */
import { AssertionError } from '@streambus/raft';

/**
 * Rethrows `error` when it is an assertion failure; returns undefined for every other error, so
 * that `promise.catch(rethrowBug)` stands for "an expected failure means no value".
 */
export function rethrowBug(error: unknown): undefined {
  if (error instanceof AssertionError) throw error;
  return undefined;
}
