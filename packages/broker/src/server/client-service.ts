/**
 * The `streambus.v1.StreamBus` gRPC service of a broker: metadata and topic admin from the
 * controller state, produce (local leader, or one forwarding hop), long-poll fetch and offsets
 * from partition leaders. Every handler answers typed error codes; none lets an exception escape.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type * as grpc from '@grpc/grpc-js';
import { SpanKind, trace as traceApi } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import {
  Acks,
  ErrorCode,
  adminTimeoutMsMax,
  apiVersion,
  fetchBytesDefault,
  fetchBytesMax,
  fetchMaxWaitMsMax,
  fetchPartitionBytesDefault,
  makeCallError,
  offsetTimestampEarliest,
  partitionsPerRequestMax,
  partitionsPerTopicMax,
  produceTimeoutMsMax,
  errorCodeName,
  readBatchHeader,
  recordBatchBytesMax,
  requestTimeoutMsDefault,
  splitRecordBatches,
  topicsPerRequestMax,
} from '@streambus/proto';
import type {
  BrokerStatus,
  ClusterStatusResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  FetchPartitionResult,
  FetchRequest,
  FetchResponse,
  InitProducerIdResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  PartitionMetadata,
  PartitionProduceResult,
  PartitionReassignmentResult,
  PartitionRef,
  ProduceRequest,
  ReassignPartitionsRequest,
  ReassignPartitionsResponse,
  ProduceResponse,
  StreamBusHandlers,
  TopicMetadata,
  TopicResult,
} from '@streambus/proto';
import type { GroupId, NodeId } from '@streambus/raft';
import type { BrokerMetrics } from '../admin/metrics.js';
import { rethrowBug } from '../bugs.js';
import type { ControllerCommand, ControllerFailureCode, ControllerResult } from '../controller/commands.js';
import { planCreateTopic } from '../controller/plan.js';
import type { ControllerState, PartitionInfo, TopicInfo } from '../controller/state.js';
import { replicationFactorMax } from '../controller/constants.js';
import type { Logger } from '../logging/logger.js';
import { notLeader } from '../partition/not-leader.js';
import type { NotLeaderAnswer } from '../partition/not-leader.js';
import type { AcksMode, FetchOutcome, ProduceOutcome } from '../partition/partition-replica.js';
import {
  controllerCatchUpMsMax,
  controllerCommandDeadlineMs,
  createTopicsLeaderWaitMsMax,
  forwardSlackMs,
  leaderWaitPollMs,
  producerIdBlockSize,
  reassignmentsPerRequestMax,
  replicationFactorDefault,
} from './constants.js';
import { isForwarded } from './forwarder.js';
import type { OperationsMethodName } from './operations-service.js';
import type { GroupsMethodName } from './groups-service.js';
import type { SecurityMethodName } from './security-service.js';
import { isInternalTopic } from '../coordinator/internal-topics.js';
import { internalTopicPrefix } from '../coordinator/constants.js';
import { forwardWhileHeard } from './peer-watch.js';
import { BrokerTracer, endWithError, messagingAttributesOf } from '../tracing/broker-tracer.js';

/** What the cluster knows of a partition's leadership, from this broker's point of view. */
interface PartitionView {
  readonly leaderId: NodeId;
  readonly term: number;
  readonly isr: readonly NodeId[];
  readonly highWatermark: number;
}

/** The controller as the client service uses it (ControllerGateway). */
export interface ClientServiceController {
  /** The controller state as applied on this broker. */
  readonly state: ControllerState;
  /** The controller leader as this broker last saw it, 0 when unknown. */
  leaderId(): NodeId;
  /** Brings this broker's controller state up to the leader's commit, within `waitMsMax` (best effort). */
  catchUp(waitMsMax: number): Promise<void>;
  /** Proposes a command and resolves with its result once applied; rejects once `deadlineMs` passed. */
  propose(command: ControllerCommand, deadlineMs: number): Promise<ControllerResult>;
}

/** A partition replica hosted here, as the client service reads and writes it (PartitionReplica). */
export interface LocalReplica {
  readonly highWatermark: number;
  logStartOffset(): number;
  /** `trace`: the produce span's context, under which the Raft part of a sampled produce is traced. */
  produce(batch: Uint8Array, acks: AcksMode, timeoutMs: number, trace?: Context): Promise<ProduceOutcome>;
  fetch(fetchOffset: number, bytesMax: number): Promise<FetchOutcome>;
  offsetFor(timestampMs: number): number | null;
  waitForData(waitMs: number): Promise<void>;
}

/** This broker's partition groups and replicas (ReplicaLifecycle). */
export interface ClientServicePartitions {
  /** True when this broker hosts the group and leads it. */
  isLeader(groupId: GroupId): boolean;
  /** The group's leader as this broker last saw it; 0 when unknown or the group is not hosted here. */
  leaderOf(groupId: GroupId): NodeId;
  /** Term and in-sync replicas of a group this broker leads. */
  leadership(groupId: GroupId): { readonly term: number; readonly isr: readonly NodeId[] };
  /** The replica of a group hosted here, or undefined. */
  hosted(groupId: GroupId): LocalReplica | undefined;
}

/** Produce requests to the partition leader on another broker (Forwarder). */
export interface ProduceForwarder {
  canForwardTo(leaderId: NodeId): boolean;
  /** Forwards to `leaderId`; an abort of `signal` cancels the call; `trace` goes along as `traceparent`. */
  produce(
    leaderId: NodeId,
    request: ProduceRequest,
    deadlineMs: number,
    signal: AbortSignal,
    trace?: Context,
  ): Promise<ProduceResponse>;
}

/** Everything the client service asks of its broker; tests pass a fake. */
export interface ClientServiceDeps {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** network.max_request_size: no record batch is larger. */
  readonly requestBytesMax: number;
  readonly controller: ClientServiceController;
  readonly partitions: ClientServicePartitions;
  readonly forwarder: ProduceForwarder;
  /** Why this broker stopped serving (its store failed), or null. */
  fatal(): Error | null;
  /** True when a broker was heard from within an election timeout (always for this one). */
  peerAlive(id: NodeId): boolean;
}

export class ClientService {
  private producerIds = { next: 0, end: 0 };
  private producerIdsAllocation: Promise<void> | null = null;

  constructor(
    private readonly deps: ClientServiceDeps,
    private readonly logger: Logger,
    private readonly metrics: BrokerMetrics | undefined,
    private readonly tracer: BrokerTracer = BrokerTracer.disabled(deps.nodeId),
  ) {}

  /** Every RPC but the operator ones (OperationsService) and the group ones (GroupsService). */
  handlers(): Omit<StreamBusHandlers, OperationsMethodName | GroupsMethodName | SecurityMethodName> {
    return {
      Metadata: this.unary('Metadata', (request: MetadataRequest) => this.metadata(request)),
      CreateTopics: this.unary('CreateTopics', (request: CreateTopicsRequest) =>
        this.createTopics(request).then((response) => this.countTopicErrors('CreateTopics', response)),
      ),
      DeleteTopics: this.unary('DeleteTopics', (request: DeleteTopicsRequest) =>
        this.deleteTopics(request).then((response) => this.countTopicErrors('DeleteTopics', response)),
      ),
      ReassignPartitions: this.unary('ReassignPartitions', (request: ReassignPartitionsRequest) =>
        this.reassignPartitions(request),
      ),
      ClusterStatus: this.unary('ClusterStatus', () => this.clusterStatus()),
      InitProducerId: this.unary('InitProducerId', () => this.initProducerId()),
      Produce: this.unary(
        'Produce',
        (request: ProduceRequest, call, trace) => this.produce(request, call.metadata, trace),
        (response, trace, send) => this.ack(response, trace, send),
      ),
      Fetch: this.unary('Fetch', (request: FetchRequest, call, trace) =>
        this.fetch(request, trace, isForwarded(call.metadata)),
      ),
      ListOffsets: this.unary('ListOffsets', (request: ListOffsetsRequest) => this.listOffsets(request)),
    };
  }

  /** Per-topic errors of a create or delete answer count as request errors, by code. */
  private countTopicErrors<Res extends { readonly topics: readonly { readonly errorCode: number }[] }>(
    request: string,
    response: Res,
  ): Res {
    if (this.metrics !== undefined) countPartitionErrors(this.metrics, request, response.topics);
    return response;
  }

  /** The answer to every call once the broker's store failed (retriable: other brokers lead its partitions), else null. */
  private stoppedError(): ReturnType<typeof makeCallError> | null {
    const fatal = this.deps.fatal();
    if (fatal === null) return null;
    return makeCallError(
      ErrorCode.BROKER_NOT_AVAILABLE,
      `broker ${this.deps.nodeId} stopped serving after a storage failure (${fatal.message}); retry on another broker`,
    );
  }

  /**
   * One RPC handler: a server span around it when tracing (`trace` is its context, for the
   * handler's child spans), typed errors for every failure. `respond`, when given, sends the
   * answer itself (the produce's ack span).
   */
  private unary<Req, Res>(
    name: string,
    run: (request: Req, call: grpc.ServerUnaryCall<Req, Res>, trace: Context | undefined) => Promise<Res>,
    respond?: (response: Res, trace: Context | undefined, send: () => void) => void,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      this.metrics?.requestsTotal.inc({ request: name });
      const rpc = this.tracer.startRpc(name, call.metadata);
      const fail = (code: ErrorCode, error: ReturnType<typeof makeCallError>): void => {
        this.metrics?.requestErrorsTotal.inc({ request: name, code: errorCodeName(code) });
        if (rpc !== undefined) endWithError(rpc.span, errorCodeName(code), error.details ?? '');
        callback(error);
      };
      const stopped = this.stoppedError();
      if (stopped !== null) {
        fail(ErrorCode.BROKER_NOT_AVAILABLE, stopped);
        return;
      }
      run(call.request, call, rpc?.context).then(
        (response) => {
          const send = (): void => callback(null, response);
          if (respond === undefined) send();
          else respond(response, rpc?.context, send);
          rpc?.span.end();
        },
        (error: unknown) => {
          rethrowBug(error);
          if (error instanceof InvalidRequestError) {
            fail(ErrorCode.INVALID_REQUEST, makeCallError(ErrorCode.INVALID_REQUEST, error.message));
            return;
          }
          if (error instanceof RequestTooLargeError) {
            fail(ErrorCode.REQUEST_TOO_LARGE, makeCallError(ErrorCode.REQUEST_TOO_LARGE, error.message));
            return;
          }
          const failed = this.stoppedError();
          if (failed !== null) {
            fail(ErrorCode.BROKER_NOT_AVAILABLE, failed);
            return;
          }
          this.logger.error({ rpc: name, err: error instanceof Error ? error.stack : String(error) }, 'request failed');
          fail(ErrorCode.INTERNAL, makeCallError(ErrorCode.INTERNAL, `internal error in ${name}; see the broker log`));
        },
      );
    };
  }

  /** Sends a produce's answer inside its `ack` span, which records what each partition got. */
  private ack(response: ProduceResponse, trace: Context | undefined, send: () => void): void {
    if (!this.tracer.records(trace)) {
      send();
      return;
    }
    const ack = this.tracer.startChild(trace, 'ack', SpanKind.INTERNAL, {
      ...messagingAttributesOf({ operationType: 'settle', operationName: 'ack' }),
      'streambus.produce.partitions': response.partitions.length,
      'streambus.produce.errors': response.partitions.filter((part) => part.errorCode !== ErrorCode.NONE).length,
    });
    send();
    if (ack === undefined) return;
    const failed = response.partitions.find((part) => part.errorCode !== ErrorCode.NONE);
    if (failed !== undefined) endWithError(ack.span, errorCodeName(failed.errorCode), failed.errorMessage);
    else ack.span.end();
  }

  /** The replica of a group this broker leads, or undefined when it does not lead it. */
  private leaderReplica(groupId: GroupId): LocalReplica | undefined {
    const partitions = this.deps.partitions;
    return partitions.isLeader(groupId) ? partitions.hosted(groupId) : undefined;
  }

  // ---- metadata and admin -------------------------------------------------------------------

  private view(info: PartitionInfo): PartitionView {
    const partitions = this.deps.partitions;
    const groupId = info.groupId;
    const leaderId = partitions.leaderOf(groupId);
    if (partitions.isLeader(groupId)) {
      const { term, isr } = partitions.leadership(groupId);
      return { leaderId, term, isr, highWatermark: partitions.hosted(groupId)?.highWatermark ?? 0 };
    }
    if (leaderId !== 0) {
      const report = info.leader;
      const fresh = report !== null && report.leaderId === leaderId;
      return {
        leaderId,
        term: fresh ? report.term : 0,
        isr: fresh ? report.isr : [leaderId],
        highWatermark: fresh ? report.highWatermark : 0,
      };
    }
    return info.leader === null
      ? { leaderId: 0, term: 0, isr: [], highWatermark: 0 }
      : {
          leaderId: info.leader.leaderId,
          term: info.leader.term,
          isr: info.leader.isr,
          highWatermark: info.leader.highWatermark,
        };
  }

  private partitionMetadata(info: PartitionInfo): PartitionMetadata {
    const view = this.view(info);
    return {
      errorCode: view.leaderId === 0 ? ErrorCode.NOT_LEADER : ErrorCode.NONE,
      partition: info.partition,
      leaderId: view.leaderId,
      leaderEpoch: view.term,
      replicas: [...info.replicas],
      inSyncReplicas: [...view.isr],
      highWatermark: view.highWatermark,
      logStartOffset: this.deps.partitions.hosted(info.groupId)?.logStartOffset() ?? 0,
    };
  }

  private topicMetadata(topic: TopicInfo): TopicMetadata {
    const state = this.deps.controller.state;
    const configs: Record<string, string> = {};
    for (const entry of topic.configs) configs[entry.key] = entry.value;
    return {
      errorCode: ErrorCode.NONE,
      name: topic.name,
      partitions: state.partitionsOf(topic.name).map((info) => this.partitionMetadata(info)),
      configs,
    };
  }

  private async metadata(request: MetadataRequest): Promise<MetadataResponse> {
    const state = this.deps.controller.state;
    checkCount(request.topics.length, topicsPerRequestMax, 'topics', 'Metadata');
    const brokers = state
      .brokers()
      .map((info) => ({ id: info.id, host: info.host, port: info.port, rack: info.rack ?? '' }));
    let topics: TopicMetadata[] = [];
    if (!request.brokersOnly) {
      const names = request.topics.length > 0 ? request.topics : state.topics().map((topic) => topic.name);
      topics = names.map((name) => {
        const topic = state.topic(name);
        return topic === undefined
          ? { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, partitions: [], configs: {} }
          : this.topicMetadata(topic);
      });
    }
    return {
      apiVersion,
      clusterId: this.deps.clusterId,
      controllerId: this.deps.controller.leaderId(),
      brokers,
      topics,
      brokerId: this.deps.nodeId,
    };
  }

  private async createTopics(request: CreateTopicsRequest): Promise<CreateTopicsResponse> {
    checkCount(request.topics.length, topicsPerRequestMax, 'topics', 'CreateTopics');
    const deadlineMs = adminTimeout(request.timeoutMs);
    const results: TopicResult[] = [];
    // Plan from a state that has every broker registration and topic committed so far.
    await this.deps.controller.catchUp(Math.min(deadlineMs, controllerCatchUpMsMax));
    for (const topic of request.topics) {
      const state = this.deps.controller.state;
      if (isInternalTopic(topic.name)) {
        results.push({
          name: topic.name,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: internalTopicRefusal(topic.name, 'created'),
        });
        continue;
      }
      if (topic.partitions < 0) {
        results.push({
          name: topic.name,
          errorCode: ErrorCode.INVALID_PARTITIONS,
          errorMessage: `partition count ${topic.partitions} is negative; give 1..${partitionsPerTopicMax}, or 0 for 1`,
        });
        continue;
      }
      if (topic.replicationFactor < 0) {
        results.push({
          name: topic.name,
          errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
          errorMessage: `replication factor ${topic.replicationFactor} is negative; give 1..the number of brokers, or 0 for the default`,
        });
        continue;
      }
      const partitions = topic.partitions > 0 ? topic.partitions : 1;
      const replicationFactor =
        topic.replicationFactor > 0
          ? topic.replicationFactor
          : Math.min(replicationFactorDefault, Math.max(1, state.liveBrokers().length));
      const configs = Object.entries(topic.configs ?? {}).map(([key, value]) => ({ key, value }));
      const plan = planCreateTopic(state, { name: topic.name, partitions, replicationFactor, configs });
      if (!plan.ok) {
        results.push({ name: topic.name, errorCode: errorCodeFor(plan.code), errorMessage: plan.message });
        continue;
      }
      if (request.validateOnly) {
        results.push({ name: topic.name, errorCode: ErrorCode.NONE, errorMessage: '' });
        continue;
      }
      const result = await this.proposeOrTimeout(plan.command, deadlineMs);
      if ('errorCode' in result) {
        results.push({ name: topic.name, ...result });
        continue;
      }
      if (!result.ok) {
        results.push({ name: topic.name, errorCode: errorCodeFor(result.code), errorMessage: result.message });
        continue;
      }
      await this.waitForLeaders(topic.name, Math.min(deadlineMs, createTopicsLeaderWaitMsMax));
      results.push({ name: topic.name, errorCode: ErrorCode.NONE, errorMessage: '' });
    }
    return { topics: results };
  }

  private async waitForLeaders(topic: string, waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      const partitions = this.deps.controller.state.partitionsOf(topic);
      if (partitions.length > 0 && partitions.every((info) => this.view(info).leaderId !== 0)) return;
      await sleep(leaderWaitPollMs);
    }
  }

  private async deleteTopics(request: DeleteTopicsRequest): Promise<DeleteTopicsResponse> {
    checkCount(request.topics.length, topicsPerRequestMax, 'topics', 'DeleteTopics');
    const deadlineMs = adminTimeout(request.timeoutMs);
    const results: TopicResult[] = [];
    for (const name of request.topics) {
      if (isInternalTopic(name)) {
        results.push({
          name,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: internalTopicRefusal(name, 'deleted'),
        });
        continue;
      }
      if (this.deps.controller.state.topic(name) === undefined) {
        results.push({
          name,
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: `topic ${name} does not exist`,
        });
        continue;
      }
      const result = await this.proposeOrTimeout({ type: 'deleteTopic', name }, deadlineMs);
      if ('errorCode' in result) results.push({ name, ...result });
      else if (!result.ok) results.push({ name, errorCode: errorCodeFor(result.code), errorMessage: result.message });
      else results.push({ name, errorCode: ErrorCode.NONE, errorMessage: '' });
    }
    return { topics: results };
  }

  /**
   * Records new replica lists for partitions of one topic (all or none). Checked here first
   * (the same checks the controller's apply makes), so that each partition gets its own error;
   * the leaders of the partitions then move their Raft groups (see reconfigurer.ts).
   */
  private async reassignPartitions(request: ReassignPartitionsRequest): Promise<ReassignPartitionsResponse> {
    const deadlineMs = adminTimeout(request.timeoutMs);
    if (request.partitions.length === 0) throw new InvalidRequestError('no partitions to reassign');
    checkCount(request.partitions.length, reassignmentsPerRequestMax, 'partitions', 'ReassignPartitions');
    await this.deps.controller.catchUp(Math.min(deadlineMs, controllerCatchUpMsMax));
    const state = this.deps.controller.state;
    const answer = (errorCode: ErrorCode, errorMessage: string): ReassignPartitionsResponse => ({
      partitions: request.partitions.map((p) => ({ partition: p.partition, errorCode, errorMessage })),
    });
    if (state.topic(request.topic) === undefined)
      return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${request.topic} does not exist`);
    const failed: PartitionReassignmentResult[] = [];
    const seen = new Set<number>();
    for (const { partition, replicas } of request.partitions) {
      const problem = reassignmentProblem(state, request.topic, partition, replicas, seen);
      if (problem !== null) failed.push({ partition, errorCode: problem.errorCode, errorMessage: problem.message });
    }
    if (failed.length > 0) {
      // All or nothing: the valid ones are not recorded either, and say why.
      const bad = new Map(failed.map((result) => [result.partition, result]));
      return {
        partitions: request.partitions.map(
          (p) =>
            bad.get(p.partition) ?? {
              partition: p.partition,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: 'not recorded: another partition of the request is invalid',
            },
        ),
      };
    }
    const command = {
      type: 'reassignPartitions' as const,
      name: request.topic,
      reassignments: request.partitions.map((p) => ({ partition: p.partition, replicas: [...p.replicas] })),
    };
    const result = await this.proposeOrTimeout(command, deadlineMs);
    if ('errorCode' in result) return answer(result.errorCode, result.errorMessage);
    if (!result.ok) return answer(errorCodeFor(result.code), result.message);
    return answer(ErrorCode.NONE, '');
  }

  private async proposeOrTimeout(
    command: ControllerCommand,
    deadlineMs: number,
  ): Promise<ControllerResult | { errorCode: ErrorCode; errorMessage: string }> {
    try {
      return await this.deps.controller.propose(command, deadlineMs);
    } catch (error) {
      rethrowBug(error);
      return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: (error as Error).message };
    }
  }

  private async clusterStatus(): Promise<ClusterStatusResponse> {
    const state = this.deps.controller.state;
    const leaders = new Map<NodeId, number>();
    const replicas = new Map<NodeId, number>();
    const underReplicated: PartitionRef[] = [];
    const offline: PartitionRef[] = [];
    for (const info of state.partitions()) {
      const view = this.view(info);
      for (const id of info.replicas) replicas.set(id, (replicas.get(id) ?? 0) + 1);
      if (view.leaderId === 0) offline.push({ topic: info.topic, partition: info.partition });
      else leaders.set(view.leaderId, (leaders.get(view.leaderId) ?? 0) + 1);
      // During a reassignment the ISR (voters caught up) may hold a leaving replica and not yet a new one.
      if (view.leaderId !== 0 && info.replicas.some((id) => !view.isr.includes(id)))
        underReplicated.push({ topic: info.topic, partition: info.partition });
    }
    const brokers: BrokerStatus[] = state.brokers().map((info) => ({
      broker: { id: info.id, host: info.host, port: info.port, rack: info.rack ?? '' },
      alive: this.deps.peerAlive(info.id),
      leaderCount: leaders.get(info.id) ?? 0,
      replicaCount: replicas.get(info.id) ?? 0,
      // Maintenance mode is the controller's fenced flag (see maintenance.ts).
      drained: info.fenced,
    }));
    return {
      clusterId: this.deps.clusterId,
      controllerId: this.deps.controller.leaderId(),
      brokers,
      underReplicatedPartitions: underReplicated,
      offlinePartitions: offline,
      topicCount: state.topicCount,
      partitionCount: state.partitionCount,
    };
  }

  private async initProducerId(): Promise<InitProducerIdResponse> {
    while (this.producerIds.next >= this.producerIds.end) {
      if (this.producerIdsAllocation === null) {
        this.producerIdsAllocation = this.allocateProducerIds().finally(() => {
          this.producerIdsAllocation = null;
        });
      }
      try {
        await this.producerIdsAllocation;
      } catch (error) {
        rethrowBug(error);
        return { errorCode: ErrorCode.REQUEST_TIMED_OUT, producerId: -1, producerEpoch: -1 };
      }
    }
    const producerId = this.producerIds.next;
    this.producerIds.next += 1;
    return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  }

  private async allocateProducerIds(): Promise<void> {
    const result = await this.deps.controller.propose(
      { type: 'allocateProducerIds', brokerId: this.deps.nodeId, count: producerIdBlockSize },
      controllerCommandDeadlineMs,
    );
    if (!result.ok || result.detail.kind !== 'producerIds')
      throw new Error(`producer ids not allocated: ${result.ok ? 'unexpected result' : result.message}`);
    this.producerIds = {
      next: result.detail.firstProducerId,
      end: result.detail.firstProducerId + result.detail.count,
    };
  }

  // ---- produce ------------------------------------------------------------------------------

  private async produce(
    request: ProduceRequest,
    metadata: grpc.Metadata,
    trace: Context | undefined,
  ): Promise<ProduceResponse> {
    checkCount(request.partitions.length, partitionsPerRequestMax, 'partitions', 'Produce');
    nameSpan(trace, 'produce', request.partitions, 'send');
    const started = process.hrtime.bigint();
    const acks = acksMode(request.acks);
    const timeoutMs = boundedTimeout(request.timeoutMs, produceTimeoutMsMax);
    const forwarded = isForwarded(metadata);
    const state = this.deps.controller.state;
    const results: (PartitionProduceResult | Promise<PartitionProduceResult>)[] = [];
    const remote = new Map<NodeId, number[]>();
    const listed = repeatedPartitions(request.partitions);
    const batchBytesMax = Math.min(this.deps.requestBytesMax, recordBatchBytesMax);
    for (let index = 0; index < request.partitions.length; index++) {
      const part = request.partitions[index];
      if (part === undefined) continue;
      if (listed.has(`${part.topic}\u0000${part.partition}`)) {
        // Which of two batches goes first is not the client's to leave open: neither is appended.
        results.push(
          produceResult(
            part.topic,
            part.partition,
            ErrorCode.INVALID_REQUEST,
            `topic ${part.topic} partition ${part.partition} is listed more than once; send one batch per partition (nothing appended)`,
          ),
        );
        continue;
      }
      if (isInternalTopic(part.topic)) {
        results.push(
          produceResult(
            part.topic,
            part.partition,
            ErrorCode.INVALID_REQUEST,
            `topic ${part.topic} is internal to StreamBus (its coordinators write it); clients cannot produce to it (nothing appended)`,
          ),
        );
        continue;
      }
      const info = state.partitionOf(part.topic, part.partition);
      if (info === undefined) {
        results.push(
          produceResult(
            part.topic,
            part.partition,
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            `topic ${part.topic} partition ${part.partition} does not exist`,
          ),
        );
        continue;
      }
      if (part.records.byteLength > batchBytesMax) {
        results.push(
          produceResult(
            part.topic,
            part.partition,
            ErrorCode.REQUEST_TOO_LARGE,
            `record batch of ${part.records.byteLength} bytes exceeds this broker's ${batchBytesMax} (network.max_request_size, at most ${recordBatchBytesMax}); split it`,
          ),
        );
        continue;
      }
      const replica = this.leaderReplica(info.groupId);
      if (replica !== undefined) {
        results.push(
          replica
            .produce(part.records, acks, timeoutMs, trace)
            .then((outcome) => this.produced(part.topic, part.partition, outcome, part.records.byteLength)),
        );
        continue;
      }
      const leaderId = this.view(info).leaderId;
      // Only to a leader heard from within an election timeout: a forward to one cut off from
      // here would hold the produce for its whole timeout, while the answer below lets the client
      // retry at once and find the new leader after the election.
      if (!forwarded && this.deps.forwarder.canForwardTo(leaderId) && this.deps.peerAlive(leaderId)) {
        const indexes = remote.get(leaderId) ?? [];
        indexes.push(index);
        remote.set(leaderId, indexes);
        results.push(notLeaderResult(part.topic, part.partition, notLeader(leaderId, 'forwarding')));
        continue;
      }
      results.push(notLeaderResult(part.topic, part.partition, notLeader(leaderId)));
    }
    const forwards = [...remote].map(async ([leaderId, indexes]) => {
      const subset: ProduceRequest = {
        ...request,
        partitions: indexes.map((index) => request.partitions[index]).filter((part) => part !== undefined),
      };
      this.metrics?.forwardedProducesTotal.inc();
      const forward = this.tracer.startChild(trace, 'forward', SpanKind.CLIENT, {
        'streambus.forward.leader.id': leaderId,
      });
      if (forward !== undefined) nameSpan(forward.context, 'forward', subset.partitions, 'send');
      // Cancelled if the leader falls silent while the forward is in flight: the client retries at
      // once (an idempotent producer's retry is deduplicated).
      try {
        const response = await forwardWhileHeard(
          (id) => this.deps.peerAlive(id),
          leaderId,
          (signal) =>
            // An unsampled produce still sends its (unsampled) traceparent along: the leader then
            // follows the caller's decision instead of making its own, so no trace starts halfway.
            this.deps.forwarder.produce(
              leaderId,
              subset,
              timeoutMs + forwardSlackMs,
              signal,
              forward?.context ?? trace,
            ),
        );
        indexes.forEach((index, position) => {
          const answer = response.partitions[position];
          if (answer !== undefined) results[index] = answer;
        });
        forward?.span.end();
      } catch (error) {
        rethrowBug(error);
        if (forward !== undefined) endWithError(forward.span, 'FORWARD_FAILED', (error as Error).message);
        indexes.forEach((index) => {
          const part = request.partitions[index];
          const why = !this.deps.peerAlive(leaderId)
            ? `broker ${leaderId} fell silent while a forwarded produce was in flight`
            : `forwarding to broker ${leaderId} failed: ${(error as Error).message}`;
          if (part !== undefined)
            results[index] = notLeaderResult(part.topic, part.partition, notLeader(leaderId, `${why}; retry`));
        });
      }
    });
    await Promise.all(forwards);
    // A mix of answers and pending local produces (the rule misreads the union as no promises).
    // eslint-disable-next-line @typescript-eslint/await-thenable
    const partitions = await Promise.all(results);
    if (this.metrics !== undefined) {
      this.metrics.produceLatencySeconds.observe({ acks }, Number(process.hrtime.bigint() - started) / 1e9);
      // Forwarded partitions are counted by the leader that answered them, not twice.
      if (!forwarded) countPartitionErrors(this.metrics, 'Produce', partitions);
    }
    return { partitions, throttleTimeMs: 0 };
  }

  private produced(topic: string, partition: number, outcome: ProduceOutcome, bytes: number): PartitionProduceResult {
    if (outcome.errorCode === ErrorCode.NONE && this.metrics !== undefined) {
      this.metrics.bytesInTotal.inc({ topic }, bytes);
      if (outcome.recordCount !== undefined) this.metrics.messagesProducedTotal.inc({ topic }, outcome.recordCount);
    }
    return {
      topic,
      partition,
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
      baseOffset: outcome.baseOffset,
      logAppendTimeMs: -1,
      leaderId: outcome.leaderId,
      leaderEpoch: outcome.leaderEpoch,
      logStartOffset: outcome.logStartOffset,
    };
  }

  // ---- fetch and offsets --------------------------------------------------------------------

  /** `byPeer`: a broker's own read (a coordinator's record ages), not counted as bytes out or records consumed. */
  private async fetch(request: FetchRequest, trace: Context | undefined, byPeer: boolean): Promise<FetchResponse> {
    checkCount(request.partitions.length, partitionsPerRequestMax, 'partitions', 'Fetch');
    nameSpan(trace, 'fetch', request.partitions, 'receive');
    if (!Number.isInteger(request.maxWaitMs) || request.maxWaitMs < 0 || request.maxWaitMs > fetchMaxWaitMsMax) {
      throw new InvalidRequestError(
        `max_wait_ms ${request.maxWaitMs} is outside 0..${fetchMaxWaitMsMax}; wait less and fetch again`,
      );
    }
    const started = Date.now();
    const maxWaitMs = request.maxWaitMs;
    const minBytes = Math.max(1, request.minBytes);
    const maxBytes = request.maxBytes > 0 ? Math.min(request.maxBytes, fetchBytesMax) : fetchBytesDefault;
    // The latency metric counts the reads, not the long-poll wait for records between them.
    let readNs = 0n;
    for (;;) {
      const readStarted = process.hrtime.bigint();
      const partitions = await this.fetchOnce(request, maxBytes);
      readNs += process.hrtime.bigint() - readStarted;
      const bytes = partitions.reduce((sum, part) => sum + part.records.byteLength, 0);
      const failed = partitions.some((part) => part.errorCode !== ErrorCode.NONE);
      const remaining = maxWaitMs - (Date.now() - started);
      if (bytes >= minBytes || failed || remaining <= 0) {
        if (this.metrics !== undefined) this.fetched(this.metrics, request, partitions, readNs, byPeer);
        recordFetch(trace, partitions, bytes, Date.now() - started);
        return { partitions, throttleTimeMs: 0 };
      }
      const waits = request.partitions
        .map((part) => this.deps.controller.state.partitionOf(part.topic, part.partition))
        .filter((info): info is PartitionInfo => info !== undefined)
        .map((info) => this.deps.partitions.hosted(info.groupId)?.waitForData(remaining))
        .filter((wait): wait is Promise<void> => wait !== undefined);
      if (waits.length === 0) await sleep(remaining);
      else await Promise.race(waits);
    }
  }

  private fetched(
    metrics: BrokerMetrics,
    request: FetchRequest,
    partitions: readonly FetchPartitionResult[],
    readNs: bigint,
    byPeer: boolean,
  ): void {
    metrics.fetchLatencySeconds.observe(Number(readNs) / 1e9);
    countPartitionErrors(metrics, 'Fetch', partitions);
    if (byPeer) return;
    partitions.forEach((part, index) => {
      if (part.records.byteLength === 0) return;
      metrics.bytesOutTotal.inc({ topic: part.topic }, part.records.byteLength);
      const fetchOffset = request.partitions[index]?.fetchOffset ?? 0;
      metrics.messagesConsumedTotal.inc({ topic: part.topic }, recordsFrom(part.records, fetchOffset));
    });
  }

  private async fetchOnce(request: FetchRequest, maxBytes: number): Promise<FetchPartitionResult[]> {
    let budget = maxBytes;
    const out: FetchPartitionResult[] = [];
    for (const part of request.partitions) {
      const info = this.deps.controller.state.partitionOf(part.topic, part.partition);
      const empty = {
        topic: part.topic,
        partition: part.partition,
        highWatermark: -1,
        logStartOffset: -1,
        records: new Uint8Array(0),
        leaderId: 0,
        leaderEpoch: 0,
      };
      if (info === undefined) {
        out.push({
          ...empty,
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: `topic ${part.topic} partition ${part.partition} does not exist`,
        });
        continue;
      }
      const replica = this.leaderReplica(info.groupId);
      if (replica === undefined) {
        const leaderId = this.view(info).leaderId;
        out.push({ ...empty, ...notLeader(leaderId) });
        continue;
      }
      if (budget <= 0) {
        // The response is full: a partition read now would add a whole batch beyond max_bytes each
        // (the first-batch exception), and enough of them would not fit a message at all.
        out.push({
          ...empty,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          highWatermark: replica.highWatermark,
          logStartOffset: replica.logStartOffset(),
          leaderId: this.deps.nodeId,
          leaderEpoch: this.view(info).term,
        });
        continue;
      }
      const partitionBytes = Math.min(
        part.partitionMaxBytes > 0 ? part.partitionMaxBytes : fetchPartitionBytesDefault,
        budget,
      );
      const outcome = await replica.fetch(part.fetchOffset, partitionBytes);
      const records =
        outcome.batches.length === 1 ? (outcome.batches[0] as Uint8Array) : Buffer.concat(outcome.batches);
      budget -= records.byteLength;
      out.push({
        topic: part.topic,
        partition: part.partition,
        errorCode: outcome.errorCode,
        errorMessage: outcome.errorMessage,
        highWatermark: outcome.highWatermark,
        logStartOffset: outcome.logStartOffset,
        records,
        leaderId: outcome.leaderId,
        leaderEpoch: outcome.leaderEpoch,
      });
    }
    return out;
  }

  private async listOffsets(request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
    checkCount(request.partitions.length, partitionsPerRequestMax, 'partitions', 'ListOffsets');
    return {
      partitions: request.partitions.map((part) => {
        const info = this.deps.controller.state.partitionOf(part.topic, part.partition);
        const base = { topic: part.topic, partition: part.partition, offset: -1, timestampMs: part.timestampMs };
        if (info === undefined)
          return {
            ...base,
            leaderId: 0,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: `topic ${part.topic} partition ${part.partition} does not exist`,
          };
        if (part.timestampMs < offsetTimestampEarliest) {
          return {
            ...base,
            leaderId: 0,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `timestamp_ms ${part.timestampMs}: give -1 (latest), -2 (earliest) or a time >= 0`,
          };
        }
        const replica = this.leaderReplica(info.groupId);
        if (replica === undefined) {
          const leaderId = this.view(info).leaderId;
          return { ...base, ...notLeader(leaderId) };
        }
        const offset = replica.offsetFor(part.timestampMs);
        return {
          ...base,
          leaderId: this.deps.nodeId,
          offset: offset ?? -1,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
        };
      }),
    };
  }
}

/**
 * Names the server span in `trace` after the operation and, when the request has one topic, its
 * destination (`produce orders`), with the messaging attributes of the convention.
 */
function nameSpan(
  trace: Context | undefined,
  operation: 'produce' | 'forward' | 'fetch',
  partitions: readonly { readonly topic: string; readonly partition: number }[],
  operationType: 'send' | 'receive',
): void {
  const span = spanOf(trace);
  if (span === undefined) return;
  const first = partitions[0];
  const oneTopic = first !== undefined && partitions.every((part) => part.topic === first.topic);
  const onePartition = oneTopic && partitions.length === 1;
  span.updateName(oneTopic ? `${operation} ${first.topic}` : operation);
  span.setAttributes({
    ...messagingAttributesOf({
      ...(oneTopic ? { topic: first.topic } : {}),
      ...(onePartition ? { partition: first.partition } : {}),
      operationType,
      operationName: operation,
    }),
    'streambus.request.partitions': partitions.length,
  });
}

/** What a fetch answered, on its server span. */
function recordFetch(
  trace: Context | undefined,
  partitions: readonly FetchPartitionResult[],
  bytes: number,
  waitedMs: number,
): void {
  const span = spanOf(trace);
  if (span === undefined) return;
  span.setAttributes({
    'streambus.fetch.bytes': bytes,
    'streambus.fetch.waited_ms': waitedMs,
    'streambus.fetch.errors': partitions.filter((part) => part.errorCode !== ErrorCode.NONE).length,
  });
}

/** The recording span of `trace`, or undefined. */
function spanOf(trace: Context | undefined): Span | undefined {
  if (trace === undefined) return undefined;
  const span = traceApi.getSpan(trace);
  return span?.isRecording() === true ? span : undefined;
}

/** Why a user may not create or delete an internal topic, in one line. */
function internalTopicRefusal(name: string, verb: 'created' | 'deleted'): string {
  return verb === 'created'
    ? `topic ${name} is not created: names starting with "${internalTopicPrefix}" are internal to StreamBus; pick another name`
    : `topic ${name} is not deleted: names starting with "${internalTopicPrefix}" are internal to StreamBus (they hold its own state)`;
}

/** A request whose shape is wrong; answered with INVALID_REQUEST. */
class InvalidRequestError extends Error {}

/** A request beyond a count bound of the protocol; answered with REQUEST_TOO_LARGE (gRPC RESOURCE_EXHAUSTED). */
class RequestTooLargeError extends Error {}

function checkCount(count: number, max: number, what: string, rpc: string): void {
  if (count > max) throw new RequestTooLargeError(`${rpc} with ${count} ${what}; at most ${max} per request: split it`);
}

/** The topic/partition keys a Produce lists more than once. */
function repeatedPartitions(
  partitions: readonly { readonly topic: string; readonly partition: number }[],
): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const part of partitions) {
    const key = `${part.topic}\u0000${part.partition}`;
    if (seen.has(key)) repeated.add(key);
    seen.add(key);
  }
  return repeated;
}

function produceResult(
  topic: string,
  partition: number,
  errorCode: ErrorCode,
  errorMessage: string,
  leaderId = 0,
): PartitionProduceResult {
  return {
    topic,
    partition,
    errorCode,
    errorMessage,
    baseOffset: -1,
    logAppendTimeMs: -1,
    leaderId,
    leaderEpoch: 0,
    logStartOffset: -1,
  };
}

function notLeaderResult(topic: string, partition: number, answer: NotLeaderAnswer): PartitionProduceResult {
  return produceResult(topic, partition, answer.errorCode, answer.errorMessage, answer.leaderId);
}

function acksMode(acks: number): AcksMode {
  if (acks === Acks.LEADER) return 'leader';
  if (acks === Acks.NONE) return 'none';
  return 'all';
}

function boundedTimeout(requested: number, max: number): number {
  if (!Number.isFinite(requested) || requested <= 0) return Math.min(requestTimeoutMsDefault, max);
  return Math.min(requested, max);
}

/** An admin request's wait for the controller: its timeout_ms up to adminTimeoutMsMax, which 0 means. */
function adminTimeout(requested: number): number {
  if (!Number.isFinite(requested) || requested <= 0) return adminTimeoutMsMax;
  return Math.min(requested, adminTimeoutMsMax);
}

/** Why one partition's reassignment cannot be recorded, or null: the controller's own checks, per partition. */
function reassignmentProblem(
  state: ControllerState,
  topic: string,
  partition: number,
  replicas: readonly NodeId[],
  seen: Set<number>,
): { errorCode: ErrorCode; message: string } | null {
  if (seen.has(partition))
    return { errorCode: ErrorCode.INVALID_REQUEST, message: `partition ${partition} is listed twice` };
  seen.add(partition);
  const info = state.partitionOf(topic, partition);
  if (info === undefined)
    return { errorCode: ErrorCode.INVALID_PARTITIONS, message: `topic ${topic} has no partition ${partition}` };
  if (replicas.length < 1 || replicas.length > replicationFactorMax) {
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      message: `partition ${partition} gets ${replicas.length} replicas; give 1..${replicationFactorMax}`,
    };
  }
  if (new Set(replicas).size !== replicas.length)
    return { errorCode: ErrorCode.INVALID_REQUEST, message: `partition ${partition} names a broker twice` };
  const bad = replicas.find(
    (id) => state.broker(id) === undefined || (!info.replicas.includes(id) && !state.isLive(id)),
  );
  if (bad !== undefined)
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      message: `partition ${partition} cannot move to broker ${bad}: it is not a live broker`,
    };
  return null;
}

function errorCodeFor(code: ControllerFailureCode): ErrorCode {
  switch (code) {
    case 'TOPIC_ALREADY_EXISTS':
      return ErrorCode.TOPIC_ALREADY_EXISTS;
    case 'UNKNOWN_TOPIC':
      return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    case 'INVALID_PARTITIONS':
    case 'PARTITION_LIMIT_REACHED':
      return ErrorCode.INVALID_PARTITIONS;
    case 'INVALID_REPLICATION_FACTOR':
      return ErrorCode.INVALID_REPLICATION_FACTOR;
    default:
      return ErrorCode.INVALID_REQUEST;
  }
}

/** Per-partition errors of a produce or fetch answer, by error code. */
function countPartitionErrors(
  metrics: BrokerMetrics,
  request: string,
  partitions: readonly { readonly errorCode: number }[],
): void {
  for (const part of partitions)
    if (part.errorCode !== ErrorCode.NONE)
      metrics.requestErrorsTotal.inc({ request, code: errorCodeName(part.errorCode) });
}

/** Records at or after `fetchOffset` in concatenated stored batches (the first may begin before it). */
function recordsFrom(records: Uint8Array, fetchOffset: number): number {
  let count = 0;
  for (const batch of splitRecordBatches(records).batches) {
    const header = readBatchHeader(batch);
    count += Math.max(0, header.lastOffset - Math.max(header.baseOffset, fetchOffset) + 1);
  }
  return count;
}
