/**
 * The host simulator: several REAL `RaftHost`s, the production loop with its group commit,
 * coalesced frames, compacted heartbeats, quiescence and wake-up, run in virtual time over
 * simulated disks (`SimDisk`: seeded latency, crashes that lose a persist in flight or unsynced
 * commits) and a simulated network (`SimNetwork` carrying whole frames: drops, duplicates,
 * delays, reordering, partitions), as TigerBeetle's VOPR runs its production replicas. One seed
 * replays one run exactly: every host's timer and scheduler is the simulator's clock
 * (`SimHostClock`), randomness comes from the seed, and the microtasks of the host's promises
 * run to completion after each event, in their deterministic order, before the next event.
 *
 * The checkers are the ones of the RaftNode simulator (`SafetyChecker`, one per group), fed from
 * where a host touches the world: a wrapper around each node sees every Ready (leaders, commit
 * indexes, unsynced writes) and proposal receipt, the disk every write, the transport every
 * message leaving (persist-before-send is checked on the disk as it is at that instant), and
 * the state machine every entry applied and snapshot restored. On top of them, the host's own
 * promises are held to their word: an acknowledged proposal is committed at its receipt (and
 * applied there, or on that leader's disk for waitFor 'persist'), a proposal rejected as
 * superseded never commits, and nothing a host has applied stays unsettled.
 *
 * A run: random actions under faults (proposals, batches, reads, transfers, campaigns, crashes
 * and restarts, partitions, compaction, idle stretches in which groups quiesce), then a quiet
 * period that must converge, then (unless reads use leases, which never quiesce) the
 * quiescence phase: every group quiesces on every member and then costs no tick; a proposal
 * wakes a group and commits promptly; the host leading the most groups crashes while they are
 * quiesced and each group elects another leader in bounded time; it restarts and all converge.
 */
import { RaftError } from '../../errors.js';
import type { Frame, RaftTransport } from '../../host/frame.js';
import { expandHeartbeat, expandHeartbeatResponse } from '../../host/outbox.js';
import { RaftHost, emptyHostMetrics } from '../../host/raft-host.js';
import type { GroupConfig, HostMetrics, HostUnsafeTestingKnobs } from '../../host/raft-host.js';
import type { ProposalReceipt, RaftNodeApi, StateMachine } from '../../node-api.js';
import { RaftNode } from '../../node/raft-node.js';
import type { RaftLogger, RaftNodeConfig } from '../../config.js';
import { hostReadTimeoutElections } from '../../constants.js';
import type { GroupWrite } from '../../storage.js';
import { EntryType, Role } from '../../types.js';
import type { ConfChange, ConfState, Entry, GroupId, Message, NodeId, Ready, Snapshot } from '../../types.js';
import { SafetyChecker, entryHash, messageTypeName } from './checker.js';
import {
  simActionGapMsMax,
  simActionGapMsMin,
  simBatchEntriesMax,
  simClockRateDriftMax,
  simDiskLatencyMsMax,
  simDowntimeMsMax,
  simDowntimeMsMin,
  simEventsPerRunMax,
  simHostFailoverElectionTimeoutsMax,
  simHostGroupsMax,
  simHostGroupsMin,
  simHostIdleElectionTimeoutsMax,
  simHostIdleElectionTimeoutsMin,
  simHostQuiesceElectionTimeoutsMax,
  simHostStepsDefault,
  simHostWakeElectionTimeoutsMax,
  simNodesMax,
  simNodesMin,
  simQuietElectionTimeoutsMax,
  simStepsMax,
  simTickMs,
} from './constants.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork, quietNetworkFaults } from './network.js';
import type { NetworkFaults } from './network.js';
import { Prng } from './prng.js';
import { SimDisk } from './sim-disk.js';
import { SimHostClock } from './sim-host-clock.js';
import { decodeId, encodeSnapshotState, resolveRaftOptions, snapshotChain } from './simulation.js';
import type { ResolvedRaftOptions, SimRaftOptions } from './simulation.js';
import {
  commonActionWeightsDefault,
  cutLinkAtRandom,
  drawNetworkFaults,
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
import type { CommonActionWeights } from './sim-actions.js';
import { SimViolation } from './violation.js';

/** Relative weights of the random actions of a host run; 0 turns an action off. */
export interface HostSimActionWeights extends CommonActionWeights {
  /** No action for a few election timeouts: idle groups quiesce, later traffic wakes them. */
  readonly idle: number;
}

export const hostSimActionWeightsDefault: HostSimActionWeights = {
  ...commonActionWeightsDefault,
  idle: 3,
};

export interface HostSimulationOptions {
  readonly seed: number;
  /** Hosts (brokers), 3 to 5. Default: chosen by the seed. */
  readonly hosts?: number;
  /** Raft groups shared by the hosts. Default: chosen by the seed. */
  readonly groups?: number;
  /** Random actions before the quiet period. Default `simHostStepsDefault`. */
  readonly steps?: number;
  /** Receives one line per event when set (the `--verbose` trace). */
  readonly trace?: (line: string) => void;
  /** Raft settings of every group (unset ones chosen by the seed, as in the RaftNode simulator). */
  readonly raft?: SimRaftOptions;
  readonly weights?: Partial<HostSimActionWeights>;
  /** Persists take virtual time (and a crash can take them). Default: chosen by the seed. */
  readonly asyncDisk?: boolean;
  /** Network faults at the start. Default: quiet. */
  readonly networkFaults?: NetworkFaults;
  /** Longest time a crashed host stays down. Default `simDowntimeMsMax`. */
  readonly downtimeMsMax?: number;
  /** Check persist-before-send on every message leaving a host (`durability`). Default true. */
  readonly checkDurability?: boolean;
  /** Planted host bugs (tests that prove the simulator catches them). */
  readonly hostKnobs?: HostUnsafeTestingKnobs;
}

export interface HostSimulationStats {
  virtualMs: number;
  events: number;
  hosts: number;
  groups: number;
  proposals: number;
  /** Proposals whose entries committed at their receipt. */
  proposalsCommitted: number;
  /** Proposals a host acknowledged (resolved). */
  proposalsAcked: number;
  reads: number;
  readsAnswered: number;
  crashes: number;
  leaderElections: number;
  compactions: number;
  /** Snapshots restored into state machines (installed from a leader, or at a restart). */
  snapshotsRestored: number;
  turns: number;
  persistCalls: number;
  /** Readies applied before their write (only a commit index to write): the path the simulation must cover. */
  appliesBeforeWrite: number;
  /** Group writes per persist call: the group commit at work. */
  groupWritesPerPersist: number;
  framesSent: number;
  framesDropped: number;
  /** Raft messages (coalesced heartbeats included) per frame that carries any (the rest only prove liveness). */
  messagesPerFrame: number;
  /** Frames carrying messages of more than one group: the coalescing at work. */
  framesOfSeveralGroups: number;
  quiesceMarkers: number;
  /** Frames of crashed processes delivered after the crash (their session is an old one). */
  staleFrames: number;
  /** The highest committed index, summed over the groups. */
  committedEntries: number;
}

export interface HostSimulationResult {
  readonly seed: number;
  readonly passed: boolean;
  readonly violation: SimViolation | null;
  /** Random actions done when the run ended (a random-phase failure replays with `--steps stepsDone + 1`). */
  readonly stepsDone: number;
  readonly phase: 'random' | 'quiet';
  readonly stats: HostSimulationStats;
}

type HostSimEventKind = 'tick' | 'turn' | 'deliver' | 'disk' | 'action' | 'boot';

interface HostSimEvent {
  readonly kind: HostSimEventKind;
  /** The host the event runs code of (0: none), for node-error reports. */
  readonly host: NodeId;
  readonly run: () => void;
}

/** What one group's state machine on one host applied. */
interface AppliedState {
  applied: number;
  /** A hash of everything applied, in order (as the checker computes it). */
  chain: number;
}

/** One running host process: lost with everything in it at a crash. */
interface HostProcess {
  readonly host: RaftHost;
  readonly clock: SimHostClock;
  readonly applied: Map<GroupId, AppliedState>;
}

/** One host process as a sender of frames. */
interface FrameSender {
  readonly machine: SimMachine;
  readonly incarnation: number;
}

/** One simulated machine: its disk survives crashes, its process does not. */
interface SimMachine {
  readonly id: NodeId;
  readonly disk: SimDisk;
  readonly random: Prng;
  /** Virtual ms per local ms: clocks drift apart within the lease bound. */
  readonly periodScale: number;
  /** Bumped by every crash and boot; callbacks of an older process are ignored. */
  incarnation: number;
  process: HostProcess | null;
  /** Metrics of the processes that crashed (the live one's are read from its host). */
  readonly pastMetrics: HostMetrics;
}

interface ClientProposal {
  readonly ids: readonly number[];
  readonly groupId: GroupId;
  readonly hostId: NodeId;
  readonly incarnation: number;
  readonly waitFor: 'commit' | 'persist';
  outcome: 'pending' | 'acked' | 'superseded' | 'rejected';
}

interface ClientRead {
  readonly readId: number;
  readonly groupId: GroupId;
  readonly hostId: NodeId;
  readonly incarnation: number;
  readonly issuedMs: number;
  settled: boolean;
}

/** What a node handed out for a proposal: where its first entry is and in which term. */
interface NodeReceipt {
  readonly groupId: GroupId;
  readonly index: number;
  readonly term: number;
}

function addMetrics(into: HostMetrics, from: HostMetrics): void {
  for (const key of Object.keys(into) as (keyof HostMetrics)[]) {
    into[key] = key === 'persistMsMax' ? Math.max(into[key], from[key]) : into[key] + from[key];
  }
}

/**
 * Runs the microtasks the last event queued (the continuations of the hosts' promises) to the
 * end: a macrotask runs only once the microtask queue is empty. Real time plays no part: nothing
 * else in the process touches the simulated hosts, so the order is the seed's alone.
 */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Every message a frame carries, coalesced heartbeats expanded, in the order the receiver steps them. */
function frameMessages(frame: Frame): Array<{ groupId: GroupId; message: Message }> {
  const out: Array<{ groupId: GroupId; message: Message }> = [];
  for (const item of frame.messages) out.push(item);
  for (const beat of frame.heartbeats) out.push({ groupId: beat.groupId, message: expandHeartbeat(frame, beat) });
  for (const beat of frame.heartbeatResponses)
    out.push({ groupId: beat.groupId, message: expandHeartbeatResponse(frame, beat) });
  return out;
}

/**
 * The node a host runs, watched: every Ready and proposal receipt is shown to the simulator
 * before the host sees it. Behaviour is the wrapped node's, call for call.
 */
class ObservedNode implements RaftNodeApi {
  constructor(
    private readonly inner: RaftNodeApi,
    private readonly onReady: (node: RaftNodeApi, ready: Ready) => void,
    private readonly onProposed: (data: readonly Uint8Array[], receipt: ProposalReceipt) => void,
  ) {}

  tick(): void {
    this.inner.tick();
  }

  step(message: Message): void {
    this.inner.step(message);
  }

  propose(data: Uint8Array): ProposalReceipt {
    const receipt = this.inner.propose(data);
    this.onProposed([data], receipt);
    return receipt;
  }

  proposeBatch(data: readonly Uint8Array[]): ProposalReceipt {
    const receipt = this.inner.proposeBatch(data);
    this.onProposed(data, receipt);
    return receipt;
  }

  proposeConfChange(change: ConfChange): ProposalReceipt {
    return this.inner.proposeConfChange(change);
  }

  applyConfChange(change: ConfChange): ConfState {
    return this.inner.applyConfChange(change);
  }

  campaign(): void {
    this.inner.campaign();
  }

  transferLeadership(to: NodeId): void {
    this.inner.transferLeadership(to);
  }

  readIndex(context: Uint8Array): void {
    this.inner.readIndex(context);
  }

  hasReady(): boolean {
    return this.inner.hasReady();
  }

  ready(): Ready {
    const ready = this.inner.ready();
    this.onReady(this.inner, ready);
    return ready;
  }

  advance(ready: Ready): Message[] {
    return this.inner.advance(ready);
  }

  entriesLoaded(): void {
    this.inner.entriesLoaded();
  }

  reportUnreachable(to: NodeId): void {
    this.inner.reportUnreachable(to);
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    this.inner.reportSnapshot(to, ok);
  }

  status(): ReturnType<RaftNodeApi['status']> {
    return this.inner.status();
  }

  canQuiesce(): boolean {
    return this.inner.canQuiesce();
  }
}

export class HostSimulation {
  readonly seed: number;
  readonly clock = new EventQueue<HostSimEvent>();
  readonly network: SimNetwork<Frame>;
  readonly raft: ResolvedRaftOptions;
  readonly asyncDisk: boolean;
  readonly steps: number;
  /** Group ids, and the hosts each group was bootstrapped on. */
  readonly groupMembers = new Map<GroupId, readonly NodeId[]>();
  private readonly checkers = new Map<GroupId, SafetyChecker>();
  private readonly prng: Prng;
  private readonly machines = new Map<NodeId, SimMachine>();
  private readonly weights: HostSimActionWeights;
  private readonly downtimeMsMax: number;
  private readonly checkDurability: boolean;
  private readonly hostKnobs: HostUnsafeTestingKnobs;
  private readonly groupDefaults: GroupConfig;
  private readonly trace: ((line: string) => void) | null;
  /** The first violation seen, wherever it was raised (a promise callback cannot throw into the loop). */
  private violation: SimViolation | null = null;
  private events = 0;
  private stepsDone = 0;
  private randomActions = false;
  private nextGapMs: number | null = null;
  private nextProposalId = 1;
  private nextReadId = 1;
  private readonly receipts = new Map<number, NodeReceipt>();
  private readonly proposals: ClientProposal[] = [];
  private readonly reads: ClientRead[] = [];
  /** The process each frame came from (frames of a crashed process still arrive). */
  private readonly frameSenders = new WeakMap<Frame, FrameSender>();
  /** When the last frame scheduled so far arrives, and what that was when the network last healed. */
  private deliveriesDueMs = 0;
  private healDeliveriesDueMs = 0;
  private readonly counters = {
    crashes: 0,
    compactions: 0,
    snapshotsRestored: 0,
    proposalsAcked: 0,
    readsAnswered: 0,
    quiesceMarkers: 0,
    messagesFramed: 0,
    framesCarrying: 0,
    framesOfSeveralGroups: 0,
    staleFrames: 0,
  };

  constructor(options: HostSimulationOptions) {
    this.seed = options.seed;
    this.prng = new Prng(options.seed);
    this.trace = options.trace ?? null;
    this.steps = options.steps ?? simHostStepsDefault;
    if (!Number.isInteger(this.steps) || this.steps < 0 || this.steps > simStepsMax)
      throw new RangeError(`host simulation steps must be an integer in [0, ${simStepsMax}]`);
    const choices = this.prng.fork(1);
    const hosts = options.hosts ?? simNodesMin + choices.int(simNodesMax - simNodesMin + 1);
    if (!Number.isInteger(hosts) || hosts < simNodesMin || hosts > simNodesMax)
      throw new RangeError(`hosts must be an integer in [${simNodesMin}, ${simNodesMax}]`);
    const groups = options.groups ?? simHostGroupsMin + choices.int(simHostGroupsMax - simHostGroupsMin + 1);
    if (!Number.isInteger(groups) || groups < simHostGroupsMin || groups > simHostGroupsMax)
      throw new RangeError(`groups must be an integer in [${simHostGroupsMin}, ${simHostGroupsMax}]`);
    this.raft = resolveRaftOptions(options.raft ?? {}, choices, options.seed);
    this.asyncDisk = options.asyncDisk ?? choices.chance(0.5);
    this.weights = { ...hostSimActionWeightsDefault, ...options.weights };
    this.downtimeMsMax = options.downtimeMsMax ?? simDowntimeMsMax;
    this.checkDurability = options.checkDurability ?? true;
    this.hostKnobs = options.hostKnobs ?? {};
    this.network = new SimNetwork<Frame>(
      this.prng.fork(2),
      (delayMs, frame) => {
        this.deliveriesDueMs = Math.max(this.deliveriesDueMs, this.clock.nowMs() + delayMs);
        this.post(delayMs, 'deliver', frame.to, () => this.onDeliver(frame));
      },
      () => this.clock.nowMs(),
    );
    if (options.networkFaults !== undefined) this.network.faults = options.networkFaults;
    this.groupDefaults = raftSettings(this.raft);
    const hostIds: NodeId[] = [];
    for (let id = 1; id <= hosts; id++) hostIds.push(id);
    for (let groupId = 1; groupId <= groups; groupId++) {
      // Groups on different subsets of the hosts, so that frames coalesce messages of several
      // groups and each peer carries another mix.
      const voters =
        hosts === 3 || choices.chance(0.3)
          ? hostIds
          : choices
              .shuffled(hostIds)
              .slice(0, 3)
              .sort((a, b) => a - b);
      this.groupMembers.set(groupId, voters);
      this.checkers.set(groupId, new SafetyChecker());
    }
    for (const id of hostIds) {
      const random = this.prng.fork(100 + id);
      const latencyPrng = this.prng.fork(200 + id);
      this.machines.set(id, {
        id,
        random,
        periodScale: 1 + (this.prng.next() * 2 - 1) * simClockRateDriftMax,
        incarnation: 0,
        process: null,
        pastMetrics: emptyHostMetrics(),
        disk: new SimDisk({
          nodeId: id,
          latencyMs: this.asyncDisk ? () => latencyPrng.int(simDiskLatencyMsMax + 1) : null,
          schedule: (delayMs, run) => this.post(delayMs, 'disk', id, run),
          observer: {
            beforeWrite: (groupId, storage, write) =>
              this.checker(groupId).beforeWrite(id, storage, write.entries, write.snapshot),
            afterWrite: (groupId, storage, write: GroupWrite) =>
              this.checker(groupId).afterWrite(id, storage, write.entries),
          },
        }),
      });
    }
  }

  /** The whole run: random actions under faults, the quiet period, the quiescence phase. */
  async run(): Promise<HostSimulationResult> {
    try {
      this.start();
      this.randomActions = true;
      this.post(this.actionGapMs(), 'action', 0, () => this.onAction());
      while (this.stepsDone < this.steps) {
        const drain = this.processNext();
        if (drain !== null) await drain;
      }
      this.randomActions = false;
      await this.settle();
      await this.quiescencePhase();
      this.checkClientsSettled();
      return this.result(null);
    } catch (error) {
      if (error instanceof SimViolation) return this.result(error);
      throw error;
    }
  }

  // ---- scripted control ------------------------------------------------------------------

  /** Boots every host (at small random offsets, so that their ticks do not line up). */
  start(): void {
    const groups = [...this.groupMembers].map(([groupId, voters]) => `${groupId}:[${voters.join(',')}]`).join(' ');
    this.log(
      () =>
        `start seed=${this.seed} hosts=${this.machines.size} groups=${groups} asyncDisk=${this.asyncDisk} hostKnobs=${JSON.stringify(this.hostKnobs)} raft=${JSON.stringify(this.raft)}`,
    );
    for (const machine of this.machines.values()) {
      const incarnation = machine.incarnation;
      this.post(this.prng.int(simTickMs), 'boot', machine.id, () => {
        if (machine.incarnation === incarnation && machine.process === null) this.boot(machine);
      });
    }
  }

  /** Processes events for `durationMs` of virtual time. */
  async runFor(durationMs: number): Promise<void> {
    const endMs = this.clock.nowMs() + durationMs;
    for (;;) {
      const next = this.clock.peekMs();
      if (next === null || next > endMs) break;
      const drain = this.processNext();
      if (drain !== null) await drain;
    }
  }

  /** Processes events until `done()` holds (checked after each) or `durationMs` pass. */
  async runUntil(done: () => boolean, durationMs: number): Promise<boolean> {
    const endMs = this.clock.nowMs() + durationMs;
    while (!done()) {
      const next = this.clock.peekMs();
      if (next === null || next > endMs) return false;
      const drain = this.processNext();
      if (drain !== null) await drain;
    }
    return true;
  }

  hostIds(): NodeId[] {
    return [...this.machines.keys()];
  }

  /** The live host, or null while it is down. */
  host(id: NodeId): RaftHost | null {
    return this.machine(id).process?.host ?? null;
  }

  /** The up host that leads `groupId` in the highest term, or 0. */
  leaderOf(groupId: GroupId): NodeId {
    let best = 0;
    let bestTerm = -1;
    for (const id of this.groupMembers.get(groupId) ?? []) {
      const host = this.host(id);
      if (host === null || host.roleOf(groupId) !== Role.leader) continue;
      const term = host.status(groupId).hardState.term;
      if (term > bestTerm) {
        best = id;
        bestTerm = term;
      }
    }
    return best;
  }

  /** Crashes a host: its process (host, state machine, timers, unsent frames) is gone; its disk stays, minus what a crash loses. */
  crash(id: NodeId): void {
    const machine = this.machine(id);
    const process = machine.process;
    if (process === null) return;
    process.clock.kill();
    addMetrics(machine.pastMetrics, process.host.metrics);
    machine.process = null;
    machine.incarnation++;
    const fate = machine.disk.crash(machine.random);
    for (const checker of this.checkers.values()) checker.forgetReads(id);
    this.counters.crashes++;
    this.log(() => `crash host ${id} (${fate})`);
  }

  /** Starts a new host process on a crashed machine's disk. */
  restart(id: NodeId): void {
    const machine = this.machine(id);
    if (machine.process !== null) return;
    machine.incarnation++;
    this.boot(machine);
  }

  /** Heals the network, restarts every crashed host and waits for every group to converge. */
  async settle(): Promise<void> {
    this.network.heal();
    this.network.faults = quietNetworkFaults;
    // From here on each link keeps its order, as the broker's stream per peer does: the liveness
    // and quiescence checks hold the host to what it promises over that medium. Under faults
    // frames reorder (delay spikes), which Raft's safety must survive (frame.ts) but the quiesce
    // handshake need not: a quiesce marker overtaking the heartbeat before it finds a follower
    // that is not following yet, which then campaigns against a sleeping leader.
    this.network.fifo = true;
    this.healDeliveriesDueMs = this.deliveriesDueMs;
    for (const machine of this.machines.values()) if (machine.process === null) this.restart(machine.id);
    const limitMs = simQuietElectionTimeoutsMax * this.electionMs();
    this.log(() => `quiet: faults healed, waiting up to ${limitMs.toFixed(0)} ms for convergence`);
    const converged = await this.runUntil(() => this.converged(), limitMs);
    if (!converged)
      throw new SimViolation(
        'liveness',
        `no convergence ${limitMs.toFixed(0)} virtual ms after faults healed: ${this.convergenceReport()}`,
      );
    for (const groupId of this.groupMembers.keys()) this.checkFinal(groupId);
  }

  // ---- the event loop --------------------------------------------------------------------

  private post(delayMs: number, kind: HostSimEventKind, host: NodeId, run: () => void): void {
    this.clock.schedule(delayMs, { kind, host, run });
  }

  /**
   * Runs the next event. Returns a promise to await when its microtasks must run before the next
   * event, else null (most events: no promise and no async frame per event, which the run's
   * speed depends on).
   */
  private processNext(): Promise<void> | null {
    const drain = this.step();
    if (this.violation !== null) throw this.violation;
    return drain ? this.drained() : null;
  }

  private async drained(): Promise<void> {
    await drainMicrotasks();
    if (this.violation !== null) throw this.violation;
  }

  /** Runs the next event; returns whether the microtasks it may have queued must run before the next one. */
  private step(): boolean {
    const event = this.clock.pop();
    if (event === null)
      throw new SimViolation(
        'liveness',
        'the simulation ran out of events (every host is down and nothing is scheduled)',
      );
    this.events++;
    if (this.events > simEventsPerRunMax)
      throw new SimViolation('liveness', `more than ${simEventsPerRunMax} events in one run`);
    try {
      event.run();
    } catch (error) {
      this.raise(this.nodeError(event.host, error));
    }
    // Ticks and frame deliveries only step nodes and schedule turns; promises settle in turns,
    // persists and client actions (a read timed out by a tick settles at the next drain).
    return event.kind !== 'tick' && event.kind !== 'deliver';
  }

  /** Records a violation (the first one wins) and returns it, for callers that throw it. */
  private raise(violation: SimViolation): SimViolation {
    if (this.violation === null) {
      this.violation = violation;
      this.log(() => `VIOLATION ${violation.message}`);
    }
    return this.violation;
  }

  /** Runs a check inside a callback of a host: a violation is recorded and rethrown (the host stops). */
  private checked<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof SimViolation) throw this.raise(error);
      throw error;
    }
  }

  private boot(machine: SimMachine): void {
    const id = machine.id;
    const incarnation = machine.incarnation;
    const clock = new SimHostClock(
      (delayMs, kind, run) => this.post(delayMs, kind, id, run),
      () => this.clock.nowMs(),
      machine.periodScale,
    );
    const applied = new Map<GroupId, AppliedState>();
    const sender: FrameSender = { machine, incarnation };
    const transport: RaftTransport = { send: (frame) => this.onSend(sender, frame) };
    const stateMachine: StateMachine = {
      apply: (groupId, entries) => this.checked(() => this.onApply(machine, applied, groupId, entries)),
      restore: (groupId, snapshot) => this.checked(() => this.onRestore(machine, applied, groupId, snapshot)),
    };
    const prng = machine.random.fork(incarnation);
    const host = new RaftHost({
      nodeId: id,
      store: machine.disk,
      transport,
      stateMachine,
      tickMs: simTickMs,
      timer: clock,
      scheduler: clock,
      random: () => prng.next(),
      groupDefaults: this.groupDefaults,
      createNode: (config) => this.createNode(machine, config),
      unsafeTestingKnobs: this.hostKnobs,
      // Only the host's own lines (peers silent, back, restarted): leadership is traced above.
      ...(this.trace === null ? {} : { logger: this.hostLogger(id) }),
    });
    machine.process = { host, clock, applied };
    host.onFailure((error) => {
      if (machine.incarnation !== incarnation) return;
      this.raise(error instanceof SimViolation ? error : this.nodeError(id, error));
    });
    if (this.trace !== null)
      host.onLeaderChange((groupId, leaderId, term, role) =>
        this.log(() => `host ${id} group ${groupId}: ${role} in term ${term}, leader ${leaderId}`),
      );
    const opened = host.openExisting();
    for (const [groupId, voters] of this.groupMembers) {
      if (!voters.includes(id) || opened.includes(groupId)) continue;
      host.createGroup(groupId, {
        voters: [...voters],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
    }
    const disk = machine.disk;
    this.log(() => {
      const groups = [...this.groupMembers.keys()].filter((groupId) => host.hasGroup(groupId));
      const states = groups.map((groupId) => {
        const storage = disk.group(groupId);
        const hard = storage.hardState();
        return `${groupId}: term=${hard.term} vote=${hard.vote} commit=${hard.commit} log=[${storage.firstIndex()}, ${storage.lastIndex()}]`;
      });
      return `boot host ${id} (session ${host.session}): ${states.join('; ')}`;
    });
    host.start();
  }

  private createNode(machine: SimMachine, config: RaftNodeConfig): RaftNodeApi {
    const groupId = machine.disk.groupOf(config.storage);
    const checker = this.checker(groupId);
    const storage = machine.disk.group(groupId);
    return new ObservedNode(
      new RaftNode(config),
      (node, ready) =>
        this.checked(() => {
          if (ready.hardState !== null) checker.observeCommit(ready.hardState.commit);
          const needsPersist = ready.hardState !== null || ready.entries.length > 0 || ready.snapshot !== null;
          if (needsPersist && !ready.mustSync) checker.checkUnsyncedWrite(machine.id, storage.hardState(), ready);
          if (ready.softState?.role === Role.leader) checker.observeLeader(machine.id, node.status().hardState.term);
        }),
      (data, receipt) =>
        this.checked(() => {
          data.forEach((bytes, i) => {
            const entry: Entry = { index: receipt.index + i, term: receipt.term, type: EntryType.normal, data: bytes };
            const proposalId = decodeId(bytes);
            checker.recordProposal({
              id: proposalId,
              index: entry.index,
              term: receipt.term,
              hash: entryHash(entry),
              leader: machine.id,
            });
            this.receipts.set(proposalId, { groupId, index: entry.index, term: receipt.term });
          });
        }),
    );
  }

  private onSend(sender: FrameSender, frame: Frame): void {
    // A transport never throws: a violation is recorded and the loop ends the run after this event.
    const machine = sender.machine;
    if (machine.incarnation !== sender.incarnation) return;
    try {
      if (frame.from !== machine.id)
        throw new SimViolation('node-error', `host ${machine.id} sends a frame from ${frame.from}`);
      const messages = frameMessages(frame);
      if (messages.length > 0) this.counters.framesCarrying++;
      if (new Set(messages.map((item) => item.groupId)).size > 1) this.counters.framesOfSeveralGroups++;
      for (const { groupId, message } of messages) {
        const checker = this.checker(groupId);
        if (message.from !== machine.id || message.to !== frame.to)
          throw new SimViolation(
            'node-error',
            `host ${machine.id} frames a message ${message.from}→${message.to} into a frame to ${frame.to}`,
          );
        if (this.checkDurability) checker.checkSent(machine.disk.group(groupId), message);
        checker.observeLeaderMessage(message);
        this.counters.messagesFramed++;
      }
    } catch (error) {
      this.raise(error instanceof SimViolation ? error : this.nodeError(machine.id, error));
      return;
    }
    this.counters.quiesceMarkers += frame.quiesce.length;
    this.frameSenders.set(frame, sender);
    this.network.send(frame);
  }

  private onDeliver(frame: Frame): void {
    const process = this.machines.get(frame.to)?.process ?? null;
    if (process === null) return;
    const arrived = this.network.arrive(frame);
    if (arrived === null) return;
    const sender = this.frameSenders.get(frame);
    if (sender !== undefined && sender.machine.incarnation !== sender.incarnation) {
      this.counters.staleFrames++;
      this.log(() => `deliver a frame of host ${frame.from}'s crashed process (session ${frame.session})`);
    }
    // Empty frames only prove liveness (one per peer per tick): left out of the trace.
    if (this.trace !== null && frameMessages(arrived).length + arrived.quiesce.length > 0)
      this.log(() => `deliver ${describeFrame(arrived)}`);
    process.host.receive(arrived);
  }

  private onApply(
    machine: SimMachine,
    applied: Map<GroupId, AppliedState>,
    groupId: GroupId,
    entries: readonly Entry[],
  ): void {
    const storage = machine.disk.group(groupId);
    const checker = this.checker(groupId);
    const state = this.appliedState(applied, groupId);
    for (const entry of entries) {
      const stored =
        entry.index >= storage.firstIndex() - 1 && entry.index <= storage.lastIndex() ? storage.term(entry.index) : -1;
      if (stored !== entry.term) {
        throw new SimViolation(
          'node-error',
          `host ${machine.id} applies entry ${entry.index} (term ${entry.term}) of group ${groupId} before it is persisted`,
        );
      }
      state.chain = checker.observeApply(machine.id, entry, state.applied, state.chain);
      state.applied = entry.index;
    }
  }

  private onRestore(
    machine: SimMachine,
    applied: Map<GroupId, AppliedState>,
    groupId: GroupId,
    snapshot: Snapshot,
  ): void {
    const state = this.appliedState(applied, groupId);
    const index = snapshot.metadata.index;
    state.applied = index;
    state.chain = snapshotChain(snapshot);
    const known = this.checker(groupId).chainAt(index);
    if (known !== null && known !== state.chain) {
      throw new SimViolation(
        'state-machine-safety',
        `host ${machine.id} restores group ${groupId} from a snapshot at ${index} whose state differs from what was applied there`,
      );
    }
    this.counters.snapshotsRestored++;
    this.log(() => `host ${machine.id} group ${groupId}: restores snapshot at ${index}`);
  }

  // ---- clients ---------------------------------------------------------------------------

  /** Proposes `count` entries to `groupId` on host `id`; the host's answer is checked when it comes. */
  propose(
    id: NodeId,
    groupId: GroupId,
    count: number,
    waitFor: 'commit' | 'persist' = 'commit',
  ): ClientProposal | null {
    const machine = this.machine(id);
    const process = machine.process;
    if (process === null) return null;
    const ids: number[] = [];
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const proposalId = this.nextProposalId++;
      ids.push(proposalId);
      payloads.push(this.payload(proposalId));
    }
    const op: ClientProposal = {
      ids,
      groupId,
      hostId: id,
      incarnation: machine.incarnation,
      waitFor,
      outcome: 'pending',
    };
    this.proposals.push(op);
    const first = payloads[0] as Uint8Array;
    const promise =
      count === 1
        ? process.host.propose(groupId, first, { waitFor })
        : process.host.proposeBatch(groupId, payloads, { waitFor });
    const receipt = this.receipts.get(ids[0] as number);
    this.log(
      () =>
        `propose on host ${id} group ${groupId}: ${count} entr${count === 1 ? 'y' : 'ies'} (waitFor ${waitFor})${receipt === undefined ? '' : ` → receipt (${receipt.index}, ${receipt.term})`}`,
    );
    promise.then(
      (answer) => this.onAcked(op, answer),
      (error: unknown) => this.onRejected(op, error),
    );
    return op;
  }

  private onAcked(op: ClientProposal, answer: ProposalReceipt): void {
    op.outcome = 'acked';
    this.counters.proposalsAcked++;
    const firstId = op.ids[0] as number;
    const receipt = this.receipts.get(firstId);
    this.log(
      () =>
        `host ${op.hostId} acknowledges proposal ${firstId}${op.ids.length > 1 ? `..${firstId + op.ids.length - 1}` : ''} at (${answer.index}, ${answer.term}) (waitFor ${op.waitFor})`,
    );
    if (receipt === undefined || receipt.index !== answer.index || receipt.term !== answer.term) {
      this.raise(
        new SimViolation(
          'proposal-applied',
          `host ${op.hostId} acknowledges proposal ${firstId} with (${answer.index}, ${answer.term}) but its node gave ${receipt === undefined ? 'no receipt' : `(${receipt.index}, ${receipt.term})`}`,
        ),
      );
      return;
    }
    const lastIndex = answer.index + op.ids.length - 1;
    const machine = this.machine(op.hostId);
    if (op.waitFor === 'persist') {
      const storage = machine.disk.group(op.groupId);
      const term =
        lastIndex >= storage.firstIndex() - 1 && lastIndex <= storage.lastIndex() ? storage.term(lastIndex) : -1;
      if (term !== -1 && term !== answer.term) {
        this.raise(
          new SimViolation(
            'durability',
            `host ${op.hostId} acknowledges proposal ${firstId} as persisted at (${lastIndex}, ${answer.term}) while its disk holds term ${term} there`,
          ),
        );
      } else if (lastIndex > storage.lastIndex()) {
        this.raise(
          new SimViolation(
            'durability',
            `host ${op.hostId} acknowledges proposal ${firstId} as persisted up to ${lastIndex} while its disk ends at ${storage.lastIndex()}`,
          ),
        );
      }
      return;
    }
    const checker = this.checker(op.groupId);
    for (let index = answer.index; index <= lastIndex; index++) {
      const committed = checker.committedTermAt(index);
      if (committed !== answer.term) {
        this.raise(
          new SimViolation(
            'proposal-applied',
            `host ${op.hostId} acknowledges proposal ${firstId} at (${index}, ${answer.term}) of group ${op.groupId}, but ${committed === null ? 'nothing' : `term ${committed}`} is committed there`,
          ),
        );
        return;
      }
    }
    const state = machine.incarnation === op.incarnation ? machine.process?.applied.get(op.groupId) : undefined;
    if (state !== undefined && state.applied < lastIndex) {
      this.raise(
        new SimViolation(
          'proposal-applied',
          `host ${op.hostId} acknowledges proposal ${firstId} up to ${lastIndex} before applying it (applied ${state.applied})`,
        ),
      );
    }
  }

  private onRejected(op: ClientProposal, error: unknown): void {
    if (!(error instanceof RaftError)) {
      this.raise(error instanceof SimViolation ? error : this.nodeError(op.hostId, error));
      return;
    }
    op.outcome = error.message.startsWith('superseded') ? 'superseded' : 'rejected';
    this.log(() => `host ${op.hostId} rejects proposal ${op.ids[0]}: ${error.code} ${error.message}`);
  }

  /** Asks host `id` for a read point of `groupId`; the answer is checked for linearizability. */
  read(id: NodeId, groupId: GroupId): ClientRead | null {
    const machine = this.machine(id);
    const process = machine.process;
    if (process === null) return null;
    const checker = this.checker(groupId);
    const readId = this.nextReadId++;
    const op: ClientRead = {
      readId,
      groupId,
      hostId: id,
      incarnation: machine.incarnation,
      issuedMs: this.clock.nowMs(),
      settled: false,
    };
    this.reads.push(op);
    checker.issueRead(readId, id);
    this.log(() => `read ${readId} issued on host ${id} group ${groupId} (commit known ${checker.commitKnownMax})`);
    process.host.readIndex(groupId).then(
      (index) => {
        op.settled = true;
        if (machine.incarnation !== op.incarnation) return;
        this.counters.readsAnswered++;
        this.log(() => `read ${readId} on host ${id} answered at index ${index}`);
        try {
          checker.answerRead(readId, id, index);
        } catch (error) {
          if (error instanceof SimViolation) this.raise(error);
          else throw error;
        }
      },
      (error: unknown) => {
        op.settled = true;
        checker.forgetRead(readId);
        if (!(error instanceof RaftError))
          this.raise(error instanceof SimViolation ? error : this.nodeError(id, error));
        else this.log(() => `read ${readId} on host ${id} refused: ${error.code}`);
      },
    );
    return op;
  }

  // ---- random actions --------------------------------------------------------------------

  private onAction(): void {
    if (!this.randomActions) return;
    this.stepsDone++;
    this.randomAction();
    const gapMs = this.nextGapMs ?? this.actionGapMs();
    this.nextGapMs = null;
    if (this.stepsDone < this.steps) this.post(gapMs, 'action', 0, () => this.onAction());
  }

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
      [weights.idle, () => this.actionIdle()],
    ];
    runWeightedAction(this.prng, table);
  }

  private randomGroup(): GroupId {
    return this.prng.pick([...this.groupMembers.keys()]);
  }

  /** A random up host that is a member of `groupId`, or 0. */
  private randomUpMember(groupId: GroupId): NodeId {
    const up = (this.groupMembers.get(groupId) ?? []).filter((id) => this.host(id) !== null);
    return up.length === 0 ? 0 : this.prng.pick(up);
  }

  private actionPropose(count: number): void {
    // Clients find the leader; now and then they reach a stale one or a follower.
    const groupId = this.randomGroup();
    const leader = this.leaderOf(groupId);
    const target = leader !== 0 && this.prng.chance(0.9) ? leader : this.randomUpMember(groupId);
    const waitFor = this.prng.chance(0.2) ? 'persist' : 'commit';
    if (target !== 0) this.propose(target, groupId, count, waitFor);
  }

  private actionRead(): void {
    const groupId = this.randomGroup();
    const id = this.randomUpMember(groupId);
    if (id !== 0) this.read(id, groupId);
  }

  private actionTransfer(): void {
    const groupId = this.randomGroup();
    const leader = this.leaderOf(groupId);
    const host = leader === 0 ? null : this.host(leader);
    if (host === null) return;
    const others = (this.groupMembers.get(groupId) ?? []).filter((id) => id !== leader);
    const to = this.prng.pick(others);
    this.log(() => `transfer group ${groupId} ${leader} → ${to}`);
    this.tolerate(leader, () => host.transferLeadership(groupId, to));
  }

  private actionCampaign(): void {
    const groupId = this.randomGroup();
    const id = this.randomUpMember(groupId);
    const host = id === 0 ? null : this.host(id);
    if (host === null) return;
    this.log(() => `campaign on host ${id} group ${groupId}`);
    this.tolerate(id, () => host.campaign(groupId));
  }

  private actionCrash(): void {
    const up = this.hostIds().filter((id) => this.host(id) !== null);
    if (up.length === 0) return;
    const id = this.prng.pick(up);
    this.crash(id);
    const machine = this.machine(id);
    const incarnation = machine.incarnation;
    this.post(this.prng.between(simDowntimeMsMin, this.downtimeMsMax), 'boot', id, () => {
      if (machine.incarnation === incarnation) this.restart(id);
    });
  }

  private actionPartition(): void {
    partitionAtRandom(this.prng, this.network, this.hostIds(), (line) => this.log(line));
  }

  private actionOneWay(): void {
    cutLinkAtRandom(this.prng, this.network, this.hostIds(), (line) => this.log(line));
  }

  private actionIsolate(): void {
    const leader = this.prng.chance(0.5) ? this.leaderOf(this.randomGroup()) : 0;
    const id = leader !== 0 ? leader : this.prng.pick(this.hostIds());
    this.network.partition([id], this.hostIds());
    this.log(() => `isolate host ${id}`);
  }

  private actionHeal(): void {
    healNetwork(this.network, (line) => this.log(line));
  }

  private actionNetworkFaults(): void {
    drawNetworkFaults(this.prng, this.network, (line) => this.log(line));
  }

  private actionCompact(): void {
    const groupId = this.randomGroup();
    const id = this.randomUpMember(groupId);
    const process = id === 0 ? null : this.machine(id).process;
    if (process === null) return;
    const storage = this.machine(id).disk.group(groupId);
    // Keep a few entries, so that most followers catch up from the log and a lagging one needs a snapshot.
    const index = (process.applied.get(groupId)?.applied ?? 0) - this.prng.int(4);
    if (index < storage.firstIndex()) return;
    const chain = this.checker(groupId).chainAt(index);
    if (chain === null) return;
    this.counters.compactions++;
    this.log(() => `compact host ${id} group ${groupId} to ${index}`);
    process.host.compact(groupId, encodeSnapshotState(index, chain), index).catch((error: unknown) => {
      if (!(error instanceof RaftError)) this.raise(error instanceof SimViolation ? error : this.nodeError(id, error));
    });
  }

  private actionIdle(): void {
    const electionTimeouts = this.prng.between(simHostIdleElectionTimeoutsMin, simHostIdleElectionTimeoutsMax);
    this.nextGapMs = electionTimeouts * this.electionMs();
    this.log(() => `idle for ${electionTimeouts} election timeouts`);
  }

  // ---- convergence and the quiescence phase ----------------------------------------------

  private converged(): boolean {
    for (const groupId of this.groupMembers.keys()) if (!this.groupConverged(groupId)) return false;
    return true;
  }

  private groupConverged(groupId: GroupId): boolean {
    const leaderId = this.leaderOf(groupId);
    if (leaderId === 0) return false;
    const status = (this.host(leaderId) as RaftHost).status(groupId);
    const commit = status.hardState.commit;
    if (commit !== status.lastIndex) return false;
    // A proposal above the leader's log, from an older term, can never commit: it is lost, as
    // Raft allows for proposals that were not yet committed (the client retries).
    for (const proposal of this.checker(groupId).proposalList)
      if (proposal.index > commit && proposal.term >= status.hardState.term) return false;
    for (const id of membersOf(status.confState)) {
      const machine = this.machine(id);
      if (machine.process === null || machine.disk.busy()) return false;
      if ((machine.process.applied.get(groupId)?.applied ?? 0) !== commit) return false;
    }
    return true;
  }

  private convergenceReport(): string {
    const parts: string[] = [];
    for (const [groupId, voters] of this.groupMembers) {
      const states = voters.map((id) => {
        const process = this.machine(id).process;
        if (process === null) return `${id} down`;
        const status = process.host.status(groupId);
        return `${id} ${status.role} term=${status.hardState.term} commit=${status.hardState.commit} last=${status.lastIndex} applied=${process.applied.get(groupId)?.applied ?? 0} leader=${status.leaderId}${status.quiesced ? ' quiesced' : ''}`;
      });
      const pending = this.checker(groupId)
        .proposalList.filter((p) => this.checker(groupId).committedTermAt(p.index) === null)
        .map((p) => `${p.id}@(${p.index},${p.term})`);
      parts.push(`group ${groupId}: ${states.join(', ')}; proposals not committed: [${pending.join(' ')}]`);
    }
    return parts.join(' | ');
  }

  /** Every committed proposal of `groupId` is applied, in the same order, on every member. */
  private checkFinal(groupId: GroupId): void {
    const checker = this.checker(groupId);
    const leaderId = this.leaderOf(groupId);
    const status = (this.host(leaderId) as RaftHost).status(groupId);
    const commit = status.hardState.commit;
    for (const proposal of checker.proposalList) {
      const term = checker.committedTermAt(proposal.index);
      if (term === null && (proposal.index <= commit || proposal.term >= status.hardState.term)) {
        throw new SimViolation(
          'liveness',
          `group ${groupId}: proposal ${proposal.id} at index ${proposal.index} never resolved (commit is ${commit})`,
        );
      }
    }
    const expected = checker.chainAt(commit);
    for (const id of membersOf(status.confState)) {
      const state = this.machine(id).process?.applied.get(groupId);
      if (state === undefined || state.applied !== commit || state.chain !== expected) {
        throw new SimViolation(
          'proposal-applied',
          `group ${groupId}: host ${id} applied up to ${state?.applied ?? 0} with a different state than the leader's ${commit}`,
        );
      }
    }
  }

  /**
   * The host's promises kept their word: a proposal rejected as superseded never committed, and
   * a host never left a proposal unsettled once it applied its index, nor a read past its deadline.
   */
  private checkClientsSettled(): void {
    for (const op of this.proposals) {
      const receipt = this.receipts.get(op.ids[0] as number);
      if (receipt === undefined) continue;
      const lastIndex = receipt.index + op.ids.length - 1;
      const checker = this.checker(op.groupId);
      if (op.outcome === 'superseded' && checker.committedTermAt(lastIndex) === receipt.term) {
        throw new SimViolation(
          'proposal-applied',
          `host ${op.hostId} rejected proposal ${op.ids[0]} as superseded, but it committed at (${lastIndex}, ${receipt.term})`,
        );
      }
      const machine = this.machine(op.hostId);
      const applied =
        machine.incarnation === op.incarnation ? (machine.process?.applied.get(op.groupId)?.applied ?? 0) : 0;
      if (op.outcome === 'pending' && applied >= lastIndex) {
        throw new SimViolation(
          'liveness',
          `host ${op.hostId} never settled proposal ${op.ids[0]} (receipt (${receipt.index}, ${receipt.term})) though it applied group ${op.groupId} up to ${applied}`,
        );
      }
    }
    // A read is answered or dropped within hostReadTimeoutElections election timeouts (plus one for drift and ticks).
    const deadlineMs = (hostReadTimeoutElections + 1) * this.electionMs();
    for (const op of this.reads) {
      if (op.settled || this.machine(op.hostId).incarnation !== op.incarnation) continue;
      if (this.clock.nowMs() - op.issuedMs > deadlineMs) {
        throw new SimViolation(
          'liveness',
          `read ${op.readId} on host ${op.hostId} group ${op.groupId}, issued at ${op.issuedMs.toFixed(1)} ms, never settled`,
        );
      }
    }
  }

  private allQuiesced(): boolean {
    for (const [groupId, voters] of this.groupMembers) {
      for (const id of voters) {
        const host = this.host(id);
        if (host !== null && !host.isQuiesced(groupId)) return false;
      }
    }
    return true;
  }

  private groupTicks(): number {
    let ticks = 0;
    for (const machine of this.machines.values()) ticks += machine.process?.host.metrics.groupTicks ?? 0;
    return ticks;
  }

  private async waitQuiesced(what: string): Promise<void> {
    const limitMs = simHostQuiesceElectionTimeoutsMax * this.electionMs();
    if (!(await this.runUntil(() => this.allQuiesced(), limitMs))) {
      throw new SimViolation(
        'quiescence',
        `${what}: not every group quiesced on every member within ${limitMs.toFixed(0)} virtual ms: ${this.convergenceReport()}`,
      );
    }
  }

  /**
   * Idle groups quiesce and then cost nothing per tick; a proposal wakes one and commits
   * promptly; when the host leading quiesced groups dies, the others notice its silence, wake
   * them and elect new leaders; when it comes back, everything converges again.
   */
  private async quiescencePhase(): Promise<void> {
    if (this.raft.readOnlyMode === 'lease') {
      this.log(() => 'quiescence phase skipped: lease reads never quiesce');
      return;
    }
    const electionMs = this.electionMs();
    // Frames sent before the network healed may still be on their way (delay spikes): an old
    // append wakes a quiesced group for a tick, and a frame of a crashed process arriving after
    // its successor's frames reads as yet another restart of that peer (its session flips back
    // and forth), waking the groups it shares. Spurious wakes, not stuck groups: the
    // measurements start once every such frame has landed.
    await this.runFor(Math.max(0, this.healDeliveriesDueMs - this.clock.nowMs()));
    this.log(() => 'quiescence: waiting for every group to quiesce');
    await this.waitQuiesced('after convergence');
    // An answer still in flight when its leader quiesced (an append's acknowledgement) wakes the
    // group for a tick, as designed: let stragglers land, then nothing may tick at all.
    await this.runFor(electionMs);
    await this.waitQuiesced('after the stragglers landed');
    const beforeTicks = this.groupTicks();
    await this.runFor(electionMs);
    const ticked = this.groupTicks() - beforeTicks;
    if (ticked > 0)
      throw new SimViolation(
        'quiescence',
        `quiesced groups were ticked ${ticked} times during one idle election timeout: ${this.convergenceReport()}`,
      );

    this.log(() => 'quiescence: one proposal wakes each group');
    const wakes: ClientProposal[] = [];
    for (const groupId of this.groupMembers.keys()) {
      const leader = this.leaderOf(groupId);
      const op = leader === 0 ? null : this.propose(leader, groupId, 1);
      if (op !== null) wakes.push(op);
    }
    const wakeLimitMs = simHostWakeElectionTimeoutsMax * electionMs;
    if (!(await this.runUntil(() => wakes.every((op) => op.outcome === 'acked'), wakeLimitMs))) {
      const late = wakes.filter((op) => op.outcome !== 'acked').map((op) => `group ${op.groupId} (${op.outcome})`);
      throw new SimViolation(
        'quiescence',
        `a proposal to a quiesced group did not commit within ${wakeLimitMs.toFixed(0)} virtual ms: ${late.join(', ')}`,
      );
    }
    await this.waitQuiesced('after the wake-up proposals');

    // The host that leads the most groups dies while they are quiesced.
    const led = new Map<NodeId, GroupId[]>();
    for (const groupId of this.groupMembers.keys()) {
      const leader = this.leaderOf(groupId);
      led.set(leader, [...(led.get(leader) ?? []), groupId]);
    }
    const [victim, victimGroups] = [...led].sort((a, b) => b[1].length - a[1].length || a[0] - b[0])[0] as [
      NodeId,
      GroupId[],
    ];
    this.log(
      () => `quiescence: host ${victim}, leader of groups [${victimGroups.join(',')}], crashes while they are quiesced`,
    );
    this.crash(victim);
    const failoverLimitMs = simHostFailoverElectionTimeoutsMax * electionMs;
    const failedOver = (): boolean => victimGroups.every((groupId) => this.leaderOf(groupId) !== 0);
    if (!(await this.runUntil(failedOver, failoverLimitMs))) {
      const leaderless = victimGroups.filter((groupId) => this.leaderOf(groupId) === 0);
      throw new SimViolation(
        'liveness',
        `host ${victim} crashed while leading quiesced groups; groups [${leaderless.join(',')}] had no new leader within ${failoverLimitMs.toFixed(0)} virtual ms: ${this.convergenceReport()}`,
      );
    }
    this.log(() => `quiescence: host ${victim} restarts`);
    await this.settle();
  }

  // ---- helpers ---------------------------------------------------------------------------

  /** An election timeout in virtual ms on the slowest clock. */
  private electionMs(): number {
    return this.raft.electionTicks * simTickMs * (1 + simClockRateDriftMax);
  }

  private machine(id: NodeId): SimMachine {
    const machine = this.machines.get(id);
    if (machine === undefined) throw new RangeError(`no host ${id}`);
    return machine;
  }

  private checker(groupId: GroupId): SafetyChecker {
    const checker = this.checkers.get(groupId);
    if (checker === undefined)
      throw new SimViolation('node-error', `a host names group ${groupId}, which the simulation never created`);
    return checker;
  }

  private appliedState(applied: Map<GroupId, AppliedState>, groupId: GroupId): AppliedState {
    let state = applied.get(groupId);
    if (state === undefined) {
      state = { applied: 0, chain: 0 };
      applied.set(groupId, state);
    }
    return state;
  }

  private payload(proposalId: number): Uint8Array {
    return randomPayload(this.prng, proposalId);
  }

  private actionGapMs(): number {
    return this.prng.between(simActionGapMsMin, simActionGapMsMax);
  }

  /** Calls into a host; its typed errors (NotLeaderError, ...) are expected answers, anything else is a bug. */
  private tolerate(id: NodeId, fn: () => void): void {
    tolerateRaftErrors('host', id, fn, (line) => this.log(line));
  }

  private nodeError(id: NodeId, error: unknown): SimViolation {
    return nodeErrorViolation('host', id, error);
  }

  /** The host's own log lines (peers silent, back, restarted; leadership) into the trace. */
  private hostLogger(id: NodeId): RaftLogger {
    const line =
      (level: string) =>
      (fields: Record<string, unknown>, message: string): void => {
        if (message !== 'leadership changed')
          this.log(() => `host ${id} ${level}: ${message} ${JSON.stringify(fields)}`);
      };
    return { debug: line('debug'), info: line('info'), warn: line('warn') };
  }

  private log(line: () => string): void {
    if (this.trace !== null) this.trace(traceLine(this.clock.nowMs(), line()));
  }

  /** The outcome so far: stats, and the violation that ended the run if any. */
  result(violation: SimViolation | null = null): HostSimulationResult {
    const metrics = emptyHostMetrics();
    for (const machine of this.machines.values()) {
      addMetrics(metrics, machine.pastMetrics);
      if (machine.process !== null) addMetrics(metrics, machine.process.host.metrics);
    }
    let proposalsCommitted = 0;
    let committedEntries = 0;
    let leaderElections = 0;
    for (const checker of this.checkers.values()) {
      proposalsCommitted += checker.proposalList.filter((p) => checker.committedTermAt(p.index) === p.term).length;
      committedEntries += checker.committedIndexMax;
      leaderElections += checker.leaderElections;
    }
    return {
      seed: this.seed,
      passed: violation === null,
      violation,
      stepsDone: this.stepsDone,
      phase: this.randomActions ? 'random' : 'quiet',
      stats: {
        virtualMs: Math.round(this.clock.nowMs()),
        events: this.events,
        hosts: this.machines.size,
        groups: this.groupMembers.size,
        proposals: this.nextProposalId - 1,
        proposalsCommitted,
        proposalsAcked: this.counters.proposalsAcked,
        reads: this.nextReadId - 1,
        readsAnswered: this.counters.readsAnswered,
        crashes: this.counters.crashes,
        leaderElections,
        compactions: this.counters.compactions,
        snapshotsRestored: this.counters.snapshotsRestored,
        turns: metrics.turns,
        persistCalls: metrics.persistCalls,
        appliesBeforeWrite: metrics.appliesBeforeWrite,
        groupWritesPerPersist:
          metrics.persistCalls === 0 ? 0 : Math.round((metrics.groupWrites / metrics.persistCalls) * 100) / 100,
        framesSent: this.network.stats.sent,
        framesDropped: this.network.stats.dropped + this.network.stats.cut,
        messagesPerFrame:
          this.counters.framesCarrying === 0
            ? 0
            : Math.round((this.counters.messagesFramed / this.counters.framesCarrying) * 100) / 100,
        framesOfSeveralGroups: this.counters.framesOfSeveralGroups,
        quiesceMarkers: this.counters.quiesceMarkers,
        staleFrames: this.counters.staleFrames,
        committedEntries,
      },
    };
  }
}

function describeFrame(frame: Frame): string {
  const parts = frameMessages(frame).map(({ groupId, message }) => {
    const entries =
      message.entries.length === 0
        ? ''
        : ` entries=[${message.entries[0]?.index}..${message.entries[message.entries.length - 1]?.index}]`;
    return `g${groupId} ${messageTypeName(message.type)} term=${message.term} index=${message.index} commit=${message.commit}${entries}${message.reject ? ' reject' : ''}`;
  });
  for (const marker of frame.quiesce) parts.push(`g${marker.groupId} quiesce term=${marker.term}`);
  return `frame ${frame.from}→${frame.to} [${parts.length === 0 ? 'empty' : parts.join('; ')}]`;
}
