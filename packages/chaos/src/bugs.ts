/**
 * The harness's catch-alls (a fault step that failed, an undo, a refused transfer) note expected
 * failures and go on; an assertion failure is a bug of the harness or of the code under test and
 * ends the run instead (the same rule as the broker's `rethrowBug`).
 */
import { AssertionError } from '@streambus/raft';

/** Rethrows `error` when it is an assertion failure; returns for every other error. */
export function rethrowBug(error: unknown): void {
  if (error instanceof AssertionError) throw error;
}
