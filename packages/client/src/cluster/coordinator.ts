/**
 * Routing of one group's calls to its coordinator (groups.proto, "Where a group lives"): ask any
 * broker FindCoordinator, send the group's calls to the broker it names, and follow the group when
 * its coordinator moves: NOT_COORDINATOR with a leader hint goes to the hinted broker, without one
 * (or after COORDINATOR_NOT_AVAILABLE, a timeout or an unreachable broker) FindCoordinator is asked
 * again; COORDINATOR_LOAD_IN_PROGRESS retries the same broker after a backoff.
 */
import { ErrorCode, type StreamBusMethodName, type StreamBusMethods } from '@streambus/proto';
import { groupCallAttemptsMax } from '../constants.js';
import {
  ClientClosedError,
  CoordinatorNotAvailableError,
  NotCoordinatorError,
  StreamBusError,
  errorFromCode,
} from '../errors.js';
import { exhausted, type CallOptions, type Cluster } from './cluster.js';

export class GroupCoordinator {
  /** The coordinator's broker id; 0 while unknown. */
  private coordinatorId = 0;

  constructor(
    private readonly cluster: Cluster,
    readonly groupId: string,
  ) {}

  /** The coordinator's broker id, asking FindCoordinator when it is unknown. Throws typed errors. */
  async find(): Promise<number> {
    if (this.coordinatorId !== 0) return this.coordinatorId;
    const response = await this.cluster.call('any', 'FindCoordinator', { groupIds: [this.groupId] }, 0, {
      deadlineMs: this.cluster.metadataCallOptions().deadlineMs ?? this.cluster.options.requestTimeoutMs,
    });
    const found = response.coordinators.find((c) => c.groupId === this.groupId);
    if (found === undefined)
      throw new CoordinatorNotAvailableError(`group "${this.groupId}": FindCoordinator answered no coordinator`);
    if (found.errorCode !== ErrorCode.NONE)
      throw errorFromCode(found.errorCode, `group "${this.groupId}": ${found.errorMessage}`);
    if (found.nodeId <= 0)
      throw new CoordinatorNotAvailableError(`group "${this.groupId}": FindCoordinator named no broker`);
    this.cluster.learnBroker({ id: found.nodeId, host: found.host, port: found.port, rack: '' });
    this.coordinatorId = found.nodeId;
    return found.nodeId;
  }

  /** The coordinator as last known (0: unknown), for reports. */
  get knownCoordinatorId(): number {
    return this.coordinatorId;
  }

  /**
   * Follows a retriable failure of a call to the coordinator: a NOT_COORDINATOR hint naming a
   * known broker is used at once; a load in progress or a stale epoch keeps the coordinator; any
   * other failure asks FindCoordinator again.
   */
  onRetriable(error: StreamBusError): void {
    if (error instanceof NotCoordinatorError) {
      const hint = error.leaderId;
      this.coordinatorId = hint !== 0 && this.cluster.brokerList().some((b) => b.id === hint) ? hint : 0;
      return;
    }
    if (error.code === 'COORDINATOR_LOAD_IN_PROGRESS' || error.code === 'STALE_MEMBER_EPOCH') return;
    this.coordinatorId = 0;
  }

  /**
   * One call at the coordinator, retried with backoff on retriable failures up to
   * `groupCallAttemptsMax` attempts. `request` is built again for every attempt (a commit carries
   * the member's epoch of that moment); `check` turns an answer's error into a typed error.
   */
  async call<M extends StreamBusMethodName>(
    method: M,
    request: () => StreamBusMethods[M]['request'],
    check: (response: StreamBusMethods[M]['response']) => StreamBusError | undefined,
    options: CallOptions = {},
  ): Promise<StreamBusMethods[M]['response']> {
    const failures: StreamBusError[] = [];
    for (let attempt = 0; attempt < groupCallAttemptsMax; attempt++) {
      if (attempt > 0) await this.cluster.backoff(attempt - 1);
      if (this.cluster.isClosed) break;
      try {
        const target = await this.find();
        const response = await this.cluster.call(target, method, request(), 0, options);
        const error = check(response);
        if (error === undefined) return response;
        throw error;
      } catch (error) {
        if (!(error instanceof StreamBusError) || !error.retriable) throw error;
        this.onRetriable(error);
        failures.push(error);
      }
    }
    if (this.cluster.isClosed) throw new ClientClosedError('the client is closed');
    throw exhausted(`${method} of group "${this.groupId}"`, failures);
  }
}
