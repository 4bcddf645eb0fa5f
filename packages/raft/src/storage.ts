import type { ConfState, Entry, GroupId, HardState, Snapshot } from './types.js';

/** What a group's storage holds at start-up. */
export interface InitialState {
  readonly hardState: HardState;
  /** Membership as of the latest snapshot (index 0 for a bootstrapped group). */
  readonly confState: ConfState;
  /**
   * Non-zero after the store dropped a suffix of the log this node had acknowledged (a corrupt
   * batch, see `RaftStore.discardFrom`): the last index it held before. Until its log reaches it
   * again the node grants no votes and never campaigns, since its shorter log no longer proves
   * what a majority committed.
   */
  readonly repairIndex?: number;
}

/**
 * The read view of one group's stable log that `RaftNode` consults. Synchronous by design:
 * implementations keep the term of every index (as runs) and a bounded tail of entries in
 * memory, and load older entries asynchronously on demand.
 *
 * Index layout: the log holds entries [firstIndex(), lastIndex()]; the entry at
 * firstIndex() - 1 is the one the latest snapshot covers, whose term is still answered.
 * An empty log has lastIndex() === firstIndex() - 1.
 */
export interface LogStorage {
  initialState(): InitialState;
  /**
   * Entries in the half-open range [lo, hi), stopping before the total `data` bytes would
   * exceed `bytesMax` but always returning at least one entry when lo < hi.
   * Throws CompactedError if lo < firstIndex(), UnavailableError if hi > lastIndex() + 1,
   * EntriesPendingError if they must first be loaded from disk (the storage starts loading them
   * and notifies its host; the caller retries later).
   */
  entries(lo: number, hi: number, bytesMax: number): Entry[];
  /**
   * The term of the entry at `index`, for firstIndex() - 1 <= index <= lastIndex().
   * Throws CompactedError below that range and UnavailableError above it. Never pending.
   */
  term(index: number): number;
  /** The index of the first entry still in the log (the snapshot's index + 1). */
  firstIndex(): number;
  /** The index of the last entry in the log (the snapshot's index when the log is empty). */
  lastIndex(): number;
  /** The latest snapshot. Throws SnapshotTemporarilyUnavailableError if it is being produced. */
  snapshot(): Snapshot;
}

/** How a store creates a group it does not hold yet (ignored when it holds it). */
export interface OpenGroupOptions {
  /**
   * The member may have been in this group before, with state it lost (a replica a reassignment
   * adds to a broker that deleted its copy): the store records repairIndex 1, so the node grants
   * no votes and never campaigns until it holds an entry from a leader (whose message also made
   * its vote for that leader durable). It cannot vote twice in a term its earlier self voted in,
   * across restarts too.
   */
  readonly joining?: boolean;
}

/** One group's share of a group-committed storage write; see `Ready` for the meaning of each. */
export interface GroupWrite {
  readonly groupId: GroupId;
  readonly hardState: HardState | null;
  /** Appended after truncating any stored entries at or above entries[0].index. */
  readonly entries: readonly Entry[];
  /**
   * InstallSnapshot on a follower: replaces the WHOLE stored log, not only its prefix. After it
   * the log is empty at the snapshot (firstIndex() = index + 1, lastIndex() = index, term(index) =
   * the snapshot's term): every stored entry is dropped, those above the snapshot's index too.
   * The node installs a snapshot only when its own entry at that index is missing or of another
   * term, so whatever it holds beyond the index is a divergent history. `entries`, if any, are
   * then appended above the snapshot in the same write.
   */
  readonly snapshot: Snapshot | null;
}

/**
 * The durable store of many groups, written by `RaftHost` once per loop turn.
 * Contract: when `persist` resolves, every write is in the store as one atomic batch, durable as
 * the store's sync policy promises, and each group's `LogStorage` already reflects it.
 */
export interface RaftStore {
  /** Groups that have state in the store, for recovery at start-up. */
  groupIds(): readonly GroupId[];
  /**
   * The storage of one group, creating it with `bootstrap` as its initial membership (a snapshot
   * at index 0, term 0) when the store holds nothing for it. The creation is part of the next
   * `persist`.
   */
  openGroup(groupId: GroupId, bootstrap: ConfState | null, options?: OpenGroupOptions): LogStorage;
  /** Writes all groups' changes in one batch (group commit). */
  persist(writes: readonly GroupWrite[], mustSync: boolean): Promise<void>;
  /**
   * Records `snapshot` (the application's state at an applied index) and discards the log up to
   * and including `snapshot.metadata.index`. Entries above it are kept.
   */
  compact(groupId: GroupId, snapshot: Snapshot): Promise<void>;
  /**
   * Optional (repair of a corrupt replica): drops the entries at and above `fromIndex`, lowers the
   * stored commit below them, keeps term and vote, and records the previous last index as the
   * group's `repairIndex`. The group must not be open in a host while this runs.
   */
  discardFrom?(groupId: GroupId, fromIndex: number): Promise<void>;
  /** Removes every trace of a group. */
  deleteGroup(groupId: GroupId): Promise<void>;
  /** Called with a group id when entries it reported pending have been loaded. */
  onEntriesLoaded(listener: (groupId: GroupId) => void): void;
}
