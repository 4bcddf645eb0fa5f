import type { LogStorage } from './storage.js';
import type { NodeId } from './types.js';

/** Where a reader's linearizability comes from. */
export type ReadOnlyMode =
  /** ReadIndex confirmed by a heartbeat round to a quorum: safe under any clock. */
  | 'safe'
  /**
   * Leader lease (Raft thesis §6.4.1): no round trip while the lease holds, which is
   * `electionTicks - leaseDriftBoundTicks - 1` ticks from the SEND of the newest heartbeat round a
   * quorum acknowledged. It rests on clocks (rates within the drift bound) and on every member of
   * the group running in this mode: a member that heard from a leader within an election timeout,
   * or restarted within one, grants no vote and does not campaign (leadership transfers aside; the
   * leader that sent TimeoutNow serves no lease read for the rest of its term).
   */
  | 'lease';

/** Switches that break Raft on purpose, so that tests can prove the checkers catch it. */
export interface UnsafeTestingKnobs {
  /** Report the vote in HardState as 0 (so it is never persisted). */
  readonly skipVotePersistence?: boolean;
  /** Commit entries of earlier terms by counting replicas (violates Raft §5.4.2). */
  readonly commitOldTermEntries?: boolean;
  /** A node repairing a lost log suffix votes and campaigns anyway (see InitialState.repairIndex). */
  readonly voteWhileRepairing?: boolean;
}

/** Logging hook; the core never logs on its own hot paths. */
export interface RaftLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface RaftNodeConfig {
  /** This node's id; never 0. */
  readonly id: NodeId;
  /** The group's stable log. */
  readonly storage: LogStorage;
  /**
   * Randomness in [0, 1), injected so that a seed replays a run exactly. Used for the randomized
   * election timeout in [electionTicks, 2 * electionTicks).
   */
  readonly random: () => number;
  /** Ticks without hearing from a leader before campaigning. Default 10. */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. Default 1; must be < electionTicks. */
  readonly heartbeatTicks?: number;
  /** Run a pre-vote round before incrementing the term. Default true. */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Append messages in flight to one follower before pausing it. Default 256. */
  readonly inflightMessagesMax?: number;
  /** Bytes of entry data in one append message. Default 1 MiB. */
  readonly messageBytesMax?: number;
  /** Bytes of proposed but uncommitted entry data the leader holds before dropping proposals. Default 64 MiB. */
  readonly uncommittedBytesMax?: number;
  /** Bytes of committed entries handed out in one Ready. Default 16 MiB. */
  readonly committedBytesPerReadyMax?: number;
  /** Bytes per InstallSnapshot chunk. Default 256 KiB. */
  readonly snapshotChunkBytes?: number;
  /** Default 'safe'. 'lease' requires checkQuorum and `leaseDriftBoundTicks`. */
  readonly readOnlyMode?: ReadOnlyMode;
  /** The worst clock drift between members over an election timeout, in ticks (lease mode); < electionTicks - 1. */
  readonly leaseDriftBoundTicks?: number;
  /**
   * A leader hands its appends and heartbeats out in `Ready.messages`, to send before its own
   * persist completes, so that followers write in parallel with it (Raft thesis §10.2.1). Safe:
   * they promise nothing the leader has not made durable (its term was persisted before it could
   * win), and its own entries count toward commit only once persisted. Default false.
   */
  readonly appendBeforePersist?: boolean;
  /** The index already applied by the state machine at start (default: the snapshot's index). */
  readonly applied?: number;
  readonly logger?: RaftLogger;
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
}
