/**
 * One StreamBus broker: the LevelDB store, the RaftHost with the controller group (0) and one
 * group per partition replica, the peer transport, and the gRPC server for clients and peers.
 *
 * Start-up: open the store (rebuilding every group's view), reopen the groups it holds, join the
 * controller group (all static members are its voters), serve gRPC, register with the
 * controller. Partition groups follow the controller's assignments: created when a topic lands
 * in the applied controller state, removed when it is deleted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { addStreamBusService, messageBytesMax } from '@streambus/proto';
import { RaftHost, Role } from '@streambus/raft';
import type { ConfState, Entry, GroupId, GroupWrite, HostGroupStatus, HostTimer, NodeId, RaftStore, RaftTransport, Snapshot, StateMachine } from '@streambus/raft';
import { LevelRaftStore } from '@streambus/storage';
import type { HealthRegistry } from '../admin/health.js';
import { rethrowBug } from '../bugs.js';
import type { BrokerMetrics } from '../admin/metrics.js';
import type { BrokerConfig } from '../config/types.js';
import type { PartitionInfo } from '../controller/state.js';
import { controllerGroupId } from '../controller/constants.js';
import { ControllerStateMachine } from '../controller/state-machine.js';
import type { Logger } from '../logging/logger.js';
import { componentLogger, raftLogger } from '../logging/logger.js';
import { PartitionReplica } from '../partition/partition-replica.js';
import { PartitionState } from '../partition/partition-state.js';
import type { UnsafeTestingKnobs } from '../partition/partition-replica.js';
import { addPeerService, PeerTransport } from '../peer/index.js';
import type { PeerServiceHandle } from '../peer/index.js';
import { ClientService } from './client-service.js';
import {
  leadershipHandoffMsMax,
  partitionReportIntervalMs,
  preferredLeaderCheckMs,
  metricsRefreshMs,
  reconcileIntervalMs,
  retentionCheckMs,
  scrubIntervalMs,
} from './constants.js';
import { ControllerGateway } from './controller-gateway.js';
import { handOffTarget, inSyncReplicas } from './follower-progress.js';
import { Forwarder } from './forwarder.js';
import { Reconfigurer } from './reconfigurer.js';
import { ScrubRepair } from './scrub-repair.js';
import { ControllerRegistration } from './controller-registration.js';
import { PartitionReporter } from './partition-reporter.js';
import { reconfigureIntervalMs, removedReplicaGraceMs } from './constants.js';

export interface BrokerOptions {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly health?: HealthRegistry;
  readonly metrics?: BrokerMetrics;
  /** Wraps the peer transport (fault injection in tests). */
  readonly wrapTransport?: (transport: RaftTransport) => RaftTransport;
  /** Wraps the store the Raft host writes through (disk faults in tests). */
  readonly wrapStore?: (store: RaftStore) => RaftStore;
  /** The Raft host's clock and tick source (pauses and clock skew in tests). Default real time. */
  readonly timer?: HostTimer;
  /** Planted faults for the chaos harness's own tests. NEVER in production; default all off. */
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
  /**
   * Called when the broker can no longer serve: its store failed and the Raft host stopped (what
   * is durable is unknown). `streambus server` then exits 1 for its supervisor to restart it.
   */
  readonly onFatal?: (error: Error) => void;
}

export class Broker {
  readonly nodeId: NodeId;
  readonly config: BrokerConfig;
  readonly store: LevelRaftStore;
  readonly host: RaftHost;
  readonly controller: ControllerStateMachine;
  readonly gateway: ControllerGateway;
  readonly replicas = new Map<GroupId, PartitionReplica>();
  readonly forwarder: Forwarder;
  private readonly logger: Logger;
  private readonly transport: PeerTransport;
  private readonly server: grpc.Server;
  private readonly peerService: PeerServiceHandle;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly scrubRepair: ScrubRepair;
  private readonly registration: ControllerRegistration;
  private readonly reporter: PartitionReporter;
  private readonly unregister: (() => void)[] = [];
  private boundPort = 0;
  private stopping = false;
  private readonly metrics: BrokerMetrics | undefined;
  private readonly knobs: UnsafeTestingKnobs;
  /** Why this broker stopped serving (its store failed), or null. */
  private fatalError: Error | null = null;
  /** Moves led groups' Raft membership to the controller's replicas (created at the first run). */
  private reconfigurer: Reconfigurer | null = null;
  /** Groups moved off this broker, by when their leader was first seen reporting an ISR without it. */
  private readonly outOfIsrSinceMs = new Map<GroupId, number>();
  /** Groups being removed from the host and store: not re-created until that finished. */
  private readonly dropping = new Set<GroupId>();

  private constructor(options: BrokerOptions, store: LevelRaftStore) {
    const config = options.config;
    this.config = config;
    this.nodeId = config.server.brokerId;
    this.logger = options.logger;
    this.store = store;
    this.knobs = options.unsafeTestingKnobs ?? {};
    const peers = new Map<NodeId, string>();
    for (const peer of config.server.peers) if (peer.id !== this.nodeId) peers.set(peer.id, `${peer.host}:${peer.port}`);
    this.transport = new PeerTransport({ nodeId: this.nodeId, peers, logger: componentLogger(this.logger, 'grpc') });
    this.controller = new ControllerStateMachine();
    const stateMachine: StateMachine = {
      apply: (groupId: GroupId, entries: readonly Entry[]) => this.apply(groupId, entries),
      restore: (groupId: GroupId, snapshot: Snapshot) => this.restore(groupId, snapshot),
    };
    const wrapped = options.wrapStore === undefined ? store : options.wrapStore(store);
    this.host = new RaftHost({
      nodeId: this.nodeId,
      store: this.knobs.skipSync === true ? neverSync(wrapped) : wrapped,
      ...(options.timer === undefined ? {} : { timer: options.timer }),
      transport: options.wrapTransport === undefined ? this.transport : options.wrapTransport(this.transport),
      stateMachine,
      tickMs: config.raft.tickMs,
      logger: raftLogger(componentLogger(this.logger, 'raft')),
      groupDefaults: { electionTicks: config.raft.electionTicks, heartbeatTicks: config.raft.heartbeatTicks, preVote: true, checkQuorum: true, appendBeforePersist: config.raft.appendBeforePersist },
    });
    this.scrubRepair = new ScrubRepair({
      nodeId: this.nodeId,
      host: this.host,
      store,
      resetReplica: (groupId) => this.resetReplica(groupId),
      logger: this.logger,
    });
    this.gateway = new ControllerGateway(this.nodeId, this.host, this.controller, this.transport);
    this.forwarder = new Forwarder(this.nodeId, peers);
    this.registration = new ControllerRegistration({
      nodeId: this.nodeId,
      listen: config.server.listen,
      adminListen: config.server.adminListen,
      boundPort: () => this.boundPort,
      propose: (command, deadlineMs) => this.gateway.propose(command, deadlineMs),
      logger: this.logger,
    });
    this.reporter = new PartitionReporter({
      nodeId: this.nodeId,
      host: this.host,
      controller: this.controller,
      propose: (command, deadlineMs) => this.gateway.propose(command, deadlineMs),
      replicas: this.replicas,
      registered: () => this.registration.registered,
      logger: this.logger,
    });
    this.server = new grpc.Server({
      // The protocol's message bound: a batch is at most recordBatchBytesMax, which fits it.
      'grpc.max_receive_message_length': messageBytesMax,
      'grpc.max_send_message_length': messageBytesMax,
    });
    const service = new ClientService(this, componentLogger(this.logger, 'grpc'), options.metrics);
    addStreamBusService(this.server, service.handlers());
    this.peerService = addPeerService(
      this.server,
      {
        onFrame: (frame) => this.host.receive(frame),
        proposeControllerCommand: (command) => this.gateway.handleForwarded(command),
      },
      { nodeId: this.nodeId, logger: componentLogger(this.logger, 'grpc') },
    );
    this.host.onLeaderChange((groupId, leaderId, term, role) => this.onLeaderChange(groupId, leaderId, term, role, options.metrics));
    this.host.onFailure((error) => {
      this.fatalError = error;
      this.logger.fatal({ err: error.message }, 'storage failed: this broker stops serving (restart it once the disk is sound)');
      // Its partitions are led elsewhere from now on: pending produce and fetch calls end.
      for (const replica of this.replicas.values()) replica.close();
      options.onFatal?.(error);
    });
    this.controller.onEvent((event) => {
      if (event.type === 'topicCreated' || event.type === 'partitionsAdded') for (const partition of event.partitions) this.ensureGroup(partition);
      else if (event.type === 'assignmentChanged') this.ensureGroup(event.partition);
      else if (event.type === 'topicDeleted') for (const partition of event.partitions) void this.dropGroup(partition.groupId);
    });
    this.controller.onRestored((state) => {
      for (const partition of state.partitions()) this.ensureGroup(partition);
    });
    if (options.health !== undefined) this.registerHealth(options.health);
    this.metrics = options.metrics;
  }

  /** Opens the store, starts Raft and the gRPC server, and joins the cluster. */
  static async start(options: BrokerOptions): Promise<Broker> {
    const config = options.config;
    const storageLogger = componentLogger(options.logger, 'storage');
    const started = Date.now();
    const store = await LevelRaftStore.open(join(config.server.dataDir, 'raft'), {
      walSync: config.storage.walSync,
      walSyncIntervalMs: config.storage.walSyncIntervalMs,
      logger: raftLogger(storageLogger),
      onOpenProgress: (progress) => storageLogger.info({ groups_loaded: progress.groupsLoaded, groups_total: progress.groupsTotal }, 'recovering store'),
      // A partition snapshot (retention) knows where its records end: a follower that installs one
      // starts its log there.
      snapshotNextOffset: (groupId, data) => (groupId === controllerGroupId || data.byteLength === 0 ? null : PartitionState.decode(data).nextOffset),
    });
    storageLogger.info({ groups: store.groupIds().length, ms: Date.now() - started }, 'store open');
    const broker = new Broker(options, store);
    try {
      await broker.startServing();
    } catch (error) {
      await broker.stop().catch(rethrowBug);
      throw error;
    }
    return broker;
  }

  /** The port the gRPC server is bound to (useful when configured with port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** True when a peer broker has been heard from within an election timeout (always for itself). */
  peerAlive(id: NodeId): boolean {
    return id === this.nodeId || this.host.peerAlive(id);
  }

  /** The static cluster's member ids (this broker included). */
  memberIds(): NodeId[] {
    const ids = new Set<NodeId>([this.nodeId, ...this.config.server.peers.map((peer) => peer.id)]);
    return [...ids].sort((a, b) => a - b);
  }

  private async startServing(): Promise<void> {
    const recovered = this.host.openExisting();
    this.logger.info({ groups: recovered.length }, 'raft groups reopened');
    if (!this.host.hasGroup(controllerGroupId)) this.host.createGroup(controllerGroupId, confState(this.memberIds()));
    const listen = this.config.server.listen;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${listen.host}:${listen.port}`, grpc.ServerCredentials.createInsecure(), (error, port) => (error !== null ? reject(error) : resolve(port)));
    });
    this.host.start();
    if (this.memberIds().length === 1) this.host.campaign(controllerGroupId);
    this.logger.info({ listen: `${listen.host}:${this.boundPort}`, members: this.memberIds() }, 'broker serving');
    this.every(partitionReportIntervalMs, () => this.reporter.report());
    this.every(preferredLeaderCheckMs, () => this.reporter.restorePreferredLeaders());
    this.every(reconcileIntervalMs, () => this.reconcile());
    this.every(retentionCheckMs, () => this.enforceRetention());
    this.every(metricsRefreshMs, () => this.refreshGauges());
    this.every(reconfigureIntervalMs, () => this.reconfigure());
    this.every(scrubIntervalMs, () => this.scrubRepair.scrub());
    void this.registration.run();
  }

  // ---- the state machine of every group ---------------------------------------------------

  private apply(groupId: GroupId, entries: readonly Entry[]): void {
    if (groupId === controllerGroupId) {
      this.controller.apply(groupId, entries);
      return;
    }
    this.replica(groupId).apply(entries);
  }

  private restore(groupId: GroupId, snapshot: Snapshot): void {
    if (groupId === controllerGroupId) {
      this.controller.restore(groupId, snapshot);
      this.reporter.onControllerSnapshot(snapshot.metadata.index);
      return;
    }
    this.replica(groupId).restore(snapshot);
  }

  /** The replica object of a hosted group, created on first use (also during recovery). */
  replica(groupId: GroupId): PartitionReplica {
    let replica = this.replicas.get(groupId);
    if (replica === undefined) {
      replica = new PartitionReplica({
        groupId,
        brokerId: this.nodeId,
        host: this.host,
        store: this.store,
        logger: componentLogger(this.logger, 'partition'),
        onCorrupt: (error) => this.scrubRepair.onCorrupt(error),
        unsafeTestingKnobs: this.knobs,
      });
      const info = this.controller.state.partition(groupId);
      if (info !== undefined) {
        replica.topic = info.topic;
        replica.partition = info.partition;
      }
      this.replicas.set(groupId, replica);
    }
    return replica;
  }

  /** A fresh state machine for a group reopened by a repair (it is re-applied from its snapshot and log). */
  private resetReplica(groupId: GroupId): void {
    this.replicas.get(groupId)?.close();
    this.replicas.delete(groupId);
    this.replica(groupId);
  }

  private onLeaderChange(groupId: GroupId, leaderId: NodeId, term: number, role: Role, metrics: BrokerMetrics | undefined): void {
    metrics?.raftLeaderChangesTotal.inc();
    if (groupId === controllerGroupId) {
      this.logger.info({ leader: leaderId, term, role }, 'controller leader changed');
      return;
    }
    this.replicas.get(groupId)?.onLeaderChange(role, term);
    this.reporter.onLeaderChange(groupId, role);
    this.scrubRepair.onLeaderChange(groupId, role);
  }

  // ---- groups follow the controller's assignments ------------------------------------------

  private ensureGroup(partition: PartitionInfo): void {
    if (this.stopping || !partition.replicas.includes(this.nodeId) || this.scrubRepair.isRepairing(partition.groupId) || this.dropping.has(partition.groupId)) return;
    const replica = this.replica(partition.groupId);
    replica.topic = partition.topic;
    replica.partition = partition.partition;
    if (this.host.hasGroup(partition.groupId)) return;
    // Every member bootstraps with the group's FIRST voters, a replica added by a reassignment
    // too: the log from index 1 (conf changes included) replays on top of them. A joiner is no
    // voter there, so it never campaigns; it learns the membership from the log or a snapshot.
    // A replica created for a partition that already ran (a reassignment, or a copy lost with its
    // disk) may have voted in this group before: it joins, voting only once a leader was heard.
    const fresh = partition.leader === null && partition.initialReplicas.includes(this.nodeId);
    this.host.createGroup(partition.groupId, confState(partition.initialReplicas), {}, fresh ? {} : { joining: true });
    // The preferred leader of a new partition campaigns at once, so leaders start balanced as placement made them.
    if (fresh && partition.replicas[0] === this.nodeId) this.host.campaign(partition.groupId);
  }

  private async dropGroup(groupId: GroupId): Promise<void> {
    const replica = this.replicas.get(groupId);
    this.replicas.delete(groupId);
    replica?.close();
    this.reporter.forget(groupId);
    this.outOfIsrSinceMs.delete(groupId);
    this.reconfigurer?.forget(groupId);
    if (!this.host.hasGroup(groupId) || this.dropping.has(groupId)) return;
    this.dropping.add(groupId);
    try {
      await this.host.removeGroup(groupId);
      await this.store.deleteGroup(groupId);
    } finally {
      this.dropping.delete(groupId);
    }
    this.logger.info({ group: groupId }, 'partition group removed');
  }

  /** Creates missing groups and removes those no longer assigned here, once the controller is caught up. */
  private reconcile(): void {
    if (!this.gateway.caughtUp()) return;
    const state = this.controller.state;
    for (const partition of state.partitions()) this.ensureGroup(partition);
    for (const groupId of this.host.groupIds()) {
      if (groupId === controllerGroupId) continue;
      const info = state.partition(groupId);
      if (info === undefined || this.movedAway(info)) void this.dropGroup(groupId);
    }
  }

  /**
   * True when a reassignment took this broker out of the group for good. The controller's list
   * alone is not enough: until the leader removes it, this broker is still a voter the group may
   * need for its quorum. It is out once its own applied ConfState lacks it, or once the group's
   * leader (another broker) has reported an ISR without it for a while (a removed follower may
   * never apply its own removal: the leader stops replicating to it once it applied it).
   */
  private movedAway(info: PartitionInfo): boolean {
    const groupId = info.groupId;
    if (info.replicas.includes(this.nodeId)) {
      this.outOfIsrSinceMs.delete(groupId);
      return false;
    }
    const status = this.host.status(groupId);
    const conf = status.confState;
    const member = conf.voters.includes(this.nodeId) || conf.learners.includes(this.nodeId) || conf.votersOutgoing.includes(this.nodeId);
    if (!member) return true;
    const report = info.leader;
    // The leader's ISR lacking this broker counts only once every target replica is in it: then the
    // move is at its removal step, not waiting for this (maybe lagging, still voting) replica.
    const atRemoval = report !== null && info.replicas.every((id) => report.isr.includes(id));
    if (status.role === Role.leader || report === null || !atRemoval || report.leaderId === this.nodeId || report.isr.includes(this.nodeId)) {
      this.outOfIsrSinceMs.delete(groupId);
      return false;
    }
    const now = Date.now();
    const since = this.outOfIsrSinceMs.get(groupId) ?? now;
    this.outOfIsrSinceMs.set(groupId, since);
    return now - since >= removedReplicaGraceMs;
  }

  /** Leaders step their groups' Raft membership towards the controller's replicas. */
  private reconfigure(): void {
    if (this.stopping || !this.gateway.caughtUp()) return;
    this.reconfigurer ??= new Reconfigurer(this.nodeId, this.host, componentLogger(this.logger, 'partition'));
    const state = this.controller.state;
    const targets = this.host.groupIds().flatMap((groupId) => {
      if (groupId === controllerGroupId || !this.host.isLeader(groupId)) return [];
      const info = state.partition(groupId);
      return info === undefined ? [] : [{ groupId, replicas: info.replicas }];
    });
    this.reconfigurer.run(targets);
  }

  // ---- registration, reports, preferred leaders, compaction --------------------------------

  /** In-sync replicas of a group this broker leads: itself and followers close to its last index. */
  isr(groupId: GroupId, status: HostGroupStatus = this.host.status(groupId)): NodeId[] {
    return inSyncReplicas(this.nodeId, status);
  }

  private enforceRetention(): void {
    const maxAgeMs = this.config.storage.retentionAgeMsMax;
    const maxBytes = this.config.storage.retentionBytesMax;
    if (maxAgeMs === 0 && maxBytes === 0) return;
    for (const [groupId, replica] of this.replicas) {
      if (!this.host.hasGroup(groupId)) continue;
      const { data, appliedIndex } = replica.stateSnapshot();
      // The snapshot is cut at or below the applied index: its membership must be the one there.
      const confStateAt = (index: number): ConfState | undefined => (this.host.hasGroup(groupId) ? this.host.confStateAt(groupId, index) : undefined);
      const policy = { now: Date.now(), appliedIndex, confStateAt, ...(maxAgeMs > 0 ? { maxAgeMs } : {}), ...(maxBytes > 0 ? { maxBytes } : {}) };
      this.store.applyRetention(groupId, policy, data).catch((error: unknown) => {
        rethrowBug(error);
        this.logger.warn({ group: groupId, err: (error as Error).message }, 'retention failed');
      });
    }
  }

  /** Gauges sampled periodically (counters and histograms are fed on the request paths). */
  private refreshGauges(): void {
    const metrics = this.metrics;
    if (metrics === undefined) return;
    const groupIds = this.host.groupIds();
    metrics.raftGroups.set(groupIds.length);
    metrics.raftLeaders.set(groupIds.filter((groupId) => this.host.isLeader(groupId)).length);
    metrics.controllerLeader.set(this.gateway.leaderId());
    const stats = this.store.stats();
    metrics.storageBytesUsed.set(stats.batchBytes);
    let underReplicated = 0;
    for (const info of this.controller.state.partitions()) {
      if (info.leader !== null && info.leader.isr.length < info.replicas.length) underReplicated += 1;
    }
    metrics.underReplicatedPartitions.set(underReplicated);
  }

  // ---- health and readiness ----------------------------------------------------------------

  /** Why this broker stopped serving (its store failed), or null. */
  get fatal(): Error | null {
    return this.fatalError;
  }

  /** Why this broker is not ready, or null when it is. */
  notReadyReason(): string | null {
    if (this.fatalError !== null) return `storage failed (${this.fatalError.message}); restart the broker`;
    if (this.stopping) return 'broker is stopping';
    if (this.gateway.leaderId() === 0) return 'no controller leader (waiting for a quorum of brokers)';
    // Registered, and the registration applied here too (the leader applied it first).
    if (!this.registration.registered || this.controller.state.broker(this.nodeId) === undefined) return 'not yet registered with the controller';
    if (!this.gateway.caughtUp()) return 'controller state not caught up';
    for (const groupId of this.host.groupIds()) {
      if (groupId === controllerGroupId) continue;
      if (this.host.leaderOf(groupId) === 0) return `partition group ${groupId} has no leader yet`;
      const status = this.host.status(groupId);
      if (status.applied < status.hardState.commit) return `partition group ${groupId} is catching up (${status.applied}/${status.hardState.commit})`;
      if (status.repairIndex > 0) return `partition group ${groupId} is re-replicating a corrupt log (${status.lastIndex}/${status.repairIndex})`;
    }
    return null;
  }

  private registerHealth(health: HealthRegistry): void {
    this.unregister.push(
      health.registerReadinessCheck('broker', () => {
        const reason = this.notReadyReason();
        return { ready: reason === null, reason: reason ?? '' };
      }),
      health.registerComponent('raft', () => {
        const groups = this.host.groupIds().length;
        let leaders = 0;
        let leaderless = 0;
        for (const groupId of this.host.groupIds()) {
          const leader = this.host.leaderOf(groupId);
          if (leader === this.nodeId) leaders += 1;
          if (leader === 0) leaderless += 1;
        }
        return { status: leaderless === 0 ? 'ok' : 'degraded', detail: `${groups} groups, leader of ${leaders}, ${leaderless} without a leader` };
      }),
      health.registerComponent('controller', () => {
        const leader = this.gateway.leaderId();
        return { status: leader === 0 ? 'down' : 'ok', detail: leader === 0 ? 'no controller leader' : `leader broker ${leader}, applied ${this.controller.appliedIndex}` };
      }),
      health.registerComponent('storage', () => {
        const stats = this.store.stats();
        return { status: 'ok', detail: `${stats.groupCount} groups, ${stats.batchCount} batches, ${stats.batchBytes} bytes, wal_sync ${this.config.storage.walSync}` };
      }),
    );
  }

  // ---- stop --------------------------------------------------------------------------------

  /**
   * Graceful stop: hands leadership of every group to an in-sync peer, then stops serving,
   * flushes and closes the store.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    await this.shutdown(true);
    this.logger.info({}, 'broker stopped');
  }

  /** Abrupt stop for tests: no hand-off, no flush beyond what the sync policy did. */
  async kill(): Promise<void> {
    await this.shutdown(false);
  }

  private async shutdown(graceful: boolean): Promise<void> {
    this.stopping = true;
    this.scrubRepair.stop();
    this.registration.stop();
    this.reporter.stop();
    for (const timer of this.timers) clearInterval(timer);
    for (const unregister of this.unregister) unregister();
    if (graceful && this.host.isRunning()) await this.handOffLeadership();
    for (const replica of this.replicas.values()) replica.close();
    this.peerService.closeStreams();
    // In-flight calls (long polls) get a moment to finish on a graceful stop; then the server closes regardless.
    if (graceful) await Promise.race([new Promise<void>((resolve) => this.server.tryShutdown(() => resolve())), sleep(2_000)]);
    this.server.forceShutdown();
    if (this.host.isRunning()) await this.host.stop();
    this.transport.close();
    this.forwarder.close();
    await this.store.close();
  }

  private async handOffLeadership(): Promise<void> {
    if (this.memberIds().length === 1) return;
    const deadline = Date.now() + leadershipHandoffMsMax;
    let asked = 0;
    while (Date.now() < deadline) {
      const led = this.host.groupIds().filter((groupId) => this.host.isLeader(groupId));
      if (led.length === 0) break;
      for (const groupId of led) {
        const target = handOffTarget(this.nodeId, this.host.status(groupId));
        if (target !== 0) {
          this.host.transferLeadership(groupId, target);
          asked += 1;
        }
      }
      await sleep(100);
    }
    const still = this.host.groupIds().filter((groupId) => this.host.isLeader(groupId)).length;
    this.logger.info({ transfers_asked: asked, still_leading: still }, 'leadership hand-off done');
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(() => {
      try {
        run();
      } catch (error) {
        rethrowBug(error);
        this.logger.error({ err: (error as Error).message }, 'periodic broker task failed');
      }
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

function confState(voters: readonly NodeId[]): ConfState {
  return { voters: [...voters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** The skipSync planted fault: every host write goes to the store without asking for a sync. */
function neverSync(store: RaftStore): RaftStore {
  return {
    groupIds: () => store.groupIds(),
    openGroup: (groupId, bootstrap, options) => store.openGroup(groupId, bootstrap, options),
    persist: (writes: readonly GroupWrite[]) => store.persist(writes, false),
    compact: (groupId, snapshot) => store.compact(groupId, snapshot),
    ...(store.discardFrom === undefined ? {} : { discardFrom: (groupId: GroupId, fromIndex: number) => store.discardFrom?.(groupId, fromIndex) ?? Promise.resolve() }),
    deleteGroup: (groupId) => store.deleteGroup(groupId),
    onEntriesLoaded: (listener) => store.onEntriesLoaded(listener),
  };
}

