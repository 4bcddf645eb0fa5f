/**
 * One member of a Raft group as a pure, deterministic state machine, in the style of
 * etcd-io/raft: the host calls tick(), step(), propose...(), then ready() to learn what to
 * persist and apply, and advance(ready) once it is persisted, which returns the messages to send.
 *
 * Persist-before-send: every message is produced into an outbox that only advance() empties, and
 * only with the messages produced before the matching ready() call. So no vote, append response
 * or append leaves the node before the term, vote and entries it depends on are on disk. A
 * leader's own entries count toward commit only once persisted: its match moves in advance().
 * Opt-in exception (`appendBeforePersist`, Raft thesis §10.2.1): a leader's appends and heartbeats
 * come out in `Ready.messages`, to send while its own write is in flight; they depend on nothing
 * that write makes durable (its term was on disk before it could win).
 *
 * Each role has its own step and tick function; impossible transitions throw AssertionError.
 *
 * Wire conventions beyond those of `Message` (types.ts), for transports and the simulator:
 *  - snapshot: one chunk per message, in order; the follower answers every chunk but the last
 *    with a snapshotResponse whose `snapshot` is an ack chunk (same metadata, empty data,
 *    `offset` = bytes it holds, `reject` when it cannot continue from the chunk sent); the
 *    leader continues from that offset. After the last chunk the follower answers with an
 *    appendResponse at its new last index. An unacknowledged chunk is resent after an election
 *    timeout.
 *  - readIndex and transferLeader forwarded by a follower carry term 0 (no term effects);
 *    transferLeader names the transferee in `index` (0: the sender itself).
 *  - A vote request from a leadership transfer carries the context "transfer" (leases ignored).
 *  - Lease mode: a heartbeat's `index` is the leader's tick when it was sent; the response echoes
 *    it, and the lease runs from it (0 in safe mode, so plain heartbeats stay compact).
 *  - Heartbeats carry the leader's number of its newest pending ReadIndex request (an 8-byte read
 *    round, see read-only.ts), never a requester's own context; the response echoes it. Requests
 *    are told apart by requester and context, so two hosts may use the same bytes.
 *
 * Deliberate choices, as in etcd: a node that is a learner in its own config still answers vote
 * requests (its promotion may be committed but not yet applied); the candidate only counts votes
 * of voters in its config, so a learner's vote never counts toward a quorum there.
 */
import type { RaftLogger, RaftNodeConfig, ReadOnlyMode } from '../config.js';
import {
  committedBytesPerReadyMaxDefault,
  electionTicksDefault,
  heartbeatTicksDefault,
  inflightMessagesMaxDefault,
  messageBytesMaxDefault,
  snapshotChunkBytesDefault,
  uncommittedBytesMaxDefault,
} from '../constants.js';
import { decodeConfChange, encodeConfChange } from '../confchange/codec.js';
import { applyChange } from '../confchange/changer.js';
import {
  assert,
  CompactedError,
  EntriesPendingError,
  NotLeaderError,
  ProposalDroppedError,
  SnapshotTemporarilyUnavailableError,
} from '../errors.js';
import { dataBytes, RaftLog } from '../log/raft-log.js';
import type { NodeStatus, ProgressStatus, ProposalReceipt, RaftNodeApi } from '../node-api.js';
import { jointCommittedIndex } from '../quorum/quorum.js';
import { decodeReadRound, ReadOnly } from '../read-only/read-only.js';
import type { Progress } from '../tracker/progress.js';
import {
  allVoters,
  configFromConfState,
  confStateFromConfig,
  isJoint,
  isVoter,
  ProgressTracker,
} from '../tracker/tracker.js';
import type { TrackerConfig } from '../tracker/tracker.js';
import { ConfChangeTransition, EntryType, MessageType, Role } from '../types.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  Ready,
  ReadState,
  Snapshot,
  SnapshotChunk,
  SnapshotMetadata,
  SoftState,
} from '../types.js';
import { inflightBytesMaxDefault, proposalBatchEntriesMax, readRequestsPendingMax } from './constants.js';

const emptyBytes = new Uint8Array(0);
const emptyMessages: Message[] = [];

/** A leader's appends and heartbeats: nothing in them waits for its own persist (see appendBeforePersist). */
function isLeaderReplication(m: Message): boolean {
  return m.type === MessageType.append || m.type === MessageType.heartbeat;
}
/** Vote requests carrying this context come from a leadership transfer: leases do not apply. */
export const transferContext = new TextEncoder().encode('transfer');
/**
 * An append rejection carrying this context says "I lost entries I had acknowledged; I hold the
 * log up to `rejectHint` only": the leader moves its match for that follower back (which a
 * normal, possibly stale, rejection never does) and probes from there.
 */
export const logLostContext = new TextEncoder().encode('log-lost');

type MessageFields = Partial<Message> & Pick<Message, 'type' | 'to'>;

interface Options {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly messageBytesMax: number;
  readonly uncommittedBytesMax: number;
  readonly committedBytesPerReadyMax: number;
  readonly snapshotChunkBytes: number;
  readonly readOnlyMode: ReadOnlyMode;
  /** Lease mode: ticks after a heartbeat round's send that its quorum's acknowledgement covers. */
  readonly leaseTicks: number;
  readonly skipVotePersistence: boolean;
  readonly voteWhileRepairing: boolean;
  readonly appendBeforePersist: boolean;
  readonly commitOldTermEntries: boolean;
}

/** The one snapshot being received in chunks (follower). */
interface SnapshotReceive {
  readonly term: number;
  readonly metadata: SnapshotMetadata;
  readonly parts: Uint8Array[];
  bytes: number;
}

interface PendingRead {
  readonly context: Uint8Array;
  readonly from: NodeId;
}

function resolveOptions(config: RaftNodeConfig): Options {
  const electionTicks = config.electionTicks ?? electionTicksDefault;
  const heartbeatTicks = config.heartbeatTicks ?? heartbeatTicksDefault;
  const checkQuorum = config.checkQuorum ?? true;
  const readOnlyMode = config.readOnlyMode ?? 'safe';
  const leaseDriftBoundTicks = config.leaseDriftBoundTicks ?? 0;
  assert(config.id > 0, 'node id is positive');
  assert(heartbeatTicks > 0, 'heartbeat ticks are positive');
  assert(heartbeatTicks < electionTicks, 'heartbeat is shorter than the election timeout');
  assert(readOnlyMode === 'safe' || checkQuorum, 'lease reads need checkQuorum');
  assert(readOnlyMode === 'safe' || config.leaseDriftBoundTicks !== undefined, 'lease reads need leaseDriftBoundTicks');
  assert(
    leaseDriftBoundTicks >= 0 && leaseDriftBoundTicks + 1 < electionTicks,
    'lease drift bound leaves a lease within the election timeout',
  );
  return {
    electionTicks,
    heartbeatTicks,
    preVote: config.preVote ?? true,
    checkQuorum,
    messageBytesMax: config.messageBytesMax ?? messageBytesMaxDefault,
    uncommittedBytesMax: config.uncommittedBytesMax ?? uncommittedBytesMaxDefault,
    committedBytesPerReadyMax: config.committedBytesPerReadyMax ?? committedBytesPerReadyMaxDefault,
    snapshotChunkBytes: config.snapshotChunkBytes ?? snapshotChunkBytesDefault,
    readOnlyMode,
    leaseTicks: electionTicks - leaseDriftBoundTicks - 1,
    skipVotePersistence: config.unsafeTestingKnobs?.skipVotePersistence ?? false,
    voteWhileRepairing: config.unsafeTestingKnobs?.voteWhileRepairing ?? false,
    appendBeforePersist: config.appendBeforePersist ?? false,
    commitOldTermEntries: config.unsafeTestingKnobs?.commitOldTermEntries ?? false,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function responseType(type: MessageType): MessageType {
  if (type === MessageType.vote) return MessageType.voteResponse;
  assert(type === MessageType.preVote, 'vote response for a vote request');
  return MessageType.preVoteResponse;
}

function concatBytes(parts: readonly Uint8Array[], totalBytes: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

export class RaftNode implements RaftNodeApi {
  readonly id: NodeId;
  private readonly options: Options;
  private readonly random: () => number;
  private readonly logger: RaftLogger | undefined;
  private readonly log: RaftLog;
  private readonly tracker: ProgressTracker;
  private readonly readOnly = new ReadOnly(readRequestsPendingMax);

  private term = 0;
  private vote: NodeId = 0;
  private role: Role = Role.follower;
  private lead: NodeId = 0;
  private stepRole: (message: Message) => void = (message) => this.stepFollower(message);
  private tickRole: () => void = () => this.tickElection();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;
  /** Ticks since start; the clock of lease reads. */
  private ticks = 0;
  /** The last term in which this node, leading, told a peer to campaign at once (no lease in it after). */
  private timeoutNowSentTerm = 0;
  /**
   * Lease mode: the tick at which this member last heard from a leader; undefined when it never
   * did since it started and never answered one before (its stored term was 0). A member that
   * restarts with a term starts at tick 0, as if it had just heard from a leader: it may have
   * acknowledged one just before it went down, and forgot.
   */
  private leaderHeardTick: number | undefined;

  private leadTransferee: NodeId = 0;
  /** See InitialState.repairIndex: no votes, no campaigns until the log reaches it (0: none). */
  private repairIndex: number;
  /** The index of the latest conf change the leader may have appended; none pending once applied. */
  private pendingConfIndex = 0;
  /** Conf change entries handed to the host in committedEntries but not yet applyConfChange'd. */
  private confChangesUnapplied = 0;
  /**
   * A TimeoutNow that came while committed membership changes were not applied yet (hup does not
   * campaign then): its term and arrival tick. The campaign starts as soon as they are applied,
   * instead of the hand-off waiting out the leader's election timeout; void once the term or role
   * changes (reset) or after an election timeout (the leader has abandoned the transfer by then).
   */
  private deferredTransfer: { readonly term: number; readonly tick: number } | null = null;
  private uncommittedBytes = 0;
  /** Reads received before the leader committed an entry of its term. */
  private pendingReads: PendingRead[] = [];
  private readStates: ReadState[] = [];
  private snapshotReceive: SnapshotReceive | null = null;

  /** Messages produced since the last ready(); released by the advance() after the next ready(). */
  private outbox: Message[] = [];
  /** Proposals appended since the last ready(): appends go out in one batch at ready(). */
  private appendsDirty = false;
  /** Reads queued since the last ready(): one heartbeat round goes out at ready(). */
  private readsDirty = false;
  /** Committed entries could not be read (EntriesPendingError) until entriesLoaded(). */
  private committedPending = false;
  private readyInFlight: { readonly ready: Ready; readonly messages: Message[] } | null = null;
  private prevSoftState: SoftState;
  private prevHardState: HardState;

  constructor(config: RaftNodeConfig) {
    this.id = config.id;
    this.options = resolveOptions(config);
    this.random = config.random;
    this.logger = config.logger;
    const storage = config.storage;
    const initial = storage.initialState();
    this.repairIndex = initial.repairIndex ?? 0;
    const snapshotIndex = storage.firstIndex() - 1;
    this.log = new RaftLog(storage, config.applied ?? snapshotIndex);
    this.tracker = new ProgressTracker(configFromConfState(initial.confState), {
      inflightMessagesMax: config.inflightMessagesMax ?? inflightMessagesMaxDefault,
      inflightBytesMax: Math.max(inflightBytesMaxDefault, this.options.messageBytesMax),
    });
    this.replayAppliedConfChanges(snapshotIndex);
    this.becomeFollower(initial.hardState.term, 0);
    this.vote = initial.hardState.vote;
    this.leaderHeardTick = this.options.readOnlyMode === 'lease' && initial.hardState.term > 0 ? 0 : undefined;
    this.prevSoftState = this.softState();
    this.prevHardState = this.reportedHardState();
  }

  // ---------------------------------------------------------------- public API

  tick(): void {
    this.ticks++;
    this.tickRole();
  }

  step(message: Message): void {
    assert(message.to === this.id, 'message addressed to this node');
    // §5.1: a newer term makes us a follower in it; a message of an older term is stale. Term 0
    // marks the forwarded requests (readIndex, transferLeader) that carry no term at all.
    if (message.term > this.term && !this.stepHigherTerm(message)) return;
    if (message.term !== 0 && message.term < this.term) {
      this.stepLowerTerm(message);
      return;
    }
    if (message.type === MessageType.vote || message.type === MessageType.preVote) {
      this.handleVoteRequest(message);
      return;
    }
    this.stepRole(message);
  }

  propose(data: Uint8Array): ProposalReceipt {
    return this.proposeBatch([data]);
  }

  proposeBatch(data: readonly Uint8Array[]): ProposalReceipt {
    this.checkCanPropose();
    assert(data.length > 0, 'a batch proposes at least one entry');
    if (data.length > proposalBatchEntriesMax)
      throw new ProposalDroppedError(`more than ${proposalBatchEntriesMax} entries in one batch`);
    const index = this.log.lastIndex() + 1;
    this.appendEntries(EntryType.normal, data);
    return { index, term: this.term };
  }

  proposeConfChange(change: ConfChange): ProposalReceipt {
    this.checkCanPropose();
    if (this.confChangePending())
      throw new ProposalDroppedError('a membership change is already pending; retry once it is applied');
    const result = applyChange(this.tracker.config, change);
    if (!result.ok) throw new ProposalDroppedError(`invalid membership change: ${result.reason}`);
    return this.appendConfChange(change);
  }

  applyConfChange(change: ConfChange): ConfState {
    if (this.confChangesUnapplied > 0) this.confChangesUnapplied--;
    const result = applyChange(this.tracker.config, change);
    if (!result.ok) {
      // Every member applies the same log to the same config, so all of them skip it alike.
      this.logger?.warn({ id: this.id, reason: result.reason }, 'committed membership change ignored');
      return this.confState();
    }
    this.switchToConfig(result.config);
    this.maybeDeferredTransfer();
    return this.confState();
  }

  campaign(): void {
    this.hup(false);
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== Role.leader) {
      if (this.lead === 0) throw new NotLeaderError(0);
      // Forwarded with term 0 (no term effects); `index` names the transferee (0: the sender).
      this.send({ type: MessageType.transferLeader, to: this.lead, term: 0, index: to });
      return;
    }
    const progress = this.tracker.progress.get(to);
    if (progress === undefined || progress.isLearner)
      throw new ProposalDroppedError(`node ${to} is not a voter; leadership can only go to a voter`);
    this.handleTransfer(to);
  }

  readIndex(context: Uint8Array): void {
    if (this.role !== Role.leader) {
      if (this.lead === 0) throw new NotLeaderError(0);
      this.send({ type: MessageType.readIndex, to: this.lead, term: 0, context });
      return;
    }
    if (!this.handleReadIndex(context, this.id)) throw new ProposalDroppedError('too many reads pending; retry later');
  }

  hasReady(): boolean {
    if (this.readyInFlight !== null) return false;
    if (this.appendsDirty || this.readsDirty || this.outbox.length > 0 || this.readStates.length > 0) return true;
    if (this.log.unstable.length > 0 || this.log.unstable.snapshot !== null) return true;
    // Compared field by field: hasReady() runs for every group on every host loop turn.
    if (this.lead !== this.prevSoftState.leaderId || this.role !== this.prevSoftState.role) return true;
    const prev = this.prevHardState;
    if (this.term !== prev.term || this.reportedVote() !== prev.vote || this.log.committed !== prev.commit) return true;
    return !this.committedPending && this.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    assert(this.readyInFlight === null, 'ready() is not called again before advance()');
    this.flushAppends();
    this.flushReads();
    const soft = this.softState();
    const hard = this.reportedHardState();
    const softChanged = !this.sameSoftState(soft);
    const hardChanged = !this.sameHardState(hard);
    const entries = this.log.unstableEntries();
    const snapshot = this.log.unstable.snapshot;
    const durableChanged = hard.term !== this.prevHardState.term || hard.vote !== this.prevHardState.vote;
    let early: Message[] = emptyMessages;
    let late = this.outbox;
    // StreamBus (appendBeforePersist), after thesis §10.2.1: a leader's appends and heartbeats may
    // leave before its own write, never in a Ready that changes its term or vote.
    if (this.options.appendBeforePersist && this.role === Role.leader && !durableChanged && late.length > 0) {
      early = late.filter(isLeaderReplication);
      if (early.length === late.length) late = [];
      else if (early.length > 0) late = late.filter((m) => !isLeaderReplication(m));
    }
    const ready: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot,
      committedEntries: this.takeCommittedEntries(),
      readStates: this.readStates,
      mustSync: durableChanged || entries.length > 0 || snapshot !== null,
      messages: early,
    };
    this.readStates = [];
    this.prevSoftState = soft;
    this.prevHardState = hard;
    this.readyInFlight = { ready, messages: late };
    this.outbox = [];
    return ready;
  }

  advance(ready: Ready): Message[] {
    const inFlight = this.readyInFlight;
    assert(inFlight !== null, 'advance() follows ready()');
    assert(inFlight.ready === ready, 'advance() gets the Ready last returned');
    this.readyInFlight = null;
    if (ready.snapshot !== null) this.advanceSnapshot(ready.snapshot);
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) this.log.stableTo(last.index, last.term);
    const applied = ready.committedEntries[ready.committedEntries.length - 1];
    if (applied !== undefined) this.advanceApplied(applied.index, ready.committedEntries);
    if (this.role === Role.leader) this.advanceLeaderMatch();
    this.maybeAutoLeave();
    this.maybeDeferredTransfer();
    return inFlight.messages;
  }

  entriesLoaded(): void {
    this.committedPending = false;
    if (this.role === Role.leader) this.appendsDirty = true;
  }

  reportUnreachable(to: NodeId): void {
    if (this.role !== Role.leader) return;
    const progress = this.tracker.progress.get(to);
    if (progress !== undefined && progress.state === 'replicate') progress.becomeProbe();
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.role !== Role.leader) return;
    const progress = this.tracker.progress.get(to);
    if (progress === undefined || progress.state !== 'snapshot') return;
    if (!ok) progress.pendingSnapshotIndex = 0;
    progress.becomeProbe();
    // Wait for a heartbeat response before probing again (as etcd).
    progress.probeSent = true;
  }

  status(): NodeStatus {
    const progress = new Map<NodeId, ProgressStatus>();
    if (this.role === Role.leader) {
      for (const [id, pr] of this.tracker.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          inflightMessages: pr.inflights.count,
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
        });
      }
    }
    return {
      id: this.id,
      hardState: { term: this.term, vote: this.vote, commit: this.log.committed },
      role: this.role,
      leaderId: this.lead,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      confState: this.confState(),
      progress,
      leadTransferee: this.leadTransferee,
      repairIndex: this.repairing() ? this.repairIndex : 0,
    };
  }

  canQuiesce(): boolean {
    if (this.role !== Role.leader || this.leadTransferee !== 0) return false;
    // A lease is measured in ticks: a leader that stops ticking would hold it forever.
    if (this.options.readOnlyMode === 'lease') return false;
    if (this.confChangePending() || (isJoint(this.tracker.config) && this.tracker.config.autoLeave)) return false;
    if (this.readOnly.size > 0 || this.pendingReads.length > 0) return false;
    const lastIndex = this.log.lastIndex();
    if (this.log.committed !== lastIndex) return false;
    for (const [id, pr] of this.tracker.progress) {
      if (pr.match !== lastIndex) return false;
      if (id !== this.id && pr.sentCommit !== lastIndex) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------- roles

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.stepRole = (message) => this.stepFollower(message);
    this.tickRole = () => this.tickElection();
    this.lead = lead;
    this.role = Role.follower;
  }

  private becomePreCandidate(): void {
    assert(this.role !== Role.leader, 'a leader does not become pre-candidate');
    // The term does not move: a pre-vote that fails leaves no trace.
    this.stepRole = (message) => this.stepCandidate(message);
    this.tickRole = () => this.tickElection();
    this.tracker.resetVotes();
    this.lead = 0;
    this.role = Role.preCandidate;
  }

  private becomeCandidate(): void {
    assert(this.role !== Role.leader, 'a leader does not become candidate');
    this.reset(this.term + 1);
    this.stepRole = (message) => this.stepCandidate(message);
    this.tickRole = () => this.tickElection();
    this.vote = this.id;
    this.role = Role.candidate;
  }

  private becomeLeader(): void {
    assert(this.role === Role.candidate, 'only a candidate becomes leader');
    this.reset(this.term);
    this.stepRole = (message) => this.stepLeader(message);
    this.tickRole = () => this.tickHeartbeat();
    this.lead = this.id;
    this.role = Role.leader;
    const self = this.tracker.progress.get(this.id);
    assert(self !== undefined, 'a leader is a member');
    // Only what is on disk counts toward commit; the rest moves match in advance().
    self.maybeUpdate(this.log.lastStableIndex());
    self.becomeReplicate();
    self.recentActive = true;
    // Every entry not yet applied may be a membership change: no new one until they are.
    this.pendingConfIndex = this.log.lastIndex();
    // §8 / thesis §6.4: a blank entry of the new term, so that earlier entries commit with it
    // (§5.4.2) and reads wait for it (committedEntryInCurrentTerm).
    this.appendEntries(EntryType.normal, [emptyBytes]);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTicks = this.options.electionTicks + Math.floor(this.random() * this.options.electionTicks);
    this.leadTransferee = 0;
    this.deferredTransfer = null;
    this.tracker.resetVotes();
    this.resetProgress();
    this.uncommittedBytes = 0;
    this.readOnly.clear();
    this.pendingReads = [];
    this.appendsDirty = false;
    this.readsDirty = false;
  }

  private resetProgress(): void {
    const next = this.log.lastIndex() + 1;
    this.tracker.progress.clear();
    this.tracker.setConfig(this.tracker.config, next);
  }

  // ---------------------------------------------------------------- ticks

  /** §5.2: a follower that hears from no leader for a randomized election timeout campaigns. */
  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks && this.abstains()) {
      // StreamBus (repair): never campaign with a repaired log; make sure a leader (maybe
      // quiesced) hears of it.
      this.electionElapsed = 0;
      for (const id of allVoters(this.tracker.config)) if (id !== this.id) this.sendLogLost(id);
      return;
    }
    if (!this.promotable() || this.electionElapsed < this.randomizedElectionTicks) return;
    this.electionElapsed = 0;
    this.hup(false);
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0;
      if (!this.checkQuorumRound()) return;
      if (this.leadTransferee !== 0) this.leadTransferee = 0;
    }
    this.tickSnapshotResends();
    if (this.heartbeatElapsed < this.options.heartbeatTicks) return;
    this.heartbeatElapsed = 0;
    this.bcastHeartbeat();
  }

  /**
   * CheckQuorum (thesis §6.2, and what makes leader stickiness of §4.2.3 safe to rely on): false
   * when the leader stepped down for not hearing from a quorum within an election timeout.
   */
  private checkQuorumRound(): boolean {
    if (!this.options.checkQuorum) return true;
    if (!this.tracker.quorumActive(this.id)) {
      this.logger?.info({ id: this.id, term: this.term }, 'stepping down: no quorum heard within the election timeout');
      this.becomeFollower(this.term, 0);
      return false;
    }
    for (const [id, pr] of this.tracker.progress) pr.recentActive = id === this.id;
    return true;
  }

  /** StreamBus (chunk acks): a snapshot chunk unacknowledged for an election timeout is resent. */
  private tickSnapshotResends(): void {
    for (const [id, pr] of this.tracker.progress) {
      if (pr.state !== 'snapshot') continue;
      pr.snapshotIdleTicks++;
      if (pr.snapshotIdleTicks < this.options.electionTicks) continue;
      pr.snapshotIdleTicks = 0;
      this.sendSnapshotChunk(id, pr);
    }
  }

  private promotable(): boolean {
    return isVoter(this.tracker.config, this.id) && this.log.unstable.snapshot === null && !this.abstains();
  }

  /** A repairing node grants no votes and never campaigns (unless a test knob breaks the rule). */
  private abstains(): boolean {
    return this.repairing() && !this.options.voteWhileRepairing;
  }

  /**
   * A leader of our term spoke: follow it, and make the vote durable. With a leader in the term no
   * other candidate may win it, so recording a vote for the leader changes no outcome; but it
   * survives a restart, where an empty vote would not (see OpenGroupOptions.joining).
   */
  private followLeader(leaderId: NodeId): void {
    // §5.2: a leader's message restarts the election timer. Lease mode: and starts our promise
    // to it (leasePromised), which no restart or term change forgets.
    this.electionElapsed = 0;
    this.leaderHeardTick = this.ticks;
    this.lead = leaderId;
    if (this.vote === 0) this.vote = leaderId;
  }

  /** True while a log that lost acknowledged entries has not caught up to what it held. */
  private repairing(): boolean {
    if (this.repairIndex === 0) return false;
    if (this.log.lastIndex() < this.repairIndex) return true;
    this.logger?.info({ id: this.id, index: this.repairIndex }, 'repaired log caught up: voting again');
    this.repairIndex = 0;
    return false;
  }

  /** Tells `to` (a leader, maybe) that this log lost entries and ends at its last index. */
  private sendLogLost(to: NodeId): void {
    const lastIndex = this.log.lastIndex();
    this.send({
      type: MessageType.appendResponse,
      to,
      index: lastIndex,
      reject: true,
      rejectHint: lastIndex,
      logTerm: this.log.lastTerm(),
      context: logLostContext,
    });
  }

  // ---------------------------------------------------------------- elections

  private hup(transfer: boolean): void {
    if (this.role === Role.leader) return;
    if (!this.promotable()) return;
    if (!transfer && this.leasePromised()) {
      // Lease mode: our own vote would break the lease we may have granted (thesis §6.4.1).
      this.logger?.info({ id: this.id }, 'not campaigning: a leader may hold a lease on this member');
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      // As etcd: membership takes effect here when applied, so a committed change not yet applied
      // may change who votes; campaigning under the old membership could let two leaders win one
      // term (thesis §4.1 needs every decision made under one configuration or overlapping ones).
      this.logger?.info({ id: this.id }, 'not campaigning: committed membership changes are not applied yet');
      return;
    }
    // Thesis §9.6: PreVote first, so that a node that cannot win never bumps the term; a
    // transfer campaign skips it (the leader asked for it, and the voters' leases).
    if (this.options.preVote && !transfer) this.campaignPreVote();
    else this.campaignVote(transfer);
  }

  /**
   * Thesis §3.10 (leadership transfer): our leader, whose log we match, asks us to campaign now,
   * past the election timer, PreVote and the voters' leases. With committed membership changes not
   * yet applied, hup would refuse (and the hand-off would wait out the transfer): campaign as
   * soon as the host has applied them (maybeDeferredTransfer), in the same loop turn normally.
   */
  private handleTimeoutNow(): void {
    if (this.promotable() && this.hasUnappliedConfChanges()) {
      this.logger?.info(
        { id: this.id, term: this.term },
        'transfer campaign deferred: committed membership changes are not applied yet',
      );
      this.deferredTransfer = { term: this.term, tick: this.ticks };
      return;
    }
    this.hup(true);
  }

  private maybeDeferredTransfer(): void {
    const deferred = this.deferredTransfer;
    if (deferred === null) return;
    if (
      this.role !== Role.follower ||
      this.term !== deferred.term ||
      this.ticks - deferred.tick >= this.options.electionTicks
    ) {
      this.deferredTransfer = null;
      return;
    }
    if (this.hasUnappliedConfChanges()) return;
    this.deferredTransfer = null;
    this.hup(true);
  }

  private campaignPreVote(): void {
    this.becomePreCandidate();
    this.requestVotes(MessageType.preVote, this.term + 1, emptyBytes);
  }

  private campaignVote(transfer: boolean): void {
    this.becomeCandidate();
    this.requestVotes(MessageType.vote, this.term, transfer ? transferContext : emptyBytes);
  }

  private requestVotes(type: MessageType, term: number, context: Uint8Array): void {
    this.tracker.recordVote(this.id, true);
    if (this.afterVote()) return;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of allVoters(this.tracker.config)) {
      if (id === this.id) continue;
      this.send({ type, to: id, term, index: lastIndex, logTerm: lastTerm, context });
    }
  }

  /** Acts on the votes so far; true when the election ended. */
  private afterVote(): boolean {
    const result = this.tracker.voteResult();
    if (result === 'pending') return false;
    if (result === 'lost') {
      this.becomeFollower(this.term, 0);
      return true;
    }
    if (this.role === Role.preCandidate) this.campaignVote(false);
    else {
      this.becomeLeader();
      this.bcastAppend();
    }
    return true;
  }

  private handleVoteRequest(m: Message): void {
    const isPreVote = m.type === MessageType.preVote;
    // §5.2: one vote per term, first come first served (again to the same candidate: its request
    // may have been repeated). A pre-vote (thesis §9.6) is for a later term and binds nothing.
    const canVote = this.vote === m.from || (this.vote === 0 && this.lead === 0) || (isPreVote && m.term > this.term);
    // Lease mode: not while a leader may count on us for its lease (thesis §6.4.1), unless the
    // leader itself handed over (transfer, §3.10). StreamBus: not while repairing a lost log.
    const leaseBound = this.leasePromised() && !sameBytes(m.context, transferContext);
    // §5.4.1: only for a candidate whose log is at least as up-to-date as ours.
    if (canVote && !this.abstains() && !leaseBound && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted pre-vote answers with the candidate's future term, so that it counts.
      this.send({ type: responseType(m.type), to: m.from, term: m.term, reject: false });
      if (isPreVote) return;
      this.electionElapsed = 0;
      this.vote = m.from;
      return;
    }
    this.send({ type: responseType(m.type), to: m.from, term: this.term, reject: true });
  }

  /** A message of a newer term; false when it is to be ignored. */
  private stepHigherTerm(m: Message): boolean {
    const isVoteRequest = m.type === MessageType.vote || m.type === MessageType.preVote;
    if (isVoteRequest && !sameBytes(m.context, transferContext) && (this.inLease() || this.leasePromised())) {
      // Thesis §4.2.3 (CheckQuorum): we heard from a leader within the minimum election timeout,
      // so this candidate is likely disruptive: ignore it, term and all. Lease mode: also while a
      // leader may count on our promise (leasePromised), which a restart or a term change keeps.
      return false;
    }
    if (m.type === MessageType.preVote) return true;
    if (m.type === MessageType.preVoteResponse && !m.reject) return true;
    const fromLeader =
      m.type === MessageType.append || m.type === MessageType.heartbeat || m.type === MessageType.snapshot;
    this.becomeFollower(m.term, fromLeader ? m.from : 0);
    return true;
  }

  /** Thesis §4.2.3: heard from a leader within the minimum election timeout (with CheckQuorum). */
  private inLease(): boolean {
    return this.options.checkQuorum && this.lead !== 0 && this.electionElapsed < this.options.electionTicks;
  }

  private stepLowerTerm(m: Message): void {
    // §5.1: a stale request is rejected with our term. A stale leader gets it even though its
    // message is otherwise ignored: with CheckQuorum or PreVote our term may have moved without
    // an election it heard of (as etcd).
    const fromStaleLeader = m.type === MessageType.append || m.type === MessageType.heartbeat;
    if ((this.options.checkQuorum || this.options.preVote) && fromStaleLeader) {
      // Tell the stale leader our term so that it steps down (it may be cut off from the rest).
      this.send({ type: MessageType.appendResponse, to: m.from });
      return;
    }
    if (m.type === MessageType.preVote) this.send({ type: MessageType.preVoteResponse, to: m.from, reject: true });
  }

  // ---------------------------------------------------------------- follower and candidate

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.append:
      case MessageType.heartbeat:
      case MessageType.snapshot:
        this.followLeader(m.from);
        this.stepFromLeader(m);
        return;
      case MessageType.timeoutNow:
        this.handleTimeoutNow();
        return;
      case MessageType.readIndexResponse:
        this.readStates.push({ index: m.index, requestContext: m.context });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.append:
      case MessageType.heartbeat:
      case MessageType.snapshot:
        this.becomeFollower(m.term, m.from);
        this.followLeader(m.from);
        this.stepFromLeader(m);
        return;
      case MessageType.preVoteResponse:
      case MessageType.voteResponse: {
        const expected = this.role === Role.preCandidate ? MessageType.preVoteResponse : MessageType.voteResponse;
        if (m.type !== expected) return;
        this.tracker.recordVote(m.from, !m.reject);
        this.afterVote();
        return;
      }
      default:
        return;
    }
  }

  private stepFromLeader(m: Message): void {
    if (m.type === MessageType.append) this.handleAppend(m);
    else if (m.type === MessageType.heartbeat) this.handleHeartbeat(m);
    else this.handleSnapshotChunk(m);
  }

  /**
   * §5.3 AppendEntries: accept entries only after a matching (index, term); a conflicting suffix
   * is replaced (never a committed entry: §5.4 guarantees the leader holds those).
   */
  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: MessageType.appendResponse, to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ type: MessageType.appendResponse, to: m.from, index: lastNew });
      return;
    }
    // Fast backtracking (the optimisation §5.3 sketches, done as etcd): tell the leader the last
    // index whose term is <= the term it sent.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    // StreamBus (repair): a repaired log also says it lost entries: the leader's match for it may be stale.
    const context = this.repairing() ? logLostContext : emptyBytes;
    this.send({
      type: MessageType.appendResponse,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
      context,
    });
  }

  /**
   * A heartbeat is an empty AppendEntries (§5.2) without the consistency check: its commit is
   * capped by the leader at what it knows we match. Its answer confirms leadership for ReadIndex
   * (thesis §6.4) and, stamped, a lease round (§6.4.1).
   */
  private handleHeartbeat(m: Message): void {
    // StreamBus (repair): a repaired log must not take a commit index beyond what it holds again.
    if (this.repairing() && m.commit > this.log.lastIndex()) {
      // The leader still believes we hold what we dropped: commit nothing on its word until it
      // has probed our log again (the appends that follow carry the commit index).
      this.sendLogLost(m.from);
    } else {
      this.log.commitTo(m.commit);
    }
    // Echo the read round (ReadIndex) and the lease stamp (the leader's send tick).
    this.send({ type: MessageType.heartbeatResponse, to: m.from, context: m.context, index: m.index });
  }

  /**
   * §7 InstallSnapshot, in chunks by offset as in the paper's Figure 13. StreamBus (chunk acks):
   * every chunk but the last is acknowledged with the bytes held, so the leader streams at the
   * follower's pace and resumes where it stopped.
   */
  private handleSnapshotChunk(m: Message): void {
    const chunk = m.snapshot;
    if (chunk === null) return;
    const metadata = chunk.metadata;
    if (metadata.index <= this.log.committed) {
      // We have it all already: tell the leader where we are.
      this.snapshotReceive = null;
      this.send({ type: MessageType.appendResponse, to: m.from, index: this.log.committed });
      return;
    }
    const receive = this.receiveChunk(m.term, chunk);
    if (receive === null) return this.ackChunk(m.from, metadata, 0, true);
    if (chunk.offset !== receive.bytes - chunk.data.byteLength)
      return this.ackChunk(m.from, metadata, receive.bytes, chunk.offset > receive.bytes);
    if (!chunk.done) return this.ackChunk(m.from, metadata, receive.bytes, false);
    this.snapshotReceive = null;
    if (receive.bytes !== chunk.totalBytes) return this.ackChunk(m.from, metadata, 0, true);
    const snapshot: Snapshot = { metadata, data: concatBytes(receive.parts, receive.bytes) };
    const restored = this.restore(snapshot);
    this.send({
      type: MessageType.appendResponse,
      to: m.from,
      index: restored ? this.log.lastIndex() : this.log.committed,
    });
  }

  /**
   * Adds a chunk to the snapshot being received; returns the receive state, or null when the
   * chunk does not continue it (then the buffer is dropped unless the chunk starts a snapshot).
   * A duplicate chunk leaves the state unchanged (the caller sees offset != bytes - length).
   */
  private receiveChunk(term: number, chunk: SnapshotChunk): SnapshotReceive | null {
    if (chunk.offset === 0) this.snapshotReceive = { term, metadata: chunk.metadata, parts: [], bytes: 0 };
    const receive = this.snapshotReceive;
    if (receive === null) return null;
    const same =
      receive.term === term &&
      receive.metadata.index === chunk.metadata.index &&
      receive.metadata.term === chunk.metadata.term;
    if (!same) {
      this.snapshotReceive = null;
      return null;
    }
    if (chunk.offset !== receive.bytes) return receive;
    receive.parts.push(chunk.data);
    receive.bytes += chunk.data.byteLength;
    return receive;
  }

  private ackChunk(to: NodeId, metadata: SnapshotMetadata, bytes: number, reject: boolean): void {
    const ack: SnapshotChunk = { metadata, offset: bytes, totalBytes: 0, data: emptyBytes, done: false };
    this.send({ type: MessageType.snapshotResponse, to, index: metadata.index, reject, snapshot: ack });
  }

  /** Installs a snapshot from the leader; false when our log already has it. */
  private restore(snapshot: Snapshot): boolean {
    assert(this.role === Role.follower, 'only a follower restores a snapshot');
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    // The snapshot's membership may predate this node's addition (a learner added after the
    // leader's last snapshot): restore anyway. The leader only sends snapshots to members of its
    // current config, and a node outside the restored config never campaigns; it learns of its
    // own addition from the entries that follow.
    if (this.confChangesUnapplied > 0) {
      // The host still applies membership changes handed out earlier; they must not land on the
      // snapshot's membership. The leader resends the snapshot later.
      return false;
    }
    if (this.log.matchTerm(index, term)) {
      // Our log has the snapshot's last entry: just move commit.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.confChangesUnapplied = 0;
    this.tracker.config = configFromConfState(confState);
    this.resetProgress();
    return true;
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.propose:
        return this.handleForwardedProposal(m);
      case MessageType.readIndex:
        this.handleReadIndex(m.context, m.from);
        return;
      case MessageType.transferLeader:
        return this.handleTransfer(m.index === 0 ? m.from : m.index);
      case MessageType.appendResponse:
      case MessageType.heartbeatResponse:
      case MessageType.snapshotResponse:
        return this.stepResponse(m);
      default:
        return;
    }
  }

  private stepResponse(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    // Any answer of our term counts for CheckQuorum (thesis §6.2); only stamped heartbeat answers
    // count for the lease (handleHeartbeatResponse).
    pr.recentActive = true;
    if (m.type === MessageType.appendResponse) this.handleAppendResponse(m, pr);
    else if (m.type === MessageType.heartbeatResponse) this.handleHeartbeatResponse(m, pr);
    else this.handleSnapshotResponse(m, pr);
  }

  private handleForwardedProposal(m: Message): void {
    if (m.entries.length === 0 || this.leadTransferee !== 0) return;
    try {
      this.appendEntries(
        EntryType.normal,
        m.entries.map((entry) => entry.data),
      );
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      this.handleAppendReject(m, pr);
      return;
    }
    const oldPaused = pr.isPaused();
    const updated = pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe');
    if (!updated) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (
      pr.state === 'snapshot' &&
      (pr.match >= pr.pendingSnapshotIndex || pr.match + 1 >= this.log.firstIndex())
    ) {
      // The follower has the snapshot, or can now be caught up from the log (as etcd).
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) this.afterCommit();
    else if (oldPaused) this.maybeSendAppend(m.from, true);
    while (this.maybeSendAppend(m.from, false)) {
      // Fill the inflight window.
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleAppendReject(m: Message, pr: Progress): void {
    // StreamBus (repair): the follower lost entries it had acknowledged; its match goes back.
    if (sameBytes(m.context, logLostContext)) {
      if (pr.state === 'snapshot' && pr.match <= m.rejectHint) return;
      const agreeAt = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
      pr.becomeProbeAfterLoss(Math.min(agreeAt, this.log.lastIndex()));
      this.logger?.info(
        { id: this.id, follower: m.from, lastIndex: m.rejectHint },
        'follower lost part of its log: replicating it again',
      );
      this.maybeSendAppend(m.from, true);
      return;
    }
    // Jump back using our own log: the follower's hint says where its terms are <= logTerm.
    const nextProbe = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
    if (!pr.maybeDecrTo(m.index, nextProbe)) return;
    if (pr.state === 'replicate') pr.becomeProbe();
    this.maybeSendAppend(m.from, true);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.probeSent = false;
    // Lease mode: the member heard us at or after the tick this heartbeat was sent (0: unstamped;
    // a stamp from the future is no heartbeat of ours).
    if (this.options.readOnlyMode === 'lease' && m.index > pr.leaseAckTick && m.index <= this.ticks)
      pr.leaseAckTick = m.index;
    // Appends in flight may have been lost: free one slot so that replication resumes (as etcd).
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex() || pr.sentCommit < Math.min(pr.match, this.log.committed))
      this.maybeSendAppend(m.from, true);
    if (m.context.byteLength === 0 || !this.readOnly.recvAck(m.from, decodeReadRound(m.context))) return;
    // ReadIndex (thesis §6.4): a read is confirmed once a quorum acknowledged a heartbeat sent
    // after it arrived, i.e. one carrying its round or a later one. This leader counts itself.
    const config = this.tracker.config;
    const confirmed = jointCommittedIndex(config.voters, config.votersOutgoing, (id) =>
      id === this.id ? Number.MAX_SAFE_INTEGER : this.readOnly.ackedRound(id),
    );
    for (const request of this.readOnly.advance(confirmed))
      this.answerRead(request.index, request.context, request.from);
  }

  private handleSnapshotResponse(m: Message, pr: Progress): void {
    const ack = m.snapshot;
    if (pr.state !== 'snapshot' || pr.snapshot === null || ack === null) return;
    if (ack.metadata.index !== pr.pendingSnapshotIndex) return;
    pr.snapshotOffsetBytes = ack.offset;
    pr.snapshotIdleTicks = 0;
    this.sendSnapshotChunk(m.from, pr);
  }

  private maybeCommit(): boolean {
    const index = this.tracker.committed();
    assert(Number.isFinite(index), 'a config has voters');
    if (index <= this.log.committed) return false;
    // Raft §5.4.2: only entries of the current term commit by counting replicas.
    if (!this.options.commitOldTermEntries && this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    return true;
  }

  private afterCommit(): void {
    this.bcastAppend();
    if (!this.committedEntryInCurrentTerm() || this.pendingReads.length === 0) return;
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const read of reads) this.handleReadIndex(read.context, read.from);
  }

  private advanceLeaderMatch(): void {
    const self = this.tracker.progress.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(this.log.lastStableIndex()) && this.maybeCommit()) this.afterCommit();
  }

  private checkCanPropose(): void {
    if (this.role !== Role.leader) throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== 0)
      throw new ProposalDroppedError(
        `leadership is being transferred to node ${this.leadTransferee}; retry on the new leader`,
      );
  }

  /** Appends one entry of `type` per payload at the end of the leader's log. */
  private appendEntries(type: EntryType, payloads: readonly Uint8Array[]): void {
    let bytes = 0;
    for (const data of payloads) bytes += data.byteLength;
    if (this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > this.options.uncommittedBytesMax) {
      throw new ProposalDroppedError('too many uncommitted bytes on the leader; retry later');
    }
    const first = this.log.lastIndex() + 1;
    const term = this.term;
    const entries: Entry[] = new Array<Entry>(payloads.length);
    for (let i = 0; i < payloads.length; i++)
      entries[i] = { term, index: first + i, type, data: payloads[i] as Uint8Array };
    this.log.append(entries);
    this.uncommittedBytes += bytes;
    this.appendsDirty = true;
  }

  private appendConfChange(change: ConfChange): ProposalReceipt {
    const index = this.log.lastIndex() + 1;
    this.appendEntries(EntryType.confChange, [encodeConfChange(change)]);
    this.pendingConfIndex = index;
    return { index, term: this.term };
  }

  private confChangePending(): boolean {
    return this.pendingConfIndex > this.log.applied || this.confChangesUnapplied > 0;
  }

  private maybeAutoLeave(): void {
    if (this.role !== Role.leader || !isJoint(this.tracker.config) || !this.tracker.config.autoLeave) return;
    if (this.confChangePending() || this.leadTransferee !== 0) return;
    try {
      this.appendConfChange({ transition: ConfChangeTransition.auto, changes: [], context: emptyBytes });
    } catch (error) {
      // Over the uncommitted bytes bound: try again at the next advance().
      if (!(error instanceof ProposalDroppedError)) throw error;
    }
  }

  private switchToConfig(config: TrackerConfig): void {
    const next = this.log.lastIndex() + 1;
    const known = new Set(this.tracker.progress.keys());
    this.tracker.setConfig(config, next);
    // New members count as active so that CheckQuorum does not trip on them at once.
    for (const [id, pr] of this.tracker.progress) if (!known.has(id)) pr.recentActive = true;
    if (this.role !== Role.leader) return;
    if (!isVoter(config, this.id)) {
      this.stepDownRemoved();
      return;
    }
    if (this.leadTransferee !== 0 && !isVoter(config, this.leadTransferee)) this.leadTransferee = 0;
    if (this.maybeCommit()) this.afterCommit();
    // New members are probed at once rather than at the next heartbeat.
    else for (const id of this.tracker.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, !known.has(id));
    this.maybeAutoLeave();
  }

  /**
   * This leader is no longer a voter: tell everyone the commit index, hand leadership to an
   * up-to-date voter if there is one (so the group does not wait an election timeout), and stop.
   */
  private stepDownRemoved(): void {
    this.bcastAppend();
    const lastIndex = this.log.lastIndex();
    const successor = [...allVoters(this.tracker.config)].find(
      (id) => this.tracker.progress.get(id)?.match === lastIndex,
    );
    if (successor !== undefined) this.sendTimeoutNow(successor);
    this.logger?.info({ id: this.id, term: this.term, successor }, 'stepping down: removed from the group');
    this.becomeFollower(this.term, 0);
  }

  private handleTransfer(to: NodeId): void {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isLearner || to === this.id) return;
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within an election timeout or it is abandoned (tickHeartbeat).
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.maybeSendAppend(to, true);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSentTerm = this.term;
    this.send({ type: MessageType.timeoutNow, to });
  }

  // ---------------------------------------------------------------- reads

  /**
   * Starts or answers a ReadIndex (thesis §6.4); false when it had to be dropped (bounds). The
   * read index is the commit index, once this leader has committed an entry of its own term (until
   * then it may not know the latest commit); it is answered once leadership is confirmed by a
   * heartbeat round, by the lease (§6.4.1), or at once in a group of one.
   */
  private handleReadIndex(context: Uint8Array, from: NodeId): boolean {
    if (!this.committedEntryInCurrentTerm()) {
      if (this.pendingReads.length >= readRequestsPendingMax) return false;
      this.pendingReads.push({ context, from });
      return true;
    }
    if (this.isSingleVoter() || this.leaseValid()) {
      this.answerRead(this.log.committed, context, from);
      return true;
    }
    if (this.readOnly.full()) return false;
    this.readOnly.add(this.log.committed, context, from);
    // One heartbeat round (carrying the newest read round) confirms every read since the last Ready.
    this.readsDirty = true;
    return true;
  }

  private answerRead(index: number, context: Uint8Array, from: NodeId): void {
    if (from === this.id || from === 0) this.readStates.push({ index, requestContext: context });
    else this.send({ type: MessageType.readIndexResponse, to: from, index, context });
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private isSingleVoter(): boolean {
    const config = this.tracker.config;
    return config.voters.size === 1 && config.voters.has(this.id) && config.votersOutgoing.size === 0;
  }

  /**
   * Lease mode (thesis §6.4.1): no other leader can be elected before an election timeout has
   * passed on some member of every quorum, so a leader whose heartbeat round sent at tick s was
   * acknowledged by a quorum may answer reads alone until s + leaseTicks. Each acknowledging
   * member restarted its election timer when the heartbeat reached it, which was at or after s;
   * from then on it helps elect nobody else for an election timeout (`leasePromised`: no votes,
   * no campaigns, also across a restart). StreamBus's bounds where the thesis gives none:
   * `leaseDriftBoundTicks` for clocks running at different rates, and one tick more because a
   * member's first tick after the heartbeat may come at once (timers are counted in whole ticks).
   */
  private leaseValid(): boolean {
    if (this.options.readOnlyMode !== 'lease') return false;
    // A transferee campaigns past the voters' leases (thesis §3.10): no lease from the TimeoutNow
    // on, for the rest of the term, since a TimeoutNow may arrive long after the transfer was abandoned.
    if (this.leadTransferee !== 0 || this.timeoutNowSentTerm === this.term) return false;
    const quorumTick = this.tracker.leaseQuorumTick(this.id, this.ticks);
    if (quorumTick === 0) return false;
    return this.ticks - quorumTick < this.options.leaseTicks;
  }

  /**
   * Lease mode: this member may be part of a leader's lease quorum (it heard from a leader within
   * an election timeout, or restarted within one), so it grants no vote or pre-vote and does not
   * campaign, except for a leadership transfer (whose leader gave up its lease). Kept across term
   * changes: a higher term seen from a non-leader (a late pre-vote answer, a log-lost notice) does
   * not void the promise.
   */
  private leasePromised(): boolean {
    if (this.options.readOnlyMode !== 'lease' || this.leaderHeardTick === undefined) return false;
    // The only voter: no other leader's lease to keep (and none to wait for after a restart).
    if (this.isSingleVoter()) return false;
    return this.ticks - this.leaderHeardTick < this.options.electionTicks;
  }

  // ---------------------------------------------------------------- sending

  private send(fields: MessageFields): void {
    this.outbox.push({
      from: this.id,
      term: this.term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: null,
      context: emptyBytes,
      ...fields,
    });
  }

  private flushReads(): void {
    if (!this.readsDirty) return;
    this.readsDirty = false;
    if (this.role === Role.leader && this.readOnly.size > 0) this.bcastHeartbeat();
  }

  private flushAppends(): void {
    if (!this.appendsDirty) return;
    this.appendsDirty = false;
    if (this.role !== Role.leader) return;
    for (const id of this.tracker.progress.keys()) {
      if (id === this.id) continue;
      while (this.maybeSendAppend(id, false)) {
        // Pipelined: keep sending while the window is open.
      }
    }
  }

  private bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, true);
  }

  private bcastHeartbeat(context?: Uint8Array): void {
    const ctx = context ?? this.readOnly.lastContext() ?? emptyBytes;
    const leaseStamp = this.options.readOnlyMode === 'lease' ? this.ticks : 0;
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      pr.sentCommit = commit;
      // Lease mode: `index` is the send tick, echoed back; the lease runs from it (leaseValid).
      this.send({ type: MessageType.heartbeat, to: id, commit, context: ctx, index: leaseStamp });
    }
  }

  /** Sends entries (or a snapshot) to `to`; true when something was sent. */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    let entries: readonly Entry[];
    try {
      entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.options.messageBytesMax);
    } catch (error) {
      if (error instanceof CompactedError) return this.sendSnapshot(to, pr);
      if (error instanceof EntriesPendingError) return false;
      throw error;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    const commit = this.log.committed;
    this.send({ type: MessageType.append, to, index: prevIndex, logTerm: prevTerm, entries, commit });
    const last = entries[entries.length - 1];
    pr.sentEntries(entries.length, last?.index ?? prevIndex, dataBytes(entries));
    pr.sentCommit = commit;
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (error) {
      if (error instanceof SnapshotTemporarilyUnavailableError) return false;
      throw error;
    }
    assert(snapshot.metadata.index > 0, 'a snapshot to send is not empty');
    pr.becomeSnapshot(snapshot);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snapshot = pr.snapshot;
    assert(snapshot !== null, 'snapshot state holds the snapshot');
    const totalBytes = snapshot.data.byteLength;
    const offset = Math.min(pr.snapshotOffsetBytes, totalBytes);
    const end = Math.min(totalBytes, offset + this.options.snapshotChunkBytes);
    // subarray: the chunk shares the snapshot's bytes, no copy.
    const chunk: SnapshotChunk = {
      metadata: snapshot.metadata,
      offset,
      totalBytes,
      data: snapshot.data.subarray(offset, end),
      done: end === totalBytes,
    };
    this.send({ type: MessageType.snapshot, to, snapshot: chunk });
  }

  // ---------------------------------------------------------------- ready bookkeeping

  private softState(): SoftState {
    return { leaderId: this.lead, role: this.role };
  }

  private sameSoftState(soft: SoftState): boolean {
    return soft.leaderId === this.prevSoftState.leaderId && soft.role === this.prevSoftState.role;
  }

  /** The hard state as handed to storage (the vote hidden under skipVotePersistence). */
  private reportedHardState(): HardState {
    return { term: this.term, vote: this.reportedVote(), commit: this.log.committed };
  }

  private reportedVote(): NodeId {
    return this.options.skipVotePersistence ? 0 : this.vote;
  }

  private sameHardState(hard: HardState): boolean {
    const prev = this.prevHardState;
    return hard.term === prev.term && hard.vote === prev.vote && hard.commit === prev.commit;
  }

  private takeCommittedEntries(): readonly Entry[] {
    let entries: readonly Entry[];
    try {
      entries = this.log.nextCommittedEntries(this.options.committedBytesPerReadyMax);
    } catch (error) {
      if (!(error instanceof EntriesPendingError)) throw error;
      this.committedPending = true;
      return [];
    }
    this.committedPending = false;
    for (const entry of entries) if (entry.type === EntryType.confChange) this.confChangesUnapplied++;
    return entries;
  }

  private advanceSnapshot(snapshot: Snapshot): void {
    this.log.stableSnapTo(snapshot.metadata.index);
    // The host restores the state machine from the snapshot: it is applied.
    if (snapshot.metadata.index > this.log.applied) this.log.applied = snapshot.metadata.index;
  }

  private advanceApplied(index: number, entries: readonly Entry[]): void {
    this.log.appliedTo(index);
    if (this.role !== Role.leader) return;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - dataBytes(entries));
  }

  private confState(): ConfState {
    return confStateFromConfig(this.tracker.config);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.confChangesUnapplied > 0) return true;
    let lo = this.log.applied + 1;
    const hi = this.log.committed + 1;
    try {
      while (lo < hi) {
        const page = this.log.slice(lo, hi, this.options.committedBytesPerReadyMax);
        if (page.some((entry) => entry.type === EntryType.confChange)) return true;
        lo += page.length;
      }
    } catch (error) {
      if (error instanceof EntriesPendingError || error instanceof CompactedError) return true;
      throw error;
    }
    return false;
  }

  /**
   * Re-applies membership changes in (snapshot, applied] when the host says they are applied.
   * Entries the storage must first load (EntriesPendingError) are not waited for: applied drops
   * to just before them, so the host is handed them again (as when no `applied` is given).
   */
  private replayAppliedConfChanges(snapshotIndex: number): void {
    let lo = snapshotIndex + 1;
    const hi = this.log.applied + 1;
    while (lo < hi) {
      let page: readonly Entry[];
      try {
        page = this.log.slice(lo, hi, this.options.committedBytesPerReadyMax);
      } catch (error) {
        if (!(error instanceof EntriesPendingError)) throw error;
        this.logger?.info(
          { id: this.id, applied: lo - 1 },
          'entries to replay are not in memory: applying again from there',
        );
        this.log.applied = lo - 1;
        return;
      }
      for (const entry of page) {
        if (entry.type !== EntryType.confChange) continue;
        const result = applyChange(this.tracker.config, decodeConfChange(entry.data));
        if (result.ok) this.tracker.config = result.config;
      }
      lo += page.length;
    }
  }
}
