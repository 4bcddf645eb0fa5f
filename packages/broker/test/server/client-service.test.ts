/**
 * ClientService against a fake of the dependencies it declares (ClientServiceDeps): no broker,
 * no Raft, no sockets. The gRPC handlers are called directly.
 */
import * as grpc from '@grpc/grpc-js';
import { Acks, ErrorCode, errorCodeMetadataKey, partitionsPerRequestMax } from '@streambus/proto';
import type {
  FetchRequest,
  ListOffsetsRequest,
  MetadataRequest,
  ProduceRequest,
  ProduceResponse,
} from '@streambus/proto';
import type { GroupId, NodeId } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import type { ControllerCommand, ControllerResult } from '../../src/controller/commands.js';
import type { ControllerState, PartitionInfo } from '../../src/controller/state.js';
import type { AcksMode, FetchOutcome, ProduceOutcome } from '../../src/partition/partition-replica.js';
import { createBrokerMetrics } from '../../src/admin/metrics.js';
import type { BrokerMetrics } from '../../src/admin/metrics.js';
import { ClientService } from '../../src/server/client-service.js';
import type {
  ClientServiceDeps,
  ClientServicePartitions,
  LocalReplica,
  ProduceForwarder,
} from '../../src/server/client-service.js';
import { forwardedMetadataKey } from '../../src/server/forwarder.js';
import { expectOk } from '../controller/helpers.js';
import { controllerStateWith, silentLogger } from './fakes.js';

const self = 1;

class FakeReplica implements LocalReplica {
  highWatermark = 10;
  readonly produced: { bytes: number; acks: AcksMode }[] = [];
  logStartOffset(): number {
    return 2;
  }
  async produce(batch: Uint8Array, acks: AcksMode): Promise<ProduceOutcome> {
    this.produced.push({ bytes: batch.byteLength, acks });
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      baseOffset: this.highWatermark,
      leaderId: self,
      leaderEpoch: 7,
      logStartOffset: 2,
      recordCount: 1,
    };
  }
  async fetch(): Promise<FetchOutcome> {
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      highWatermark: this.highWatermark,
      logStartOffset: 2,
      batches: [new Uint8Array([1, 2, 3])],
      bytes: 3,
      leaderId: self,
      leaderEpoch: 7,
    };
  }
  offsetFor(timestampMs: number): number | null {
    return timestampMs === -1 ? this.highWatermark : 4;
  }
  async waitForData(): Promise<void> {}
}

/** Groups hosted here, each with its leader as this broker sees it. */
class FakePartitions implements ClientServicePartitions {
  readonly leaders = new Map<GroupId, NodeId>();
  readonly replicas = new Map<GroupId, FakeReplica>();
  isLeader(groupId: GroupId): boolean {
    return this.leaders.get(groupId) === self;
  }
  leaderOf(groupId: GroupId): NodeId {
    return this.leaders.get(groupId) ?? 0;
  }
  leadership(): { term: number; isr: NodeId[] } {
    return { term: 7, isr: [1, 2] };
  }
  hosted(groupId: GroupId): FakeReplica | undefined {
    return this.leaders.has(groupId) ? this.replicas.get(groupId) : undefined;
  }
  host(groupId: GroupId, leaderId: NodeId): FakeReplica {
    const replica = new FakeReplica();
    this.leaders.set(groupId, leaderId);
    this.replicas.set(groupId, replica);
    return replica;
  }
}

class FakeForwarder implements ProduceForwarder {
  readonly forwarded: { leaderId: NodeId; request: ProduceRequest }[] = [];
  failure: Error | null = null;
  /** The leader never answers: the call ends only when cancelled. */
  hang = false;
  canForwardTo(leaderId: NodeId): boolean {
    return leaderId === 2 || leaderId === 3;
  }
  async produce(
    leaderId: NodeId,
    request: ProduceRequest,
    _deadlineMs: number,
    signal: AbortSignal,
  ): Promise<ProduceResponse> {
    this.forwarded.push({ leaderId, request });
    if (this.failure !== null) throw this.failure;
    if (this.hang)
      await new Promise((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(new Error('1 CANCELLED: Cancelled on client'))),
      );
    const partitions = request.partitions.map((part) => ({
      topic: part.topic,
      partition: part.partition,
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      baseOffset: 40,
      logAppendTimeMs: -1,
      leaderId,
      leaderEpoch: 3,
      logStartOffset: 0,
    }));
    return { partitions, throttleTimeMs: 0 };
  }
}

function setUp(metrics?: BrokerMetrics) {
  const state = controllerStateWith(3, [{ name: 't', partitions: 3, replicationFactor: 3 }]);
  const partitions = new FakePartitions();
  const forwarder = new FakeForwarder();
  const proposed: ControllerCommand[] = [];
  const facts = {
    fatal: null as Error | null,
    silent: new Set<NodeId>(),
    propose: async (_command: ControllerCommand): Promise<ControllerResult> =>
      ({ ok: true, detail: { kind: 'producerIds', firstProducerId: 1_000, count: 2 } }) as ControllerResult,
  };
  const deps: ClientServiceDeps = {
    nodeId: self,
    clusterId: 'test-cluster',
    requestBytesMax: 1024 * 1024,
    controller: {
      get state(): ControllerState {
        return state;
      },
      leaderId: () => 2,
      catchUp: async () => undefined,
      propose: (command) => {
        proposed.push(command);
        return facts.propose(command);
      },
    },
    partitions,
    forwarder,
    fatal: () => facts.fatal,
    peerAlive: (id) => id !== 3 && !facts.silent.has(id),
  };
  const service = new ClientService(deps, silentLogger, metrics);
  const [p0, p1, p2] = state.partitionsOf('t') as [PartitionInfo, PartitionInfo, PartitionInfo];
  return { state, partitions, forwarder, proposed, facts, handlers: service.handlers(), p0, p1, p2 };
}

interface Answer<Res> {
  readonly error: Partial<grpc.StatusObject> | null;
  readonly response: Res | undefined;
}

function invoke<Req, Res>(
  handler: grpc.handleUnaryCall<Req, Res>,
  request: Req,
  metadata = new grpc.Metadata(),
): Promise<Answer<Res>> {
  return new Promise((resolve) => {
    handler({ request, metadata } as unknown as grpc.ServerUnaryCall<Req, Res>, (error, response) =>
      resolve({ error: error ?? null, response: response ?? undefined }),
    );
  });
}

function errorCodeOf(answer: Answer<unknown>): string | undefined {
  return answer.error?.metadata?.get(errorCodeMetadataKey)[0] as string | undefined;
}

const initProducerId = { transactionalId: '', producerId: -1, producerEpoch: -1 };

function produceRequest(parts: readonly { partition: number; bytes?: number }[]): ProduceRequest {
  return {
    acks: Acks.ALL,
    timeoutMs: 1_000,
    transactionalId: '',
    partitions: parts.map((part) => ({
      topic: 't',
      partition: part.partition,
      records: new Uint8Array(part.bytes ?? 8),
    })),
  };
}

describe('ClientService: metadata', () => {
  it("answers a partition led here from this broker, one led elsewhere from the leader's report, and one without a leader with NOT_LEADER", async () => {
    const t = setUp();
    t.partitions.host(t.p0.groupId, self);
    t.partitions.host(t.p1.groupId, 3);
    expectOk(
      t.state.apply({
        type: 'reportPartitions',
        reports: [{ groupId: t.p1.groupId, leaderId: 3, term: 5, isr: [2, 3], highWatermark: 33 }],
      }),
    );
    const answer = await invoke(t.handlers.Metadata, {
      topics: ['t', 'missing'],
      brokersOnly: false,
    } satisfies MetadataRequest);
    expect(answer.error).toBeNull();
    const response = answer.response;
    expect(response?.clusterId).toBe('test-cluster');
    expect(response?.controllerId).toBe(2);
    expect(response?.brokerId).toBe(self);
    const [topic, missing] = response?.topics ?? [];
    expect(missing?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const byPartition = new Map(topic?.partitions.map((part) => [part.partition, part]));
    expect(byPartition.get(t.p0.partition)).toMatchObject({
      errorCode: ErrorCode.NONE,
      leaderId: self,
      leaderEpoch: 7,
      inSyncReplicas: [1, 2],
      highWatermark: 10,
      logStartOffset: 2,
    });
    expect(byPartition.get(t.p1.partition)).toMatchObject({
      errorCode: ErrorCode.NONE,
      leaderId: 3,
      leaderEpoch: 5,
      inSyncReplicas: [2, 3],
      highWatermark: 33,
    });
    expect(byPartition.get(t.p2.partition)).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: 0,
      logStartOffset: 0,
    });
  });

  it('answers every call with BROKER_NOT_AVAILABLE once the store failed', async () => {
    const t = setUp();
    t.facts.fatal = new Error('disk gone');
    const answer = await invoke(t.handlers.Metadata, { topics: [], brokersOnly: true });
    expect(errorCodeOf(answer)).toBe('BROKER_NOT_AVAILABLE');
    expect(answer.error?.details).toContain('disk gone');
  });

  it('answers a request beyond a count bound with REQUEST_TOO_LARGE, a malformed one with INVALID_REQUEST, and a controller that fails with REQUEST_TIMED_OUT', async () => {
    const t = setUp();
    const tooMany = await invoke(
      t.handlers.Produce,
      produceRequest(Array.from({ length: partitionsPerRequestMax + 1 }, (_, partition) => ({ partition }))),
    );
    expect(errorCodeOf(tooMany)).toBe('REQUEST_TOO_LARGE');
    t.facts.propose = async () => {
      throw new Error('unexpected');
    };
    const failed = await invoke(t.handlers.ReassignPartitions, {
      topic: 't',
      partitions: [{ partition: 0, replicas: [1, 2, 3] }],
      timeoutMs: 100,
    });
    expect(errorCodeOf(failed)).toBe(undefined);
    expect(failed.response?.partitions[0]?.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    const bad = await invoke(t.handlers.Fetch, {
      maxWaitMs: -1,
      minBytes: 1,
      maxBytes: 0,
      partitions: [],
      replicaId: -1,
    } satisfies FetchRequest);
    expect(errorCodeOf(bad)).toBe('INVALID_REQUEST');
  });

  it('answers a failure nobody expected with INTERNAL', async () => {
    const t = setUp();
    const local = t.partitions.host(t.p0.groupId, self);
    local.produce = async () => {
      throw new Error('unexpected');
    };
    const answer = await invoke(t.handlers.Produce, produceRequest([{ partition: t.p0.partition }]));
    expect(errorCodeOf(answer)).toBe('INTERNAL');
    expect(answer.error?.details).toBe('internal error in Produce; see the broker log');
  });
});

describe('ClientService: produce', () => {
  it('appends to a partition led here, forwards one led elsewhere once, and says who leads one it cannot forward', async () => {
    const t = setUp();
    const local = t.partitions.host(t.p0.groupId, self);
    t.partitions.host(t.p1.groupId, 2);
    const answer = await invoke(
      t.handlers.Produce,
      produceRequest([{ partition: t.p0.partition }, { partition: t.p1.partition }, { partition: t.p2.partition }]),
    );
    const results = answer.response?.partitions ?? [];
    expect(local.produced).toEqual([{ bytes: 8, acks: 'all' }]);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 10, leaderId: self });
    expect(t.forwarder.forwarded.map((f) => [f.leaderId, f.request.partitions.map((part) => part.partition)])).toEqual([
      [2, [t.p1.partition]],
    ]);
    expect(results[1]).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 40, leaderId: 2 });
    expect(results[2]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: 0,
      errorMessage: 'no leader is known for this partition; retry after a metadata refresh',
    });
  });

  it('does not forward to a leader it has not heard from within an election timeout: NOT_LEADER with the hint, at once', async () => {
    const t = setUp();
    t.partitions.host(t.p1.groupId, 3); // peerAlive: broker 3 is not heard from
    const answer = await invoke(t.handlers.Produce, produceRequest([{ partition: t.p1.partition }]));
    expect(t.forwarder.forwarded).toEqual([]);
    expect(answer.response?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NOT_LEADER, leaderId: 3 });
  });

  it('cancels a forward whose leader falls silent while it is in flight: NOT_LEADER long before the produce timeout', async () => {
    const t = setUp();
    t.partitions.host(t.p1.groupId, 2);
    t.forwarder.hang = true;
    const started = Date.now();
    const pending = invoke(t.handlers.Produce, produceRequest([{ partition: t.p1.partition }]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(t.forwarder.forwarded).toHaveLength(1);
    t.facts.silent.add(2); // broker 2 paused: no frame from it within an election timeout
    const answer = await pending;
    expect(Date.now() - started).toBeLessThan(1_000); // the fake leader answers only when cancelled
    expect(answer.response?.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: 2,
      errorMessage: 'broker 2 fell silent while a forwarded produce was in flight; retry',
    });
  });

  it('never forwards a forwarded request again, and words a failed forward as NOT_LEADER with the leader hint', async () => {
    const t = setUp();
    t.partitions.host(t.p1.groupId, 2);
    const forwarded = new grpc.Metadata();
    forwarded.set(forwardedMetadataKey, '3');
    const again = await invoke(t.handlers.Produce, produceRequest([{ partition: t.p1.partition }]), forwarded);
    expect(t.forwarder.forwarded).toEqual([]);
    expect(again.response?.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: 2,
      errorMessage: 'broker 2 leads this partition; retry there',
    });
    t.forwarder.failure = new Error('connection refused');
    const failed = await invoke(t.handlers.Produce, produceRequest([{ partition: t.p1.partition }]));
    expect(failed.response?.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: 2,
      errorMessage: 'forwarding to broker 2 failed: connection refused; retry',
    });
  });

  it('appends nothing of a partition listed twice, and refuses a batch above network.max_request_size', async () => {
    const t = setUp();
    const local = t.partitions.host(t.p0.groupId, self);
    const twice = await invoke(
      t.handlers.Produce,
      produceRequest([{ partition: t.p0.partition }, { partition: t.p0.partition }]),
    );
    expect(twice.response?.partitions.map((part) => part.errorCode)).toEqual([
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
    ]);
    const large = await invoke(
      t.handlers.Produce,
      produceRequest([{ partition: t.p0.partition, bytes: 1024 * 1024 + 1 }]),
    );
    expect(large.response?.partitions[0]?.errorCode).toBe(ErrorCode.REQUEST_TOO_LARGE);
    expect(local.produced).toEqual([]);
  });

  it('hands out producer ids from blocks the controller allocates', async () => {
    const t = setUp();
    const ids = [];
    for (let i = 0; i < 4; i++)
      ids.push((await invoke(t.handlers.InitProducerId, initProducerId)).response?.producerId);
    expect(ids).toEqual([1_000, 1_001, 1_000, 1_001]);
    expect(t.proposed.map((command) => command.type)).toEqual(['allocateProducerIds', 'allocateProducerIds']);
    t.facts.propose = async () => {
      throw new Error('the controller is not available');
    };
    expect((await invoke(t.handlers.InitProducerId, initProducerId)).response?.errorCode).toBe(
      ErrorCode.REQUEST_TIMED_OUT,
    );
  });
});

describe('ClientService: fetch and offsets', () => {
  it('reads a partition led here and answers one led elsewhere with the one NOT_LEADER wording', async () => {
    const t = setUp();
    t.partitions.host(t.p0.groupId, self);
    t.partitions.host(t.p1.groupId, 3);
    const request: FetchRequest = {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 0,
      replicaId: -1,
      partitions: [t.p0, t.p1].map((info) => ({
        topic: 't',
        partition: info.partition,
        fetchOffset: 2,
        partitionMaxBytes: 0,
      })),
    };
    const answer = await invoke(t.handlers.Fetch, request);
    const [local, remote] = answer.response?.partitions ?? [];
    expect(local).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 10, records: new Uint8Array([1, 2, 3]) });
    expect(remote).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: 3,
      errorMessage: 'broker 3 leads this partition; retry there',
    });
    const offsets = await invoke(t.handlers.ListOffsets, {
      partitions: [t.p0, t.p1].map((info) => ({ topic: 't', partition: info.partition, timestampMs: -1 })),
    } satisfies ListOffsetsRequest);
    const [latest, elsewhere] = offsets.response?.partitions ?? [];
    expect(latest).toMatchObject({ errorCode: ErrorCode.NONE, offset: 10, leaderId: self });
    expect(elsewhere).toMatchObject({
      errorCode: ErrorCode.NOT_LEADER,
      leaderId: 3,
      errorMessage: 'broker 3 leads this partition; retry there',
    });
  });
});

describe('ClientService: cluster status', () => {
  it('counts leaders and replicas per broker and lists offline partitions', async () => {
    const t = setUp();
    t.partitions.host(t.p0.groupId, self);
    t.partitions.host(t.p1.groupId, 2);
    const status = (await invoke(t.handlers.ClusterStatus, {})).response;
    expect(status?.offlinePartitions).toEqual([{ topic: 't', partition: t.p2.partition }]);
    expect(
      status?.brokers.map((broker) => [broker.broker.id, broker.alive, broker.leaderCount, broker.replicaCount]),
    ).toEqual([
      [1, true, 1, 3],
      [2, true, 1, 3],
      [3, false, 0, 3],
    ]);
  });
});

describe('ClientService: fetch metrics', () => {
  it("counts a consumer's Fetch as bytes out, not a broker's own (a coordinator reading record ages)", async () => {
    const metrics = createBrokerMetrics({ processMetrics: false });
    const t = setUp(metrics);
    t.partitions.host(t.p0.groupId, self);
    const request = {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1,
      partitions: [{ topic: 't', partition: t.p0.partition, fetchOffset: 2, partitionMaxBytes: 1 }],
      replicaId: -1,
    } satisfies FetchRequest;
    const byPeer = new grpc.Metadata();
    byPeer.set(forwardedMetadataKey, '2');
    const peer = await invoke(t.handlers.Fetch, request, byPeer);
    expect(peer.response?.partitions[0]?.records.byteLength).toBe(3);
    const bytesOut = async (): Promise<number> =>
      (await metrics.bytesOutTotal.get()).values.reduce((sum, value) => sum + value.value, 0);
    expect(await bytesOut()).toBe(0);
    await invoke(t.handlers.Fetch, request);
    expect(await bytesOut()).toBe(3);
  });
});
