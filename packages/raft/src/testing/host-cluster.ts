/**
 * A cluster of RaftHosts in one process for tests and the benchmark: one MemoryRaftStore and one
 * recording state machine per node, a MemoryNetwork between them, and one shared timer (a
 * ManualTimer by default, so tests move time explicitly). Test-only.
 */
import { assert } from '../errors.js';
import type { GroupConfig } from '../host/raft-host.js';
import { RaftHost } from '../host/raft-host.js';
import type { HostTimer } from '../host/timer.js';
import type { StateMachine } from '../node-api.js';
import type { Entry, GroupId, NodeId, Snapshot } from '../types.js';
import { Role } from '../types.js';
import { ManualTimer } from './manual-timer.js';
import { MemoryNetwork } from './memory-transport.js';
import { MemoryRaftStore } from './memory-storage.js';
import { Prng } from './sim/prng.js';

/** Rounds of "deliver frames, run loop turns" before `settle` gives up (a livelock is a bug). */
const settleRoundsMax = 100_000;

/** Records what a node applied, per group, as "index:term:data-length" and the entries' data. */
export class RecordingStateMachine implements StateMachine {
  readonly applied = new Map<GroupId, Entry[]>();
  readonly restored = new Map<GroupId, Snapshot>();
  /** When false, entries are only counted (benchmarks): `appliedCount`. */
  keepEntries = true;
  appliedCount = 0;

  apply(groupId: GroupId, entries: readonly Entry[]): void {
    this.appliedCount += entries.length;
    if (!this.keepEntries) return;
    let log = this.applied.get(groupId);
    if (log === undefined) {
      log = [];
      this.applied.set(groupId, log);
    }
    for (const entry of entries) log.push(entry);
  }

  restore(groupId: GroupId, snapshot: Snapshot): void {
    this.restored.set(groupId, snapshot);
    this.applied.set(groupId, []);
  }

  /** Data of the non-empty normal entries applied in the group, as strings. */
  texts(groupId: GroupId): string[] {
    const decoder = new TextDecoder();
    return (this.applied.get(groupId) ?? [])
      .filter((entry) => entry.data.byteLength > 0 && entry.type === 0)
      .map((entry) => decoder.decode(entry.data));
  }
}

export interface MemoryHostClusterOptions {
  readonly nodeIds?: readonly NodeId[];
  readonly tickMs?: number;
  /** Default: a ManualTimer shared by all hosts. */
  readonly timer?: HostTimer;
  /** Seeds the hosts' randomness (election timeouts). Default 1. */
  readonly seed?: number;
  readonly groupDefaults?: GroupConfig;
}

export class MemoryHostCluster {
  readonly nodeIds: readonly NodeId[];
  readonly network = new MemoryNetwork();
  readonly timer: HostTimer;
  readonly hosts = new Map<NodeId, RaftHost>();
  readonly stores = new Map<NodeId, MemoryRaftStore>();
  readonly machines = new Map<NodeId, RecordingStateMachine>();
  private readonly tickMs: number;
  private readonly prng: Prng;
  private readonly groupDefaults: GroupConfig;

  constructor(options: MemoryHostClusterOptions = {}) {
    this.nodeIds = options.nodeIds ?? [1, 2, 3];
    this.tickMs = options.tickMs ?? 100;
    this.timer = options.timer ?? new ManualTimer();
    this.prng = new Prng(options.seed ?? 1);
    this.groupDefaults = options.groupDefaults ?? {};
    for (const nodeId of this.nodeIds) {
      this.stores.set(nodeId, new MemoryRaftStore());
      this.boot(nodeId);
    }
  }

  host(nodeId: NodeId): RaftHost {
    const host = this.hosts.get(nodeId);
    assert(host !== undefined, 'host exists');
    return host;
  }

  machine(nodeId: NodeId): RecordingStateMachine {
    const machine = this.machines.get(nodeId);
    assert(machine !== undefined, 'state machine exists');
    return machine;
  }

  store(nodeId: NodeId): MemoryRaftStore {
    const store = this.stores.get(nodeId);
    assert(store !== undefined, 'store exists');
    return store;
  }

  /** Running hosts. */
  live(): RaftHost[] {
    return [...this.hosts.values()].filter((host) => host.isRunning());
  }

  /** Creates a group with every cluster node as a voter on every running host. */
  createGroup(groupId: GroupId, overrides: GroupConfig = {}): void {
    for (const host of this.live())
      host.createGroup(
        groupId,
        { voters: [...this.nodeIds], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        overrides,
      );
  }

  /** Delivers frames and runs loop turns until nothing moves. */
  async settle(): Promise<void> {
    for (let round = 0; round < settleRoundsMax; round++) {
      await this.network.whenIdle();
      await Promise.all(this.live().map((host) => host.whenIdle()));
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.network.pending() === 0 && this.live().every((host) => host.isIdle())) return;
    }
    assert(false, 'the cluster settles');
  }

  /** Moves the (manual) timer by `ticks` ticks, settling after each. */
  async tick(ticks = 1): Promise<void> {
    assert(this.timer instanceof ManualTimer, 'ticks are driven only with a ManualTimer');
    for (let i = 0; i < ticks; i++) {
      this.timer.advance(this.tickMs);
      await this.settle();
    }
  }

  /** The leader every running member agrees on, or 0. */
  leaderOf(groupId: GroupId): NodeId {
    const hosts = this.live().filter((host) => host.hasGroup(groupId));
    const leaders = new Set(hosts.map((host) => host.leaderOf(groupId)));
    const [leader] = [...leaders];
    if (leaders.size !== 1 || leader === undefined || leader === 0) return 0;
    const leaderHost = this.hosts.get(leader);
    if (leaderHost === undefined || !leaderHost.isRunning() || leaderHost.roleOf(groupId) !== Role.leader) return 0;
    return leader;
  }

  /** Ticks until every group in `groupIds` has an agreed leader; returns them in order. */
  async waitLeaders(groupIds: readonly GroupId[], ticksMax = 200): Promise<NodeId[]> {
    for (let i = 0; i <= ticksMax; i++) {
      const leaders = groupIds.map((groupId) => this.leaderOf(groupId));
      if (leaders.every((leader) => leader !== 0)) return leaders;
      await this.tick();
    }
    throw new Error(`no leader within ${ticksMax} ticks for some of groups ${groupIds.join(',')}`);
  }

  /** Stops a host and cuts it off the network (a crash that keeps its durable store). */
  async kill(nodeId: NodeId): Promise<void> {
    this.network.disconnect(nodeId);
    await this.host(nodeId).stop();
  }

  /** Starts a fresh host (new state machine, same store) and reopens every stored group. */
  restart(nodeId: NodeId): RaftHost {
    assert(!this.host(nodeId).isRunning(), 'restart a stopped host');
    const host = this.boot(nodeId);
    host.openExisting();
    return host;
  }

  async stop(): Promise<void> {
    for (const nodeId of this.nodeIds) this.network.disconnect(nodeId);
    await Promise.all([...this.hosts.values()].map((host) => host.stop()));
  }

  private boot(nodeId: NodeId): RaftHost {
    const machine = new RecordingStateMachine();
    let host: RaftHost | undefined;
    const transport = this.network.connect(nodeId, (frame) => host?.receive(frame));
    const seed = this.prng.nextUint32();
    const prng = new Prng(seed);
    host = new RaftHost({
      nodeId,
      store: this.store(nodeId),
      transport,
      stateMachine: machine,
      tickMs: this.tickMs,
      timer: this.timer,
      random: () => prng.next(),
      groupDefaults: this.groupDefaults,
    });
    this.hosts.set(nodeId, host);
    this.machines.set(nodeId, machine);
    host.start();
    return host;
  }
}
