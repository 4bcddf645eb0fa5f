/**
 * A deterministic simulation of one Raft group: 3 to 5 `RaftNode` members on a virtual clock,
 * a simulated network (drop, duplicate, reorder, delay, partitions) and a simulated disk per
 * node (`MemoryStorage`, with crashes that lose what was not yet persisted). Clients propose,
 * read, transfer leadership and change membership under faults while `SafetyChecker` watches
 * every Ready, write and apply. One seed replays one run exactly: nothing reads real time or
 * Math.random.
 *
 * The host loop of a node is the one the `Ready` contract prescribes: ready() → persist to its
 * MemoryStorage → advance() → send the released messages → apply committed entries. With an
 * asynchronous disk the persist takes virtual time, and a crash in the meantime loses it (or,
 * as a coin decides, lands it on disk without the messages ever leaving: fsync done, then crash).
 *
 * Reusable pieces: `clock` (virtual time and events), `network` (faults and partitions) and the
 * fault primitives (`crash`, `restart`, `network.partition`, `network.addFilter`) let scripted
 * scenarios drive a group step by step (see sim.test.ts's Figure 8 scenario).
 */
import { RaftNode } from '../../node/raft-node.js';
import type { RaftNodeApi } from '../../node-api.js';
import { RaftError, assert } from '../../errors.js';
import type { RaftNodeConfig, ReadOnlyMode, UnsafeTestingKnobs } from '../../config.js';
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, Ready, Snapshot } from '../../types.js';
import { ConfChangeTransition, ConfChangeType, EntryType, Role } from '../../types.js';
import { decodeConfChange } from '../../confchange/codec.js';
import { MemoryStorage } from '../memory-storage.js';
import { SafetyChecker, entryHash, messageTypeName } from './checker.js';
import {
  simActionGapMsMax,
  simActionGapMsMin,
  simBatchEntriesMax,
  simDiskLatencyMsMax,
  simDowntimeMsMax,
  simDowntimeMsMin,
  simElectionTicksDefault,
  simEventsPerRunMax,
  simHostTurnsMax,
  simMembersMax,
  simNodesDefault,
  simNodesMax,
  simNodesMin,
  simQuietElectionTimeoutsMax,
  simStepsDefault,
  simStepsMax,
  simTickMs,
  simClockRateDriftMax,
  simLeaseDriftBoundTicks,
  simVotersMin,
} from './constants.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork, quietNetworkFaults } from './network.js';
import type { NetworkFaults } from './network.js';
import { Prng } from './prng.js';
import {
  commonActionWeightsDefault,
  cutLinkAtRandom,
  drawNetworkFaults,
  encodeId,
  healNetwork,
  membersOf,
  nodeErrorViolation,
  partitionAtRandom,
  randomPayload,
  raftSettings,
  runWeightedAction,
  tolerateRaftErrors,
  traceLine,
} from './sim-actions.js';
import type { CommonActionWeights, ResolvedRaftOptions } from './sim-actions.js';
import { SimViolation } from './violation.js';

/** Raft settings of the simulated nodes; unset ones are chosen by the seed. */
export interface SimRaftOptions {
  /** Default: on for odd seeds (without touching the seed's randomness). */
  readonly appendBeforePersist?: boolean;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly inflightMessagesMax?: number;
  readonly messageBytesMax?: number;
  /** 'lease' needs checkQuorum; the drift bound is then `leaseDriftBoundTicks` (default 2). */
  readonly readOnlyMode?: ReadOnlyMode;
  readonly leaseDriftBoundTicks?: number;
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
}

/** Relative weights of the random actions of a run; 0 turns an action off. */
export interface SimActionWeights extends CommonActionWeights {
  readonly membership: number;
  /**
   * A follower finds a corrupt entry on its disk: it restarts with its log cut from a random index
   * on (`MemoryStorage.discardFrom`) and must be repaired without losing anything committed. At
   * most one member is repairing at a time (corruption on a minority). Default 0.
   */
  readonly corrupt: number;
}

export const simActionWeightsDefault: SimActionWeights = {
  ...commonActionWeightsDefault,
  membership: 3,
  corrupt: 0,
};

export interface SimulationOptions {
  readonly seed: number;
  /** Initial voters, 3 to 5. Default 3. */
  readonly nodes?: number;
  /** Random actions before the final quiet period. Default `simStepsDefault`. */
  readonly steps?: number;
  /** Receives one line per event when set (the `--verbose` trace). */
  readonly trace?: (line: string) => void;
  readonly raft?: SimRaftOptions;
  readonly weights?: Partial<SimActionWeights>;
  /** Persists take virtual time (and can be lost by a crash). Default: chosen by the seed. */
  readonly asyncDisk?: boolean;
  /** Network faults at the start (the `networkFaults` action changes them). Default: quiet. */
  readonly networkFaults?: NetworkFaults;
  /** Longest time a crashed node stays down. Default `simDowntimeMsMax`. */
  readonly downtimeMsMax?: number;
  /**
   * Host policy: a node whose log is compacted takes a new snapshot when it applies a membership
   * change, so that its snapshot names every current member. Without it a member added after the
   * leader's last snapshot must install a snapshot that does not name it (RaftNode ignored those
   * until 78db91b, so such a learner never caught up). Default: chosen by the seed.
   */
  readonly snapshotOnConfChange?: boolean;
  /**
   * Check persist-before-send on every message that leaves a node (`durability`). Off only to
   * show what other checkers see when a knob breaks persistence. Default true.
   */
  readonly checkDurability?: boolean;
  /** Builds the node under test on every boot. Default: `new RaftNode(config)`. */
  readonly createNode?: (config: RaftNodeConfig) => RaftNodeApi;
}

export interface SimulationStats {
  virtualMs: number;
  events: number;
  proposals: number;
  proposalsCommitted: number;
  reads: number;
  readsAnswered: number;
  crashes: number;
  /** Snapshots installed by followers from their leader. */
  snapshotsInstalled: number;
  /** Of those, snapshots older than the recipient's addition (their membership does not name it). */
  snapshotsNotNamingRecipient: number;
  /** Conf change entries committed (counted once per index). */
  confChangesCommitted: number;
  transfersRequested: number;
  compactions: number;
  /** Followers restarted with a cut log (the `corrupt` action), each repaired from a leader. */
  corruptions: number;
  leaderElections: number;
  messagesSent: number;
  messagesDropped: number;
  committedIndex: number;
}

export interface SimulationResult {
  readonly seed: number;
  readonly passed: boolean;
  readonly violation: SimViolation | null;
  /**
   * Random actions done when the run ended. A violation before the quiet period replays with
   * `--steps stepsDone + 1` too (the run is the same up to it), for a shorter trace.
   */
  readonly stepsDone: number;
  /** Whether the run ended in the random phase or in the final quiet period. */
  readonly phase: 'random' | 'quiet';
  readonly stats: SimulationStats;
}

type SimEvent =
  | { readonly kind: 'tick'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'persisted'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'drive'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'restart'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'action' }
  | { readonly kind: 'call'; readonly run: () => void };

/** One simulated machine: its disk survives crashes, everything else is lost. */
interface SimMember {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  readonly random: Prng;
  node: RaftNodeApi | null;
  /** Removed from the group and shut down for good. */
  removed: boolean;
  /** Bumped by every crash and restart; events of an older incarnation are ignored. */
  incarnation: number;
  /** A Ready whose persist is in flight (asynchronous disk). */
  pending: Ready | null;
  role: Role;
  term: number;
  leaderId: NodeId;
  applied: number;
  /** The state machine: a hash of everything applied, in order. */
  chain: number;
  /** The hard state as of the last synced write (null before any); see `crash`. */
  syncedHardState: HardState | null;
  /** This machine's tick period: clocks run at slightly different rates (bounded drift). */
  readonly tickMs: number;
  confState: ConfState;
  /** The index of the last conf change reflected in `confState` (or of the snapshot it came from). */
  confIndex: number;
}

// Declared beside raftSettings, which reads it (a type import back from here was the tree's one cycle).
export type { ResolvedRaftOptions } from './sim-actions.js';

export class Simulation {
  readonly seed: number;
  readonly clock = new EventQueue<SimEvent>();
  readonly network: SimNetwork<Message>;
  readonly checker = new SafetyChecker();
  readonly raft: ResolvedRaftOptions;
  readonly asyncDisk: boolean;
  readonly steps: number;
  private readonly prng: Prng;
  private readonly members = new Map<NodeId, SimMember>();
  private readonly weights: SimActionWeights;
  private readonly downtimeMsMax: number;
  private readonly snapshotOnConfChange: boolean;
  private readonly checkDurability: boolean;
  private readonly createNode: (config: RaftNodeConfig) => RaftNodeApi;
  private readonly trace: ((line: string) => void) | null;
  private events = 0;
  private stepsDone = 0;
  private crashes = 0;
  private readonly counters = {
    snapshotsNotNamingRecipient: 0,
    snapshotsInstalled: 0,
    confChangesCommitted: 0,
    transfersRequested: 0,
    compactions: 0,
    corruptions: 0,
  };
  private reads = 0;
  private nextProposalId = 1;
  private nextReadId = 1;
  private readonly readAnswers = new Map<number, number>();
  private started = false;
  private randomActions = false;
  private nextMemberId: NodeId;
  /** What to do once the conf change being proposed is accepted (start a new member). */
  private onAccepted: (() => void) | null = null;
  /** The highest conf change index applied anywhere. */
  private confIndex = 0;
  /** Every node that was ever in a committed configuration. */
  private readonly everMember = new Set<NodeId>();

  constructor(options: SimulationOptions) {
    const nodes = options.nodes ?? simNodesDefault;
    assert(
      Number.isInteger(nodes) && nodes >= simNodesMin && nodes <= simNodesMax,
      'simulated group size within bounds',
    );
    this.steps = options.steps ?? simStepsDefault;
    assert(
      Number.isInteger(this.steps) && this.steps >= 0 && this.steps <= simStepsMax,
      'simulation steps within bounds',
    );
    this.seed = options.seed;
    this.prng = new Prng(options.seed);
    this.trace = options.trace ?? null;
    this.weights = { ...simActionWeightsDefault, ...options.weights };
    const choices = this.prng.fork(1);
    this.raft = resolveRaftOptions(options.raft ?? {}, choices, options.seed);
    this.asyncDisk = options.asyncDisk ?? choices.chance(0.5);
    this.network = new SimNetwork<Message>(this.prng.fork(2), (delayMs, message) =>
      this.clock.schedule(delayMs, { kind: 'deliver', message }),
    );
    if (options.networkFaults !== undefined) this.network.faults = options.networkFaults;
    this.downtimeMsMax = options.downtimeMsMax ?? simDowntimeMsMax;
    this.snapshotOnConfChange = options.snapshotOnConfChange ?? choices.chance(0.5);
    this.checkDurability = options.checkDurability ?? true;
    this.createNode = options.createNode ?? ((config) => new RaftNode(config));
    assert(this.downtimeMsMax >= simDowntimeMsMin, 'downtime range is ordered');
    const voters: NodeId[] = [];
    for (let id = 1; id <= nodes; id++) voters.push(id);
    this.nextMemberId = nodes + 1;
    const bootstrap: ConfState = { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    for (const id of voters) {
      this.addMember(id, bootstrap, new MemoryStorage(bootstrap));
      this.everMember.add(id);
    }
  }

  /** Starts every member's clock. Scripted scenarios call this, then `runFor`/`runUntil`. */
  start(): void {
    assert(!this.started, 'a simulation starts once');
    this.started = true;
    this.log(
      () =>
        `start seed=${this.seed} nodes=${this.members.size} asyncDisk=${this.asyncDisk} snapshotOnConfChange=${this.snapshotOnConfChange} raft=${JSON.stringify(this.raft)}`,
    );
    for (const member of this.members.values()) this.boot(member);
  }

  /** The whole random run: actions under faults, then a quiet period that must converge. */
  run(): SimulationResult {
    try {
      this.start();
      this.randomActions = true;
      this.clock.schedule(this.actionGapMs(), { kind: 'action' });
      while (this.stepsDone < this.steps) this.processNext();
      this.randomActions = false;
      this.settle();
      return this.result(null);
    } catch (error) {
      if (error instanceof SimViolation) return this.result(error);
      throw error;
    }
  }

  // ---- scripted control ------------------------------------------------------------------

  /** Processes events for `durationMs` of virtual time. */
  runFor(durationMs: number): void {
    const endMs = this.clock.nowMs() + durationMs;
    for (;;) {
      const next = this.clock.peekMs();
      if (next === null || next > endMs) break;
      this.processNext();
    }
  }

  /** Processes events until `done()` holds (checked after each event) or `durationMs` pass. */
  runUntil(done: () => boolean, durationMs: number): boolean {
    const endMs = this.clock.nowMs() + durationMs;
    while (!done()) {
      const next = this.clock.peekMs();
      if (next === null || next > endMs) return false;
      this.processNext();
    }
    return true;
  }

  /** Runs `fn` at `delayMs` from now, inside the event loop. */
  at(delayMs: number, fn: () => void): void {
    this.clock.schedule(delayMs, { kind: 'call', run: fn });
  }

  memberIds(): NodeId[] {
    return [...this.members.keys()];
  }

  isUp(id: NodeId): boolean {
    return this.member(id).node !== null;
  }

  /** The live node that believes it leads the highest term, or 0. */
  leader(): NodeId {
    let best: SimMember | null = null;
    for (const member of this.members.values()) {
      if (member.node === null || member.role !== Role.leader) continue;
      if (best === null || member.term > best.term) best = member;
    }
    return best === null ? 0 : best.id;
  }

  /** The term and the stored log's (index, term) pairs of a member, for scripted assertions. */
  describe(id: NodeId): { term: number; role: Role; applied: number; log: Array<[number, number]> } {
    const member = this.member(id);
    const log: Array<[number, number]> = [];
    for (let index = member.storage.firstIndex(); index <= member.storage.lastIndex(); index++)
      log.push([index, member.storage.term(index)]);
    return { term: member.term, role: member.role, applied: member.applied, log };
  }

  /** Proposes `count` random entries on `id` if it is up; returns the receipt index or 0. */
  propose(id: NodeId, count = 1): number {
    const member = this.member(id);
    const node = member.node;
    if (node === null) return 0;
    const payloads: Uint8Array[] = [];
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const proposalId = this.nextProposalId++;
      ids.push(proposalId);
      payloads.push(this.payload(proposalId));
    }
    try {
      const receipt = count === 1 ? node.propose(payloads[0] as Uint8Array) : node.proposeBatch(payloads);
      payloads.forEach((data, i) => {
        const entry: Entry = { index: receipt.index + i, term: receipt.term, type: EntryType.normal, data };
        this.checker.recordProposal({
          id: ids[i] as number,
          index: entry.index,
          term: receipt.term,
          hash: entryHash(entry),
          leader: id,
        });
      });
      this.log(
        () =>
          `propose on ${id}: ${count} entr${count === 1 ? 'y' : 'ies'} → receipt (${receipt.index}, ${receipt.term})`,
      );
      this.drive(member);
      return receipt.index;
    } catch (error) {
      if (!(error instanceof RaftError)) throw this.nodeError(id, error);
      this.log(() => `propose on ${id}: ${error.code}`);
      return 0;
    }
  }

  /** Issues a ReadIndex on `id`; returns the read's id (see `readAnswer`), 0 when refused or down. */
  read(id: NodeId): number {
    const member = this.member(id);
    const node = member.node;
    if (node === null) return 0;
    const readId = this.nextReadId++;
    this.reads++;
    this.checker.issueRead(readId, id);
    this.log(() => `read ${readId} issued on ${id} (commit known ${this.checker.commitKnownMax})`);
    try {
      node.readIndex(encodeId(readId));
    } catch (error) {
      if (!(error instanceof RaftError)) throw this.nodeError(id, error);
      this.log(() => `read ${readId} refused: ${error.code}`);
      this.checker.forgetRead(readId);
      return 0;
    }
    this.drive(member);
    return readId;
  }

  /** The index a read was answered with, or null while unanswered. */
  readAnswer(readId: number): number | null {
    return this.readAnswers.get(readId) ?? null;
  }

  /** Makes `id` campaign now (if it is up). */
  campaign(id: NodeId): void {
    const member = this.member(id);
    this.log(() => `campaign on ${id}`);
    this.tolerate(id, () => member.node?.campaign());
    this.drive(member);
  }

  /** Asks leader `from` to hand leadership to `to`. */
  transferLeadership(from: NodeId, to: NodeId): void {
    const member = this.member(from);
    this.counters.transfersRequested++;
    this.log(() => `transfer leadership ${from} → ${to}`);
    this.tolerate(from, () => member.node?.transferLeadership(to));
    this.drive(member);
  }

  /** Crashes a member: its node object and unpersisted state are gone; its disk stays. */
  crash(id: NodeId): void {
    const member = this.member(id);
    if (member.node === null) return;
    const pending = member.pending;
    let fate = 'nothing in flight';
    if (pending !== null) {
      // The persist in flight either finished just before the crash (durable, messages never
      // sent) or did not (lost, as an fsync not yet done).
      if (this.prng.chance(0.5)) {
        this.persist(member, pending);
        fate = 'in-flight persist landed';
      } else {
        fate = 'in-flight persist lost';
      }
    }
    // What was written without an fsync (only a newer commit index, by the Ready contract) may be
    // lost with the page cache.
    const synced = member.syncedHardState;
    if (synced !== null && member.storage.hardState() !== synced && this.prng.chance(0.5)) {
      member.storage.setHardState(synced);
      fate += ', unsynced hard state lost';
    }
    member.node = null;
    member.pending = null;
    member.incarnation++;
    member.role = Role.follower;
    member.leaderId = 0;
    this.crashes++;
    this.checker.forgetReads(id);
    this.log(() => `crash ${id} (${fate})`);
  }

  /** Restarts a crashed member from its disk. */
  restart(id: NodeId): void {
    const member = this.member(id);
    if (member.node !== null || member.removed) return;
    member.incarnation++;
    this.boot(member);
  }

  /** Heals the network, restarts every crashed member and waits for convergence. */
  settle(): void {
    this.network.heal();
    this.network.faults = quietNetworkFaults;
    for (const member of this.members.values()) if (member.node === null && !member.removed) this.restart(member.id);
    const limitMs = simQuietElectionTimeoutsMax * this.raft.electionTicks * simTickMs;
    this.log(() => `quiet: faults healed, waiting up to ${limitMs} ms for convergence`);
    const converged = this.runUntil(() => this.converged(), limitMs);
    if (!converged)
      throw new SimViolation(
        'liveness',
        `no convergence ${limitMs} virtual ms after faults healed: ${this.convergenceReport()}`,
      );
    this.checkFinal();
  }

  // ---- the event loop --------------------------------------------------------------------

  private processNext(): void {
    const event = this.clock.pop();
    assert(event !== null, 'the simulation always has events (ticks)');
    this.events++;
    if (this.events > simEventsPerRunMax)
      throw new SimViolation('liveness', `more than ${simEventsPerRunMax} events in one run`);
    switch (event.kind) {
      case 'tick':
        return this.onTick(event.node, event.incarnation);
      case 'deliver':
        return this.onDeliver(event.message);
      case 'persisted':
        return this.onPersisted(event.node, event.incarnation);
      case 'drive': {
        const member = this.member(event.node);
        if (member.incarnation === event.incarnation) this.drive(member);
        return;
      }
      case 'restart': {
        const member = this.member(event.node);
        if (member.incarnation === event.incarnation) this.restart(event.node);
        return;
      }
      case 'action':
        return this.onAction();
      case 'call':
        return event.run();
    }
  }

  private onTick(id: NodeId, incarnation: number): void {
    const member = this.member(id);
    if (member.incarnation !== incarnation || member.node === null) return;
    const node = member.node;
    this.guard(id, () => node.tick());
    this.drive(member);
    this.clock.schedule(member.tickMs, { kind: 'tick', node: id, incarnation });
  }

  private onDeliver(message: Message): void {
    const member = this.members.get(message.to);
    if (member === undefined || member.node === null) return;
    const arrived = this.network.arrive(message);
    if (arrived === null) return;
    const node = member.node;
    this.log(() => `deliver ${describeMessage(arrived)}`);
    this.guard(member.id, () => node.step(arrived));
    this.drive(member);
  }

  private onPersisted(id: NodeId, incarnation: number): void {
    const member = this.member(id);
    if (member.incarnation !== incarnation || member.node === null) return;
    const ready = member.pending;
    assert(ready !== null, 'a persist completes only when one is in flight');
    member.pending = null;
    this.complete(member, member.node, ready);
    this.drive(member);
  }

  private onAction(): void {
    if (!this.randomActions) return;
    this.stepsDone++;
    this.randomAction();
    if (this.stepsDone < this.steps) this.clock.schedule(this.actionGapMs(), { kind: 'action' });
  }

  // ---- the host loop ---------------------------------------------------------------------

  private boot(member: SimMember): void {
    const config = this.nodeConfig(member);
    const node = this.guard(member.id, () => this.createNode(config));
    const initial = member.storage.initialState();
    const snapshotIndex = member.storage.firstIndex() - 1;
    member.node = node;
    member.pending = null;
    member.role = Role.follower;
    member.term = initial.hardState.term;
    member.leaderId = 0;
    member.applied = snapshotIndex;
    member.chain = snapshotChain(member.storage.snapshot());
    member.confState = initial.confState;
    member.confIndex = snapshotIndex;
    const known = this.checker.chainAt(snapshotIndex);
    if (known !== null && known !== member.chain) {
      throw new SimViolation(
        'state-machine-safety',
        `node ${member.id} boots from a snapshot at ${snapshotIndex} whose state differs from what was applied there`,
      );
    }
    this.log(
      () =>
        `boot ${member.id} term=${initial.hardState.term} vote=${initial.hardState.vote} commit=${initial.hardState.commit} log=[${member.storage.firstIndex()}, ${member.storage.lastIndex()}]`,
    );
    this.clock.schedule(member.random.int(simTickMs) + 1, {
      kind: 'tick',
      node: member.id,
      incarnation: member.incarnation,
    });
  }

  private nodeConfig(member: SimMember): RaftNodeConfig {
    const random = member.random;
    return {
      id: member.id,
      storage: member.storage,
      random: () => random.next(),
      ...raftSettings(this.raft),
    };
  }

  /** ready() → persist → advance() → send → apply, until the node has nothing more. */
  private drive(member: SimMember): void {
    const node = member.node;
    if (node === null) return;
    for (let turn = 0; turn < simHostTurnsMax; turn++) {
      if (member.pending !== null) return;
      if (!this.guard(member.id, () => node.hasReady())) return;
      const ready = this.guard(member.id, () => node.ready());
      this.observeReady(member, node, ready);
      // A leader's appends may leave before its own write (appendBeforePersist).
      this.sendMessages(member, node, ready.messages);
      if (this.asyncDisk && needsPersist(ready)) {
        member.pending = ready;
        this.clock.schedule(member.random.int(simDiskLatencyMsMax + 1), {
          kind: 'persisted',
          node: member.id,
          incarnation: member.incarnation,
        });
        return;
      }
      this.complete(member, node, ready);
    }
    // Still busy after a full turn budget: let other events in before going on.
    this.clock.schedule(0, { kind: 'drive', node: member.id, incarnation: member.incarnation });
  }

  private observeReady(member: SimMember, node: RaftNodeApi, ready: Ready): void {
    if (ready.hardState !== null) {
      member.term = ready.hardState.term;
      this.checker.observeCommit(ready.hardState.commit);
    }
    const soft = ready.softState;
    if (soft === null) return;
    const wasRole = member.role;
    member.role = soft.role;
    member.leaderId = soft.leaderId;
    if (soft.role === Role.leader) {
      const term = this.guard(member.id, () => node.status()).hardState.term;
      member.term = term;
      this.checker.observeLeader(member.id, term);
    }
    if (wasRole !== soft.role) this.log(() => `node ${member.id} becomes ${soft.role} in term ${member.term}`);
  }

  private complete(member: SimMember, node: RaftNodeApi, ready: Ready): void {
    this.persist(member, ready);
    const messages = this.guard(member.id, () => node.advance(ready));
    this.sendMessages(member, node, messages);
    if (ready.snapshot !== null) this.restoreSnapshot(member, ready.snapshot);
    this.apply(member, node, ready.committedEntries);
    for (const state of ready.readStates) {
      const readId = decodeId(state.requestContext);
      this.log(() => `read ${readId} on ${member.id} answered at index ${state.index}`);
      this.checker.answerRead(readId, member.id, state.index);
      if (!this.readAnswers.has(readId)) this.readAnswers.set(readId, state.index);
    }
  }

  private sendMessages(member: SimMember, node: RaftNodeApi, messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const unreachable = new Set<NodeId>();
    for (const message of messages) {
      assert(message.from === member.id, 'a node sends as itself');
      assert(message.to !== member.id, 'a node never sends to itself');
      if (this.checkDurability) this.checker.checkSent(member.storage, message);
      this.checker.observeLeaderMessage(message);
      if (this.network.send(message) === 'unreachable') unreachable.add(message.to);
    }
    for (const to of unreachable) this.guard(member.id, () => node.reportUnreachable(to));
  }

  private persist(member: SimMember, ready: Ready): void {
    if (!needsPersist(ready)) return;
    if (!ready.mustSync) this.checker.checkUnsyncedWrite(member.id, member.storage.hardState(), ready);
    this.checker.beforeWrite(member.id, member.storage, ready.entries, ready.snapshot);
    member.storage.write({ hardState: ready.hardState, entries: ready.entries, snapshot: ready.snapshot });
    this.checker.afterWrite(member.id, member.storage, ready.entries);
    // A write that skipped the fsync is durable only once a later synced write covers it.
    if (ready.mustSync) member.syncedHardState = member.storage.hardState();
  }

  private restoreSnapshot(member: SimMember, snapshot: Snapshot): void {
    if (!membersOf(snapshot.metadata.confState).includes(member.id)) this.counters.snapshotsNotNamingRecipient++;
    member.applied = snapshot.metadata.index;
    member.chain = snapshotChain(snapshot);
    member.confState = snapshot.metadata.confState;
    member.confIndex = snapshot.metadata.index;
    const known = this.checker.chainAt(snapshot.metadata.index);
    if (known !== null && known !== member.chain) {
      throw new SimViolation(
        'state-machine-safety',
        `node ${member.id} restores a snapshot at ${snapshot.metadata.index} whose state differs from what was applied there`,
      );
    }
    this.counters.snapshotsInstalled++;
    this.log(() => `node ${member.id} restores snapshot at ${snapshot.metadata.index}`);
  }

  private apply(member: SimMember, node: RaftNodeApi, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const stored =
        entry.index >= member.storage.firstIndex() - 1 && entry.index <= member.storage.lastIndex()
          ? member.storage.term(entry.index)
          : -1;
      if (stored !== entry.term) {
        throw new SimViolation(
          'node-error',
          `node ${member.id} hands out entry ${entry.index} (term ${entry.term}) to apply before it is persisted`,
        );
      }
      member.chain = this.checker.observeApply(member.id, entry, member.applied, member.chain);
      member.applied = entry.index;
      if (entry.type === EntryType.confChange) this.applyConfChange(member, node, entry);
    }
  }

  private applyConfChange(member: SimMember, node: RaftNodeApi, entry: Entry): void {
    const change = decodeConfChange(entry.data);
    member.confState = this.guard(member.id, () => node.applyConfChange(change));
    member.confIndex = entry.index;
    const confState = member.confState;
    this.log(() => `node ${member.id} applies conf change ${entry.index}: ${describeConfState(confState)}`);
    if (this.snapshotOnConfChange && member.storage.firstIndex() > 1) this.compact(member, entry.index);
    if (entry.index <= this.confIndex) return;
    this.confIndex = entry.index;
    this.counters.confChangesCommitted++;
    // Members no longer in the committed configuration are shut down, as an operator would.
    const current = new Set(membersOf(confState));
    for (const other of this.members.values()) {
      if (other.removed || current.has(other.id) || !this.everMember.has(other.id)) continue;
      other.removed = true;
      this.log(() => `member ${other.id} removed from the group: shut down`);
      this.crash(other.id);
    }
    for (const id of current) this.everMember.add(id);
  }

  /**
   * A random membership change through the leader: add a learner (seeded from a copy of the
   * leader's snapshot, as an operator would), promote one, remove a voter or learner, replace a
   * voter through a joint configuration (left automatically or explicitly), or leave one.
   */
  private actionMembership(): void {
    const leaderId = this.leader();
    if (leaderId === 0) return;
    const leader = this.member(leaderId);
    const conf = leader.confState;
    const voters = conf.voters;
    const learners = conf.learners;
    const joint = conf.votersOutgoing.length > 0;
    const choices: Array<() => ConfChange | null> = [];
    if (joint) {
      choices.push(() => ({ transition: ConfChangeTransition.auto, changes: [], context: new Uint8Array(0) }));
    } else {
      if (this.members.size < simMembersMax) choices.push(() => this.addLearner(leader));
      if (learners.length > 0) {
        choices.push(() => single(ConfChangeType.addVoter, this.prng.pick(learners)));
        choices.push(() => single(ConfChangeType.removeNode, this.prng.pick(learners)));
      }
      if (voters.length > simVotersMin) choices.push(() => single(ConfChangeType.removeNode, this.prng.pick(voters)));
      if (learners.length > 0 && voters.length >= simVotersMin) {
        choices.push(() => ({
          transition: this.prng.chance(0.5) ? ConfChangeTransition.jointImplicit : ConfChangeTransition.jointExplicit,
          changes: [
            { type: ConfChangeType.addVoter, nodeId: this.prng.pick(learners) },
            {
              type: this.prng.chance(0.5) ? ConfChangeType.removeNode : ConfChangeType.addLearner,
              nodeId: this.prng.pick(voters),
            },
          ],
          context: new Uint8Array(0),
        }));
      }
    }
    if (choices.length === 0) return;
    const change = this.prng.pick(choices)();
    if (change === null) return;
    this.log(() => `propose conf change on ${leaderId}: ${describeConfChange(change)}`);
    const receipt = this.guard(leaderId, () => this.proposeConfChangeOn(leader, change));
    const onAccepted = this.onAccepted;
    this.onAccepted = null;
    if (receipt.index > 0) {
      this.log(() => `conf change receipt (${receipt.index}, ${receipt.term})`);
      onAccepted?.();
    }
    this.drive(leader);
  }

  private proposeConfChangeOn(leader: SimMember, change: ConfChange): { index: number; term: number } {
    const node = leader.node;
    assert(node !== null, 'the leader is up');
    try {
      return node.proposeConfChange(change);
    } catch (error) {
      if (error instanceof RaftError) {
        this.log(() => `conf change refused: ${error.code} ${error.message}`);
        return { index: 0, term: 0 };
      }
      throw error;
    }
  }

  /**
   * Proposes adding a new member as a learner; once the leader accepts, the member starts from a
   * copy of the leader's state at its applied index (its snapshot), as an operator would seed a
   * new replica, since the bootstrap membership is not in the log.
   */
  private addLearner(leader: SimMember): ConfChange | null {
    const index = leader.applied;
    if (index === 0 || index < leader.storage.firstIndex() - 1) return null;
    const chain = this.checker.chainAt(index);
    if (chain === null) return null;
    const id = this.nextMemberId;
    const seed: Snapshot = {
      metadata: { index, term: leader.storage.term(index), confState: leader.confState },
      data: encodeSnapshotState(index, chain),
    };
    this.onAccepted = () => {
      this.nextMemberId++;
      const storage = new MemoryStorage();
      storage.applySnapshot(seed);
      storage.setHardState({ term: 0, vote: 0, commit: index });
      this.addMember(id, seed.metadata.confState, storage);
      this.log(() => `new member ${id} seeded from ${leader.id}'s state at ${index}`);
      this.boot(this.member(id));
    };
    return single(ConfChangeType.addLearner, id);
  }

  // ---- random actions --------------------------------------------------------------------

  private randomAction(): void {
    const weights = this.weights;
    const table: Array<[number, () => void]> = [
      [weights.propose, () => this.actionPropose(1)],
      [weights.proposeBatch, () => this.actionPropose(1 + this.prng.int(simBatchEntriesMax))],
      [weights.read, () => this.actionRead()],
      [weights.transferLeader, () => this.actionTransfer()],
      [weights.campaign, () => this.actionCampaign()],
      [weights.crash, () => this.actionCrash()],
      [weights.partition, () => this.actionPartition()],
      [weights.oneWay, () => this.actionOneWay()],
      [weights.isolate, () => this.actionIsolate()],
      [weights.heal, () => this.actionHeal()],
      [weights.networkFaults, () => this.actionNetworkFaults()],
      [weights.compact, () => this.actionCompact()],
      [weights.membership, () => this.actionMembership()],
      [weights.corrupt, () => this.actionCorrupt()],
    ];
    runWeightedAction(this.prng, table);
  }

  private actionPropose(count: number): void {
    // Clients find the leader; now and then they reach a stale one or a follower.
    const leader = this.leader();
    const target = leader !== 0 && this.prng.chance(0.9) ? leader : this.randomUpMember();
    if (target !== 0) this.propose(target, count);
  }

  private actionRead(): void {
    const id = this.randomUpMember();
    if (id !== 0) this.read(id);
  }

  private actionTransfer(): void {
    const leader = this.leader();
    if (leader === 0) return;
    const others = this.member(leader).confState.voters.filter((id) => id !== leader);
    if (others.length === 0) return;
    this.transferLeadership(leader, this.prng.pick(others));
  }

  private actionCampaign(): void {
    const id = this.randomUpMember();
    if (id !== 0) this.campaign(id);
  }

  private actionCrash(): void {
    const id = this.randomUpMember();
    if (id === 0) return;
    this.crash(id);
    const member = this.member(id);
    this.clock.schedule(this.prng.between(simDowntimeMsMin, this.downtimeMsMax), {
      kind: 'restart',
      node: id,
      incarnation: member.incarnation,
    });
  }

  private actionCorrupt(): void {
    const leader = this.leader();
    const members = [...this.members.values()];
    if (members.some((member) => (member.storage.initialState().repairIndex ?? 0) > 0)) return;
    const candidates = members.filter(
      (member) =>
        member.node !== null && member.id !== leader && member.storage.lastIndex() >= member.storage.firstIndex(),
    );
    if (candidates.length === 0) return;
    const member = this.prng.pick(candidates);
    this.crash(member.id);
    if (member.storage.lastIndex() < member.storage.firstIndex()) {
      // The persist in flight landed a snapshot: no entry left to cut.
      this.restart(member.id);
      return;
    }
    const from = this.prng.between(member.storage.firstIndex(), member.storage.lastIndex());
    const last = member.storage.lastIndex();
    member.storage.discardFrom(from);
    // The repair is one synced write.
    member.syncedHardState = member.storage.hardState();
    this.counters.corruptions++;
    this.log(() => `corrupt ${member.id}: log cut at ${from} (was up to ${last})`);
    this.restart(member.id);
  }

  private actionPartition(): void {
    partitionAtRandom(this.prng, this.network, this.memberIds(), (line) => this.log(line));
  }

  private actionOneWay(): void {
    cutLinkAtRandom(this.prng, this.network, this.memberIds(), (line) => this.log(line));
  }

  private actionIsolate(): void {
    const target = this.prng.chance(0.5) ? this.leader() : 0;
    const id = target !== 0 ? target : this.prng.pick(this.memberIds());
    this.network.partition([id], this.memberIds());
    this.log(() => `isolate ${id}`);
  }

  private actionHeal(): void {
    healNetwork(this.network, (line) => this.log(line));
  }

  private actionNetworkFaults(): void {
    drawNetworkFaults(this.prng, this.network, (line) => this.log(line));
  }

  private actionCompact(): void {
    const id = this.randomUpMember();
    if (id === 0) return;
    const member = this.member(id);
    // Compact to what this node applied (and persisted), keeping a few entries so that most
    // followers catch up from the log and a lagging one needs a snapshot.
    this.compact(member, Math.min(member.applied, member.storage.lastIndex()) - this.prng.int(4));
  }

  /** Records the state machine's snapshot at `index` (applied) and drops the log up to it. */
  private compact(member: SimMember, index: number): void {
    const storage = member.storage;
    if (index < storage.firstIndex() || index > member.applied) return;
    const chain = this.checker.chainAt(index);
    assert(chain !== null, 'a node compacts only what was applied');
    // The snapshot's membership must be the one as of `index`: this member's current one,
    // unless it applied a conf change after `index`.
    if (member.confIndex > index) return;
    const snapshot: Snapshot = {
      metadata: { index, term: storage.term(index), confState: member.confState },
      data: encodeSnapshotState(index, chain),
    };
    storage.compact(snapshot);
    this.counters.compactions++;
    this.log(() => `compact ${member.id} to ${index}`);
  }

  // ---- convergence -----------------------------------------------------------------------

  private converged(): boolean {
    const leaderId = this.leader();
    if (leaderId === 0) return false;
    const leader = this.member(leaderId);
    const node = leader.node;
    assert(node !== null, 'the leader is up');
    const status = node.status();
    const commit = status.hardState.commit;
    if (commit !== status.lastIndex) return false;
    // A proposal above the leader's log, from an older term, can never commit: it is lost, as
    // Raft allows for proposals that were not yet committed (the client retries).
    for (const proposal of this.checker.proposalList)
      if (proposal.index > commit && proposal.term >= status.hardState.term) return false;
    for (const id of membersOf(status.confState)) {
      const member = this.members.get(id);
      if (member === undefined || member.node === null || member.pending !== null) return false;
      if (member.applied !== commit) return false;
    }
    return true;
  }

  private convergenceReport(): string {
    const parts: string[] = [];
    for (const member of this.members.values()) {
      const status = member.node?.status();
      parts.push(
        status === undefined
          ? `${member.id}: down`
          : `${member.id}: ${status.role} term=${status.hardState.term} commit=${status.hardState.commit} last=${status.lastIndex} applied=${member.applied} leader=${status.leaderId}`,
      );
    }
    const pending = this.checker.proposalList
      .filter((p) => this.checker.committedTermAt(p.index) === null)
      .map((p) => `${p.id}@(${p.index},${p.term})`);
    return `${parts.join('; ')}; proposals not committed: [${pending.join(' ')}]`;
  }

  /** Every committed proposal is applied, in the same order, on every live member. */
  private checkFinal(): void {
    const leader = this.member(this.leader());
    const commit = leader.applied;
    for (const proposal of this.checker.proposalList) {
      const term = this.checker.committedTermAt(proposal.index);
      if (term === null && (proposal.index <= commit || proposal.term >= leader.term)) {
        throw new SimViolation(
          'liveness',
          `proposal ${proposal.id} at index ${proposal.index} never resolved (commit is ${commit})`,
        );
      }
    }
    const expected = this.checker.chainAt(commit);
    for (const id of membersOf(leader.confState)) {
      const member = this.member(id);
      if (member.applied !== commit || member.chain !== expected) {
        throw new SimViolation(
          'proposal-applied',
          `member ${id} applied up to ${member.applied} with a different state than the leader's ${commit}`,
        );
      }
    }
  }

  // ---- helpers ---------------------------------------------------------------------------

  private addMember(id: NodeId, confState: ConfState, storage: MemoryStorage): void {
    assert(!this.members.has(id), 'member ids are never reused');
    assert(this.members.size < simMembersMax, 'members within bounds');
    const tickMs = simTickMs * (1 + (this.prng.next() * 2 - 1) * simClockRateDriftMax);
    this.members.set(id, {
      id,
      storage,
      removed: false,
      random: this.prng.fork(100 + id),
      node: null,
      incarnation: 0,
      pending: null,
      role: Role.follower,
      term: 0,
      leaderId: 0,
      applied: 0,
      chain: 0,
      confState,
      confIndex: 0,
      syncedHardState: null,
      tickMs,
    });
  }

  private member(id: NodeId): SimMember {
    const member = this.members.get(id);
    assert(member !== undefined, `member ${id} exists`);
    return member;
  }

  private randomUpMember(): NodeId {
    const up: NodeId[] = [];
    for (const member of this.members.values()) if (member.node !== null) up.push(member.id);
    return up.length === 0 ? 0 : this.prng.pick(up);
  }

  private payload(proposalId: number): Uint8Array {
    return randomPayload(this.prng, proposalId);
  }

  private actionGapMs(): number {
    return this.prng.between(simActionGapMsMin, simActionGapMsMax);
  }

  /** Calls into the node under test; anything it throws is a bug of the node. */
  private guard<T>(id: NodeId, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.nodeError(id, error);
    }
  }

  /** Like `guard`, but the node's typed errors (NotLeaderError, ...) are expected answers. */
  private tolerate(id: NodeId, fn: () => void): void {
    tolerateRaftErrors('node', id, fn, (line) => this.log(line));
  }

  private nodeError(id: NodeId, error: unknown): SimViolation {
    return nodeErrorViolation('node', id, error);
  }

  private log(line: () => string): void {
    if (this.trace !== null) this.trace(traceLine(this.clock.nowMs(), line()));
  }

  /** The outcome so far: stats, and the violation that ended the run if any. */
  result(violation: SimViolation | null = null): SimulationResult {
    const committed = this.checker.proposalList.filter((p) => this.checker.committedTermAt(p.index) === p.term).length;
    if (violation !== null) this.log(() => `VIOLATION ${violation.message}`);
    return {
      seed: this.seed,
      passed: violation === null,
      violation,
      stepsDone: this.stepsDone,
      phase: this.randomActions ? 'random' : 'quiet',
      stats: {
        virtualMs: Math.round(this.clock.nowMs()),
        events: this.events,
        proposals: this.checker.proposalList.length,
        proposalsCommitted: committed,
        reads: this.reads,
        readsAnswered: this.checker.readsAnswered,
        crashes: this.crashes,
        ...this.counters,
        leaderElections: this.checker.leaderElections,
        messagesSent: this.network.stats.sent,
        messagesDropped: this.network.stats.dropped + this.network.stats.cut,
        committedIndex: this.checker.committedIndexMax,
      },
    };
  }
}

export function resolveRaftOptions(options: SimRaftOptions, prng: Prng, seed: number): ResolvedRaftOptions {
  const electionTicks = options.electionTicks ?? simElectionTicksDefault;
  const heartbeatTicks = options.heartbeatTicks ?? prng.between(1, Math.min(3, electionTicks - 1));
  const preVote = options.preVote ?? prng.chance(0.7);
  const checkQuorum = options.checkQuorum ?? prng.chance(0.7);
  // Lease reads are safe here only because simulated clocks drift less than the configured bound.
  const readOnlyMode = options.readOnlyMode ?? (checkQuorum && prng.chance(0.3) ? 'lease' : 'safe');
  return {
    electionTicks,
    heartbeatTicks,
    preVote,
    checkQuorum,
    inflightMessagesMax: options.inflightMessagesMax ?? prng.pick([1, 4, 256]),
    // Small messages force long logs to be sent in several appends.
    messageBytesMax: options.messageBytesMax ?? prng.pick([1, 64, 1024 * 1024]),
    readOnlyMode,
    leaseDriftBoundTicks: options.leaseDriftBoundTicks ?? simLeaseDriftBoundTicks,
    appendBeforePersist: options.appendBeforePersist ?? seed % 2 === 1,
    unsafeTestingKnobs: options.unsafeTestingKnobs,
  };
}

function single(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { transition: ConfChangeTransition.auto, changes: [{ type, nodeId }], context: new Uint8Array(0) };
}

function describeConfChange(change: ConfChange): string {
  if (change.changes.length === 0) return 'leave joint';
  const names = ['addVoter', 'removeNode', 'addLearner'];
  return `transition=${change.transition} ${change.changes.map((c) => `${names[c.type] ?? c.type}(${c.nodeId})`).join(' ')}`;
}

function describeConfState(conf: ConfState): string {
  const out =
    conf.votersOutgoing.length > 0
      ? ` outgoing=[${conf.votersOutgoing.join(',')}] learnersNext=[${conf.learnersNext.join(',')}] autoLeave=${conf.autoLeave}`
      : '';
  return `voters=[${conf.voters.join(',')}] learners=[${conf.learners.join(',')}]${out}`;
}

function needsPersist(ready: Ready): boolean {
  return ready.hardState !== null || ready.entries.length > 0 || ready.snapshot !== null;
}

export { encodeId };

export function decodeId(bytes: Uint8Array): number {
  if (bytes.length < 4) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

/** The simulated state machine's snapshot: the applied index and the hash of all it applied. */
export function encodeSnapshotState(index: number, chain: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, index);
  view.setUint32(4, chain);
  return bytes;
}

export function snapshotChain(snapshot: Snapshot): number {
  if (snapshot.data.length < 8) return 0;
  return new DataView(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength).getUint32(4);
}

function describeMessage(message: Message): string {
  const name = messageTypeName(message.type);
  const entries =
    message.entries.length === 0
      ? ''
      : ` entries=[${message.entries[0]?.index}..${message.entries[message.entries.length - 1]?.index}]`;
  return `${name} ${message.from}→${message.to} term=${message.term} logTerm=${message.logTerm} index=${message.index} commit=${message.commit}${entries}${message.reject ? ' reject' : ''}`;
}
