/**
 * `RaftHost` drives every Raft group of one broker: one tick source, one storage write per loop
 * turn for all groups (group commit), messages coalesced into one frame per destination, plain
 * heartbeats compacted, and idle groups quiesced so that thousands of them cost nothing per tick.
 *
 * One loop turn, never two at once:
 *  1. take `ready()` of every group that has work;
 *  2. persist all of it with ONE `store.persist` (work arriving meanwhile waits for the next turn:
 *     that is the group commit);
 *  3. `advance()` each group (persist-before-send) and send the released messages, coalesced;
 *  4. apply committed entries (conf changes through `applyConfChange`), settle proposals, reads.
 *
 * Quiescence: a leader whose node reports `canQuiesce()` (and whose peers are all alive) stops
 * being ticked and tells its followers in the next frame; they stop ticking the group too. Any
 * message other than a plain heartbeat of that leader and term, any proposal or read wakes it.
 * Every host sends each peer at least one frame per tick (liveness); a peer silent for an election
 * timeout wakes the quiesced groups it leads (their followers then campaign) and the quiesced
 * groups it follows (so that CheckQuorum can act). A peer that restarted wakes the same groups: the
 * ones it led (it leads them no more) and the ones this host leads with it (heartbeats reach it at once).
 */
import { decodeConfChange } from '../confchange/codec.js';
import type { RaftLogger, RaftNodeConfig } from '../config.js';
import {
  electionTicksDefault,
  hostGroupsPerTurnMax,
  hostProposalsPendingMax,
  hostReadsPendingMax,
  hostReadTimeoutElections,
  hostTickMsDefault,
} from '../constants.js';
import {
  AssertionError,
  assert,
  GroupNotFoundError,
  NotLeaderError,
  ProposalDroppedError,
  StoppedError,
} from '../errors.js';
import type { NodeStatus, ProposalReceipt, RaftNodeApi, StateMachine } from '../node-api.js';
import { RaftNode } from '../node/raft-node.js';
import type { GroupWrite, OpenGroupOptions, RaftStore } from '../storage.js';
import { EntryType, MessageType, Role } from '../types.js';
import type { ConfChange, ConfState, Entry, GroupId, Message, NodeId, Ready, SoftState } from '../types.js';
import type { Frame, RaftTransport } from './frame.js';
import { decodeReadContext, encodeReadContext, HostedGroup, membersOf } from './group.js';
import { expandHeartbeat, expandHeartbeatResponse, Outbox } from './outbox.js';
import { realScheduler } from './scheduler.js';
import type { HostScheduler } from './scheduler.js';
import { realTimer } from './timer.js';
import type { HostTimer, TimerHandle } from './timer.js';

/** Per-group settings a host passes to each `RaftNode` (id, storage and randomness are the host's). */
export type GroupConfig = Omit<RaftNodeConfig, 'id' | 'storage' | 'random'>;

export interface RaftHostOptions {
  /** This broker's id; never 0. */
  readonly nodeId: NodeId;
  readonly store: RaftStore;
  readonly transport: RaftTransport;
  readonly stateMachine: StateMachine;
  /** Milliseconds per tick. Default `hostTickMsDefault` (100). */
  readonly tickMs?: number;
  /** Clock and interval timers; default real time. Tests pass a `ManualTimer`. */
  readonly timer?: HostTimer;
  /**
   * Where loop turns are scheduled; default `realScheduler` (the runtime's setImmediate). The host
   * simulator passes its virtual clock, so that real hosts run in virtual time, replayed by a seed.
   */
  readonly scheduler?: HostScheduler;
  /** Randomness in [0, 1) for election timeouts and the session id. Default Math.random. */
  readonly random?: () => number;
  readonly logger?: RaftLogger;
  /** Defaults for every group's node config (electionTicks, checkQuorum, ...). */
  readonly groupDefaults?: GroupConfig;
  /** Builds a group's node; default `new RaftNode(config)`. Lets tests wrap or replace the node. */
  readonly createNode?: (config: RaftNodeConfig) => RaftNodeApi;
  /** Test-only switches that break the host on purpose (never set them in production). */
  readonly unsafeTestingKnobs?: HostUnsafeTestingKnobs;
}

/** Switches that break the host loop on purpose, so that tests prove the host simulator catches it. */
export interface HostUnsafeTestingKnobs {
  /**
   * A turn advances its groups and sends their messages BEFORE its persist completes (instead of
   * after): vote grants and append acknowledgements then leave before the hard state and entries
   * they promise are on disk, and a leader counts its own entries as persisted too early.
   */
  readonly sendBeforePersist?: boolean;
}

export interface ProposeOptions {
  /**
   * 'commit' (default, acks=all): resolve once the entries are committed and applied here.
   * 'persist' (acks=leader): resolve once they are on this leader's stable storage.
   */
  readonly waitFor?: 'commit' | 'persist';
}

/** What `status()` reports: the node's status plus the host's view. */
export interface HostGroupStatus extends NodeStatus {
  readonly quiesced: boolean;
  /** Proposals of this group awaiting their outcome on this host. */
  readonly proposalsPending: number;
}

/** Called when a group's leader or this node's role in it changes (after the change is persisted). */
export type LeaderChangeListener = (groupId: GroupId, leaderId: NodeId, term: number, role: Role) => void;

/** Counters of what the host did, for tests, the benchmark and metrics. */
export interface HostMetrics {
  turns: number;
  persistCalls: number;
  /** Group writes over all persist calls (writes / persistCalls = groups per group commit). */
  groupWrites: number;
  framesSent: number;
  messagesSent: number;
  /** Node ticks (one per non-quiesced group per host tick). */
  groupTicks: number;
  hostTicks: number;
  entriesApplied: number;
  /** Messages for groups this host does not have (dropped). */
  unknownGroupMessages: number;
  /** Milliseconds spent in `store.persist` (by the host timer's clock), in total and at most once. */
  persistMsTotal: number;
  persistMsMax: number;
  /** Campaigns this host's groups started (became candidate; pre-votes that failed are not counted). */
  elections: number;
  /** Times a group's term went up here (elections anywhere, seen here). */
  termChanges: number;
  /** Readies applied before their write (only a new commit index to write: see appliesBeforeWrite). */
  appliesBeforeWrite: number;
  /** Entries proposed and accepted at intake. */
  proposals: number;
  /** Proposals refused at intake: the group's queue full, no leader, a leadership transfer. */
  proposalsDropped: number;
  /** Snapshots this host began sending to a follower (first chunks). */
  snapshotsSent: number;
  /** Snapshots a leader sent this host that it installed. */
  snapshotsReceived: number;
}

/** Every HostMetrics counter at zero: a new host's, or a sum's start. */
export function emptyHostMetrics(): HostMetrics {
  return {
    turns: 0,
    persistCalls: 0,
    groupWrites: 0,
    framesSent: 0,
    messagesSent: 0,
    groupTicks: 0,
    hostTicks: 0,
    entriesApplied: 0,
    unknownGroupMessages: 0,
    persistMsTotal: 0,
    persistMsMax: 0,
    elections: 0,
    termChanges: 0,
    appliesBeforeWrite: 0,
    proposals: 0,
    proposalsDropped: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
  };
}

interface PeerState {
  /** Groups on this host that have the peer as a member. */
  groups: number;
  lastHeardTick: number;
  session: number;
  dead: boolean;
}

interface Chore {
  readonly run: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

type HostState = 'new' | 'running' | 'stopped';

/**
 * True when a Ready's committed entries may be applied before its write completes: it carries
 * committed entries and writes no entries and no snapshot, and nothing in it must be synced (only
 * the commit index changes, which is no promise to anyone: Raft recovers it from a quorum). Every
 * entry in this node's log then came in an earlier Ready, whose turn persisted it, so the entries
 * applied are on this node's disk and, being committed, on a quorum's. Membership changes and
 * role changes keep the order write, advance, apply (applying them before the node advanced is
 * left untried).
 */
function appliesBeforeWrite(ready: Ready): boolean {
  if (ready.committedEntries.length === 0 || ready.entries.length > 0 || ready.snapshot !== null) return false;
  // A role or leader change is recorded (advance) before anything of its Ready is applied.
  if (ready.mustSync || ready.softState !== null) return false;
  return ready.committedEntries.every((entry) => entry.type !== EntryType.confChange);
}

function isAssertion(error: unknown): boolean {
  return error instanceof AssertionError;
}

export class RaftHost {
  readonly nodeId: NodeId;
  /** This run's random id, sent in every frame so peers notice a restart. */
  readonly session: number;
  readonly metrics: HostMetrics = emptyHostMetrics();
  private readonly store: RaftStore;
  private readonly transport: RaftTransport;
  private readonly stateMachine: StateMachine;
  private readonly tickMs: number;
  private readonly timer: HostTimer;
  private readonly scheduler: HostScheduler;
  private readonly sendBeforePersist: boolean;
  private readonly random: () => number;
  private readonly logger: RaftLogger | undefined;
  private readonly groupDefaults: GroupConfig;
  private readonly createNode: (config: RaftNodeConfig) => RaftNodeApi;
  private readonly electionTicks: number;
  private readonly groups = new Map<GroupId, HostedGroup>();
  /** Groups ticked every tick: everything not quiesced. */
  private readonly active = new Set<HostedGroup>();
  /** Quiesced followers by the leader they quiesced under. */
  private readonly quiescedByLeader = new Map<NodeId, Set<HostedGroup>>();
  /** Quiesced groups this host leads. */
  private readonly quiescedLeaders = new Set<HostedGroup>();
  /** Groups with ReadIndex requests outstanding (checked each tick for deadlines). */
  private readonly readGroups = new Set<HostedGroup>();
  private readonly peers = new Map<NodeId, PeerState>();
  private readonly leaderListeners = new Set<LeaderChangeListener>();
  private readonly failureListeners = new Set<(error: Error) => void>();
  /** Groups removed whose deletion from the store has not finished. */
  private readonly deleting = new Set<GroupId>();
  private readonly outbox: Outbox;
  private dirty: HostedGroup[] = [];
  /** Leaders quiesced since the last turn began; their markers go out after that turn's messages. */
  private quiesceQueued: HostedGroup[] = [];
  private chores: Chore[] = [];
  private idleWaiters: (() => void)[] = [];
  private state: HostState = 'new';
  private tickHandle: TimerHandle;
  private tickCount = 0;
  private livenessDue = false;
  private turnScheduled = false;
  private turnRunning: Promise<void> | null = null;
  private readSeq = 0;
  private failure: Error | null = null;

  constructor(options: RaftHostOptions) {
    assert(options.nodeId > 0, 'host node id is positive');
    this.nodeId = options.nodeId;
    this.store = options.store;
    this.transport = options.transport;
    this.stateMachine = options.stateMachine;
    this.tickMs = options.tickMs ?? hostTickMsDefault;
    assert(this.tickMs > 0, 'tickMs is positive');
    this.timer = options.timer ?? realTimer;
    this.scheduler = options.scheduler ?? realScheduler;
    this.sendBeforePersist = options.unsafeTestingKnobs?.sendBeforePersist === true;
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.groupDefaults = options.groupDefaults ?? {};
    this.createNode = options.createNode ?? ((config) => new RaftNode(config));
    this.electionTicks = this.groupDefaults.electionTicks ?? electionTicksDefault;
    this.session = 1 + Math.floor(this.random() * 0xffff_fffe);
    this.outbox = new Outbox(this.nodeId, this.session);
    this.store.onEntriesLoaded((groupId) => this.onEntriesLoaded(groupId));
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** Starts ticking. Groups may be created before or after. */
  start(): void {
    assert(this.state === 'new', 'a host starts once');
    this.state = 'running';
    this.tickHandle = this.timer.setInterval(() => this.tick(), this.tickMs);
    this.schedule();
  }

  /**
   * Stops ticking and intake, waits for the loop turn in flight (its persist completes), then
   * rejects everything still pending with StoppedError. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    if (this.tickHandle !== undefined) this.timer.clearInterval(this.tickHandle);
    this.tickHandle = undefined;
    while (this.turnRunning !== null) await this.turnRunning;
    this.rejectEverything(new StoppedError());
  }

  /** True between start() and stop(). */
  isRunning(): boolean {
    return this.state === 'running';
  }

  /** True when no loop turn is scheduled or running. */
  isIdle(): boolean {
    return !this.turnScheduled && this.turnRunning === null;
  }

  /** Resolves once no loop turn is scheduled or running (tests and benchmarks settle on it). */
  whenIdle(): Promise<void> {
    if (!this.turnScheduled && this.turnRunning === null) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---- groups ----------------------------------------------------------------------------

  /**
   * Opens a group: creates it in the store with `bootstrap` as its membership when the store has
   * nothing for it, else recovers it (then `bootstrap` is ignored). A group already open is left
   * as it is. `overrides` win over the host's `groupDefaults`.
   */
  createGroup(
    groupId: GroupId,
    bootstrap: ConfState | null,
    overrides: GroupConfig = {},
    options: OpenGroupOptions = {},
  ): void {
    this.checkOpen();
    if (this.groups.has(groupId)) return;
    assert(!this.deleting.has(groupId), 'a removed group is re-created only after removeGroup resolved');
    const storage = this.store.openGroup(groupId, bootstrap, options);
    const config: RaftNodeConfig = {
      ...this.groupDefaults,
      ...(this.logger === undefined ? {} : { logger: this.logger }),
      ...overrides,
      id: this.nodeId,
      storage,
      random: this.random,
    };
    const node = this.createNode(config);
    const group = new HostedGroup(groupId, node, storage);
    const status = node.status();
    group.applied = status.applied;
    group.term = status.hardState.term;
    group.leaderId = status.leaderId;
    group.role = status.role;
    group.recordConf(status.applied, status.confState);
    const snapshotIndex = storage.firstIndex() - 1;
    if (overrides.applied === undefined && snapshotIndex > 0) group.initialSnapshot = storage.snapshot();
    this.groups.set(groupId, group);
    this.setMembers(group, membersOf(status.confState, this.nodeId));
    this.active.add(group);
    this.markDirty(group);
    this.schedule();
  }

  /** Opens every group the store holds (recovery at start-up). Returns their ids. */
  openExisting(overrides: (groupId: GroupId) => GroupConfig = () => ({})): GroupId[] {
    const opened: GroupId[] = [];
    for (const groupId of this.store.groupIds()) {
      if (this.groups.has(groupId)) continue;
      this.createGroup(groupId, null, overrides(groupId));
      opened.push(groupId);
    }
    return opened;
  }

  /**
   * Closes a group and deletes it from the store; its pending work is rejected. Re-create the same
   * group id only after the returned promise resolved.
   */
  removeGroup(groupId: GroupId): Promise<void> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new GroupNotFoundError(groupId));
    this.closeGroup(group, new ProposalDroppedError(`group ${groupId} was removed from this host`));
    this.deleting.add(groupId);
    return this.chore(() => this.store.deleteGroup(groupId)).finally(() => this.deleting.delete(groupId));
  }

  /**
   * Repairs a group whose stored log is corrupt from `fromIndex` on: closes it (pending work is
   * rejected), has the store drop that suffix (`RaftStore.discardFrom`: term and vote are kept,
   * the commit index goes below the suffix), and opens it again, which replays the kept log into
   * the state machine from its snapshot. The node then re-replicates the suffix from the leader
   * and grants no votes until its log is as long as before (see `InitialState.repairIndex`).
   * The caller resets its state machine for the group before the returned promise resolves: it
   * is re-applied from the snapshot (restore, when the group has one) and the kept entries.
   */
  repairGroup(groupId: GroupId, fromIndex: number, beforeReopen: () => void): Promise<void> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new GroupNotFoundError(groupId));
    const discardFrom = this.store.discardFrom?.bind(this.store);
    if (discardFrom === undefined)
      return Promise.reject(new ProposalDroppedError('this store cannot drop a corrupt suffix'));
    this.closeGroup(group, new ProposalDroppedError(`group ${groupId} is being repaired on this host; retry`));
    this.deleting.add(groupId);
    return this.chore(async () => {
      try {
        await discardFrom(groupId, fromIndex);
      } finally {
        // Reopened either way: on failure the store's atomic write dropped nothing.
        this.deleting.delete(groupId);
        beforeReopen();
        this.createGroup(groupId, null);
      }
    });
  }

  private closeGroup(group: HostedGroup, reason: Error): void {
    group.removed = true;
    this.groups.delete(group.groupId);
    this.unquiesce(group);
    this.active.delete(group);
    this.readGroups.delete(group);
    this.setMembers(group, []);
    group.rejectAll(reason);
  }

  hasGroup(groupId: GroupId): boolean {
    return this.groups.has(groupId);
  }

  groupIds(): GroupId[] {
    return [...this.groups.keys()];
  }

  // ---- proposals and reads ---------------------------------------------------------------

  /** Proposes one entry; see `ProposeOptions` for when it resolves. */
  propose(groupId: GroupId, data: Uint8Array, options: ProposeOptions = {}): Promise<ProposalReceipt> {
    return this.submit(groupId, 1, options, (node) => node.propose(data));
  }

  /** Proposes entries at consecutive indexes; resolves with the first one's receipt once all are in. */
  proposeBatch(groupId: GroupId, data: readonly Uint8Array[], options: ProposeOptions = {}): Promise<ProposalReceipt> {
    assert(data.length > 0, 'a batch holds at least one entry');
    return this.submit(groupId, data.length, options, (node) => node.proposeBatch(data));
  }

  /** Proposes a membership change; resolves once it is committed and applied here. */
  proposeConfChange(groupId: GroupId, change: ConfChange): Promise<ProposalReceipt> {
    return this.submit(groupId, 1, {}, (node) => node.proposeConfChange(change));
  }

  /**
   * A linearizable read point: once this group's applied index reaches the result (see
   * `waitApplied`), local reads see every write committed before the call.
   */
  readIndex(groupId: GroupId): Promise<number> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new GroupNotFoundError(groupId));
    if (this.state !== 'running') return Promise.reject(new StoppedError());
    if (group.leaderId === 0) return Promise.reject(new NotLeaderError(0));
    if (group.reads.size >= hostReadsPendingMax)
      return Promise.reject(new ProposalDroppedError('too many reads pending; retry later'));
    const id = ++this.readSeq;
    const promise = new Promise<number>((resolve, reject) => {
      group.reads.set(id, {
        resolve,
        reject,
        deadlineTick: this.tickCount + hostReadTimeoutElections * this.electionTicks,
      });
    });
    this.readGroups.add(group);
    this.wake(group);
    try {
      group.node.readIndex(encodeReadContext(this.session, id));
    } catch (error) {
      // Not registered after all: a rejection nobody awaits would otherwise surface later.
      group.reads.delete(id);
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.markDirty(group);
    this.schedule();
    return promise;
  }

  /** Resolves once this host has applied `index` in the group. */
  waitApplied(groupId: GroupId, index: number): Promise<void> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new GroupNotFoundError(groupId));
    if (this.state === 'stopped') return Promise.reject(new StoppedError());
    return group.waitApplied(index);
  }

  /** `readIndex` then `waitApplied`: after it resolves, local state is linearizable. */
  async linearizableRead(groupId: GroupId): Promise<number> {
    const index = await this.readIndex(groupId);
    await this.waitApplied(groupId, index);
    return index;
  }

  // ---- leadership and membership ---------------------------------------------------------

  /** Asks this leader to hand leadership to `to`; watch `onLeaderChange` for the outcome. */
  transferLeadership(groupId: GroupId, to: NodeId): void {
    const group = this.group(groupId);
    if (group.role !== Role.leader) throw new NotLeaderError(group.leaderId);
    this.wake(group);
    group.node.transferLeadership(to);
    this.markDirty(group);
    this.schedule();
  }

  /** Starts an election for the group now (tests, single-member groups). */
  campaign(groupId: GroupId): void {
    const group = this.group(groupId);
    this.wake(group);
    group.node.campaign();
    this.markDirty(group);
    this.schedule();
  }

  /**
   * Records the application's state at `appliedIndex` as the group's snapshot and lets the store
   * drop the log up to it. Runs between loop turns, never beside a persist.
   */
  compact(groupId: GroupId, snapshotData: Uint8Array, appliedIndex: number): Promise<void> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new GroupNotFoundError(groupId));
    assert(appliedIndex <= group.applied, 'compact only what is applied');
    if (appliedIndex < group.storage.firstIndex()) return Promise.resolve();
    const confState = group.confAt(appliedIndex);
    if (confState === undefined) {
      return Promise.reject(
        new ProposalDroppedError(
          `membership at index ${appliedIndex} is unknown (below the index the group was opened at); compact at a later applied index`,
        ),
      );
    }
    const snapshot = {
      metadata: { index: appliedIndex, term: group.storage.term(appliedIndex), confState },
      data: snapshotData,
    };
    return this.chore(() => this.store.compact(groupId, snapshot));
  }

  /**
   * The group's membership as of `index` (applied conf changes up to it), or undefined when that
   * is not known (beyond the applied index, or below the index the group was opened at).
   */
  confStateAt(groupId: GroupId, index: number): ConfState | undefined {
    const group = this.group(groupId);
    return index > group.applied ? undefined : group.confAt(index);
  }

  status(groupId: GroupId): HostGroupStatus {
    const group = this.group(groupId);
    return { ...group.node.status(), quiesced: group.quiesced, proposalsPending: group.pendingProposals() };
  }

  /** The group's leader as last seen by this host, 0 when unknown. */
  leaderOf(groupId: GroupId): NodeId {
    return this.group(groupId).leaderId;
  }

  /** This node's role in the group as last seen by this host. */
  roleOf(groupId: GroupId): Role {
    return this.group(groupId).role;
  }

  /** True when this host has the group and leads it, as last seen by this host. */
  isLeader(groupId: GroupId): boolean {
    return this.groups.get(groupId)?.role === Role.leader;
  }

  /**
   * True when `nodeId` was heard from within an election timeout (any frame counts). A peer this
   * host shares no group with is never tracked and reads as not alive.
   */
  peerAlive(nodeId: NodeId): boolean {
    if (nodeId === this.nodeId) return true;
    const peer = this.peers.get(nodeId);
    return peer !== undefined && !peer.dead && this.tickCount - peer.lastHeardTick < this.electionTicks;
  }

  isQuiesced(groupId: GroupId): boolean {
    return this.group(groupId).quiesced;
  }

  /** Subscribes to leadership and role changes; returns the unsubscribe function. */
  onLeaderChange(listener: LeaderChangeListener): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Called once if the host stops after a failure (see `failureCause`): the store failed. */
  onFailure(listener: (error: Error) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  // ---- transport -------------------------------------------------------------------------

  /** Delivers a frame from a peer. Frames for another node, or after stop, are ignored. */
  receive(frame: Frame): void {
    if (this.state !== 'running' || frame.to !== this.nodeId || frame.from === this.nodeId) return;
    this.heard(frame.from, frame.session);
    for (const { groupId, message } of frame.messages) this.stepMessage(groupId, message);
    for (const beat of frame.heartbeats) this.stepMessage(beat.groupId, expandHeartbeat(frame, beat));
    for (const beat of frame.heartbeatResponses) this.stepMessage(beat.groupId, expandHeartbeatResponse(frame, beat));
    for (const marker of frame.quiesce) this.quiesceFollower(marker.groupId, marker.term, frame.from);
    // An empty frame only proves liveness: no turn needed (idle hosts must cost little).
    if (this.dirty.length > 0) this.schedule();
  }

  // ---- internals: intake -----------------------------------------------------------------

  private submit(
    groupId: GroupId,
    count: number,
    options: ProposeOptions,
    proposeTo: (node: RaftNodeApi) => ProposalReceipt,
  ): Promise<ProposalReceipt> {
    const group = this.groups.get(groupId);
    if (group === undefined) return Promise.reject(new GroupNotFoundError(groupId));
    if (this.state !== 'running') return Promise.reject(new StoppedError());
    if (group.pendingProposals() >= hostProposalsPendingMax) {
      this.metrics.proposalsDropped += count;
      return Promise.reject(new ProposalDroppedError('too many proposals pending in this group; retry later'));
    }
    let receipt: ProposalReceipt;
    try {
      receipt = proposeTo(group.node);
    } catch (error) {
      if (isAssertion(error)) throw error;
      if (error instanceof ProposalDroppedError) this.metrics.proposalsDropped += count;
      return Promise.reject(error);
    }
    this.metrics.proposals += count;
    this.wake(group);
    this.markDirty(group);
    this.schedule();
    const queue = options.waitFor === 'persist' ? group.persistWaiters : group.commitWaiters;
    return new Promise<ProposalReceipt>((resolve, reject) => {
      queue.push({ index: receipt.index, lastIndex: receipt.index + count - 1, term: receipt.term, resolve, reject });
    });
  }

  private stepMessage(groupId: GroupId, message: Message): void {
    const group = this.groups.get(groupId);
    if (group === undefined) {
      this.metrics.unknownGroupMessages++;
      return;
    }
    if (group.quiesced && !this.keepsQuiet(group, message)) this.wake(group);
    group.node.step(message);
    this.markDirty(group);
  }

  /**
   * A plain heartbeat (or its response) of the term a group quiesced in does not wake it: the
   * leader's last heartbeat and its answers may arrive after the quiesce marker.
   */
  private keepsQuiet(group: HostedGroup, message: Message): boolean {
    if (message.term !== group.quiesceTerm || message.context.byteLength !== 0) return false;
    if (message.type === MessageType.heartbeat) return message.from === group.quiesceLeader;
    if (message.type === MessageType.heartbeatResponse) return group.quiesceLeader === this.nodeId;
    return false;
  }

  private onEntriesLoaded(groupId: GroupId): void {
    const group = this.groups.get(groupId);
    if (group === undefined || this.state === 'stopped') return;
    group.node.entriesLoaded();
    this.markDirty(group);
    this.schedule();
  }

  // ---- internals: ticks, liveness, quiescence --------------------------------------------

  private tick(): void {
    if (this.state !== 'running') return;
    this.tickCount++;
    this.metrics.hostTicks++;
    for (const group of this.active) {
      group.node.tick();
      this.metrics.groupTicks++;
      this.markDirty(group);
      if (group.role === Role.leader && group.node.canQuiesce() && this.peersAlive(group)) this.quiesceLeader(group);
    }
    this.checkPeers();
    for (const group of this.readGroups) {
      if (!group.expireReads(this.tickCount)) this.readGroups.delete(group);
    }
    if (
      this.dirty.length === 0 &&
      this.quiesceQueued.length === 0 &&
      this.turnRunning === null &&
      !this.turnScheduled
    ) {
      this.sendLiveness();
    } else {
      this.livenessDue = true;
      this.schedule();
    }
  }

  /** An empty frame to every peer: all an idle host does per tick. */
  private sendLiveness(): void {
    for (const [nodeId, peer] of this.peers) if (peer.groups > 0) this.outbox.touch(nodeId);
    this.metrics.framesSent += this.outbox.flush(this.transport);
  }

  private quiesceLeader(group: HostedGroup): void {
    const status = group.node.status();
    assert(status.role === Role.leader, 'only a leader quiesces a group');
    this.setMembers(group, membersOf(status.confState, this.nodeId));
    group.quiesced = true;
    group.quiesceLeader = this.nodeId;
    group.quiesceTerm = status.hardState.term;
    this.active.delete(group);
    this.quiescedLeaders.add(group);
    this.quiesceQueued.push(group);
  }

  private quiesceFollower(groupId: GroupId, term: number, leaderId: NodeId): void {
    const group = this.groups.get(groupId);
    if (group === undefined || group.quiesced) return;
    const status = group.node.status();
    if (status.role !== Role.follower || status.leaderId !== leaderId || status.hardState.term !== term) return;
    // The leader quiesces only once this follower matched its last index; if the final commit
    // did not arrive (a dropped heartbeat), keep ticking: the silence brings a heartbeat back.
    if (status.hardState.commit !== status.lastIndex) return;
    group.quiesced = true;
    group.quiesceLeader = leaderId;
    group.quiesceTerm = term;
    this.active.delete(group);
    let led = this.quiescedByLeader.get(leaderId);
    if (led === undefined) {
      led = new Set();
      this.quiescedByLeader.set(leaderId, led);
    }
    led.add(group);
  }

  /** Takes a group out of quiescence (without adding it to the ticked set). */
  private unquiesce(group: HostedGroup): void {
    if (!group.quiesced) return;
    group.quiesced = false;
    if (group.quiesceLeader === this.nodeId) this.quiescedLeaders.delete(group);
    else this.quiescedByLeader.get(group.quiesceLeader)?.delete(group);
    group.quiesceLeader = 0;
    group.quiesceTerm = 0;
  }

  private wake(group: HostedGroup): void {
    if (!group.quiesced || group.removed) return;
    this.unquiesce(group);
    this.active.add(group);
  }

  private peersAlive(group: HostedGroup): boolean {
    for (const member of group.members) {
      if (this.peers.get(member)?.dead === true) return false;
    }
    return true;
  }

  private setMembers(group: HostedGroup, members: readonly NodeId[]): void {
    for (const member of group.members) {
      const peer = this.peers.get(member);
      assert(peer !== undefined && peer.groups > 0, 'a member peer is counted');
      peer.groups--;
    }
    for (const member of members) this.peer(member).groups++;
    group.members = members;
  }

  private peer(nodeId: NodeId): PeerState {
    let peer = this.peers.get(nodeId);
    if (peer === undefined) {
      peer = { groups: 0, lastHeardTick: this.tickCount, session: 0, dead: false };
      this.peers.set(nodeId, peer);
    }
    return peer;
  }

  private heard(nodeId: NodeId, session: number): void {
    const peer = this.peer(nodeId);
    const restarted = peer.session !== 0 && peer.session !== session;
    const revived = peer.dead;
    peer.session = session;
    peer.lastHeardTick = this.tickCount;
    peer.dead = false;
    if (restarted || revived) {
      this.logger?.debug({ nodeId: this.nodeId, peer: nodeId, restarted }, 'peer is back');
      this.wakeGroupsWith(nodeId);
    }
  }

  private checkPeers(): void {
    for (const [nodeId, peer] of this.peers) {
      if (peer.groups === 0 || peer.dead || this.tickCount - peer.lastHeardTick < this.electionTicks) continue;
      peer.dead = true;
      this.logger?.debug({ nodeId: this.nodeId, peer: nodeId }, 'peer silent for an election timeout');
      this.wakeGroupsWith(nodeId);
      this.reportDead(nodeId);
    }
  }

  /** Tells every group this host leads that `nodeId` is gone, so it stops pipelining into the void. */
  private reportDead(nodeId: NodeId): void {
    for (const group of this.groups.values()) {
      if (group.role !== Role.leader || !group.members.includes(nodeId)) continue;
      group.node.reportUnreachable(nodeId);
      group.node.reportSnapshot(nodeId, false);
      this.markDirty(group);
    }
  }

  /**
   * Wakes the quiesced groups `nodeId` shares with this host that need it, when it went silent,
   * came back or restarted:
   *  - the groups it led here: a silent or restarted leader leads no more (a node restarts as a
   *    follower), so their followers tick again, to elect another leader or to hear its campaign
   *    (asleep they stayed quiesced until its pre-vote came, about an election timeout lost, and
   *    with an election timeout still to wait before leader stickiness lets them vote);
   *  - the groups this host leads with it as a member: heartbeats reach it at once, CheckQuorum
   *    counts it.
   * Groups a third host leads are left to that leader, which sees the same frames and wakes them;
   * waking their followers here would only tick them.
   */
  private wakeGroupsWith(nodeId: NodeId): void {
    const led = this.quiescedByLeader.get(nodeId);
    if (led !== undefined) for (const group of [...led]) this.wake(group);
    for (const group of [...this.quiescedLeaders]) {
      if (group.members.includes(nodeId)) this.wake(group);
    }
  }

  // ---- internals: the loop ---------------------------------------------------------------

  private markDirty(group: HostedGroup): void {
    if (group.dirty) return;
    group.dirty = true;
    this.dirty.push(group);
  }

  private schedule(): void {
    if (this.turnScheduled || this.turnRunning !== null || this.state !== 'running') return;
    this.turnScheduled = true;
    this.scheduler.setImmediate(() => this.startTurn());
  }

  private startTurn(): void {
    this.turnScheduled = false;
    if (this.state !== 'running') {
      this.settleIdle();
      return;
    }
    this.turnRunning = this.turn()
      .then(() => this.runChores())
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.turnRunning = null;
        if (this.dirty.length > 0 || this.livenessDue || this.chores.length > 0 || this.quiesceQueued.length > 0)
          this.schedule();
        if (!this.turnScheduled) this.settleIdle();
      });
  }

  private async turn(): Promise<void> {
    this.metrics.turns++;
    let batch = this.dirty;
    if (batch.length > hostGroupsPerTurnMax) {
      this.dirty = batch.slice(hostGroupsPerTurnMax);
      batch = batch.slice(0, hostGroupsPerTurnMax);
    } else {
      this.dirty = [];
    }
    const quiesced = this.quiesceQueued;
    this.quiesceQueued = [];

    for (const group of batch) {
      if (group.initialSnapshot === null || group.removed) continue;
      const snapshot = group.initialSnapshot;
      group.initialSnapshot = null;
      await this.stateMachine.restore(group.groupId, snapshot);
    }

    const groups: HostedGroup[] = [];
    const readies: Ready[] = [];
    const writes: GroupWrite[] = [];
    let mustSync = false;
    for (const group of batch) {
      group.dirty = false;
      if (group.removed || !group.node.hasReady()) continue;
      const ready = group.node.ready();
      groups.push(group);
      readies.push(ready);
      if (ready.hardState !== null || ready.entries.length > 0 || ready.snapshot !== null) {
        writes.push({
          groupId: group.groupId,
          hardState: ready.hardState,
          entries: ready.entries,
          snapshot: ready.snapshot,
        });
        mustSync ||= ready.mustSync;
      }
    }
    // A leader's appends leave now, so that followers write in parallel with it (appendBeforePersist).
    let early = 0;
    for (let i = 0; i < readies.length; i++) {
      const ready = readies[i] as Ready;
      if (ready.messages.length === 0) continue;
      const groupId = (groups[i] as HostedGroup).groupId;
      for (const message of ready.messages) this.send(groupId, message);
      early += ready.messages.length;
    }
    if (early > 0) {
      this.metrics.messagesSent += early;
      this.metrics.framesSent += this.outbox.flush(this.transport);
    }
    // A Ready that writes only a new commit index (no entries, no snapshot, nothing to sync: see
    // appliesBeforeWrite) applies before its write instead of after it: a produce's acks=all answer
    // no longer waits for a LevelDB write of the commit index behind the quorum's fsyncs.
    const appliedEarly = new Array<boolean>(groups.length).fill(false);
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i] as HostedGroup;
      const ready = readies[i] as Ready;
      if (group.removed || !appliesBeforeWrite(ready)) continue;
      appliedEarly[i] = true;
      this.metrics.appliesBeforeWrite++;
      await this.apply(group, ready);
    }
    // The planted bug of HostUnsafeTestingKnobs.sendBeforePersist (test-only): persist-before-send broken.
    const advancedEarly = this.sendBeforePersist;
    if (advancedEarly) {
      this.advanceAll(groups, readies);
      this.metrics.framesSent += this.outbox.flush(this.transport);
    }
    if (writes.length > 0) {
      this.metrics.persistCalls++;
      this.metrics.groupWrites += writes.length;
      const startMs = this.timer.now();
      await this.store.persist(writes, mustSync);
      const persistMs = this.timer.now() - startMs;
      this.metrics.persistMsTotal += persistMs;
      this.metrics.persistMsMax = Math.max(this.metrics.persistMsMax, persistMs);
    }

    if (!advancedEarly) this.advanceAll(groups, readies);
    for (const group of quiesced) {
      if (!group.quiesced || group.quiesceLeader !== this.nodeId || group.removed) continue;
      for (const member of group.members) this.outbox.addQuiesce(member, group.groupId, group.quiesceTerm);
    }
    if (this.livenessDue) {
      this.livenessDue = false;
      for (const [nodeId, peer] of this.peers) if (peer.groups > 0) this.outbox.touch(nodeId);
    }
    this.metrics.framesSent += this.outbox.flush(this.transport);

    for (let i = 0; i < groups.length; i++) {
      const group = groups[i];
      const ready = readies[i];
      assert(group !== undefined && ready !== undefined, 'one ready per group');
      if (!group.removed && appliedEarly[i] !== true) await this.apply(group, ready);
    }
    for (const group of groups) {
      if (!group.removed && group.node.hasReady()) this.markDirty(group);
    }
  }

  /** Step 3 of a turn: every group's Ready is persisted; advance them and queue what they release. */
  private advanceAll(groups: readonly HostedGroup[], readies: readonly Ready[]): void {
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i];
      const ready = readies[i];
      assert(group !== undefined && ready !== undefined, 'one ready per group');
      this.afterPersist(group, ready);
    }
  }

  /** Step 3 of a turn for one group: track state, settle 'persist' proposals, release messages. */
  private afterPersist(group: HostedGroup, ready: Ready): void {
    if (ready.hardState !== null) {
      if (ready.hardState.term > group.term) this.metrics.termChanges++;
      group.term = ready.hardState.term;
    }
    if (ready.softState !== null) this.changeSoftState(group, ready.softState);
    if (ready.entries.length > 0) group.persistWaiters.settle(ready.entries);
    const messages = group.node.advance(ready);
    this.metrics.messagesSent += messages.length;
    for (const message of messages) this.send(group.groupId, message);
  }

  private send(groupId: GroupId, message: Message): void {
    if (message.type === MessageType.snapshot && message.snapshot?.offset === 0) this.metrics.snapshotsSent++;
    this.outbox.addMessage(groupId, message);
  }

  private changeSoftState(group: HostedGroup, softState: SoftState): void {
    const leaderChanged = softState.leaderId !== group.leaderId;
    const roleChanged = softState.role !== group.role;
    // An election: a campaign (candidate), or a win without one seen here (a single member).
    if (
      roleChanged &&
      (softState.role === Role.candidate || (softState.role === Role.leader && group.role !== Role.candidate))
    )
      this.metrics.elections++;
    group.leaderId = softState.leaderId;
    group.role = softState.role;
    if (!leaderChanged && !roleChanged) return;
    if (leaderChanged && group.reads.size > 0)
      group.rejectReads(() => new ProposalDroppedError('read index lost: the leader changed; retry'));
    if (group.quiesced && (softState.role !== Role.follower || softState.leaderId !== group.quiesceLeader))
      this.wake(group);
    this.logger?.debug(
      {
        nodeId: this.nodeId,
        groupId: group.groupId,
        leaderId: softState.leaderId,
        role: softState.role,
        term: group.term,
      },
      'leadership changed',
    );
    for (const listener of this.leaderListeners) {
      try {
        listener(group.groupId, softState.leaderId, group.term, softState.role);
      } catch (error) {
        if (isAssertion(error)) throw error;
        this.logger?.warn({ groupId: group.groupId, error: String(error) }, 'leader change listener failed');
      }
    }
  }

  /** Step 4 of a turn for one group: restore, apply, settle proposals, reads and waiters. */
  private async apply(group: HostedGroup, ready: Ready): Promise<void> {
    if (ready.snapshot !== null) await this.restoreSnapshot(group, ready);
    const entries = ready.committedEntries;
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      const result = this.stateMachine.apply(group.groupId, entries);
      if (result !== undefined) await result;
      this.applyConfChanges(group, entries);
      group.applied = last.index;
      this.metrics.entriesApplied += entries.length;
      group.commitWaiters.settle(entries);
      group.settleApplied();
    }
    for (const readState of ready.readStates)
      group.resolveRead(readState, (context) => decodeReadContext(this.session, context));
  }

  private async restoreSnapshot(group: HostedGroup, ready: Ready): Promise<void> {
    const snapshot = ready.snapshot;
    assert(snapshot !== null, 'restore needs a snapshot');
    this.metrics.snapshotsReceived++;
    await this.stateMachine.restore(group.groupId, snapshot);
    const index = snapshot.metadata.index;
    group.applied = Math.max(group.applied, index);
    group.recordConf(index, snapshot.metadata.confState);
    this.setMembers(group, membersOf(snapshot.metadata.confState, this.nodeId));
    const unknown = (): Error => new ProposalDroppedError('outcome unknown: the log was replaced by a snapshot; retry');
    group.commitWaiters.rejectThrough(index, unknown);
    group.persistWaiters.rejectThrough(index, unknown);
    group.settleApplied();
  }

  private applyConfChanges(group: HostedGroup, entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type !== EntryType.confChange) continue;
      const confState = group.node.applyConfChange(decodeConfChange(entry.data));
      group.recordConf(entry.index, confState);
      this.setMembers(group, membersOf(confState, this.nodeId));
    }
  }

  private chore(run: () => Promise<void>): Promise<void> {
    if (this.state === 'stopped') return Promise.reject(new StoppedError());
    const promise = new Promise<void>((resolve, reject) => this.chores.push({ run, resolve, reject }));
    this.schedule();
    return promise;
  }

  /** Compactions and deletions run between turns so that they never overlap a persist. */
  private async runChores(): Promise<void> {
    while (this.chores.length > 0) {
      const chores = this.chores;
      this.chores = [];
      for (const chore of chores) {
        try {
          await chore.run();
          chore.resolve();
        } catch (error) {
          if (isAssertion(error)) throw error;
          chore.reject(error as Error);
        }
      }
    }
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * The store failed or an invariant broke inside a turn. Nothing can be trusted about what is
   * durable, so the host stops and everything pending fails with the cause. An assertion failure
   * is rethrown (crash), as the house rules demand.
   */
  private fail(error: unknown): void {
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.state = 'stopped';
    if (this.tickHandle !== undefined) this.timer.clearInterval(this.tickHandle);
    this.tickHandle = undefined;
    this.logger?.warn({ nodeId: this.nodeId, error: this.failure.message }, 'raft host stopped after a failure');
    this.rejectEverything(this.failure);
    for (const listener of this.failureListeners) {
      try {
        listener(this.failure);
      } catch (listenerError) {
        this.logger?.warn({ nodeId: this.nodeId, error: String(listenerError) }, 'failure listener failed');
      }
    }
    if (isAssertion(error)) {
      this.scheduler.setImmediate(() => {
        throw error;
      });
    }
  }

  /** The error that stopped the host, if one did. */
  failureCause(): Error | null {
    return this.failure;
  }

  private rejectEverything(error: Error): void {
    for (const group of this.groups.values()) group.rejectAll(error);
    const chores = this.chores;
    this.chores = [];
    for (const chore of chores) chore.reject(error);
    this.settleIdle();
  }

  private group(groupId: GroupId): HostedGroup {
    const group = this.groups.get(groupId);
    if (group === undefined) throw new GroupNotFoundError(groupId);
    return group;
  }

  private checkOpen(): void {
    if (this.state === 'stopped') throw new StoppedError();
  }
}
