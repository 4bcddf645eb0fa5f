/**
 * The values that cross the boundary of the Raft core: log entries, persistent state,
 * snapshots and messages. Everything here is plain data so that it can be encoded by the
 * broker's transport and by the storage package without knowing the core's internals.
 *
 * Conventions: indexes and terms are positive integers (0 means "none"), node ids are
 * positive integers (0 means "none"), byte sizes are counted on `data` payloads only.
 */

/** A member of a Raft group: a broker id. 0 is never a valid id; it means "none". */
export type NodeId = number;

/** One Raft group (a partition, or the controller) on a host. Unsigned 32-bit. */
export type GroupId = number;

export const EntryType = {
  /** Application data (a record batch, a controller command) or an empty leader no-op. */
  normal: 0,
  /** A `ConfChange` encoded with `encodeConfChange`. */
  confChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One entry of the replicated log. `data` is owned by the log once proposed: never mutate it. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on stable storage before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: number;
  /** The candidate voted for in `term`, 0 when none. */
  readonly vote: NodeId;
  /** The highest index known committed. Persisting it is an optimisation, not a safety need. */
  readonly commit: number;
}

/**
 * Group membership. In a joint configuration `votersOutgoing` is non-empty and a decision
 * needs a majority of `voters` and a majority of `votersOutgoing`.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** The outgoing voters while in a joint configuration, else empty. */
  readonly votersOutgoing: readonly NodeId[];
  /** Voters of the outgoing config that become learners when the joint config is left. */
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  readonly autoLeave: boolean;
}

export interface SnapshotMetadata {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** The term of the entry at `index`. */
  readonly term: number;
  /** Membership as of `index`. */
  readonly confState: ConfState;
}

/** The application's state at `metadata.index`, as opaque bytes. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export const ConfChangeType = {
  addVoter: 0,
  removeNode: 1,
  addLearner: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export const ConfChangeTransition = {
  /** One change: applied directly. Several changes: joint consensus with auto-leave. */
  auto: 0,
  /** Joint consensus, left automatically once committed. */
  jointImplicit: 1,
  /** Joint consensus, left only by an explicit empty `ConfChange` proposal. */
  jointExplicit: 2,
} as const;
export type ConfChangeTransition = (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

/**
 * A membership change. An empty `changes` list leaves a joint configuration.
 * `context` is carried through untouched for the application.
 */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  readonly context: Uint8Array;
}

export const MessageType = {
  /** Leader → follower: append entries after (logTerm, index); also carries commit. */
  append: 1,
  appendResponse: 2,
  vote: 3,
  voteResponse: 4,
  preVote: 5,
  preVoteResponse: 6,
  heartbeat: 7,
  heartbeatResponse: 8,
  /** Leader → follower: one chunk of an InstallSnapshot. */
  snapshot: 9,
  snapshotResponse: 10,
  /** Leader → transferee: campaign now, ignoring the election timeout and leases. */
  timeoutNow: 11,
  /** Follower → leader: a ReadIndex request forwarded on behalf of a local reader. */
  readIndex: 12,
  readIndexResponse: 13,
  /** Follower → leader: a proposal forwarded when `forwardProposals` is on. */
  propose: 14,
  /** Follower → leader: ask the leader to transfer leadership to `from`... or to another node. */
  transferLeader: 15,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** A chunk of a snapshot in transit; a snapshot of `totalBytes` is sent as chunks in order. */
export interface SnapshotChunk {
  readonly metadata: SnapshotMetadata;
  /** Byte offset of `data` within the whole snapshot. */
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
  /** True on the last chunk. */
  readonly done: boolean;
}

/**
 * One Raft message. Which fields are meaningful depends on `type`; unused numeric fields are 0,
 * unused arrays empty. The field set is fixed so that a transport can encode every message the
 * same way (see the broker's peer protocol).
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** append: term of the entry before `entries`; vote: candidate's last log term; reject hint term. */
  readonly logTerm: number;
  /** append: index before `entries`; vote: candidate's last log index; response: matched or hinted index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** appendResponse with reject: the follower's hint of where the logs may agree. */
  readonly rejectHint: number;
  /** snapshot: the chunk carried. */
  readonly snapshot: SnapshotChunk | null;
  /** Opaque context: ReadIndex request ids, campaign kind ("transfer"), heartbeat read ids. */
  readonly context: Uint8Array;
}

export const Role = {
  follower: 'follower',
  preCandidate: 'pre-candidate',
  candidate: 'candidate',
  leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Volatile state worth reporting (not persisted). */
export interface SoftState {
  readonly leaderId: NodeId;
  readonly role: Role;
}

/** The answer to a ReadIndex request: reads at `index` or later are linearizable. */
export interface ReadState {
  readonly index: number;
  readonly requestContext: Uint8Array;
}

/**
 * The work the host must do for one node, in this order:
 *  1. persist `snapshot` (if any), `entries` and `hardState` (if any) — durably when `mustSync`;
 *  2. only then call `advance(ready)`, which releases `messages` to send;
 *  3. apply `committedEntries` (they are always persisted already, possibly by an earlier Ready);
 * Persist-before-send is enforced: messages are not part of `Ready` but are returned by
 * `RaftNode.advance`, which must only be called once this Ready is on stable storage.
 */
export interface Ready {
  /** Present when leader or role changed since the previous Ready. */
  readonly softState: SoftState | null;
  /** Present when term, vote or commit changed; persist before advance(). */
  readonly hardState: HardState | null;
  /**
   * Entries to append to stable storage. `entries[0].index` may be at or below the stored
   * last index: the stored suffix from there on must be replaced (a conflict truncation).
   */
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader: persist it first, replacing the whole stored log,
   * entries above its index included (see `GroupWrite.snapshot`); `entries` follow it.
   */
  readonly snapshot: Snapshot | null;
  /** Committed entries to apply to the state machine, in order, contiguous. */
  readonly committedEntries: readonly Entry[];
  /** ReadIndex answers that became ready. */
  readonly readStates: readonly ReadState[];
  /** False only when nothing durable changed (then persistence may skip the fsync). */
  readonly mustSync: boolean;
  /**
   * Messages that may be sent at once, before the persist completes: a leader's appends and
   * heartbeats when `appendBeforePersist` is on. Empty otherwise. Everything else comes from
   * advance(), after the persist.
   */
  readonly messages: readonly Message[];
}
