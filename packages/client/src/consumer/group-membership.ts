/**
 * A consumer's membership of its group (KIP-848, groups.proto "Membership"): joins, heartbeats at
 * the interval the coordinator asks for, keeps the latest assignment (the member's whole target),
 * reports the partitions the consumer owns, and leaves on close.
 *
 * The membership does not move partitions itself. The consumer reconciles inside `poll()`, where
 * the application is known to be done with the records of the previous poll: it revokes first
 * (commit, `onPartitionsRevoked`), then takes the new partitions, and reports what it owns with
 * `setOwned`, which sends a heartbeat at once. So a partition is reported released only after the
 * application let go of it, and the coordinator hands it to another member only then.
 *
 * Failures: NOT_COORDINATOR follows the hint (else FindCoordinator again);
 * COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, timeouts and unreachable brokers retry
 * with backoff; UNKNOWN_MEMBER_ID and FENCED_MEMBER_EPOCH mean the coordinator removed the member:
 * its partitions are lost (dropped at once, no commit, `onPartitionsLost` at the next poll) and it
 * joins again with epoch 0. A member that had no successful heartbeat for `sessionTimeoutMs`
 * treats its partitions as lost the same way: by then the coordinator has given them to others.
 * Other errors (INVALID_GROUP_ID, GROUP_MAX_SIZE_REACHED, UNRELEASED_INSTANCE_ID, ...) stop the
 * membership; the next `poll()` throws them.
 */
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, OwnedPartitions } from '@streambus/proto';
import { ErrorCode } from '@streambus/proto';
import { assert } from '../assert.js';
import type { Cluster } from '../cluster/cluster.js';
import type { GroupCoordinator } from '../cluster/coordinator.js';
import {
  heartbeatIntervalMsDefault,
  heartbeatIntervalMsMax,
  heartbeatIntervalMsMin,
  heartbeatRequestTimeoutMsMax,
} from '../constants.js';
import { StreamBusError, errorFromCode } from '../errors.js';
import { tpKey, type TopicPartition } from '../records.js';

/** What a member subscribes to: topic names, a pattern (RE2, whole names), or both. */
export interface Subscription {
  readonly names: readonly string[];
  /** Empty: no pattern. */
  readonly pattern: string;
}

export interface MembershipOptions {
  readonly groupId: string;
  /** Empty: a dynamic member. */
  readonly instanceId: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** Empty: the group's assignor. */
  readonly assignor: string;
  readonly clientId: string;
}

/** What the consumer does when the membership learns something. */
export interface MembershipHooks {
  /** The member lost every partition (fenced or session lost): stop reading them now, commit nothing. */
  readonly lost: (reason: StreamBusError) => void;
  /** A new assignment arrived, or the membership failed for good: wake a waiting poll. */
  readonly changed: () => void;
}

/** A partition set in the protocol's shape, topics and partitions sorted (stable for tests and logs). */
export function toOwnedPartitions(partitions: Iterable<TopicPartition>): OwnedPartitions {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic) ?? [];
    list.push(partition);
    byTopic.set(topic, list);
  }
  return {
    topicPartitions: [...byTopic.keys()].sort().map((topic) => ({
      topic,
      partitions: (byTopic.get(topic) as number[]).sort((a, b) => a - b),
    })),
  };
}

/** The protocol's partition set as a map keyed by `tpKey`. */
export function fromOwnedPartitions(owned: OwnedPartitions): Map<string, TopicPartition> {
  const out = new Map<string, TopicPartition>();
  for (const { topic, partitions } of owned.topicPartitions)
    for (const partition of partitions) out.set(tpKey(topic, partition), { topic, partition });
  return out;
}

export class GroupMembership {
  memberId = '';
  memberEpoch = 0;
  /** The latest assignment received (the whole target); undefined until the first one. */
  private targetPartitions: Map<string, TopicPartition> | undefined;
  /** Bumped by every new assignment, so that the consumer knows when to reconcile. */
  targetVersion = 0;
  /** Bumped whenever the member loses its partitions: a reconciliation in progress stops. */
  lostGeneration = 0;
  /** The membership failed for good (not retriable); the next poll throws it. */
  fatal: StreamBusError | undefined;
  private subscription: Subscription | undefined;
  /** What the consumer owns, as last reported by it. */
  private owned = new Map<string, TopicPartition>();
  /** Versions of the owned set and the subscription, and the ones the coordinator acknowledged. */
  private ownedVersion = 0;
  private ownedVersionAcked = -1;
  private subscriptionVersion = 0;
  private subscriptionVersionAcked = -1;
  /** Send every descriptive field on the next heartbeat (a join, or after an error). */
  private sendFull = true;
  private heartbeatIntervalMs = heartbeatIntervalMsDefault;
  /** When the last heartbeat succeeded (ms); undefined while not a member. */
  private lastSuccessMs: number | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  private wakeRequested = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly coordinator: GroupCoordinator,
    private readonly options: MembershipOptions,
    private readonly hooks: MembershipHooks,
  ) {}

  /** The latest target assignment, or undefined before the first. */
  get target(): ReadonlyMap<string, TopicPartition> | undefined {
    return this.targetPartitions;
  }

  /** Starts (or changes) the subscription; the heartbeat loop starts with the first one. */
  subscribe(subscription: Subscription): void {
    this.subscription = subscription;
    this.subscriptionVersion++;
    if (this.fatal !== undefined) return;
    if (!this.running) {
      this.running = true;
      this.loop = this.run();
    } else this.wake();
  }

  /** The consumer's owned partitions after a reconciliation step: sent at once. */
  setOwned(owned: Iterable<TopicPartition>): void {
    this.owned = new Map([...owned].map((tp) => [tpKey(tp.topic, tp.partition), tp]));
    this.ownedVersion++;
    this.wake();
  }

  /** True while the heartbeat loop runs. */
  get active(): boolean {
    return this.running;
  }

  /**
   * Stops heartbeating and leaves the group: epoch -1 (its partitions are reassigned at once), or
   * -2 for a static member (it keeps its assignment for the session timeout and rejoins without a
   * rebalance). One attempt within `timeoutMs`; a member that cannot reach its coordinator is
   * removed after its session timeout anyway.
   */
  async leave(timeoutMs: number): Promise<void> {
    const wasMember = this.running && this.memberId !== '' && this.memberEpoch > 0;
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = undefined;
    if (!wasMember || this.cluster.isClosed) return;
    const request: ConsumerGroupHeartbeatRequest = {
      groupId: this.options.groupId,
      memberId: this.memberId,
      memberEpoch: this.options.instanceId === '' ? -1 : -2,
      instanceId: this.options.instanceId,
      rebalanceTimeoutMs: 0,
      serverAssignor: '',
      clientId: '',
    };
    this.memberEpoch = 0;
    this.targetPartitions = undefined;
    try {
      const target = await this.coordinator.find();
      await this.cluster.call(target, 'ConsumerGroupHeartbeat', request, 0, {
        deadlineMs: Math.min(timeoutMs, heartbeatRequestTimeoutMsMax),
      });
    } catch (error) {
      if (!(error instanceof StreamBusError)) throw error;
      // Not reached: the coordinator removes the member after its session timeout.
    }
  }

  private wake(): void {
    this.wakeRequested = true;
    this.wakeLoop?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running && !this.cluster.isClosed) {
      this.checkSession();
      let delayMs: number;
      try {
        delayMs = this.onResponse(await this.heartbeat());
        failures = 0;
      } catch (error) {
        if (!(error instanceof StreamBusError)) throw error;
        if (this.cluster.isClosed || !this.running) break;
        if (error.code === 'UNKNOWN_MEMBER_ID' || error.code === 'FENCED_MEMBER_EPOCH') {
          this.lose(error);
          delayMs = this.cluster.backoffMs(failures++);
        } else if (error.retriable) {
          this.coordinator.onRetriable(error);
          this.sendFull = true;
          delayMs = this.cluster.backoffMs(failures++);
        } else {
          this.fatal = error;
          this.running = false;
          this.hooks.changed();
          break;
        }
      }
      await this.sleep(delayMs);
    }
  }

  /** One heartbeat to the coordinator; its answer's error comes back as a typed error. */
  private async heartbeat(): Promise<ConsumerGroupHeartbeatResponse> {
    const subscription = this.subscription;
    assert(subscription !== undefined, 'a member heartbeats only once subscribed');
    const joining = this.memberEpoch === 0;
    const full = this.sendFull || joining;
    const sendSubscription = full || this.subscriptionVersion !== this.subscriptionVersionAcked;
    const sendOwned = full || this.ownedVersion !== this.ownedVersionAcked;
    const ownedVersion = this.ownedVersion;
    const subscriptionVersion = this.subscriptionVersion;
    this.wakeRequested = false;
    const request: ConsumerGroupHeartbeatRequest = {
      groupId: this.options.groupId,
      memberId: this.memberId,
      memberEpoch: this.memberEpoch,
      instanceId: this.options.instanceId,
      rebalanceTimeoutMs: full ? this.options.rebalanceTimeoutMs : 0,
      subscribedTopics: sendSubscription ? { names: [...subscription.names] } : null,
      subscribedTopicRegex: sendSubscription ? { pattern: subscription.pattern } : null,
      serverAssignor: this.options.assignor,
      owned: sendOwned ? toOwnedPartitions(this.owned.values()) : null,
      clientId: full ? this.options.clientId : '',
    };
    const target = await this.coordinator.find();
    const response = await this.cluster.call(target, 'ConsumerGroupHeartbeat', request, 0, {
      deadlineMs: Math.min(this.cluster.options.requestTimeoutMs, heartbeatRequestTimeoutMsMax),
    });
    if (response.errorCode !== ErrorCode.NONE)
      throw errorFromCode(
        response.errorCode,
        `group "${this.options.groupId}": ${response.errorMessage}`,
        response.leaderId,
      );
    // Acknowledged: fields that did not change since need not be sent again.
    this.ownedVersionAcked = ownedVersion;
    this.subscriptionVersionAcked = subscriptionVersion;
    this.sendFull = false;
    return response;
  }

  /** Applies a successful answer; returns how long to wait before the next heartbeat. */
  private onResponse(response: ConsumerGroupHeartbeatResponse): number {
    if (!this.running) return 0;
    if (response.memberId !== '') this.memberId = response.memberId;
    this.memberEpoch = response.memberEpoch;
    this.lastSuccessMs = Date.now();
    if (response.heartbeatIntervalMs > 0)
      this.heartbeatIntervalMs = Math.min(
        heartbeatIntervalMsMax,
        Math.max(heartbeatIntervalMsMin, response.heartbeatIntervalMs),
      );
    if (response.assignment !== undefined && response.assignment !== null) {
      this.targetPartitions = fromOwnedPartitions(response.assignment);
      this.targetVersion++;
      this.hooks.changed();
    }
    // Something changed while the heartbeat was in flight (owned, subscription): send it now.
    return this.wakeRequested ? 0 : this.heartbeatIntervalMs;
  }

  /** Without a successful heartbeat for the session timeout, the coordinator has removed this member. */
  private checkSession(): void {
    if (this.lastSuccessMs === undefined || this.memberEpoch <= 0) return;
    const silentMs = Date.now() - this.lastSuccessMs;
    if (silentMs < this.options.sessionTimeoutMs) return;
    this.lose(
      errorFromCode(
        ErrorCode.UNKNOWN_MEMBER_ID,
        `group "${this.options.groupId}": no heartbeat succeeded for ${silentMs} ms (session timeout ${this.options.sessionTimeoutMs} ms); the partitions are lost`,
      ),
    );
  }

  /** Drops every partition (the consumer stops reading them) and joins again with epoch 0. */
  private lose(reason: StreamBusError): void {
    this.lostGeneration++;
    if (reason.code === 'UNKNOWN_MEMBER_ID') this.memberId = '';
    this.memberEpoch = 0;
    this.lastSuccessMs = undefined;
    this.targetPartitions = undefined;
    this.targetVersion++;
    this.owned = new Map();
    this.ownedVersion++;
    this.sendFull = true;
    this.hooks.lost(reason);
    this.hooks.changed();
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeLoop = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeLoop = done;
    });
  }
}
