/** Group calls against an InProcessCluster over the raw gRPC client: find the coordinator, retry what is retriable. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, createStreamBusRpcClient, readCallError } from '@streambus/proto';
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  OffsetCommitRequest,
  OwnedPartitions,
  StreamBusRpcClient,
} from '@streambus/proto';
import type { InProcessCluster } from '../../src/testing/index.js';

export const call = { deadlineMs: 10_000 };

/** Errors after which a group call is sent again (after FindCoordinator). */
const retriable = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.REQUEST_TIMED_OUT,
]);

/** One raw client per broker id, reopened when a broker restarts on a new connection. */
export class GroupClients {
  private readonly clients = new Map<number, StreamBusRpcClient>();

  constructor(private readonly cluster: InProcessCluster) {}

  get(id: number): StreamBusRpcClient {
    let client = this.clients.get(id);
    if (client === undefined) {
      const address = this.cluster.bootstrapServers[id - 1];
      if (address === undefined) throw new Error(`no broker ${id}`);
      client = createStreamBusRpcClient(address);
      this.clients.set(id, client);
    }
    return client;
  }

  /** A running broker's client (the first running one when `id` is not given or not running). */
  any(id?: number): StreamBusRpcClient {
    if (id !== undefined && this.cluster.isRunning(id)) return this.get(id);
    const running = this.cluster.ids().find((candidate) => this.cluster.isRunning(candidate));
    if (running === undefined) throw new Error('no broker is running');
    return this.get(running);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  /** The coordinator of `groupId` as a running broker names it, waiting until one does. */
  async coordinator(groupId: string, waitMs = 20_000): Promise<number> {
    const deadline = Date.now() + waitMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const found = await this.any().FindCoordinator({ groupIds: [groupId] }, call);
        const answer = found.coordinators[0];
        if (answer?.errorCode === ErrorCode.NONE && this.cluster.isRunning(answer.nodeId)) return answer.nodeId;
        last = `${answer?.errorCode}: ${answer?.errorMessage}`;
      } catch (error) {
        last = readCallError(error).message;
      }
      await sleep(50);
    }
    throw new Error(`no coordinator for ${groupId} within ${waitMs} ms: ${last}`);
  }

  /**
   * Sends a group call to the coordinator until it answers something not retriable (or the
   * deadline passes); `errorOf` reads the answer's error code.
   */
  async retrying<T>(
    groupId: string,
    send: (client: StreamBusRpcClient) => Promise<T>,
    errorOf: (response: T) => number,
    waitMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + waitMs;
    let last: T | undefined;
    while (Date.now() < deadline) {
      const id = await this.coordinator(groupId, Math.max(1, deadline - Date.now()));
      try {
        last = await send(this.get(id));
        if (!retriable.has(errorOf(last))) return last;
      } catch {
        // The broker went away mid-call (killed, restarting): find the coordinator again.
      }
      await sleep(50);
    }
    if (last !== undefined) return last;
    throw new Error(`group ${groupId}: no answer within ${waitMs} ms`);
  }

  heartbeat(
    request: Partial<ConsumerGroupHeartbeatRequest> & { groupId: string },
  ): Promise<ConsumerGroupHeartbeatResponse> {
    const full: ConsumerGroupHeartbeatRequest = {
      memberId: '',
      memberEpoch: 0,
      instanceId: '',
      rebalanceTimeoutMs: 0,
      serverAssignor: '',
      clientId: 'group-test',
      subscribedTopics: null,
      subscribedTopicRegex: null,
      owned: null,
      ...request,
    };
    return this.retrying(
      request.groupId,
      (client) => client.ConsumerGroupHeartbeat(full, call),
      (response) => response.errorCode,
    );
  }

  commit(request: OffsetCommitRequest): Promise<number> {
    return this.retrying(
      request.groupId,
      (client) => client.OffsetCommit(request, call),
      (response) => response.partitions[0]?.errorCode ?? ErrorCode.NONE,
    ).then((response) => {
      const failed = response.partitions.find((part) => part.errorCode !== ErrorCode.NONE);
      return failed === undefined ? ErrorCode.NONE : failed.errorCode;
    });
  }

  async committed(groupId: string): Promise<Map<string, number>> {
    const response = await this.retrying(
      groupId,
      (client) => client.OffsetFetch({ groupId, partitions: [] }, call),
      (answer) => answer.errorCode,
    );
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`OffsetFetch ${groupId}: ${response.errorMessage}`);
    return new Map(response.partitions.map((part) => [`${part.topic}/${part.partition}`, part.committedOffset]));
  }

  /**
   * Joins `groupId` as a dynamic member subscribed to `topics`, and heartbeats (reporting what it
   * owns) until the assignment it was given is all owned. Its id and epoch.
   */
  async join(groupId: string, topics: string[]): Promise<{ memberId: string; memberEpoch: number }> {
    let response = await this.heartbeat({ groupId, subscribedTopics: { names: topics }, rebalanceTimeoutMs: 30_000 });
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`join ${groupId}: ${response.errorMessage}`);
    let owned = response.assignment ?? null;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      response = await this.heartbeat({
        groupId,
        memberId: response.memberId,
        memberEpoch: response.memberEpoch,
        ...(owned === null ? {} : { owned }),
      });
      if (response.errorCode !== ErrorCode.NONE) throw new Error(`heartbeat ${groupId}: ${response.errorMessage}`);
      const assignment = response.assignment ?? null;
      // Done once what it owns is what it is given (an answer without an assignment: unchanged).
      if (
        owned !== null &&
        owned.topicPartitions.length > 0 &&
        (assignment === null || sameAssignment(assignment, owned))
      )
        break;
      if (assignment !== null) owned = assignment;
      await sleep(50);
    }
    return { memberId: response.memberId, memberEpoch: response.memberEpoch };
  }
}

function sameAssignment(a: OwnedPartitions, b: OwnedPartitions): boolean {
  const flat = (owned: OwnedPartitions): string =>
    owned.topicPartitions
      .flatMap((tp) => tp.partitions.map((partition) => `${tp.topic}/${partition}`))
      .sort()
      .join(',');
  return flat(a) === flat(b);
}
