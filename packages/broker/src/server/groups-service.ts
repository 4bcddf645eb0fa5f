/**
 * The consumer group RPCs of the StreamBus service (groups.proto). FindCoordinator answers from
 * this broker's metadata: the group's partition of __consumer_offsets and that partition's
 * leader. The other calls go to the local coordinator of the group's partition when this broker
 * leads it and has loaded it; otherwise they answer NOT_COORDINATOR with the leader as this
 * broker sees it (0: ask FindCoordinator again), or COORDINATOR_LOAD_IN_PROGRESS while it loads.
 * Every handler answers typed error codes; an assertion failure still crashes.
 */
import type * as grpc from '@grpc/grpc-js';
import { ErrorCode, errorCodeName, makeCallError, messagingAttributes } from '@streambus/proto';
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  Coordinator,
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DeletedGroup,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  DescribedGroup,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  ListedGroup,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  StreamBusHandlers,
} from '@streambus/proto';
import type { GroupId, NodeId } from '@streambus/raft';
import type { BrokerMetrics } from '../admin/metrics.js';
import { rethrowBug } from '../bugs.js';
import type { ControllerState } from '../controller/state.js';
import { groupIdsPerRequestMax } from '../coordinator/constants.js';
import { failure } from '../coordinator/coordinator-partition.js';
import type { CallFailure, CallOutcome } from '../coordinator/coordinator-partition.js';
import { groupIdProblem, offsetsPartitionFor, offsetsTopicName } from '../coordinator/internal-topics.js';
import type { CoordinatorShard, ShardResult } from '../coordinator/shard.js';
import type { Logger } from '../logging/logger.js';
import { BrokerTracer, endWithError } from '../tracing/broker-tracer.js';

/** The RPCs this service serves. */
export type GroupsMethodName =
  | 'FindCoordinator'
  | 'ConsumerGroupHeartbeat'
  | 'OffsetCommit'
  | 'OffsetFetch'
  | 'ListGroups'
  | 'DescribeGroups'
  | 'DeleteGroups';

/** One coordinator partition as the service calls it (CoordinatorPartition). */
export interface ServedCoordinator<R> {
  readonly partition: number;
  readonly status: 'loading' | 'active' | 'closed';
  call<T>(operation: (shard: CoordinatorShard<R>, nowMs: number) => ShardResult<T, R>): Promise<CallOutcome<T>>;
  read<T>(operation: (shard: CoordinatorShard<R>) => T): Promise<CallOutcome<T>>;
}

export interface GroupsServiceDeps<R> {
  readonly nodeId: NodeId;
  /** The controller state as applied here: the offsets topic, its partitions, broker addresses. */
  controllerState(): ControllerState;
  /** A partition group's leader as this broker sees it (its own Raft view first, then the reports); 0 when unknown. */
  partitionLeader(groupId: GroupId): NodeId;
  /** The local coordinator of an offsets partition, if this broker leads it. */
  coordinator(partition: number): ServedCoordinator<R> | undefined;
  /** Every local coordinator (ListGroups). */
  coordinators(): Iterable<ServedCoordinator<R>>;
  /** Why this broker stopped serving (its store failed), or null. */
  fatal(): Error | null;
}

export class GroupsService<R> {
  constructor(
    private readonly deps: GroupsServiceDeps<R>,
    private readonly logger: Logger,
    private readonly metrics?: BrokerMetrics,
    private readonly tracer: BrokerTracer = BrokerTracer.disabled(deps.nodeId),
  ) {}

  handlers(): Pick<StreamBusHandlers, GroupsMethodName> {
    return {
      FindCoordinator: this.unary('FindCoordinator', (request: FindCoordinatorRequest) =>
        this.findCoordinator(request),
      ),
      ConsumerGroupHeartbeat: this.unary(
        'ConsumerGroupHeartbeat',
        (request: ConsumerGroupHeartbeatRequest, call) => this.heartbeat(request, clientHostOf(call.getPeer())),
        (response) => response.errorCode,
      ),
      OffsetCommit: this.unary(
        'OffsetCommit',
        (request: OffsetCommitRequest) => this.commitOffsets(request),
        (response) => response.partitions[0]?.errorCode ?? ErrorCode.NONE,
      ),
      OffsetFetch: this.unary(
        'OffsetFetch',
        (request: OffsetFetchRequest) => this.fetchOffsets(request),
        (response) => response.errorCode,
      ),
      ListGroups: this.unary('ListGroups', (request: ListGroupsRequest) => this.listGroups(request)),
      DescribeGroups: this.unary('DescribeGroups', (request: DescribeGroupsRequest) => this.describeGroups(request)),
      DeleteGroups: this.unary('DeleteGroups', (request: DeleteGroupsRequest) => this.deleteGroups(request)),
    };
  }

  // ---- FindCoordinator ---------------------------------------------------------------------

  private async findCoordinator(request: FindCoordinatorRequest): Promise<FindCoordinatorResponse> {
    checkGroupCount(request.groupIds.length, 'FindCoordinator');
    const state = this.deps.controllerState();
    return { coordinators: request.groupIds.map((groupId) => this.coordinatorOf(state, groupId)) };
  }

  private coordinatorOf(state: ControllerState, groupId: string): Coordinator {
    const none = { groupId, nodeId: 0, host: '', port: 0, partition: -1 };
    const problem = groupIdProblem(groupId);
    if (problem !== null) return { ...none, errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: problem };
    const topic = state.topic(offsetsTopicName);
    if (topic === undefined || topic.groupIds.length === 0)
      return {
        ...none,
        errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        errorMessage: `${offsetsTopicName} does not exist yet (the controller creates it once enough brokers registered); retry after a backoff`,
      };
    const partition = offsetsPartitionFor(groupId, topic.groupIds.length);
    const partitionGroup = topic.groupIds[partition] as GroupId;
    const leaderId = this.deps.partitionLeader(partitionGroup);
    const broker = leaderId === 0 ? undefined : state.broker(leaderId);
    if (broker === undefined)
      return {
        ...none,
        partition,
        errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        errorMessage: `partition ${partition} of ${offsetsTopicName} has no leader right now; retry after a backoff`,
      };
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      nodeId: broker.id,
      host: broker.host,
      port: broker.port,
      partition,
    };
  }

  // ---- routing -----------------------------------------------------------------------------

  /**
   * The local coordinator of `groupId`'s partition, or why the call cannot be served here
   * (INVALID_GROUP_ID, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR with the leader hint).
   */
  private route(groupId: string): ServedCoordinator<R> | CallFailure {
    const problem = groupIdProblem(groupId);
    if (problem !== null) return failure(ErrorCode.INVALID_GROUP_ID, problem, 0);
    const topic = this.deps.controllerState().topic(offsetsTopicName);
    if (topic === undefined || topic.groupIds.length === 0)
      return failure(
        ErrorCode.COORDINATOR_NOT_AVAILABLE,
        `${offsetsTopicName} does not exist yet; retry after a backoff`,
        0,
      );
    const partition = offsetsPartitionFor(groupId, topic.groupIds.length);
    const local = this.deps.coordinator(partition);
    if (local !== undefined) return local;
    const seen = this.deps.partitionLeader(topic.groupIds[partition] as GroupId);
    const leaderId = seen === this.deps.nodeId ? 0 : seen;
    return failure(
      ErrorCode.NOT_COORDINATOR,
      leaderId === 0
        ? `broker ${this.deps.nodeId} does not coordinate group ${groupId} and knows no coordinator; ask FindCoordinator again`
        : `broker ${leaderId} coordinates group ${groupId}; retry there`,
      leaderId,
    );
  }

  private async served<T>(
    groupId: string,
    run: (coordinator: ServedCoordinator<R>) => Promise<CallOutcome<T>>,
  ): Promise<CallOutcome<T>> {
    const routed = this.route(groupId);
    if ('ok' in routed) return routed;
    return run(routed);
  }

  // ---- the group calls ---------------------------------------------------------------------

  private async heartbeat(
    request: ConsumerGroupHeartbeatRequest,
    clientHost: string,
  ): Promise<ConsumerGroupHeartbeatResponse> {
    const outcome = await this.served(request.groupId, (coordinator) =>
      coordinator.call((shard, nowMs) => shard.heartbeat(request, clientHost, nowMs)),
    );
    if (outcome.ok) return outcome.response;
    return {
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
      leaderId: outcome.leaderId,
    };
  }

  private async commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    const outcome = await this.served(request.groupId, (coordinator) =>
      coordinator.call((shard, nowMs) => shard.commitOffsets(request, nowMs)),
    );
    if (outcome.ok) return outcome.response;
    return {
      partitions: request.partitions.map((part) => ({
        topic: part.topic,
        partition: part.partition,
        errorCode: outcome.errorCode,
        errorMessage: outcome.errorMessage,
      })),
      leaderId: outcome.leaderId,
    };
  }

  private async fetchOffsets(request: OffsetFetchRequest): Promise<OffsetFetchResponse> {
    const outcome = await this.served(request.groupId, (coordinator) =>
      coordinator.read((shard) => shard.fetchOffsets(request)),
    );
    if (outcome.ok) return outcome.response;
    return {
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
      partitions: [],
      leaderId: outcome.leaderId,
    };
  }

  private async listGroups(request: ListGroupsRequest): Promise<ListGroupsResponse> {
    const groups: ListedGroup[] = [];
    let partitionsLoading = 0;
    const reads: Promise<void>[] = [];
    for (const coordinator of this.deps.coordinators()) {
      if (coordinator.status === 'loading') {
        partitionsLoading++;
        continue;
      }
      reads.push(
        coordinator
          .read((shard) => shard.listGroups(request.states))
          .then((outcome) => {
            if (outcome.ok)
              for (const group of outcome.response) groups.push({ ...group, coordinatorId: this.deps.nodeId });
            else if (outcome.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) partitionsLoading++;
          }),
      );
    }
    await Promise.all(reads);
    groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return { groups, partitionsLoading };
  }

  private async describeGroups(request: DescribeGroupsRequest): Promise<DescribeGroupsResponse> {
    checkGroupCount(request.groupIds.length, 'DescribeGroups');
    const groups = await Promise.all(
      request.groupIds.map(async (groupId): Promise<DescribedGroup> => {
        const outcome = await this.served(groupId, (coordinator) =>
          coordinator.read((shard) => shard.describeGroup(groupId)),
        );
        if (outcome.ok) return { ...outcome.response, coordinatorId: this.deps.nodeId };
        return {
          groupId,
          errorCode: outcome.errorCode,
          errorMessage: outcome.errorMessage,
          state: '',
          groupEpoch: 0,
          assignmentEpoch: 0,
          assignor: '',
          coordinatorId: 0,
          members: [],
          leaderId: outcome.leaderId,
        };
      }),
    );
    return { groups };
  }

  private async deleteGroups(request: DeleteGroupsRequest): Promise<DeleteGroupsResponse> {
    checkGroupCount(request.groupIds.length, 'DeleteGroups');
    // One call per coordinator with its groups, in the order given.
    const byCoordinator = new Map<ServedCoordinator<R>, string[]>();
    const answers = new Map<string, DeletedGroup>();
    for (const groupId of request.groupIds) {
      const routed = this.route(groupId);
      if ('ok' in routed) {
        answers.set(groupId, {
          groupId,
          errorCode: routed.errorCode,
          errorMessage: routed.errorMessage,
          leaderId: routed.leaderId,
        });
        continue;
      }
      const ids = byCoordinator.get(routed) ?? [];
      ids.push(groupId);
      byCoordinator.set(routed, ids);
    }
    await Promise.all(
      [...byCoordinator].map(async ([coordinator, ids]) => {
        const outcome = await coordinator.call((shard, nowMs) => shard.deleteGroups(ids, nowMs));
        if (outcome.ok) for (const deleted of outcome.response) answers.set(deleted.groupId, deleted);
        else
          for (const groupId of ids)
            answers.set(groupId, {
              groupId,
              errorCode: outcome.errorCode,
              errorMessage: outcome.errorMessage,
              leaderId: outcome.leaderId,
            });
      }),
    );
    return {
      groups: request.groupIds.map(
        (groupId) =>
          answers.get(groupId) ?? {
            groupId,
            errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
            errorMessage: `group ${groupId} does not exist`,
            leaderId: 0,
          },
      ),
    };
  }

  // ---- plumbing ----------------------------------------------------------------------------

  /** One handler: typed errors for every failure; `errorOf` names the answer's error code for the metrics. */
  private unary<Req, Res>(
    name: string,
    run: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
    errorOf?: (response: Res) => ErrorCode,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      this.metrics?.requestsTotal.inc({ request: name });
      // A server span (child of the caller's traceparent, else a root by this broker's sampling
      // rate), named by the call and carrying the group, as the messaging conventions name it.
      const rpc = this.tracer.startRpc(name, call.metadata);
      const groupId = groupIdOf(call.request);
      if (rpc !== undefined && groupId !== undefined)
        rpc.span.setAttribute(messagingAttributes.consumerGroupName, groupId);
      const fail = (code: ErrorCode, message: string): void => {
        this.metrics?.requestErrorsTotal.inc({ request: name, code: errorCodeName(code) });
        if (rpc !== undefined) endWithError(rpc.span, errorCodeName(code), message);
        callback(makeCallError(code, message));
      };
      const fatal = this.deps.fatal();
      if (fatal !== null) {
        fail(
          ErrorCode.BROKER_NOT_AVAILABLE,
          `broker ${this.deps.nodeId} stopped serving after a storage failure (${fatal.message}); retry on another broker`,
        );
        return;
      }
      run(call.request, call).then(
        (response) => {
          const code = errorOf?.(response) ?? ErrorCode.NONE;
          if (code !== ErrorCode.NONE)
            this.metrics?.requestErrorsTotal.inc({ request: name, code: errorCodeName(code) });
          callback(null, response);
          if (rpc === undefined) return;
          if (code === ErrorCode.NONE) rpc.span.end();
          else endWithError(rpc.span, errorCodeName(code), `${name} answered ${errorCodeName(code)}`);
        },
        (error: unknown) => {
          rethrowBug(error);
          if (error instanceof GroupsRequestError) {
            fail(error.errorCode, error.message);
            return;
          }
          this.logger.error({ rpc: name, err: error instanceof Error ? error.stack : String(error) }, 'request failed');
          fail(ErrorCode.INTERNAL, `internal error in ${name}; see the broker log`);
        },
      );
    };
  }
}

/** The group id of a group call's request (FindCoordinator and the admin calls: their first one). */
function groupIdOf(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  const single = (request as { groupId?: unknown }).groupId;
  if (typeof single === 'string' && single !== '') return single;
  const many = (request as { groupIds?: unknown }).groupIds;
  return Array.isArray(many) && typeof many[0] === 'string' ? many[0] : undefined;
}

/** A request refused as a whole with a protocol error code. */
class GroupsRequestError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function checkGroupCount(count: number, rpc: string): void {
  if (count > groupIdsPerRequestMax)
    throw new GroupsRequestError(
      ErrorCode.REQUEST_TOO_LARGE,
      `${rpc} with ${count} group ids; at most ${groupIdsPerRequestMax} per request: split it`,
    );
}

/** The client's address from grpc-js's peer string ("ipv4:10.0.0.1:5000", "[::1]:5000", "10.0.0.1:5000"). */
export function clientHostOf(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const colon = bare.lastIndexOf(':');
  const host = colon > 0 ? bare.slice(0, colon) : bare;
  return host.replace(/^\[(.*)\]$/, '$1');
}
