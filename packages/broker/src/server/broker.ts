/**
 * One StreamBus broker: the LevelDB store, the RaftHost with the controller group (0) and one
 * group per partition replica, the peer transport, and the gRPC server for clients and peers.
 *
 * Broker wires the collaborators and runs start and stop; each concern is a module of its own:
 * ReplicaLifecycle (which partition groups live here, following the controller), ScrubRepair
 * (corrupt replicas found and mended), PartitionReporter (leader reports, preferred leaders,
 * controller compaction), ControllerRegistration, RetentionEnforcer, BrokerHealth (readiness,
 * /health, gauges), ClientService (the client API), ControllerGateway (controller commands),
 * OffsetsTopicCreator (__consumer_offsets at cluster start), GroupCoordinators (one per offsets
 * partition led here) and GroupsService (the group RPCs).
 *
 * Start-up: open the store (rebuilding every group's view), reopen the groups it holds, join the
 * controller group (all static members are its voters), serve gRPC, register with the
 * controller, start the periodic tasks. Stop: hand leadership away (when graceful), close the
 * replicas and the server, stop Raft, close the store.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { TracerProvider } from '@opentelemetry/api';
import { addStreamBusService, messageBytesMax } from '@streambus/proto';
import { RaftHost, Role } from '@streambus/raft';
import type {
  Entry,
  GroupId,
  GroupWrite,
  HostGroupStatus,
  HostTimer,
  NodeId,
  RaftStore,
  RaftTransport,
  Snapshot,
  StateMachine,
} from '@streambus/raft';
import { LevelRaftStore } from '@streambus/storage';
import { HealthRegistry } from '../admin/health.js';
import { rethrowBug } from '../bugs.js';
import type { BrokerMetrics } from '../admin/metrics.js';
import type { BrokerConfig } from '../config/types.js';
import { controllerGroupId } from '../controller/constants.js';
import type { ControllerState } from '../controller/state.js';
import { ControllerStateMachine } from '../controller/state-machine.js';
import type { Logger } from '../logging/logger.js';
import { componentLogger, raftLogger } from '../logging/logger.js';
import { PartitionReplica } from '../partition/partition-replica.js';
import { PartitionState } from '../partition/partition-state.js';
import type { UnsafeTestingKnobs } from '../partition/partition-replica.js';
import { addPeerService, PeerTransport } from '../peer/index.js';
import type { PeerServiceHandle, PeerServiceStats } from '../peer/index.js';
import { BrokerTracer } from '../tracing/broker-tracer.js';
import { RaftTracer } from '../tracing/raft-tracer.js';
import { BrokerHealth } from './broker-health.js';
import { ClientListener } from './client-listener.js';
import type { ConnectionObserver } from './client-listener.js';
import { MetricsSampler } from './metrics-sampler.js';
import { createAdminHttpServer, probeEndpoints } from '../admin/server.js';
import { ClientService } from './client-service.js';
import type { ClientServiceDeps } from './client-service.js';
import {
  controllerCatchUpMsMax,
  drainHandOffPollMs,
  shutdownCallsGraceMs,
  partitionReportIntervalMs,
  preferredLeaderCheckMs,
  replicationLagSampleMs,
  reconcileIntervalMs,
  retentionCheckMs,
  scrubIntervalMs,
} from './constants.js';
import { ControllerGateway, ControllerUnavailableError } from './controller-gateway.js';
import { inSyncReplicas } from './follower-progress.js';
import { Forwarder } from './forwarder.js';
import { handOffLeadership } from './leadership-hand-off.js';
import { ControllerCodecError } from '../controller/errors.js';
import { FeatureLevels } from './feature-levels.js';
import { checkFeatureMarker } from './feature-marker.js';
import { Maintenance } from './maintenance.js';
import { OperationsService } from './operations-service.js';
import { Reconfigurer } from './reconfigurer.js';
import { ReplicaLifecycle, confState } from './replica-lifecycle.js';
import { RetentionEnforcer } from './retention.js';
import { ScrubRepair } from './scrub-repair.js';
import { ControllerRegistration } from './controller-registration.js';
import { PartitionReporter } from './partition-reporter.js';
import { reconfigureIntervalMs } from './constants.js';
import { CheckpointFollower } from '../coordinator/checkpoint-follower.js';
import {
  checkpointFollowMs,
  coordinatorTickMs,
  offsetsTopicCheckMs,
  offsetsTopicName,
  unconsumedAgeSampleMs,
} from '../coordinator/constants.js';
import { GroupCoordinators } from '../coordinator/group-coordinators.js';
import { sampleGroupGauges } from '../coordinator/group-lag.js';
import type { LagView } from '../coordinator/group-lag.js';
import { isInternalTopic } from '../coordinator/internal-topics.js';
import { OffsetsTopicCreator } from '../coordinator/offsets-topic.js';
import { groupShardKit } from '../coordinator/shard-kit.js';
import { UnconsumedAge } from '../coordinator/unconsumed-age.js';
import type { GroupShardRecord } from '../coordinator/shard-kit.js';
import type { TopicView } from '../coordinator/shard.js';
import { GroupsService } from './groups-service.js';
import { SecurityService } from './security-service.js';
import { Authenticator } from '../security/authenticator.js';
import { CallGuard, guardHandlers } from '../security/call-guard.js';
import {
  handshakeTimeoutMs,
  securitySeedCheckMs,
  sessionsMax,
  sessionsPerConnectionMax,
} from '../security/constants.js';
import { SecuritySeeder } from '../security/seeder.js';
import { SessionRegistry } from '../security/sessions.js';
import { RecordTimeReader } from './record-time-reader.js';
import { insecurePeerCredentials, tlsPeerCredentials } from '../security/tls/peer-credentials.js';
import { TlsContexts } from '../security/tls/tls-contexts.js';
import { tlsFilesOf } from '../security/tls/tls-material.js';

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
  /**
   * Makes the broker's spans (tracing.*: `streambus server` passes NodeSDK's); without it nothing
   * is traced. In-process clusters may pass one provider per broker.
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * The TLS material (security.tls_enabled), when the caller shares it (`streambus server` serves
   * the admin port with it too) and closes it; without it the broker loads its own from the config.
   */
  readonly tls?: TlsContexts;
}

export class Broker {
  readonly nodeId: NodeId;
  // Read by the chaos harness and the cluster tests.
  readonly store: LevelRaftStore;
  readonly host: RaftHost;
  readonly controller: ControllerStateMachine;
  private readonly config: BrokerConfig;
  private readonly logger: Logger;
  private readonly metrics: BrokerMetrics | undefined;
  private readonly knobs: UnsafeTestingKnobs;
  // Collaborators.
  private readonly transport: PeerTransport;
  private readonly gateway: ControllerGateway;
  private readonly forwarder: Forwarder;
  private readonly lifecycle: ReplicaLifecycle<PartitionReplica>;
  private readonly scrubRepair: ScrubRepair;
  private readonly registration: ControllerRegistration;
  private readonly reporter: PartitionReporter;
  private readonly retention: RetentionEnforcer;
  private readonly health: BrokerHealth;
  private readonly maintenance: Maintenance;
  private readonly features: FeatureLevels;
  private readonly sampler: MetricsSampler;
  private readonly offsetsTopic: OffsetsTopicCreator;
  private readonly sessions: SessionRegistry;
  private readonly securitySeeder: SecuritySeeder;
  private readonly checkpointFollower: CheckpointFollower;
  /** The oldest unconsumed record ages of the groups coordinated here (only with metrics). */
  private readonly unconsumedAge: UnconsumedAge<GroupShardRecord> | undefined;
  /** The coordinators of the __consumer_offsets partitions this broker leads (tests read them). */
  readonly coordinators: GroupCoordinators<GroupShardRecord>;
  private readonly healthRegistry: HealthRegistry | undefined;
  private readonly server: grpc.Server;
  private listener: ClientListener | null = null;
  private readonly peerService: PeerServiceHandle;
  private readonly raftTracer: RaftTracer | undefined;
  /** The TLS material in use (TLS on), and whether this broker loaded it (and closes it). */
  private readonly tls: TlsContexts | undefined;
  private readonly ownsTls: boolean;
  // Start and stop.
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unregister: (() => void)[] = [];
  private boundPort = 0;
  private stopping = false;
  /** Why this broker stopped serving (its store failed), or null. */
  private fatalError: Error | null = null;

  private constructor(
    options: BrokerOptions,
    store: LevelRaftStore,
    markerLevel: number,
    tls: { readonly contexts: TlsContexts | undefined; readonly owned: boolean },
  ) {
    const config = options.config;
    this.tls = tls.contexts;
    this.ownsTls = tls.owned;
    const credentialsFor = tls.contexts === undefined ? insecurePeerCredentials : tlsPeerCredentials(tls.contexts);
    this.config = config;
    this.nodeId = config.server.brokerId;
    this.logger = options.logger;
    this.store = store;
    this.knobs = options.unsafeTestingKnobs ?? {};
    this.metrics = options.metrics;
    const peers = new Map<NodeId, string>();
    for (const peer of config.server.peers)
      if (peer.id !== this.nodeId) peers.set(peer.id, `${peer.host}:${peer.port}`);
    this.transport = new PeerTransport({
      nodeId: this.nodeId,
      peers,
      logger: componentLogger(this.logger, 'grpc'),
      credentialsFor,
    });
    const tracer = new BrokerTracer(options.tracerProvider, this.nodeId);
    const raftTracer = tracer.enabled ? new RaftTracer(tracer) : undefined;
    this.raftTracer = raftTracer;
    this.controller = new ControllerStateMachine();
    const stateMachine: StateMachine = {
      apply: (groupId: GroupId, entries: readonly Entry[]) => this.apply(groupId, entries),
      restore: (groupId: GroupId, snapshot: Snapshot) => this.restore(groupId, snapshot),
    };
    const wrapped = options.wrapStore === undefined ? store : options.wrapStore(store);
    const synced = this.knobs.skipSync === true ? neverSync(wrapped) : wrapped;
    const transport = options.wrapTransport === undefined ? this.transport : options.wrapTransport(this.transport);
    this.host = new RaftHost({
      nodeId: this.nodeId,
      store: raftTracer === undefined ? synced : raftTracer.wrapStore(synced),
      ...(options.timer === undefined ? {} : { timer: options.timer }),
      transport: raftTracer === undefined ? transport : raftTracer.wrapTransport(transport),
      stateMachine,
      tickMs: config.raft.tickMs,
      logger: raftLogger(componentLogger(this.logger, 'raft')),
      groupDefaults: {
        electionTicks: config.raft.electionTicks,
        heartbeatTicks: config.raft.heartbeatTicks,
        preVote: true,
        checkQuorum: true,
        appendBeforePersist: config.raft.appendBeforePersist,
      },
    });
    this.scrubRepair = new ScrubRepair({
      nodeId: this.nodeId,
      host: this.host,
      store,
      resetReplica: (groupId) => this.lifecycle.reset(groupId),
      logger: this.logger,
    });
    this.gateway = new ControllerGateway(this.nodeId, this.host, this.controller, this.transport);
    this.lifecycle = new ReplicaLifecycle({
      nodeId: this.nodeId,
      host: this.host,
      store,
      controllerState: () => this.controller.state,
      controllerCaughtUp: () => this.gateway.caughtUp(),
      createReplica: (groupId) =>
        new PartitionReplica({
          groupId,
          brokerId: this.nodeId,
          host: this.host,
          store,
          logger: componentLogger(this.logger, 'partition'),
          onCorrupt: (error) => this.scrubRepair.onCorrupt(error),
          unsafeTestingKnobs: this.knobs,
          ...(this.metrics === undefined
            ? {}
            : { observeCommitSeconds: (seconds: number) => this.metrics?.raftCommitLatencySeconds.observe(seconds) }),
          ...(raftTracer === undefined ? {} : { tracer: raftTracer }),
        }),
      isRepairing: (groupId) => this.scrubRepair.isRepairing(groupId),
      reconfigurer: new Reconfigurer(this.nodeId, this.host, componentLogger(this.logger, 'partition')),
      onDropped: (groupId) => this.reporter.forget(groupId),
      logger: this.logger,
    });
    this.retention = new RetentionEnforcer({
      host: this.host,
      store,
      replicas: this.lifecycle.replicas,
      ageMsMax: config.storage.retentionAgeMsMax,
      bytesMax: config.storage.retentionBytesMax,
      // Compacted: the coordinators cut their partitions below a checkpoint, never by age or size.
      exempt: (groupId) => this.controller.state.partition(groupId)?.topic === offsetsTopicName,
      logger: this.logger,
    });
    const controllerState = (): ControllerState => this.controller.state;
    // The same array while the names stay the same: the shards cache regex matches per array.
    let topicNames: readonly string[] = [];
    const topics: TopicView = {
      partitionCount: (topic) => controllerState().topic(topic)?.groupIds.length,
      topicNames: () => {
        const names = controllerState()
          .topics()
          .map((topic) => topic.name)
          .filter((name) => !isInternalTopic(name));
        if (names.length !== topicNames.length || names.some((name, index) => name !== topicNames[index]))
          topicNames = names;
        return topicNames;
      },
    };
    this.coordinators = new GroupCoordinators({
      nodeId: this.nodeId,
      host: {
        hasGroup: (groupId) => this.host.hasGroup(groupId),
        isLeader: (groupId) => this.host.hasGroup(groupId) && this.host.isLeader(groupId),
        term: (groupId) => this.host.status(groupId).hardState.term,
        lastIndex: (groupId) => this.host.status(groupId).lastIndex,
        leaderOf: (groupId) => (this.host.hasGroup(groupId) ? this.host.leaderOf(groupId) : 0),
      },
      offsetsPartitions: () => controllerState().topic(offsetsTopicName)?.groupIds ?? [],
      replica: (groupId) => this.lifecycle.replicas.get(groupId),
      kit: groupShardKit,
      config: {
        sessionTimeoutMs: config.groups.sessionTimeoutMs,
        heartbeatIntervalMs: config.groups.heartbeatIntervalMs,
        groupMembersMax: config.groups.groupMembersMax,
        offsetsRetentionMs: config.groups.offsetsRetentionMs,
        defaultAssignor: config.groups.defaultAssignor,
      },
      topics,
      cutBelow: (groupId, offset) => this.retention.cutBelow(groupId, offset),
      logger: componentLogger(this.logger, 'groups'),
    });
    this.checkpointFollower = new CheckpointFollower({
      offsetsPartitions: () => controllerState().topic(offsetsTopicName)?.groupIds ?? [],
      follows: (groupId) => this.host.hasGroup(groupId) && !this.host.isLeader(groupId),
      replica: (groupId) => this.lifecycle.replicas.get(groupId),
      readBatches: (groupId, fromOffset, bytesMax, indexMaxInclusive) =>
        store.readBatches(groupId, fromOffset, bytesMax, indexMaxInclusive),
      cutBelow: (groupId, offset) => this.retention.cutBelow(groupId, offset),
      logger: componentLogger(this.logger, 'groups'),
    });
    this.forwarder = new Forwarder(this.nodeId, peers, tracer, credentialsFor);
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
      replicas: this.lifecycle.replicas,
      registered: () => this.registration.registered,
      logger: this.logger,
    });
    this.server = new grpc.Server({
      // The protocol's message bound: a batch is at most recordBatchBytesMax, which fits it.
      'grpc.max_receive_message_length': messageBytesMax,
      'grpc.max_send_message_length': messageBytesMax,
    });
    const clientServiceDeps = {
      nodeId: this.nodeId,
      clusterId: config.server.clusterId,
      requestBytesMax: config.network.requestBytesMax,
      controller: this.gateway,
      partitions: this.lifecycle,
      forwarder: this.forwarder,
      fatal: () => this.fatalError,
      peerAlive: (id: NodeId) => id === this.nodeId || this.host.peerAlive(id),
    } satisfies ClientServiceDeps;
    const service = new ClientService(clientServiceDeps, componentLogger(this.logger, 'grpc'), this.metrics, tracer);
    this.offsetsTopic = new OffsetsTopicCreator({
      nodeId: this.nodeId,
      partitions: config.groups.offsetsTopicPartitions,
      replicationFactor: config.groups.offsetsTopicReplicationFactor,
      memberCount: this.memberIds().length,
      state: controllerState,
      controllerLeaderId: () => this.gateway.leaderId(),
      controllerCaughtUp: () => this.gateway.caughtUp(),
      propose: (command, deadlineMs) => this.gateway.propose(command, deadlineMs),
      logger: componentLogger(this.logger, 'groups'),
    });
    const groups = new GroupsService<GroupShardRecord>(
      {
        nodeId: this.nodeId,
        controllerState,
        partitionLeader: (groupId) => this.partitionLeader(groupId),
        coordinator: (partition) => this.coordinators.partition(partition),
        coordinators: () => this.coordinators.all(),
        fatal: () => this.fatalError,
      },
      componentLogger(this.logger, 'grpc'),
      this.metrics,
      tracer,
    );
    this.maintenance = new Maintenance({
      nodeId: this.nodeId,
      host: this.host,
      state: () => this.controller.state,
      controllerLeaderId: () => this.gateway.leaderId(),
      propose: (command, deadlineMs) => this.gateway.propose(command, deadlineMs),
      logger: this.logger,
    });
    this.features = new FeatureLevels({
      nodeId: this.nodeId,
      state: () => this.controller.state,
      propose: (command, deadlineMs) => this.gateway.propose(command, deadlineMs),
      ask: (brokerId, deadlineMs) => this.forwarder.describeFeatures(brokerId, deadlineMs),
      dataDir: config.server.dataDir,
      markerLevel,
      logger: this.logger,
    });
    const operations = new OperationsService(
      {
        nodeId: this.nodeId,
        maintenance: this.maintenance,
        features: this.features,
        finalizedLevel: () => this.controller.state.finalizedFeatureLevel,
        clusterId: config.server.clusterId,
        controllerSnapshot: () => this.controllerSnapshot(),
        fatal: () => this.fatalError,
      },
      componentLogger(this.logger, 'grpc'),
    );
    this.sessions = new SessionRegistry(
      { handshakeTimeoutMs, sessionsPerConnectionMax, sessionsMax },
      () => Date.now(),
      () => randomBytes(18).toString('base64url'),
    );
    const securityLogger = componentLogger(this.logger, 'grpc');
    const security = new SecurityService({
      authenticator: new Authenticator({
        sessions: this.sessions,
        credential: (name) => this.controller.state.securityRecords.user(name)?.credential,
        // Per process: an unknown user's fake salt stays the same while this broker runs.
        fakeCredentialSecret: randomBytes(32),
        logger: securityLogger,
      }),
      records: () => this.controller.state.securityRecords,
      propose: (command, deadlineMs) => this.gateway.propose(command, deadlineMs),
      logger: securityLogger,
    });
    const superUsers = new Set(config.security.superUsers);
    const guard = new CallGuard({
      tlsEnabled: config.security.tlsEnabled,
      authEnabled: config.security.authEnabled,
      tlsClientAuth: config.security.tlsClientAuth,
      sessions: this.sessions,
      aclContext: () => ({ acls: this.controller.state.securityRecords.aclValues(), superUsers }),
      userExists: (name) => this.controller.state.securityRecords.user(name) !== undefined,
    });
    // The one place every StreamBus handler is wrapped: identification, forwarded-call guard, ACLs.
    addStreamBusService(
      this.server,
      guardHandlers(guard, {
        ...service.handlers(),
        ...operations.handlers(),
        ...groups.handlers(),
        ...security.handlers(),
      }),
    );
    this.securitySeeder = new SecuritySeeder({
      nodeId: this.nodeId,
      users: config.security.seedUsers,
      acls: config.security.acls,
      authEnabled: config.security.authEnabled,
      state: controllerState,
      controllerLeaderId: () => this.gateway.leaderId(),
      controllerCaughtUp: () => this.gateway.caughtUp(),
      propose: (command, deadlineMs) => this.gateway.propose(command, deadlineMs),
      finalizeLevel: (level, deadlineMs) => this.features.finalize(level, false, deadlineMs),
      logger: securityLogger,
    });
    this.peerService = addPeerService(
      this.server,
      {
        onFrame:
          raftTracer === undefined
            ? (frame) => this.host.receive(frame)
            : (frame) => {
                raftTracer.onFrame(frame);
                this.host.receive(frame);
              },
        proposeControllerCommand: (command) => this.gateway.handleForwarded(command),
      },
      {
        nodeId: this.nodeId,
        logger: componentLogger(this.logger, 'grpc'),
        requireProvenBroker: tls.contexts !== undefined,
      },
    );
    this.host.onLeaderChange((groupId, leaderId, term, role) => this.onLeaderChange(groupId, leaderId, term, role));
    this.host.onFailure((error) => {
      this.fatalError = error;
      if (error instanceof ControllerCodecError && error.needsUpgrade)
        this.logger.fatal({ err: error.message }, 'this broker is too old for the cluster: it stops serving');
      else
        this.logger.fatal(
          { err: error.message },
          'storage failed: this broker stops serving (restart it once the disk is sound)',
        );
      // Its partitions are led elsewhere from now on: pending produce, fetch and group calls end.
      this.coordinators.stop();
      this.lifecycle.closeAll();
      options.onFatal?.(error);
    });
    this.controller.onEvent((event) => this.lifecycle.onControllerEvent(event));
    this.controller.onRestored((state) => this.lifecycle.onControllerRestored(state));
    this.controller.onEvent((event) => {
      if (event.type === 'featureLevelFinalized') this.features.noteApplied();
    });
    this.controller.onRestored(() => this.features.noteApplied());
    this.health = new BrokerHealth({
      nodeId: this.nodeId,
      host: this.host,
      controller: this.controller,
      controllerLeaderId: () => this.gateway.leaderId(),
      controllerCaughtUp: () => this.gateway.caughtUp(),
      store,
      walSync: config.storage.walSync,
      fatal: () => this.fatalError,
      stopping: () => this.stopping,
      registered: () => this.registration.registered,
      peerIds: config.server.peers.map((peer) => peer.id),
      dataDir: config.server.dataDir,
    });
    if (options.health !== undefined) this.unregister.push(...this.health.register(options.health));
    this.healthRegistry = options.health;
    this.sampler = new MetricsSampler({
      nodeId: this.nodeId,
      host: this.host,
      controller: this.controller,
      controllerLeaderId: () => this.gateway.leaderId(),
      store,
      dataDir: config.server.dataDir,
    });
    if (this.metrics !== undefined) {
      const metrics = this.metrics;
      this.unregister.push(...this.sampler.register(metrics));
      this.unregister.push(
        metrics.onScrape(() => sampleGroupGauges(metrics, this.coordinators.loadedShards(), this.lagView())),
      );
      const reader = new RecordTimeReader({
        nodeId: this.nodeId,
        controllerState,
        leaderReplica: (groupId) =>
          this.host.hasGroup(groupId) && this.host.isLeader(groupId) ? this.lifecycle.replicas.get(groupId) : undefined,
        partitionLeader: (groupId) => this.partitionLeader(groupId),
        fetchFrom: (leaderId, request, deadlineMs) => this.forwarder.fetch(leaderId, request, deadlineMs),
      });
      const unconsumedAge = new UnconsumedAge<GroupShardRecord>({
        shards: () => this.coordinators.loadedShards(),
        view: () => this.lagView(),
        read: (topic, partition, offset, deadlineMs) => reader.read(topic, partition, offset, deadlineMs),
        nowMs: () => Date.now(),
        logger: componentLogger(this.logger, 'groups'),
      });
      this.unconsumedAge = unconsumedAge;
      this.unregister.push(
        metrics.onScrape(() => unconsumedAge.sample(metrics.consumerGroupOldestUnconsumedAgeSeconds)),
      );
    } else this.unconsumedAge = undefined;
  }

  /** Opens the store, starts Raft and the gRPC server, and joins the cluster. */
  static async start(options: BrokerOptions): Promise<Broker> {
    const config = options.config;
    const storageLogger = componentLogger(options.logger, 'storage');
    // A data directory at a feature level this build does not read is refused before anything opens.
    const markerLevel = await checkFeatureMarker(config.server.dataDir);
    const started = Date.now();
    const store = await LevelRaftStore.open(join(config.server.dataDir, 'raft'), {
      walSync: config.storage.walSync,
      walSyncIntervalMs: config.storage.walSyncIntervalMs,
      writeBufferBytes: config.storage.memtableFlushThresholdBytes,
      tableFileBytesMax: config.storage.sstableBytesMax,
      ...(options.metrics === undefined ? {} : { onSyncMs: syncObserver(options.metrics) }),
      logger: raftLogger(storageLogger),
      onOpenProgress: (progress) =>
        storageLogger.info(
          { groups_loaded: progress.groupsLoaded, groups_total: progress.groupsTotal },
          'recovering store',
        ),
      // A partition snapshot (retention) knows where its records end: a follower that installs one
      // starts its log there.
      snapshotNextOffset: (groupId, data) =>
        groupId === controllerGroupId || data.byteLength === 0 ? null : PartitionState.decode(data).nextOffset,
    });
    storageLogger.info({ groups: store.groupIds().length, ms: Date.now() - started }, 'store open');
    let tls: { readonly contexts: TlsContexts | undefined; readonly owned: boolean };
    try {
      tls = await brokerTls(options);
    } catch (error) {
      await store.close();
      throw error;
    }
    const broker = new Broker(options, store, markerLevel, tls);
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

  /** The receiving side's counters of the Peer service (tests read the refused calls and frames). */
  get peerServiceStats(): PeerServiceStats {
    return this.peerService.stats;
  }

  /** The static cluster's member ids (this broker included). */
  private memberIds(): NodeId[] {
    const ids = new Set<NodeId>([this.nodeId, ...this.config.server.peers.map((peer) => peer.id)]);
    return [...ids].sort((a, b) => a - b);
  }

  private async startServing(): Promise<void> {
    const recovered = this.host.openExisting();
    this.logger.info({ groups: recovered.length }, 'raft groups reopened');
    if (!this.host.hasGroup(controllerGroupId)) this.host.createGroup(controllerGroupId, confState(this.memberIds()));
    const listen = this.config.server.listen;
    const health = this.healthRegistry;
    this.listener = await ClientListener.start({
      listen,
      grpc: this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
      http: createAdminHttpServer({
        health: health ?? new HealthRegistry({ brokerId: this.nodeId, version: 'unknown' }),
        endpoints: probeEndpoints,
        elsewhereHint: 'served on the admin address (server.admin_listen), not the client port',
        logger: componentLogger(this.logger, 'admin'),
      }),
      connectionsMax: this.config.network.connectionsMax,
      firstBytesTimeoutMs: this.config.network.connectionTimeoutMs,
      ...(this.tls === undefined ? {} : { tls: this.tls }),
      ...(this.metrics === undefined ? {} : { observer: connectionObserver(this.metrics) }),
      logger: componentLogger(this.logger, 'grpc'),
      onConnectionClosed: (remote) => this.sessions.connectionClosed(remote),
    });
    this.boundPort = this.listener.port;
    this.host.start();
    if (this.memberIds().length === 1) this.host.campaign(controllerGroupId);
    this.logger.info({ listen: `${listen.host}:${this.boundPort}`, members: this.memberIds() }, 'broker serving');
    this.every(partitionReportIntervalMs, () => this.reporter.report());
    this.every(preferredLeaderCheckMs, () => this.reporter.restorePreferredLeaders());
    this.every(drainHandOffPollMs, () => this.maintenance.handOff());
    this.every(reconcileIntervalMs, () => this.lifecycle.reconcile());
    this.every(retentionCheckMs, () => this.retention.run());
    if (this.metrics !== undefined) this.every(replicationLagSampleMs, () => this.sampler.sampleCatchUp());
    this.every(reconfigureIntervalMs, () => this.lifecycle.reconfigure());
    this.every(scrubIntervalMs, () => this.scrubRepair.scrub());
    this.every(offsetsTopicCheckMs, () => this.offsetsTopic.check());
    this.every(securitySeedCheckMs, () => this.securitySeeder.check());
    this.every(coordinatorTickMs, () => this.coordinators.tick());
    this.every(checkpointFollowMs, () => this.checkpointFollower.run());
    const unconsumedAge = this.unconsumedAge;
    if (unconsumedAge !== undefined) this.every(unconsumedAgeSampleMs, () => unconsumedAge.run());
    void this.registration.run();
  }

  // ---- the state machine of every group ---------------------------------------------------

  private apply(groupId: GroupId, entries: readonly Entry[]): void {
    if (groupId === controllerGroupId) {
      this.controller.apply(groupId, entries);
      return;
    }
    this.lifecycle.replica(groupId).apply(entries);
  }

  private restore(groupId: GroupId, snapshot: Snapshot): void {
    if (groupId === controllerGroupId) {
      this.controller.restore(groupId, snapshot);
      this.reporter.onControllerSnapshot(snapshot.metadata.index);
      return;
    }
    this.lifecycle.replica(groupId).restore(snapshot);
  }

  /**
   * The controller state as of the leader's commit (a ReadIndex round), as snapshot bytes, for a
   * backup. Throws ControllerUnavailableError when this broker could not catch up in time.
   */
  private async controllerSnapshot(): Promise<{ bytes: Uint8Array; appliedIndex: number }> {
    await this.gateway.catchUp(controllerCatchUpMsMax);
    if (!this.gateway.caughtUp())
      throw new ControllerUnavailableError('this broker could not catch up with the controller leader');
    return { bytes: this.controller.snapshot(), appliedIndex: this.controller.appliedIndex };
  }

  /** The replica objects of this broker's partitions, by group. */
  get replicas(): ReadonlyMap<GroupId, PartitionReplica> {
    return this.lifecycle.replicas;
  }

  /** The replica object of a hosted group, created on first use. */
  replica(groupId: GroupId): PartitionReplica {
    return this.lifecycle.replica(groupId);
  }

  private onLeaderChange(groupId: GroupId, leaderId: NodeId, term: number, role: Role): void {
    this.metrics?.raftLeaderChangesTotal.inc();
    if (groupId === controllerGroupId) {
      this.logger.info({ leader: leaderId, term, role }, 'controller leader changed');
      return;
    }
    this.lifecycle.replicas.get(groupId)?.onLeaderChange(role, term);
    this.coordinators.onLeaderChange(groupId, role);
    this.reporter.onLeaderChange(groupId, role);
    this.scrubRepair.onLeaderChange(groupId, role);
  }

  /** A partition's leader as this broker sees it: its own Raft view, else the leader's last report; 0 when unknown. */
  private partitionLeader(groupId: GroupId): NodeId {
    const seen = this.host.hasGroup(groupId) ? this.host.leaderOf(groupId) : 0;
    if (seen !== 0) return seen;
    return this.controller.state.partition(groupId)?.leader?.leaderId ?? 0;
  }

  /** High watermarks and log starts as this broker knows them, for the group lag gauges. */
  private lagView(): LagView {
    const state = this.controller.state;
    return {
      partitionCount: (topic) => state.topic(topic)?.groupIds.length,
      offsets: (topic, partition) => {
        const info = state.partitionOf(topic, partition);
        if (info === undefined) return null;
        const replica = this.lifecycle.replicas.get(info.groupId);
        if (replica !== undefined && this.host.hasGroup(info.groupId) && this.host.isLeader(info.groupId))
          return { highWatermark: replica.highWatermark, logStartOffset: replica.logStartOffset() };
        if (info.leader === null) return null;
        const hosted = replica !== undefined && this.host.hasGroup(info.groupId);
        return { highWatermark: info.leader.highWatermark, logStartOffset: hosted ? replica.logStartOffset() : 0 };
      },
    };
  }

  /** In-sync replicas of a group this broker leads: itself and followers close to its last index. */
  isr(groupId: GroupId, status: HostGroupStatus = this.host.status(groupId)): NodeId[] {
    return inSyncReplicas(this.nodeId, status);
  }

  /** Why this broker stopped serving (its store failed), or null. */
  get fatal(): Error | null {
    return this.fatalError;
  }

  /** Why this broker is not ready, or null when it is. */
  notReadyReason(): string | null {
    return this.health.notReadyReason();
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
    this.coordinators.stop();
    this.lifecycle.stop();
    this.scrubRepair.stop();
    this.registration.stop();
    this.reporter.stop();
    for (const timer of this.timers) clearInterval(timer);
    for (const unregister of this.unregister) unregister();
    if (graceful && this.host.isRunning() && this.memberIds().length > 1)
      await handOffLeadership(this.host, this.nodeId, this.logger);
    this.lifecycle.closeAll();
    this.peerService.closeStreams();
    const listener = this.listener;
    const stoppedAccepting = listener?.stopAccepting();
    // In-flight calls (long polls) get a moment to finish on a graceful stop; then the server closes regardless.
    if (graceful)
      await Promise.race([
        new Promise<void>((resolve) => this.server.tryShutdown(() => resolve())),
        sleep(shutdownCallsGraceMs),
      ]);
    this.server.forceShutdown();
    listener?.destroyAll();
    await stoppedAccepting;
    if (this.host.isRunning()) await this.host.stop();
    this.transport.close();
    this.forwarder.close();
    if (this.ownsTls) this.tls?.close();
    this.raftTracer?.close();
    await this.features.flushMarker();
    await this.store.close();
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

/** The TLS material the broker uses: the caller's, its own loaded now, or none (TLS off). */
async function brokerTls(
  options: BrokerOptions,
): Promise<{ readonly contexts: TlsContexts | undefined; readonly owned: boolean }> {
  if (!options.config.security.tlsEnabled) return { contexts: undefined, owned: false };
  if (options.tls !== undefined) return { contexts: options.tls, owned: false };
  const contexts = await TlsContexts.load({
    files: tlsFilesOf(options.config.security),
    logger: componentLogger(options.logger, 'grpc'),
  });
  return { contexts, owned: true };
}

/** Feeds the connection metrics from the client listener. */
function connectionObserver(metrics: BrokerMetrics): ConnectionObserver {
  return {
    opened: () => metrics.connectionsActive.inc(),
    closed: () => metrics.connectionsActive.dec(),
    failed: (reason) => metrics.connectionErrorsTotal.inc({ reason }),
  };
}

/** Feeds the wal sync metrics from the store's sync timings. */
function syncObserver(metrics: BrokerMetrics): (durationMs: number) => void {
  return (durationMs) => {
    metrics.walSyncsTotal.inc();
    metrics.walSyncLatencySeconds.observe(durationMs / 1000);
  };
}

/** The skipSync planted fault: every host write goes to the store without asking for a sync. */
function neverSync(store: RaftStore): RaftStore {
  return {
    groupIds: () => store.groupIds(),
    openGroup: (groupId, bootstrap, options) => store.openGroup(groupId, bootstrap, options),
    persist: (writes: readonly GroupWrite[]) => store.persist(writes, false),
    compact: (groupId, snapshot) => store.compact(groupId, snapshot),
    ...(store.discardFrom === undefined
      ? {}
      : {
          discardFrom: (groupId: GroupId, fromIndex: number) =>
            store.discardFrom?.(groupId, fromIndex) ?? Promise.resolve(),
        }),
    deleteGroup: (groupId) => store.deleteGroup(groupId),
    onEntriesLoaded: (listener) => store.onEntriesLoaded(listener),
  };
}
