/**
 * An in-memory StreamBus cluster for client tests: real grpc-js servers on 127.0.0.1 (port 0),
 * one per fake broker, all sharing one set of in-memory partition logs (as if replication were
 * instant). It verifies every record batch (CRC), assigns offsets, deduplicates idempotent
 * producers by (producer id, epoch, sequence) over a 5-batch window, long-polls fetches, and can
 * be told to move leaders, answer NOT_LEADER, fail calls or partitions N times, or apply a
 * Produce and then drop its response. With `faultFronts`, each broker sits behind a TCP front
 * that can make it dead, paused or unreachable (`setBrokerFault`). Consumer groups are served by a
 * fake in-memory coordinator (fake-group-coordinator.ts) on one broker (`groupCoordinatorId`,
 * moved with `moveGroupCoordinator`); the others answer NOT_COORDINATOR. Not for production.
 */
import * as grpc from '@grpc/grpc-js';
import {
  ErrorCode,
  addStreamBusService,
  decodeRecordBatch,
  makeCallError,
  partitionsPerRequestMax,
  partitionsPerTopicMax,
  producerDedupeWindowBatches,
  recordBatchBytesMax,
  stampBaseOffset,
  topicNameLengthMax,
  topicNamePattern,
  verifyBatch,
  type FetchPartitionResult,
  type PartitionMetadata,
  type PartitionProduceResult,
  type ProduceRequest,
  type RecordBatchHeader,
  type StreamBusHandlers,
  type TopicMetadata,
  type TopicResult,
} from '@streambus/proto';
import { FaultFront, type BrokerFault } from './fault-front.js';
import { FakeGroupCoordinator } from './fake-group-coordinator.js';
import { FakeSecurity, type FakeSecurityOptions } from './fake-security.js';

/** A whole-call fault for the next matching RPC. */
export type CallFault =
  /** Fail the call with this error code (as a gRPC status plus metadata); nothing is applied. */
  | { kind: 'error'; code: ErrorCode; leaderId?: number }
  /** Apply the request, then fail the call with UNAVAILABLE: the client cannot know it worked. */
  | { kind: 'drop' };

/** One batch the fake received in a Produce, for assertions. */
export interface ReceivedBatch {
  brokerId: number;
  topic: string;
  partition: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  /** What the fake answered for it. */
  result: ErrorCode;
}

/** A record as stored by the fake. */
export interface StoredRecord {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: { key: string; value: Buffer | null }[];
}

interface StoredBatch {
  readonly bytes: Buffer;
  readonly header: RecordBatchHeader;
  readonly baseOffset: number;
}

interface ProducerWindow {
  epoch: number;
  nextSequence: number;
  recent: { baseSequence: number; recordCount: number; baseOffset: number }[];
}

interface FakePartition {
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  batches: StoredBatch[];
  highWatermark: number;
  producers: Map<number, ProducerWindow>;
  /** Error codes the next Produce results for this partition carry. */
  faults: ErrorCode[];
}

interface FakeTopic {
  name: string;
  partitions: FakePartition[];
  configs: Record<string, string>;
}

/** Options of the fake cluster. */
export interface FakeClusterOptions {
  /** Number of brokers (ids 1..n), default 1. */
  brokers?: number;
  /** When false, NOT_LEADER answers carry no leader hint (leader id 0). Default true. */
  leaderHints?: boolean;
  /** Put every broker behind a FaultFront, so that `setBrokerFault` works. Default false. */
  faultFronts?: boolean;
  /** Heartbeat interval the fake group coordinator asks for (default 50 ms). */
  groupHeartbeatIntervalMs?: number;
  /** Session timeout of the fake group coordinator (default 45000 ms). */
  groupSessionTimeoutMs?: number;
  /** Serve TLS with this certificate and key (PEM) instead of plaintext. */
  tls?: { cert: Buffer; key: Buffer };
  /**
   * Users (SCRAM-SHA-256) and super users: every call but Authenticate then needs a session of
   * the caller's connection, Produce needs write and Fetch read on the topic (fake-security.ts).
   */
  security?: FakeSecurityOptions;
}

/** Methods whose calls can be counted and failed (`callsOf`, `failCalls`). */
export type FakeMethod =
  | 'Produce'
  | 'Fetch'
  | 'Metadata'
  | 'InitProducerId'
  | 'ListOffsets'
  | 'CreateTopics'
  | 'FindCoordinator'
  | 'ConsumerGroupHeartbeat'
  | 'OffsetCommit'
  | 'OffsetFetch'
  | 'ListGroups'
  | 'DescribeGroups'
  | 'DeleteGroups';

/** Counters of what the fake served. */
export interface FakeClusterStats {
  produceRequests: number;
  /** Most Produce requests one broker had open at once (see `setProduceDelay`). */
  produceConcurrentPerBrokerMax: number;
  /** Most batches of one partition inside open Produce requests at once. */
  batchesInFlightPerPartitionMax: number;
  fetchRequests: number;
  metadataRequests: number;
  initProducerIdRequests: number;
}

/** A fake StreamBus cluster. `start()` it, use `bootstrapServers`, `stop()` it. */
export class FakeStreamBusCluster {
  /** `host:port` of every broker. */
  readonly bootstrapServers: string[] = [];
  /** Every batch received by Produce, in arrival order. */
  readonly received: ReceivedBatch[] = [];
  readonly stats: FakeClusterStats = {
    produceRequests: 0,
    produceConcurrentPerBrokerMax: 0,
    batchesInFlightPerPartitionMax: 0,
    fetchRequests: 0,
    metadataRequests: 0,
    initProducerIdRequests: 0,
  };
  /** Request metadata (gRPC headers) of the last call of each method, for assertions. */
  readonly lastCallMetadata = new Map<string, Record<string, string>>();
  private produceDelayMs = 0;
  private readonly openProducesPerBroker = new Map<number, number>();
  private readonly openBatchesPerPartition = new Map<string, number>();
  private readonly servers: grpc.Server[] = [];
  private readonly ports = new Map<number, number>();
  private readonly topics = new Map<string, FakeTopic>();
  private readonly callFaults = new Map<string, CallFault[]>();
  private readonly calls = new Map<string, number>();
  private readonly dataWaiters = new Set<() => void>();
  private readonly leaderHints: boolean;
  private nextProducerId = 1000;
  private stopped = false;
  private readonly stoppedBrokers = new Set<number>();
  private readonly fronts = new Map<number, FaultFront>();
  private nextLeader = 0;
  /** The finalized feature level (FinalizeFeatureLevel); fake brokers read levels 1..2. */
  private featureLevel = 1;
  /** Brokers in maintenance mode (SetBrokerDrained). */
  private readonly drainedBrokers = new Set<number>();
  /** The broker that coordinates every group. */
  private groupCoordinatorId = 1;
  /** The fake group coordinator (one for all groups). */
  readonly groups: FakeGroupCoordinator;
  /** Users, ACLs and sessions when started with `security`. */
  readonly security: FakeSecurity | undefined;

  private constructor(
    readonly brokerCount: number,
    options: FakeClusterOptions,
  ) {
    this.leaderHints = options.leaderHints ?? true;
    this.security = options.security === undefined ? undefined : new FakeSecurity(options.security);
    this.groups = new FakeGroupCoordinator({
      partitionsOf: (topic) => this.topics.get(topic)?.partitions.length,
      topicNames: () => [...this.topics.keys()],
      coordinatorId: () => this.groupCoordinatorId,
      ...(options.groupHeartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: options.groupHeartbeatIntervalMs }),
      ...(options.groupSessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.groupSessionTimeoutMs }),
    });
  }

  /** Moves the group coordinator to `brokerId`: the old one answers NOT_COORDINATOR (with a hint unless `leaderHints` is false). */
  moveGroupCoordinator(brokerId: number): void {
    if (!this.ports.has(brokerId)) throw new Error(`no broker ${brokerId}`);
    this.groupCoordinatorId = brokerId;
  }

  /** Starts the brokers on ephemeral loopback ports. */
  static async start(options: FakeClusterOptions = {}): Promise<FakeStreamBusCluster> {
    const cluster = new FakeStreamBusCluster(options.brokers ?? 1, options);
    for (let id = 1; id <= cluster.brokerCount; id++) {
      const server = new grpc.Server();
      addStreamBusService(server, cluster.secured(cluster.handlers(id)));
      const credentials =
        options.tls === undefined
          ? grpc.ServerCredentials.createInsecure()
          : grpc.ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }]);
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
      );
      cluster.servers.push(server);
      let advertised = port;
      if (options.faultFronts === true) {
        const front = await FaultFront.start(port);
        cluster.fronts.set(id, front);
        advertised = front.port;
      }
      cluster.ports.set(id, advertised);
      cluster.bootstrapServers.push(`127.0.0.1:${advertised}`);
    }
    return cluster;
  }

  /** Stops every broker at once (in-flight calls fail). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.dataWaiters]) wake();
    for (const server of this.servers) server.forceShutdown();
    await Promise.all([...this.fronts.values()].map((front) => front.close()));
  }

  /**
   * Makes broker `brokerId` dead, paused or unreachable (needs `faultFronts`), or heals it with
   * `none`. A fault also moves its partitions' leadership to the next healthy broker, as the
   * controller would once the broker's session expired; healing moves nothing back.
   */
  async setBrokerFault(brokerId: number, fault: BrokerFault): Promise<void> {
    const front = this.fronts.get(brokerId);
    if (front === undefined)
      throw new Error(`broker ${brokerId} has no fault front; start the fake with faultFronts: true`);
    await front.set(fault);
    if (fault === 'none') return;
    const healthy = [...this.ports.keys()].filter(
      (id) => !this.stoppedBrokers.has(id) && this.fronts.get(id)?.current === 'none',
    );
    for (const topic of this.topics.values()) {
      topic.partitions.forEach((p, index) => {
        if (p.leaderId === brokerId && healthy.length > 0)
          this.setLeader(topic.name, index, healthy[index % healthy.length] as number);
      });
    }
  }

  /**
   * Stops one broker (its port refuses connections) and moves the leadership of its partitions
   * to the next live broker, as a controller would after a broker failure.
   */
  stopBroker(brokerId: number): void {
    const server = this.servers[brokerId - 1];
    if (server === undefined) throw new Error(`no broker ${brokerId}`);
    server.forceShutdown();
    this.stoppedBrokers.add(brokerId);
    const live = [...this.ports.keys()].filter((id) => !this.stoppedBrokers.has(id));
    for (const topic of this.topics.values()) {
      topic.partitions.forEach((p, index) => {
        if (p.leaderId === brokerId && live.length > 0)
          this.setLeader(topic.name, index, live[index % live.length] as number);
      });
    }
  }

  /** Creates a topic directly (no RPC); leaders are spread round-robin unless given. */
  createTopic(name: string, partitions: number, leaderId?: number): void {
    if (this.topics.has(name)) throw new Error(`topic ${name} exists`);
    const brokerIds = [...this.ports.keys()];
    this.topics.set(name, {
      name,
      configs: {},
      partitions: Array.from({ length: partitions }, () => ({
        leaderId: leaderId ?? (brokerIds[this.nextLeader++ % brokerIds.length] as number),
        leaderEpoch: 1,
        replicas: brokerIds,
        batches: [],
        highWatermark: 0,
        producers: new Map(),
        faults: [],
      })),
    });
  }

  /** Moves a partition's leadership (bumping its epoch); the old leader answers NOT_LEADER. */
  setLeader(topic: string, partition: number, leaderId: number): void {
    const p = this.partition(topic, partition);
    if (p === undefined) throw new Error(`no partition ${topic}/${partition}`);
    p.leaderId = leaderId;
    p.leaderEpoch++;
  }

  /** The leader of a partition. */
  leaderOf(topic: string, partition: number): number {
    return this.partition(topic, partition)?.leaderId ?? 0;
  }

  /** Calls of `method` received so far, on every broker (faulted ones included). */
  callsOf(method: FakeMethod): number {
    return this.calls.get(method) ?? 0;
  }

  /** Queues faults for the next calls of `method` (on any broker), in order. */
  failCalls(method: FakeMethod, ...faults: CallFault[]): void {
    const list = this.callFaults.get(method) ?? [];
    list.push(...faults);
    this.callFaults.set(method, list);
  }

  /** Holds every Produce this long before applying and answering it (0: answer at once). */
  setProduceDelay(ms: number): void {
    this.produceDelayMs = ms;
  }

  /** The next `count` Produce results for the partition carry `code` (nothing is appended). */
  failPartition(topic: string, partition: number, code: ErrorCode, count = 1): void {
    const p = this.partition(topic, partition);
    if (p === undefined) throw new Error(`no partition ${topic}/${partition}`);
    for (let i = 0; i < count; i++) p.faults.push(code);
  }

  /** Every record stored in a partition, in offset order. */
  records(topic: string, partition: number): StoredRecord[] {
    const p = this.partition(topic, partition);
    if (p === undefined) return [];
    const out: StoredRecord[] = [];
    for (const batch of p.batches) {
      for (const r of decodeRecordBatch(batch.bytes).records) {
        out.push({
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
          headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value) })),
        });
      }
    }
    return out;
  }

  /** Stored batch headers of a partition (compression, producer fields, counts). */
  batchHeaders(topic: string, partition: number): RecordBatchHeader[] {
    return this.partition(topic, partition)?.batches.map((b) => b.header) ?? [];
  }

  private partition(topic: string, partition: number): FakePartition | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  private takeFault(method: string): CallFault | undefined {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    return this.callFaults.get(method)?.shift();
  }

  private brokerInfo(id: number): { id: number; host: string; port: number; rack: string } {
    return { id, host: '127.0.0.1', port: this.ports.get(id) ?? 0, rack: '' };
  }

  private notLeader(p: FakePartition): { errorCode: ErrorCode; leaderId: number; leaderEpoch: number } {
    return {
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: this.leaderHints ? p.leaderId : 0,
      leaderEpoch: this.leaderHints ? p.leaderEpoch : 0,
    };
  }

  /**
   * With `security`: every call but Authenticate needs its connection's session; Produce and
   * Fetch are refused (AUTHORIZATION_FAILED) unless the user may write / read every topic named.
   */
  private secured(handlers: StreamBusHandlers): StreamBusHandlers {
    const security = this.security;
    if (security === undefined) return handlers;
    type AnyHandler = (
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: (error: Partial<grpc.StatusObject> | null, response?: unknown) => void,
    ) => void;
    const wrapped: Record<string, AnyHandler> = {};
    for (const [name, handler] of Object.entries(handlers) as [string, AnyHandler][]) {
      if (
        name === 'Authenticate' ||
        name === 'UpsertUser' ||
        name === 'DeleteUser' ||
        name.endsWith('Acls') ||
        name === 'ListUsers'
      ) {
        wrapped[name] = handler;
        continue;
      }
      wrapped[name] = (call, callback) => {
        const user = security.userOf(call);
        if (typeof user !== 'string') return callback(user);
        if (name === 'Produce') {
          // Like the broker: the refused topics' partitions carry AUTHORIZATION_FAILED; nothing is appended.
          const partitions = (call.request as ProduceRequest).partitions;
          const denied = partitions.filter((p) => !security.allows(user, 'write', `topic:${p.topic}`));
          if (denied.length > 0)
            return callback(null, {
              partitions: partitions.map((p) => ({
                topic: p.topic,
                partition: p.partition,
                errorCode: denied.includes(p) ? ErrorCode.AUTHORIZATION_FAILED : ErrorCode.NOT_ENOUGH_REPLICAS,
                errorMessage: denied.includes(p)
                  ? `user ${user} may not write topic ${p.topic}`
                  : 'not appended: the request names a topic this user may not write',
                baseOffset: -1,
                logAppendTimeMs: -1,
                leaderId: 0,
                leaderEpoch: 0,
                logStartOffset: -1,
              })),
              throttleTimeMs: 0,
            });
        }
        if (name === 'InitProducerId' && !security.allowsAnyTopic(user, 'write'))
          return callback(makeCallError(ErrorCode.AUTHORIZATION_FAILED, `user ${user} may not write the cluster`));
        const operation = name === 'Fetch' ? 'read' : undefined;
        if (operation !== undefined) {
          const topics = (call.request as { partitions: { topic: string }[] }).partitions.map((p) => p.topic);
          const denied = topics.find((topic) => !security.allows(user, operation, `topic:${topic}`));
          if (denied !== undefined)
            return callback(
              makeCallError(ErrorCode.AUTHORIZATION_FAILED, `user ${user} may not ${operation} topic ${denied}`),
            );
        }
        handler(call, callback);
      };
    }
    return wrapped as unknown as StreamBusHandlers;
  }

  private handlers(brokerId: number): StreamBusHandlers {
    const unimplemented = (_call: unknown, callback: (error: Partial<grpc.StatusObject>) => void): void =>
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'the fake cluster has no security' });
    return {
      Authenticate: unimplemented,
      UpsertUser: unimplemented,
      DeleteUser: unimplemented,
      ListUsers: unimplemented,
      CreateAcls: unimplemented,
      DeleteAcls: unimplemented,
      ListAcls: unimplemented,
      ...this.security?.handlers(),
      Metadata: (call, callback) => {
        this.stats.metadataRequests++;
        this.noteMetadata('Metadata', call.metadata);
        const fault = this.takeFault('Metadata');
        if (fault !== undefined)
          return callback(
            makeCallError(fault.kind === 'error' ? fault.code : ErrorCode.BROKER_NOT_AVAILABLE, 'injected fault'),
          );
        const names =
          call.request.topics.length > 0
            ? call.request.topics
            : call.request.brokersOnly
              ? []
              : [...this.topics.keys()];
        callback(null, {
          apiVersion: 1,
          clusterId: 'fake-cluster',
          controllerId: 1,
          brokerId,
          brokers: [...this.ports.keys()].map((id) => this.brokerInfo(id)),
          topics: names.map((name) => this.topicMetadata(name)),
        });
      },
      CreateTopics: (call, callback) => {
        const fault = this.takeFault('CreateTopics');
        if (fault !== undefined)
          return callback(
            makeCallError(fault.kind === 'error' ? fault.code : ErrorCode.BROKER_NOT_AVAILABLE, 'injected fault'),
          );
        const results: TopicResult[] = call.request.topics.map((t) => {
          const fail = (code: ErrorCode, message: string): TopicResult => ({
            name: t.name,
            errorCode: code,
            errorMessage: message,
          });
          if (t.name.length === 0 || t.name.length > topicNameLengthMax || !topicNamePattern.test(t.name))
            return fail(ErrorCode.INVALID_REQUEST, 'bad topic name');
          if (this.topics.has(t.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, 'topic exists');
          const partitions = t.partitions === 0 ? 1 : t.partitions;
          if (partitions < 1 || partitions > partitionsPerTopicMax)
            return fail(ErrorCode.INVALID_PARTITIONS, `partitions must be in [1, ${partitionsPerTopicMax}]`);
          if (t.replicationFactor < 0 || t.replicationFactor > this.brokerCount)
            return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `only ${this.brokerCount} brokers`);
          if (!call.request.validateOnly) {
            this.createTopic(t.name, partitions);
            (this.topics.get(t.name) as FakeTopic).configs = { ...t.configs };
          }
          return fail(ErrorCode.NONE, '');
        });
        callback(null, { topics: results });
      },
      DeleteTopics: (call, callback) => {
        callback(null, {
          topics: call.request.topics.map((name) => {
            const existed = this.topics.delete(name);
            return {
              name,
              errorCode: existed ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: existed ? '' : 'no such topic',
            };
          }),
        });
      },
      ReassignPartitions: (call, callback) => {
        // Replication is instant here: the new replica list takes effect at once (the leader stays
        // where it is when kept, else moves to the first new replica). All or nothing.
        const topic = this.topics.get(call.request.topic);
        const results = call.request.partitions.map(({ partition, replicas }) => {
          const fail = (errorCode: ErrorCode, errorMessage: string) => ({ partition, errorCode, errorMessage });
          if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no such topic');
          if (topic.partitions[partition] === undefined) return fail(ErrorCode.INVALID_PARTITIONS, 'no such partition');
          if (
            replicas.length === 0 ||
            new Set(replicas).size !== replicas.length ||
            replicas.some((id) => !this.ports.has(id))
          ) {
            return fail(ErrorCode.INVALID_REQUEST, 'bad replica list');
          }
          return fail(ErrorCode.NONE, '');
        });
        if (topic !== undefined && results.every((r) => r.errorCode === ErrorCode.NONE)) {
          for (const { partition, replicas } of call.request.partitions) {
            const p = topic.partitions[partition] as FakePartition;
            p.replicas = [...replicas];
            if (!replicas.includes(p.leaderId)) {
              p.leaderId = replicas[0] as number;
              p.leaderEpoch += 1;
            }
          }
        }
        callback(null, { partitions: results });
      },
      ClusterStatus: (_call, callback) => {
        const leaderCounts = new Map<number, number>();
        let partitionCount = 0;
        for (const topic of this.topics.values()) {
          for (const p of topic.partitions) {
            partitionCount++;
            leaderCounts.set(p.leaderId, (leaderCounts.get(p.leaderId) ?? 0) + 1);
          }
        }
        callback(null, {
          clusterId: 'fake-cluster',
          controllerId: 1,
          brokers: [...this.ports.keys()].map((id) => ({
            broker: this.brokerInfo(id),
            alive: true,
            leaderCount: leaderCounts.get(id) ?? 0,
            replicaCount: partitionCount,
            drained: this.drainedBrokers.has(id),
          })),
          underReplicatedPartitions: [],
          offlinePartitions: [],
          topicCount: this.topics.size,
          partitionCount,
        });
      },
      InitProducerId: (call, callback) => {
        this.stats.initProducerIdRequests++;
        const fault = this.takeFault('InitProducerId');
        if (fault !== undefined)
          return callback(
            makeCallError(fault.kind === 'error' ? fault.code : ErrorCode.BROKER_NOT_AVAILABLE, 'injected fault'),
          );
        if (call.request.producerId >= 0) {
          callback(null, {
            errorCode: ErrorCode.NONE,
            producerId: call.request.producerId,
            producerEpoch: call.request.producerEpoch + 1,
          });
          return;
        }
        callback(null, { errorCode: ErrorCode.NONE, producerId: this.nextProducerId++, producerEpoch: 0 });
      },
      Produce: (call, callback) => {
        this.stats.produceRequests++;
        this.noteMetadata('Produce', call.metadata);
        if (call.request.partitions.length > partitionsPerRequestMax) {
          return callback(
            makeCallError(ErrorCode.REQUEST_TOO_LARGE, `more than ${partitionsPerRequestMax} partitions`),
          );
        }
        const fault = this.takeFault('Produce');
        if (fault?.kind === 'error') return callback(makeCallError(fault.code, 'injected fault', fault.leaderId ?? 0));
        const keys = call.request.partitions.map((data) => `${data.topic}/${data.partition}`);
        this.trackOpen(brokerId, keys, +1);
        const apply = (): void => {
          this.trackOpen(brokerId, keys, -1);
          const results = call.request.partitions.map((data) =>
            this.produceOne(brokerId, data.topic, data.partition, Buffer.from(data.records)),
          );
          if (fault?.kind === 'drop')
            return callback(
              makeCallError(ErrorCode.BROKER_NOT_AVAILABLE, 'injected fault: response dropped after the append'),
            );
          callback(null, { partitions: call.request.acks === 2 ? [] : results, throttleTimeMs: 0 });
        };
        if (this.produceDelayMs > 0) setTimeout(apply, this.produceDelayMs);
        else apply();
      },
      Fetch: (call, callback) => {
        this.stats.fetchRequests++;
        const fault = this.takeFault('Fetch');
        if (fault !== undefined)
          return callback(
            makeCallError(fault.kind === 'error' ? fault.code : ErrorCode.BROKER_NOT_AVAILABLE, 'injected fault'),
          );
        const answer = (): { results: FetchPartitionResult[]; bytes: number } => {
          const results = call.request.partitions.map((req) =>
            this.fetchOne(brokerId, req.topic, req.partition, req.fetchOffset, req.partitionMaxBytes),
          );
          return { results, bytes: results.reduce((sum, r) => sum + r.records.byteLength, 0) };
        };
        const first = answer();
        const minBytes = Math.max(1, call.request.minBytes);
        // Like the broker: a partition's error is answered at once, without waiting for data.
        const failed = first.results.some((r) => r.errorCode !== ErrorCode.NONE);
        if (first.bytes >= minBytes || failed || call.request.maxWaitMs <= 0)
          return callback(null, { partitions: first.results, throttleTimeMs: 0 });
        const deadline = Date.now() + call.request.maxWaitMs;
        const retry = (): void => {
          const next = answer();
          if (next.bytes >= minBytes || Date.now() >= deadline || this.stopped) {
            this.dataWaiters.delete(retry);
            clearTimeout(timer);
            callback(null, { partitions: next.results, throttleTimeMs: 0 });
          }
        };
        const timer = setTimeout(() => {
          this.dataWaiters.delete(retry);
          callback(null, { partitions: answer().results, throttleTimeMs: 0 });
        }, call.request.maxWaitMs);
        this.dataWaiters.add(retry);
      },
      ListOffsets: (call, callback) => {
        const fault = this.takeFault('ListOffsets');
        if (fault !== undefined)
          return callback(
            makeCallError(fault.kind === 'error' ? fault.code : ErrorCode.BROKER_NOT_AVAILABLE, 'injected fault'),
          );
        callback(null, {
          partitions: call.request.partitions.map((req) => {
            const base = {
              topic: req.topic,
              partition: req.partition,
              errorMessage: '',
              offset: -1,
              timestampMs: -1,
              leaderId: 0,
            };
            const p = this.partition(req.topic, req.partition);
            if (p === undefined) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
            if (p.leaderId !== brokerId)
              return { ...base, errorCode: ErrorCode.NOT_LEADER, leaderId: this.notLeader(p).leaderId };
            if (req.timestampMs === -1) return { ...base, errorCode: ErrorCode.NONE, offset: p.highWatermark };
            if (req.timestampMs === -2) return { ...base, errorCode: ErrorCode.NONE, offset: 0 };
            const found = this.records(req.topic, req.partition).find((r) => r.timestamp >= req.timestampMs);
            return {
              ...base,
              errorCode: ErrorCode.NONE,
              offset: found?.offset ?? p.highWatermark,
              timestampMs: found?.timestamp ?? -1,
            };
          }),
        });
      },
      SetBrokerDrained: (call, callback) => {
        const target = call.request.brokerId === 0 ? brokerId : call.request.brokerId;
        if (!this.ports.has(target))
          return callback(makeCallError(ErrorCode.INVALID_REQUEST, `broker ${target} is not registered`));
        if (call.request.drained) this.drainedBrokers.add(target);
        else this.drainedBrokers.delete(target);
        // A drained broker hands its partitions to the next replica at once.
        const others = [...this.ports.keys()].filter((id) => !this.drainedBrokers.has(id));
        for (const topic of this.topics.values()) {
          for (const [index, p] of topic.partitions.entries()) {
            if (p.leaderId !== target || !call.request.drained || others.length === 0) continue;
            p.leaderId = others[index % others.length] as number;
            p.leaderEpoch += 1;
          }
        }
        callback(null, {
          brokerId: target,
          drained: this.drainedBrokers.has(target),
          groupsLed: 0,
          controllerLeader: false,
          partitionsLed: [],
          answeredBy: brokerId,
        });
      },
      DescribeFeatures: (call, callback) => {
        const ids = call.request.localOnly ? [brokerId] : [...this.ports.keys()];
        callback(null, {
          brokerId,
          finalizedLevel: this.featureLevel,
          finalizableLevel: 2,
          brokers: ids.map((id) => this.fakeFeatures(id)),
          levels: [
            { level: 1, summary: 'fake level 1' },
            { level: 2, summary: 'fake level 2' },
          ],
        });
      },
      ExportControllerState: (_call, callback) =>
        callback(makeCallError(ErrorCode.INVALID_REQUEST, 'the fake cluster has no controller state to export')),
      // Consumer groups: the fake coordinator, on broker groupCoordinatorId.
      FindCoordinator: (call, callback) => {
        const fault = this.takeFault('FindCoordinator');
        if (fault !== undefined) return callback(callFaultError(fault));
        const id = this.groupCoordinatorId;
        callback(null, {
          coordinators: call.request.groupIds.map((groupId) => ({
            groupId,
            errorCode: ErrorCode.NONE,
            errorMessage: '',
            nodeId: id,
            host: '127.0.0.1',
            port: this.ports.get(id) ?? 0,
            partition: 0,
          })),
        });
      },
      ConsumerGroupHeartbeat: (call, callback) => {
        const fault = this.takeFault('ConsumerGroupHeartbeat');
        if (fault !== undefined) return callback(callFaultError(fault));
        if (brokerId !== this.groupCoordinatorId)
          return callback(null, {
            errorCode: ErrorCode.NOT_COORDINATOR,
            errorMessage: `broker ${brokerId} does not coordinate the group`,
            memberId: '',
            memberEpoch: 0,
            heartbeatIntervalMs: 0,
            assignment: null,
            leaderId: this.coordinatorHint(),
          });
        callback(null, this.groups.heartbeat(call.request, call.getPeer()));
      },
      OffsetCommit: (call, callback) => {
        const fault = this.takeFault('OffsetCommit');
        if (fault !== undefined) return callback(callFaultError(fault));
        if (brokerId !== this.groupCoordinatorId)
          return callback(null, {
            leaderId: this.coordinatorHint(),
            partitions: call.request.partitions.map((p) => ({
              topic: p.topic,
              partition: p.partition,
              errorCode: ErrorCode.NOT_COORDINATOR,
              errorMessage: 'not the coordinator',
            })),
          });
        callback(null, this.groups.offsetCommit(call.request));
      },
      OffsetFetch: (call, callback) => {
        const fault = this.takeFault('OffsetFetch');
        if (fault !== undefined) return callback(callFaultError(fault));
        if (brokerId !== this.groupCoordinatorId)
          return callback(null, {
            errorCode: ErrorCode.NOT_COORDINATOR,
            errorMessage: 'not the coordinator',
            partitions: [],
            leaderId: this.coordinatorHint(),
          });
        callback(null, this.groups.offsetFetch(call.request));
      },
      ListGroups: (_call, callback) => {
        const fault = this.takeFault('ListGroups');
        if (fault !== undefined) return callback(callFaultError(fault));
        callback(
          null,
          brokerId === this.groupCoordinatorId ? this.groups.listGroups() : { groups: [], partitionsLoading: 0 },
        );
      },
      DescribeGroups: (call, callback) => {
        const fault = this.takeFault('DescribeGroups');
        if (fault !== undefined) return callback(callFaultError(fault));
        if (brokerId !== this.groupCoordinatorId)
          return callback(null, {
            groups: call.request.groupIds.map((groupId) => ({
              groupId,
              errorCode: ErrorCode.NOT_COORDINATOR,
              errorMessage: 'not the coordinator',
              state: '',
              groupEpoch: 0,
              assignmentEpoch: 0,
              assignor: '',
              coordinatorId: 0,
              members: [],
              leaderId: this.coordinatorHint(),
            })),
          });
        callback(null, this.groups.describeGroups(call.request));
      },
      DeleteGroups: (call, callback) => {
        const fault = this.takeFault('DeleteGroups');
        if (fault !== undefined) return callback(callFaultError(fault));
        if (brokerId !== this.groupCoordinatorId)
          return callback(null, {
            groups: call.request.groupIds.map((groupId) => ({
              groupId,
              errorCode: ErrorCode.NOT_COORDINATOR,
              errorMessage: 'not the coordinator',
              leaderId: this.coordinatorHint(),
            })),
          });
        callback(null, this.groups.deleteGroups(call.request));
      },
      FinalizeFeatureLevel: (call, callback) => {
        const level = call.request.level === 0 ? 2 : call.request.level;
        const brokers = [...this.ports.keys()].map((id) => this.fakeFeatures(id));
        if (level < this.featureLevel || level > 2)
          return callback(null, {
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `feature level ${level} cannot be finalized`,
            finalizedLevel: this.featureLevel,
            brokers,
            previousLevel: this.featureLevel,
          });
        const previousLevel = this.featureLevel;
        if (!call.request.validateOnly) this.featureLevel = level;
        callback(null, { errorCode: ErrorCode.NONE, errorMessage: '', finalizedLevel: level, brokers, previousLevel });
      },
    };
  }

  private coordinatorHint(): number {
    return this.leaderHints ? this.groupCoordinatorId : 0;
  }

  private fakeFeatures(id: number) {
    return { brokerId: id, version: 'fake', levelMin: 1, levelMax: 2, reachable: true, errorMessage: '' };
  }

  private noteMetadata(method: string, metadata: grpc.Metadata): void {
    const flat: Record<string, string> = {};
    for (const [key, value] of Object.entries(metadata.getMap()))
      flat[key] = typeof value === 'string' ? value : value.toString('base64');
    this.lastCallMetadata.set(method, flat);
  }

  private trackOpen(brokerId: number, partitionKeys: readonly string[], delta: number): void {
    const open = (this.openProducesPerBroker.get(brokerId) ?? 0) + delta;
    this.openProducesPerBroker.set(brokerId, open);
    this.stats.produceConcurrentPerBrokerMax = Math.max(this.stats.produceConcurrentPerBrokerMax, open);
    for (const key of partitionKeys) {
      const batches = (this.openBatchesPerPartition.get(key) ?? 0) + delta;
      this.openBatchesPerPartition.set(key, batches);
      this.stats.batchesInFlightPerPartitionMax = Math.max(this.stats.batchesInFlightPerPartitionMax, batches);
    }
  }

  private topicMetadata(name: string): TopicMetadata {
    const topic = this.topics.get(name);
    if (topic === undefined)
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, partitions: [], configs: {} };
    return {
      errorCode: ErrorCode.NONE,
      name,
      configs: { ...topic.configs },
      partitions: topic.partitions.map((p, index): PartitionMetadata => ({
        errorCode: ErrorCode.NONE,
        partition: index,
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        replicas: [...p.replicas],
        inSyncReplicas: [...p.replicas],
        highWatermark: p.highWatermark,
        logStartOffset: 0,
      })),
    };
  }

  private produceOne(brokerId: number, topic: string, partition: number, bytes: Buffer): PartitionProduceResult {
    const base = {
      topic,
      partition,
      errorMessage: '',
      baseOffset: -1,
      logAppendTimeMs: -1,
      leaderId: 0,
      leaderEpoch: 0,
      logStartOffset: 0,
    };
    const p = this.partition(topic, partition);
    const note = (header: RecordBatchHeader | undefined, result: ErrorCode): void => {
      this.received.push({
        brokerId,
        topic,
        partition,
        producerId: header?.producerId ?? -1,
        producerEpoch: header?.producerEpoch ?? -1,
        baseSequence: header?.baseSequence ?? -1,
        recordCount: header?.recordCount ?? 0,
        result,
      });
    };
    if (p === undefined) {
      note(undefined, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'no such topic or partition' };
    }
    if (p.leaderId !== brokerId) {
      note(undefined, ErrorCode.NOT_LEADER);
      return { ...base, ...this.notLeader(p), errorMessage: `broker ${brokerId} is not the leader` };
    }
    if (bytes.byteLength > recordBatchBytesMax) {
      note(undefined, ErrorCode.REQUEST_TOO_LARGE);
      return {
        ...base,
        errorCode: ErrorCode.REQUEST_TOO_LARGE,
        errorMessage: `batch of ${bytes.byteLength} bytes exceeds ${recordBatchBytesMax}`,
      };
    }
    let header: RecordBatchHeader;
    try {
      header = verifyBatch(bytes);
    } catch (error) {
      note(undefined, ErrorCode.CORRUPT_MESSAGE);
      return {
        ...base,
        errorCode: ErrorCode.CORRUPT_MESSAGE,
        errorMessage: error instanceof Error ? error.message : String(error),
      };
    }
    const injected = p.faults.shift();
    if (injected !== undefined) {
      note(header, injected);
      return {
        ...base,
        errorCode: injected,
        errorMessage: 'injected fault',
        ...(injected === ErrorCode.NOT_LEADER ? this.notLeader(p) : {}),
      };
    }
    let window: ProducerWindow | undefined;
    if (header.producerId >= 0) {
      window = p.producers.get(header.producerId);
      if (window !== undefined && header.producerEpoch < window.epoch) {
        note(header, ErrorCode.INVALID_PRODUCER_EPOCH);
        return { ...base, errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, errorMessage: 'fenced' };
      }
      if (window === undefined || header.producerEpoch > window.epoch) {
        window = { epoch: header.producerEpoch, nextSequence: 0, recent: [] };
        p.producers.set(header.producerId, window);
      }
      const duplicate = window.recent.find(
        (r) => r.baseSequence === header.baseSequence && r.recordCount === header.recordCount,
      );
      if (duplicate !== undefined) {
        note(header, ErrorCode.DUPLICATE_SEQUENCE);
        return { ...base, errorCode: ErrorCode.DUPLICATE_SEQUENCE, baseOffset: duplicate.baseOffset };
      }
      if (header.baseSequence !== window.nextSequence) {
        note(header, ErrorCode.OUT_OF_ORDER_SEQUENCE);
        return {
          ...base,
          errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE,
          errorMessage: `expected sequence ${window.nextSequence}, got ${header.baseSequence}`,
        };
      }
    }
    const baseOffset = p.highWatermark;
    const stored = Buffer.from(bytes);
    stampBaseOffset(stored, baseOffset);
    p.batches.push({ bytes: stored, header: verifyBatch(stored), baseOffset });
    p.highWatermark += header.recordCount;
    if (window !== undefined) {
      window.recent.push({ baseSequence: header.baseSequence, recordCount: header.recordCount, baseOffset });
      if (window.recent.length > producerDedupeWindowBatches) window.recent.shift();
      window.nextSequence = (header.baseSequence + header.recordCount) % 2 ** 31;
    }
    note(header, ErrorCode.NONE);
    for (const wake of [...this.dataWaiters]) wake();
    return { ...base, errorCode: ErrorCode.NONE, baseOffset };
  }

  private fetchOne(
    brokerId: number,
    topic: string,
    partition: number,
    fetchOffset: number,
    partitionMaxBytes: number,
  ): FetchPartitionResult {
    const base = {
      topic,
      partition,
      errorMessage: '',
      highWatermark: 0,
      logStartOffset: 0,
      records: Buffer.alloc(0),
      leaderId: 0,
      leaderEpoch: 0,
    };
    const p = this.partition(topic, partition);
    if (p === undefined) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    if (p.leaderId !== brokerId) return { ...base, ...this.notLeader(p) };
    if (fetchOffset < 0 || fetchOffset > p.highWatermark) {
      return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: p.highWatermark };
    }
    const limit = partitionMaxBytes > 0 ? partitionMaxBytes : 1024 * 1024;
    const chosen: Buffer[] = [];
    let bytes = 0;
    for (const batch of p.batches) {
      if (batch.header.lastOffset < fetchOffset) continue;
      if (chosen.length > 0 && bytes + batch.bytes.byteLength > limit) break;
      chosen.push(batch.bytes);
      bytes += batch.bytes.byteLength;
    }
    return { ...base, errorCode: ErrorCode.NONE, highWatermark: p.highWatermark, records: Buffer.concat(chosen) };
  }
}

/** The gRPC error of an injected call fault. */
function callFaultError(fault: CallFault): Partial<grpc.StatusObject> {
  return makeCallError(
    fault.kind === 'error' ? fault.code : ErrorCode.BROKER_NOT_AVAILABLE,
    'injected fault',
    fault.kind === 'error' ? (fault.leaderId ?? 0) : 0,
  );
}
