import type {
  ConfChange,
  ConfState,
  Entry,
  GroupId,
  HardState,
  Message,
  NodeId,
  Ready,
  Role,
  Snapshot,
} from './types.js';

/** Where an accepted proposal will land in the log, if it commits. */
export interface ProposalReceipt {
  /** The index of the (first) entry. */
  readonly index: number;
  /** The leader's term: the proposal committed iff the entry at `index` has this term when committed. */
  readonly term: number;
}

/** What the leader knows of one member's replication. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly inflightMessages: number;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly applied: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** Leader only: per member, including itself. Empty otherwise. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
  /** A leadership transfer in progress to this node, else 0. */
  readonly leadTransferee: NodeId;
  /** While a repaired log is catching up again: the index it must reach (see InitialState); else 0. */
  readonly repairIndex: number;
}

/**
 * One Raft group member as a pure, deterministic state machine (implemented by `RaftNode`).
 * No timers, sockets, disk or promises: the host drives it.
 */
export interface RaftNodeApi {
  /** Advances logical time by one tick. */
  tick(): void;
  /** Feeds one message from a peer. Messages of stale terms are ignored or answered as Raft says. */
  step(message: Message): void;
  /** Proposes application data; throws NotLeaderError or ProposalDroppedError. */
  propose(data: Uint8Array): ProposalReceipt;
  /** Proposes several entries at once (one receipt for the first; they occupy consecutive indexes). */
  proposeBatch(data: readonly Uint8Array[]): ProposalReceipt;
  /** Proposes a membership change; throws NotLeaderError or ProposalDroppedError (e.g. one pending). */
  proposeConfChange(change: ConfChange): ProposalReceipt;
  /** Applies a committed conf change (called by the host when it applies that entry). */
  applyConfChange(change: ConfChange): ConfState;
  /** Starts a campaign now (tests, bootstrap of single-member groups). */
  campaign(): void;
  /** Leader only: hands leadership to `to` once it is caught up (TimeoutNow). */
  transferLeadership(to: NodeId): void;
  /** Asks for a linearizable read point; answered in `Ready.readStates` with the same context. */
  readIndex(context: Uint8Array): void;
  /** True when `ready()` would return anything worth handling. */
  hasReady(): boolean;
  /** What to persist and apply now. Call `advance` before the next `ready`. */
  ready(): Ready;
  /** Acknowledges that `ready` is persisted; returns the messages it released, to send now. */
  advance(ready: Ready): Message[];
  /** Called by the host after the storage loaded entries it had reported pending. */
  entriesLoaded(): void;
  /** Reports that a message to `to` could not be delivered (the peer is unreachable). */
  reportUnreachable(to: NodeId): void;
  /** Reports the outcome of sending a snapshot to `to`. */
  reportSnapshot(to: NodeId, ok: boolean): void;
  status(): NodeStatus;
  /**
   * True iff ticking this node can stop without changing what Raft does (quiescence): it is the
   * leader, no leadership transfer, conf change or read is pending, commit === lastIndex, every
   * member's match === lastIndex and the last append/heartbeat sent to each carried
   * commit === lastIndex. The host stops calling tick() and resumes on any message or proposal.
   * Never true in 'lease' read mode: a lease is measured in ticks.
   */
  canQuiesce(): boolean;
}

/** The application's state, per group, as the host sees it. */
export interface StateMachine {
  /** Applies committed entries of one group, in order. Conf change entries are included. */
  apply(groupId: GroupId, entries: readonly Entry[]): void | Promise<void>;
  /** Restores a group from a snapshot installed by its leader. */
  restore(groupId: GroupId, snapshot: Snapshot): void | Promise<void>;
}
