/**
 * Expected failures of the Raft library, as named, typed values with a stable `code` that may
 * cross the wire. Bugs are not errors: they are assertion failures (see `assert`), which crash.
 */

export type RaftErrorCode =
  | 'COMPACTED'
  | 'UNAVAILABLE'
  | 'ENTRIES_PENDING'
  | 'SNAPSHOT_TEMPORARILY_UNAVAILABLE'
  | 'NOT_LEADER'
  | 'PROPOSAL_DROPPED'
  | 'GROUP_NOT_FOUND'
  | 'STOPPED';

export abstract class RaftError extends Error {
  abstract readonly code: RaftErrorCode;
}

/** The requested index is below the first index kept: it was compacted into a snapshot. */
export class CompactedError extends RaftError {
  readonly code = 'COMPACTED' as const;
  constructor(
    readonly index: number,
    readonly firstIndex: number,
  ) {
    super(`index ${index} was compacted (first index is ${firstIndex})`);
  }
}

/** The requested index is above the last index stored. */
export class UnavailableError extends RaftError {
  readonly code = 'UNAVAILABLE' as const;
  constructor(
    readonly index: number,
    readonly lastIndex: number,
  ) {
    super(`index ${index} is not in the log (last index is ${lastIndex})`);
  }
}

/**
 * The entries exist but are not in memory; the storage has started loading them and will tell
 * its host when they are ready. The caller must try again later; nothing is lost.
 */
export class EntriesPendingError extends RaftError {
  readonly code = 'ENTRIES_PENDING' as const;
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {
    super(`entries [${lo}, ${hi}) are being loaded from disk`);
  }
}

/** The storage cannot produce a snapshot right now; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  readonly code = 'SNAPSHOT_TEMPORARILY_UNAVAILABLE' as const;
  constructor() {
    super('snapshot is temporarily unavailable; retry later');
  }
}

/** The operation needs the leader. `leaderId` is the best known leader, 0 when unknown. */
export class NotLeaderError extends RaftError {
  readonly code = 'NOT_LEADER' as const;
  constructor(readonly leaderId: number) {
    super(
      leaderId === 0
        ? 'not the leader, and no leader is known; retry later'
        : `not the leader; the leader is node ${leaderId}`,
    );
  }
}

/** The proposal was not accepted: a leadership transfer is under way or a size bound was hit. */
export class ProposalDroppedError extends RaftError {
  readonly code = 'PROPOSAL_DROPPED' as const;
  constructor(readonly reason: string) {
    super(`proposal dropped: ${reason}`);
  }
}

/** No group with this id on the host. */
export class GroupNotFoundError extends RaftError {
  readonly code = 'GROUP_NOT_FOUND' as const;
  constructor(readonly groupId: number) {
    super(`raft group ${groupId} is not on this host`);
  }
}

/** The host or node was stopped. */
export class StoppedError extends RaftError {
  readonly code = 'STOPPED' as const;
  constructor() {
    super('raft host is stopped');
  }
}

/** An invariant was broken: a bug. Never caught and turned into a client error. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionError';
  }
}

/** Crashes on a broken invariant. One condition per call, with a message naming it. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
