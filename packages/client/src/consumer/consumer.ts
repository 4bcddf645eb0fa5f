/**
 * The consumer: reads assigned partitions with long-poll Fetch requests sent to each partition's
 * leader (one request per broker, many partitions), follows leader changes, and keeps a position
 * per partition. With a `groupId`, `subscribe()` makes it a member of a consumer group (KIP-848:
 * group-membership.ts): the coordinator assigns partitions, and the consumer reconciles inside
 * `poll()` (revoke first, then take the new ones), starts each new partition at the group's
 * committed offset (else `autoOffsetReset`), and commits positions: every `autoCommitIntervalMs`
 * at the start of a poll (the records returned before it count as processed: at least once),
 * before revoking a partition, and on close. `assign()` stays manual and excludes `subscribe()`.
 *
 * Fetches run in the background, one at a time per leader broker: a poll returns as soon as any
 * of them brought records (a broker whose partitions are caught up long-polls without holding
 * the others back), and fetched batches beyond `pollRecordsMax` wait for the next poll. A
 * partition is fetched again once its fetched batches are all returned, so fetching overlaps
 * the application's processing of the previous poll's records.
 */
import {
  ErrorCode,
  decodeRecordBatch,
  splitRecordBatches,
  fetchMaxWaitMsMax,
  offsetTimestampEarliest,
  offsetTimestampLatest,
  RecordBatchError,
  type FetchPartitionResult,
} from '@streambus/proto';
import type { Context } from '@opentelemetry/api';
import { Cluster } from '../cluster/cluster.js';
import { GroupCoordinator } from '../cluster/coordinator.js';
import { listOffsetsAtLeaders } from '../cluster/list-offsets.js';
import type { ClientOptions } from '../cluster/options.js';
import {
  assignedPartitionsMax,
  autoCommitIntervalMsDefault,
  groupCloseTimeoutMsDefault,
  groupIdLengthMax,
  groupIdPattern,
  offsetCommitPartitionsMax,
  rebalanceTimeoutMsDefault,
  rebalanceTimeoutMsMax,
  sessionTimeoutMsDefault,
  subscribedRegexLengthMax,
  subscribedTopicsMax,
  fetchMaxBytesDefault,
  fetchMaxWaitMsDefault,
  fetchMinBytesDefault,
  fetchPartitionMaxBytesDefault,
  pollRecordsMaxDefault,
} from '../constants.js';
import {
  ClientClosedError,
  CorruptMessageError,
  IllegalStateError,
  InvalidConfigError,
  OffsetOutOfRangeError,
  StreamBusError,
  errorFromCode,
} from '../errors.js';
import { assert } from '../assert.js';
import { GroupMembership } from './group-membership.js';
import { asBuffer, tpKey, type ConsumerRecord, type TopicPartition } from '../records.js';
import { messagingCall } from '../tracing.js';

/** Where to start when a partition has no position or its position is out of range. */
export type OffsetResetPolicy = 'earliest' | 'latest' | 'none';

/** Consumer options (all optional except `bootstrapServers`). */
export interface ConsumerOptions extends ClientOptions {
  /** The consumer group: needed by `subscribe()` and `commit()` (1..249 chars of [a-zA-Z0-9._-]). */
  groupId?: string;
  /** Static membership: a stable name of this instance (a pod name); a restart within the session keeps its partitions. */
  groupInstanceId?: string;
  /**
   * How long this member may go without a successful heartbeat before it treats its partitions as
   * lost (default 45000: the broker's default groups.session_timeout_ms, which is what removes it).
   */
  sessionTimeoutMs?: number;
  /** Longest the application may take to give up a revoked partition (default 300000, at most 300000). */
  rebalanceTimeoutMs?: number;
  /** The coordinator's assignor: `uniform` or `range` (default: the group's, else uniform). */
  assignor?: 'uniform' | 'range';
  /** Commit positions automatically (default true): every interval at the start of a poll, before a revocation, on close. */
  enableAutoCommit?: boolean;
  /** Interval of auto-commits in ms (default 5000). */
  autoCommitIntervalMs?: number;
  /** Called (and awaited) inside poll() after partitions were added to the assignment: seek them here if needed. */
  onPartitionsAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called inside poll() (or close()) before partitions are given up, after the auto-commit: commit here if needed. */
  onPartitionsRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called inside poll() after the member was fenced or lost its session: others may own them already; do not commit. */
  onPartitionsLost?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Start of partitions without a position (default `latest`, as Kafka). `none` throws OFFSET_OUT_OF_RANGE. */
  autoOffsetReset?: OffsetResetPolicy;
  /** Longest a Fetch waits at the broker for data (default 500 ms, at most 30000). */
  fetchMaxWaitMs?: number;
  /** Bytes a Fetch waits for (default 1: any data). */
  fetchMinBytes?: number;
  /** Bytes per Fetch response (default 16 MiB). */
  fetchMaxBytes?: number;
  /** Bytes per partition per Fetch (default 1 MiB). */
  partitionFetchBytesMax?: number;
  /** Records one poll returns at most (default 10000). */
  pollRecordsMax?: number;
}

interface Assigned {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to read; undefined until resolved by `reset`. */
  position: number | undefined;
  /** How `position` is resolved: the group's committed offset (then the policy), or the policy. */
  reset: OffsetResetPolicy | 'committed';
  /** Bumped by every seek, to discard fetches that were in flight before it. */
  generation: number;
  /** Whole batches fetched and not yet returned, from `fetched[fetchedHead]` on; they hold `position`. */
  fetched: Buffer[];
  fetchedHead: number;
  /** A Fetch for this partition is in flight. */
  fetching: boolean;
  /** A non-retriable failure of this partition, thrown by the next poll that returns nothing. */
  error: Error | undefined;
  /** Not fetched nor returned until resumed. */
  paused: boolean;
  /** The group's committed offset as last known (-1: none or unknown): auto-commits skip partitions already there. */
  committedOffset: number;
}

/** Rebalance callbacks (as options, or given to `subscribe`): see ConsumerOptions. */
export interface RebalanceListener {
  onPartitionsAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  onPartitionsRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
  onPartitionsLost?: (partitions: TopicPartition[]) => void | Promise<void>;
}

/** An offset to commit: the next offset to read. */
export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  /** Free text kept with the offset (at most 4096 bytes). */
  metadata?: string;
}

/** A group's committed offset of a partition; `offset` -1 when nothing is committed. */
export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: number;
  metadata: string;
}

/** The group side of a consumer (present when `groupId` is set). */
interface GroupState {
  readonly groupId: string;
  readonly coordinator: GroupCoordinator;
  readonly membership: GroupMembership;
  readonly autoCommit: boolean;
  readonly autoCommitIntervalMs: number;
  nextAutoCommitMs: number;
  autoCommitInFlight: boolean;
  /** The membership's target version the assignment was last reconciled to. */
  reconciledVersion: number;
  /** Partitions lost (fenced, session lost) whose onPartitionsLost has not run yet. */
  lostQueue: TopicPartition[][];
  listener: RebalanceListener;
}

/** Reads records from assigned partitions, alone (`assign`) or as a member of a group (`subscribe`). */
export class Consumer {
  private readonly cluster: Cluster;
  private readonly autoOffsetReset: OffsetResetPolicy;
  private readonly fetchMaxWaitMs: number;
  private readonly fetchMinBytes: number;
  private readonly fetchMaxBytes: number;
  private readonly partitionFetchBytesMax: number;
  private readonly pollRecordsMax: number;
  private readonly assigned = new Map<string, Assigned>();
  private polling = false;
  /** The OpenTelemetry context active at the running `poll()` (its fetches are its children). */
  private pollTrace: Context | undefined;
  private closed = false;
  /** Failed fetch rounds in a row (for the backoff), and when fetching may start again. */
  private idleRounds = 0;
  private retryAtMs = 0;
  /** Leader brokers with a Fetch in flight. */
  private readonly inFlight = new Set<number>();
  /** Wakes a waiting poll when a Fetch ends. */
  private wake: (() => void) | undefined;
  /** A failure of a whole Fetch that is not retriable, thrown by the next poll. */
  private failure: Error | undefined;
  /** Where the next poll starts returning records, so that no partition starves the others. */
  private drainFrom = 0;
  private readonly group: GroupState | undefined;
  /** How the assignment is made: by hand, by the group, or not yet. */
  private mode: 'none' | 'assign' | 'subscribe' = 'none';

  constructor(options: ConsumerOptions) {
    this.cluster = new Cluster(options);
    this.group = options.groupId === undefined ? undefined : this.groupState(options, options.groupId);
    this.autoOffsetReset = options.autoOffsetReset ?? 'latest';
    if (!['earliest', 'latest', 'none'].includes(this.autoOffsetReset))
      throw new InvalidConfigError('autoOffsetReset must be earliest, latest or none');
    this.fetchMaxWaitMs = bounded(
      options.fetchMaxWaitMs,
      fetchMaxWaitMsDefault,
      0,
      fetchMaxWaitMsMax,
      'fetchMaxWaitMs',
    );
    this.fetchMinBytes = bounded(options.fetchMinBytes, fetchMinBytesDefault, 0, 2 ** 31 - 1, 'fetchMinBytes');
    this.fetchMaxBytes = bounded(options.fetchMaxBytes, fetchMaxBytesDefault, 1, 2 ** 31 - 1, 'fetchMaxBytes');
    this.partitionFetchBytesMax = bounded(
      options.partitionFetchBytesMax,
      fetchPartitionMaxBytesDefault,
      1,
      2 ** 31 - 1,
      'partitionFetchBytesMax',
    );
    this.pollRecordsMax = bounded(options.pollRecordsMax, pollRecordsMaxDefault, 1, 1_000_000, 'pollRecordsMax');
  }

  /** Replaces the assignment by hand (no group membership). Partitions that stay assigned keep their positions. */
  assign(partitions: readonly TopicPartition[]): void {
    this.checkOpen();
    if (this.mode === 'subscribe')
      throw new IllegalStateError('assign() and subscribe() exclude each other; this consumer is subscribed');
    this.mode = partitions.length === 0 ? 'none' : 'assign';
    if (partitions.length > assignedPartitionsMax)
      throw new InvalidConfigError(`at most ${assignedPartitionsMax} partitions can be assigned`);
    const next = new Map<string, Assigned>();
    for (const { topic, partition } of partitions) {
      if (typeof topic !== 'string' || topic === '' || !Number.isInteger(partition) || partition < 0) {
        throw new InvalidConfigError(`invalid topic partition ${String(topic)}/${String(partition)}`);
      }
      const key = tpKey(topic, partition);
      next.set(key, this.assigned.get(key) ?? this.newState({ topic, partition }, this.autoOffsetReset));
    }
    this.assigned.clear();
    for (const [key, value] of next) this.assigned.set(key, value);
  }

  /**
   * Joins the group (`groupId`) with this subscription, or changes it: topic names, or a RegExp
   * matched by the coordinator against whole topic names (its source is sent as an RE2 pattern:
   * no lookaround or backreferences, else the next poll throws INVALID_REQUEST; its flags are
   * not sent; internal topics never match). Partitions arrive through `poll()`, which runs the
   * rebalance callbacks.
   */
  subscribe(topics: readonly string[] | RegExp, listener?: RebalanceListener): void {
    this.checkOpen();
    const group = this.group;
    if (group === undefined)
      throw new InvalidConfigError('subscribe() needs a groupId in the consumer options; or use assign()');
    if (this.mode === 'assign')
      throw new IllegalStateError('subscribe() and assign() exclude each other; this consumer has assigned partitions');
    let names: string[] = [];
    let pattern = '';
    if (topics instanceof RegExp) {
      pattern = topics.source;
      if (pattern.length > subscribedRegexLengthMax)
        throw new InvalidConfigError(`the pattern is longer than ${subscribedRegexLengthMax} characters`);
    } else {
      names = [...new Set(topics)];
      if (names.length === 0 || names.length > subscribedTopicsMax)
        throw new InvalidConfigError(`subscribe to 1..${subscribedTopicsMax} topics, got ${names.length}`);
      const bad = names.find((name) => typeof name !== 'string' || name === '');
      if (bad !== undefined) throw new InvalidConfigError(`invalid topic name "${String(bad)}"`);
    }
    if (listener !== undefined) group.listener = listener;
    this.mode = 'subscribe';
    group.membership.subscribe({ names, pattern });
  }

  /** The subscribed group's member id ('' before the first join, or without a group). */
  memberId(): string {
    return this.group?.membership.memberId ?? '';
  }

  /**
   * Commits offsets to the group and resolves once the coordinator has them in a quorum's log.
   * Default: the position of every assigned partition (the records returned so far). Throws
   * UNKNOWN_MEMBER_ID / FENCED_MEMBER_EPOCH when the member was removed (its partitions are lost),
   * typed errors for bad offsets, or the last retriable error once the attempts are spent.
   */
  async commit(offsets?: readonly OffsetToCommit[]): Promise<void> {
    const group = this.requireGroup('commit()');
    await this.commitOffsets(group, offsets === undefined ? this.positionsToCommit() : this.checkOffsets(offsets));
  }

  /**
   * `commit()` in the background; `callback` gets its error (or undefined). A failed async commit
   * is not retried: a later commit carries newer positions anyway.
   */
  commitAsync(offsets?: readonly OffsetToCommit[], callback?: (error: Error | undefined) => void): void {
    const group = this.requireGroup('commitAsync()');
    const list = offsets === undefined ? this.positionsToCommit() : this.checkOffsets(offsets);
    void this.commitOffsets(group, list).then(
      () => callback?.(undefined),
      (error: unknown) => {
        if (!(error instanceof StreamBusError)) throw error;
        callback?.(error);
      },
    );
  }

  /** The group's committed offsets of `partitions`, in their order (-1: nothing committed). */
  async committed(partitions: readonly TopicPartition[]): Promise<CommittedOffset[]> {
    const group = this.requireGroup('committed()');
    const found = await fetchCommitted(group.coordinator, partitions);
    return partitions.map(
      ({ topic, partition }) => found.get(tpKey(topic, partition)) ?? { topic, partition, offset: -1, metadata: '' },
    );
  }

  /** Stops returning and fetching records of these (assigned) partitions until `resume`; positions stay. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.state(tp).paused = true;
  }

  /** Fetches and returns records of paused partitions again. */
  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.state(tp).paused = false;
  }

  /** The paused partitions. */
  paused(): TopicPartition[] {
    return [...this.assigned.values()].filter((s) => s.paused).map(({ topic, partition }) => ({ topic, partition }));
  }

  /** The assigned partitions. */
  assignment(): TopicPartition[] {
    return [...this.assigned.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Sets the next offset `poll()` reads from `tp` (which must be assigned). */
  seek(tp: TopicPartition, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new InvalidConfigError(`offset must be a non-negative integer, got ${offset}`);
    const state = this.state(tp);
    state.position = offset;
    discardFetched(state);
  }

  /** Moves the given partitions (default all assigned) to their log start offset. */
  seekToBeginning(partitions?: readonly TopicPartition[]): void {
    this.resetTo(partitions, 'earliest');
  }

  /** Moves the given partitions (default all assigned) to their end (the high watermark). */
  seekToEnd(partitions?: readonly TopicPartition[]): void {
    this.resetTo(partitions, 'latest');
  }

  /** The next offset `poll()` will read from `tp`, resolving a pending reset first. */
  async position(tp: TopicPartition): Promise<number> {
    const state = this.state(tp);
    if (state.position === undefined) await this.resolvePositions([state]);
    if (state.position === undefined)
      throw new IllegalStateError(`${tp.topic}/${tp.partition} has no position yet; retry`);
    return state.position;
  }

  /**
   * Fetches records from the assigned partitions, waiting up to `timeoutMs` for some to arrive.
   * Returns [] when none arrived in time. Records of one partition are in offset order.
   * Throws typed errors: OFFSET_OUT_OF_RANGE (with autoOffsetReset `none`), CORRUPT_MESSAGE,
   * UNKNOWN_TOPIC_OR_PARTITION (topic deleted), CLIENT_CLOSED. One poll at a time.
   */
  async poll(timeoutMs: number): Promise<ConsumerRecord[]> {
    this.checkOpen();
    if (this.polling) throw new IllegalStateError('poll() is already running; await it before calling poll() again');
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0)
      throw new InvalidConfigError(`timeoutMs must be >= 0, got ${timeoutMs}`);
    this.polling = true;
    // Fetches started during this poll are children of the caller's span, if it has one.
    this.pollTrace = this.cluster.tracing.activeContext();
    try {
      if (this.group !== undefined) this.maybeAutoCommit(this.group);
      return await this.pollLoop(Date.now() + timeoutMs);
    } finally {
      this.polling = false;
      this.pollTrace = undefined;
    }
  }

  /**
   * Closes the consumer. A member of a group first commits its positions (auto-commit), runs
   * `onPartitionsRevoked` for what it owns and leaves the group, within `timeoutMs` (default
   * 10000). A poll in progress ends with CLIENT_CLOSED.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const group = this.group;
    try {
      if (group !== undefined && this.mode === 'subscribe') {
        const deadline = Date.now() + (options.timeoutMs ?? groupCloseTimeoutMsDefault);
        await withTimeout(this.leaveGroup(group, deadline), Math.max(0, deadline - Date.now()));
      }
    } finally {
      this.cluster.close();
    }
  }

  /** Commits (auto-commit), revokes everything (callback), leaves. Errors of the group calls are dropped: closing goes on. */
  private async leaveGroup(group: GroupState, deadlineMs: number): Promise<void> {
    const membership = group.membership;
    const owned = this.assignment();
    if (membership.fatal === undefined && owned.length > 0) {
      if (group.autoCommit) await this.commitOffsets(group, this.positionsToCommit()).catch(dropGroupError);
      await this.runCallback(group, 'onPartitionsRevoked', owned).catch(() => undefined);
    }
    this.assigned.clear();
    await membership.leave(Math.max(1, deadlineMs - Date.now()));
  }

  private async pollLoop(deadlineMs: number): Promise<ConsumerRecord[]> {
    for (;;) {
      if (this.closed) throw new ClientClosedError('the consumer is closed');
      if (this.group !== undefined) await this.reconcile(this.group);
      const states = [...this.assigned.values()].filter((s) => !s.paused);
      if (states.length === 0) {
        const remainingMs = deadlineMs - Date.now();
        if (remainingMs <= 0) return [];
        await this.waitForWake(remainingMs);
        continue;
      }
      const unresolved = states.filter((s) => s.position === undefined);
      if (unresolved.length > 0)
        await this.resolvePositions(unresolved).catch((error: unknown) => this.onRetriable(error));
      const records = this.drain(states);
      // Fetch ahead for the partitions returned in full while the caller handles these records.
      await this.startFetches(
        states,
        records.length > 0 ? this.fetchMaxWaitMs : Math.max(0, Math.min(this.fetchMaxWaitMs, deadlineMs - Date.now())),
      );
      if (records.length > 0) return records;
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) return [];
      await this.waitForFetch(remainingMs);
    }
  }

  /**
   * Up to `pollRecordsMax` fetched records, partition after partition from a rotating start.
   * With none, throws the first failure recorded (a partition's, else a whole Fetch's).
   */
  private drain(states: readonly Assigned[]): ConsumerRecord[] {
    const out: ConsumerRecord[] = [];
    const start = this.drainFrom++ % states.length;
    for (let i = 0; i < states.length && out.length < this.pollRecordsMax; i++) {
      const state = states[(start + i) % states.length] as Assigned;
      if (state.error === undefined) this.decodeInto(state, out);
    }
    if (out.length > 0) return out;
    const failed = states.find((s) => s.error !== undefined);
    const failure = failed?.error ?? this.failure;
    if (failed !== undefined) failed.error = undefined;
    else this.failure = undefined;
    if (failure !== undefined) throw failure;
    return out;
  }

  /** Sends a Fetch to every leader without one in flight, for its partitions with nothing fetched. */
  private async startFetches(states: readonly Assigned[], maxWaitMs: number): Promise<void> {
    if (Date.now() < this.retryAtMs) return;
    const byLeader = new Map<number, Assigned[]>();
    let unroutable = false;
    for (const state of states) {
      if (state.position === undefined) {
        unroutable = true;
        continue;
      }
      if (state.fetching || state.error !== undefined || state.fetchedHead < state.fetched.length) continue;
      if (this.cluster.cachedTopic(state.topic) !== undefined && this.cluster.isStale(state.topic))
        this.refreshSoon([state.topic]);
      if (this.cluster.cachedTopic(state.topic) === undefined) {
        await this.cluster.topicMetadata(state.topic).catch((error: unknown) => this.onRetriable(error));
      }
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === 0) {
        unroutable = true;
        continue;
      }
      if (this.inFlight.has(leader)) continue;
      const list = byLeader.get(leader) ?? [];
      list.push(state);
      byLeader.set(leader, list);
    }
    if (unroutable) this.refreshSoon(states.map((s) => s.topic));
    if (byLeader.size === 0) {
      if (this.inFlight.size === 0 && unroutable) this.failedRound();
      return;
    }
    for (const [leader, list] of byLeader) this.fetchFrom(leader, list, maxWaitMs);
  }

  /** One Fetch to `leader` in the background; its results wait in the partitions' states. */
  private fetchFrom(leader: number, list: Assigned[], maxWaitMs: number): void {
    this.inFlight.add(leader);
    const generations = list.map((s) => s.generation);
    for (const state of list) state.fetching = true;
    const request = {
      maxWaitMs,
      minBytes: this.fetchMinBytes,
      maxBytes: this.fetchMaxBytes,
      replicaId: 0,
      partitions: list.map((s) => ({
        topic: s.topic,
        partition: s.partition,
        fetchOffset: s.position as number,
        partitionMaxBytes: this.partitionFetchBytesMax,
      })),
    };
    const trace = messagingCall(
      'receive',
      request.partitions,
      undefined,
      this.pollTrace === undefined ? [] : [this.pollTrace],
    );
    this.cluster
      .call(leader, 'Fetch', request, maxWaitMs, { trace })
      .then(
        (response) => {
          const byKey = new Map(response.partitions.map((r) => [tpKey(r.topic, r.partition), r]));
          let failed = false;
          list.forEach((state, i) => {
            const result = byKey.get(tpKey(state.topic, state.partition));
            if (
              result === undefined ||
              state.generation !== generations[i] ||
              this.assigned.get(tpKey(state.topic, state.partition)) !== state
            )
              return;
            if (!this.applyFetchResult(state, result)) failed = true;
          });
          if (failed) this.failedRound();
          else this.idleRounds = 0;
        },
        (error: unknown) => {
          if (this.closed) return;
          if (error instanceof StreamBusError && error.retriable) {
            this.failedRound();
            this.refreshSoon(list.map((s) => s.topic));
          } else {
            this.failure ??= error instanceof Error ? error : new Error(String(error));
          }
        },
      )
      .catch((error: unknown) => {
        // A bug while applying the answer: reported by the next poll, never an unhandled rejection.
        this.failure ??= error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => {
        this.inFlight.delete(leader);
        for (const state of list) state.fetching = false;
        this.wake?.();
      });
  }

  /** Waits until a Fetch ends, the retry backoff is over, or `remainingMs` passed. */
  private waitForFetch(remainingMs: number): Promise<void> {
    const backoffMs = this.retryAtMs - Date.now();
    const waitMs = Math.min(remainingMs, backoffMs > 0 ? backoffMs : this.inFlight.size > 0 ? remainingMs : 1);
    return this.waitForWake(waitMs);
  }

  /** Waits `waitMs`, or less when a Fetch ends, the group's assignment changes, or the consumer closes. */
  private waitForWake(waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.wake = done;
    });
  }

  private failedRound(): void {
    this.retryAtMs = Date.now() + this.cluster.backoffMs(this.idleRounds);
    this.idleRounds++;
  }

  /** Applies one partition's fetch result; false when it failed (retriable, or recorded in `state.error`). */
  private applyFetchResult(state: Assigned, result: FetchPartitionResult): boolean {
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      if (this.autoOffsetReset === 'none') {
        state.error = new OffsetOutOfRangeError(
          `${state.topic}/${state.partition}: offset ${state.position} is outside [${result.logStartOffset}, ${result.highWatermark}]; seek to a valid offset`,
        );
        return false;
      }
      state.position = undefined;
      state.reset = this.autoOffsetReset;
      return false;
    }
    if (result.errorCode !== ErrorCode.NONE) {
      const error = errorFromCode(
        result.errorCode,
        `${state.topic}/${state.partition}: ${result.errorMessage}`,
        result.leaderId,
      );
      if (!error.retriable) {
        state.error = error;
        return false;
      }
      if (
        result.errorCode === ErrorCode.NOT_LEADER &&
        this.cluster.applyLeaderHint(state.topic, state.partition, result.leaderId, result.leaderEpoch)
      )
        return false;
      if (result.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.cluster.invalidateTopic(state.topic);
      this.refreshSoon([state.topic]);
      return false;
    }
    // Whole batches laid end to end; a partial trailing one is fetched again next time.
    try {
      state.fetched = splitRecordBatches(asBuffer(result.records)).batches;
      state.fetchedHead = 0;
    } catch (error) {
      if (!(error instanceof RecordBatchError)) throw error;
      state.error = new CorruptMessageError(
        `${state.topic}/${state.partition}: corrupt fetch response at offset ${state.position}: ${error.message}`,
        { cause: error },
      );
    }
    return true;
  }

  /** Moves fetched records of `state` to `out` (up to `pollRecordsMax`), advancing its position. */
  private decodeInto(state: Assigned, out: ConsumerRecord[]): void {
    while (state.fetchedHead < state.fetched.length && out.length < this.pollRecordsMax) {
      const bytesOfBatch = state.fetched[state.fetchedHead] as Buffer;
      let batch;
      try {
        batch = decodeRecordBatch(bytesOfBatch);
      } catch (error) {
        if (!(error instanceof RecordBatchError)) throw error;
        // Reported once the records of the other partitions are returned; the position stays.
        state.error = new CorruptMessageError(
          `${state.topic}/${state.partition}: corrupt batch at offset ${state.position}: ${error.message}`,
          { cause: error },
        );
        discardFetched(state, false);
        return;
      }
      let whole = true;
      for (const record of batch.records) {
        if (record.offset < (state.position as number)) continue;
        if (out.length >= this.pollRecordsMax) {
          whole = false;
          break;
        }
        out.push({
          topic: state.topic,
          partition: state.partition,
          offset: record.offset,
          timestamp: record.timestamp,
          key: record.key === null ? null : asBuffer(record.key),
          value: record.value === null ? null : asBuffer(record.value),
          headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : asBuffer(h.value) })),
        });
        state.position = record.offset + 1;
      }
      if (!whole) return;
      state.fetchedHead++;
    }
    if (state.fetchedHead >= state.fetched.length) discardFetched(state, false);
  }

  private async resolvePositions(all: readonly Assigned[]): Promise<void> {
    const fromGroup = all.filter((s) => s.reset === 'committed');
    if (fromGroup.length > 0) {
      assert(this.group !== undefined, 'only a group member starts partitions at committed offsets');
      const generations = fromGroup.map((s) => s.generation);
      const found = await fetchCommitted(this.group.coordinator, fromGroup);
      fromGroup.forEach((state, i) => {
        if (state.generation !== generations[i] || state.position !== undefined) return;
        const committed = found.get(tpKey(state.topic, state.partition));
        if (committed !== undefined && committed.offset >= 0) {
          state.position = committed.offset;
          state.committedOffset = committed.offset;
        } else state.reset = this.autoOffsetReset;
      });
    }
    const states = all.filter((s) => s.position === undefined && s.reset !== 'committed');
    if (states.length === 0) return;
    const queries = states.map((s) => {
      if (s.reset === 'none') {
        throw new OffsetOutOfRangeError(
          `${s.topic}/${s.partition} has no position and autoOffsetReset is none; call seek()`,
        );
      }
      return {
        topic: s.topic,
        partition: s.partition,
        timestampMs: s.reset === 'earliest' ? offsetTimestampEarliest : offsetTimestampLatest,
      };
    });
    const generations = states.map((s) => s.generation);
    const answers = await listOffsetsAtLeaders(this.cluster, queries);
    answers.forEach((answer, i) => {
      const state = states[i] as Assigned;
      if (state.generation === generations[i] && state.position === undefined) state.position = answer.offset;
    });
  }

  private resetTo(partitions: readonly TopicPartition[] | undefined, reset: 'earliest' | 'latest'): void {
    const states = partitions === undefined ? [...this.assigned.values()] : partitions.map((tp) => this.state(tp));
    for (const state of states) {
      state.position = undefined;
      state.reset = reset;
      discardFetched(state);
    }
  }

  private newState(tp: TopicPartition, reset: Assigned['reset']): Assigned {
    return {
      topic: tp.topic,
      partition: tp.partition,
      position: undefined,
      reset,
      generation: 0,
      fetched: [],
      fetchedHead: 0,
      fetching: false,
      error: undefined,
      paused: false,
      committedOffset: -1,
    };
  }

  private groupState(options: ConsumerOptions, groupId: string): GroupState {
    if (groupId === '' || groupId.length > groupIdLengthMax || !groupIdPattern.test(groupId))
      throw new InvalidConfigError(
        `groupId must be 1..${groupIdLengthMax} characters of [a-zA-Z0-9._-], got "${groupId}"`,
      );
    const instanceId = options.groupInstanceId ?? '';
    if (instanceId !== '' && (instanceId.length > groupIdLengthMax || !groupIdPattern.test(instanceId)))
      throw new InvalidConfigError(
        `groupInstanceId must be 1..${groupIdLengthMax} characters of [a-zA-Z0-9._-], got "${instanceId}"`,
      );
    const sessionTimeoutMs = bounded(
      options.sessionTimeoutMs,
      sessionTimeoutMsDefault,
      1,
      2 ** 31 - 1,
      'sessionTimeoutMs',
    );
    const rebalanceTimeoutMs = bounded(
      options.rebalanceTimeoutMs,
      rebalanceTimeoutMsDefault,
      1,
      rebalanceTimeoutMsMax,
      'rebalanceTimeoutMs',
    );
    const assignor = options.assignor ?? '';
    if (!['', 'uniform', 'range'].includes(assignor)) throw new InvalidConfigError('assignor must be uniform or range');
    const coordinator = new GroupCoordinator(this.cluster, groupId);
    const membership = new GroupMembership(
      this.cluster,
      coordinator,
      {
        groupId,
        instanceId,
        sessionTimeoutMs,
        rebalanceTimeoutMs: Math.trunc(rebalanceTimeoutMs),
        assignor,
        clientId: this.cluster.options.clientId,
      },
      { lost: () => this.onLost(), changed: () => this.wake?.() },
    );
    const listener: RebalanceListener = {};
    if (options.onPartitionsAssigned !== undefined) listener.onPartitionsAssigned = options.onPartitionsAssigned;
    if (options.onPartitionsRevoked !== undefined) listener.onPartitionsRevoked = options.onPartitionsRevoked;
    if (options.onPartitionsLost !== undefined) listener.onPartitionsLost = options.onPartitionsLost;
    const autoCommitIntervalMs = bounded(
      options.autoCommitIntervalMs,
      autoCommitIntervalMsDefault,
      1,
      2 ** 31 - 1,
      'autoCommitIntervalMs',
    );
    return {
      groupId,
      coordinator,
      membership,
      autoCommit: options.enableAutoCommit ?? true,
      autoCommitIntervalMs,
      nextAutoCommitMs: Date.now() + autoCommitIntervalMs,
      autoCommitInFlight: false,
      reconciledVersion: 0,
      lostQueue: [],
      listener,
    };
  }

  /** The member was removed: drop every partition at once (no commit); onPartitionsLost runs at the next poll. */
  private onLost(): void {
    const group = this.group;
    assert(group !== undefined, 'only a group member loses partitions');
    const lost = this.assignment();
    this.assigned.clear();
    if (lost.length > 0) group.lostQueue.push(lost);
  }

  /**
   * Moves the assignment to the membership's target, inside poll(): lost callbacks first, then
   * revocations (auto-commit, onPartitionsRevoked, then reported released), then the new
   * partitions (they start at the committed offset; onPartitionsAssigned may seek). A member
   * fenced meanwhile stops here; the next poll goes on from the new state.
   */
  private async reconcile(group: GroupState): Promise<void> {
    const membership = group.membership;
    if (membership.fatal !== undefined) throw membership.fatal;
    // A callback's failure is thrown by this poll once the reconciliation is done (as Kafka's poll does).
    let callbackError: Error | undefined;
    const note = (error: unknown): void => {
      callbackError ??= error instanceof Error ? error : new Error(String(error));
    };
    while (group.lostQueue.length > 0) {
      const lost = group.lostQueue.shift() as TopicPartition[];
      await this.runCallback(group, 'onPartitionsLost', lost).catch(note);
    }
    const version = membership.targetVersion;
    const target = membership.target;
    if (target !== undefined && version !== group.reconciledVersion && !this.closed) {
      const generation = membership.lostGeneration;
      const revoked = [...this.assigned.values()].filter((s) => !target.has(tpKey(s.topic, s.partition)));
      if (revoked.length > 0) {
        if (group.autoCommit) await this.commitOffsets(group, this.positionsToCommit(revoked)).catch(dropGroupError);
        const partitions = revoked.map(({ topic, partition }) => ({ topic, partition }));
        if (membership.lostGeneration === generation)
          await this.runCallback(group, 'onPartitionsRevoked', partitions).catch(note);
        if (membership.lostGeneration === generation) {
          for (const state of revoked) {
            this.assigned.delete(tpKey(state.topic, state.partition));
            discardFetched(state);
          }
          membership.setOwned(this.assignment());
        }
      }
      if (membership.lostGeneration === generation) {
        const added = [...target.values()].filter((tp) => !this.assigned.has(tpKey(tp.topic, tp.partition)));
        for (const tp of added) this.assigned.set(tpKey(tp.topic, tp.partition), this.newState(tp, 'committed'));
        if (added.length > 0) {
          membership.setOwned(this.assignment());
          await this.runCallback(group, 'onPartitionsAssigned', added).catch(note);
        }
        if (membership.lostGeneration === generation) group.reconciledVersion = version;
      }
    }
    if (callbackError !== undefined) throw callbackError;
  }

  private async runCallback(
    group: GroupState,
    name: keyof RebalanceListener,
    partitions: TopicPartition[],
  ): Promise<void> {
    const callback = group.listener[name];
    if (callback !== undefined && partitions.length > 0) await callback(partitions.map((tp) => ({ ...tp })));
  }

  /** At the start of a poll, once per interval: the records returned before it count as processed. */
  private maybeAutoCommit(group: GroupState): void {
    if (!group.autoCommit || group.autoCommitInFlight || this.mode !== 'subscribe') return;
    const now = Date.now();
    if (now < group.nextAutoCommitMs) return;
    group.nextAutoCommitMs = now + group.autoCommitIntervalMs;
    const offsets = this.positionsToCommit().filter((o) => {
      const state = this.assigned.get(tpKey(o.topic, o.partition));
      return state !== undefined && state.committedOffset !== o.offset;
    });
    if (offsets.length === 0) return;
    group.autoCommitInFlight = true;
    void this.commitOffsets(group, offsets)
      .catch(dropGroupError)
      .finally(() => {
        group.autoCommitInFlight = false;
      });
  }

  /** Positions of `states` (default every assigned partition) that are known. */
  private positionsToCommit(states: readonly Assigned[] = [...this.assigned.values()]): OffsetToCommit[] {
    return states
      .filter((s) => s.position !== undefined)
      .map((s) => ({ topic: s.topic, partition: s.partition, offset: s.position as number }));
  }

  private checkOffsets(offsets: readonly OffsetToCommit[]): OffsetToCommit[] {
    if (offsets.length > offsetCommitPartitionsMax)
      throw new InvalidConfigError(`at most ${offsetCommitPartitionsMax} partitions per commit`);
    for (const o of offsets) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0)
        throw new InvalidConfigError(
          `${o.topic}/${o.partition}: offset must be a non-negative integer, got ${o.offset}`,
        );
    }
    return [...offsets];
  }

  /**
   * One commit, retried while the coordinator moves or the member's epoch is about to change
   * (STALE_MEMBER_EPOCH, or a member still joining). A member commits with its id and current
   * epoch; a consumer that only `assign`s commits as an admin tool ('' and -1: refused while the
   * group has members).
   */
  private async commitOffsets(group: GroupState, offsets: readonly OffsetToCommit[]): Promise<void> {
    if (offsets.length === 0) return;
    const membership = group.membership;
    const member = this.mode === 'subscribe';
    const lostGeneration = membership.lostGeneration;
    const startEpoch = membership.memberEpoch;
    let sending = offsets;
    await group.coordinator.call(
      'OffsetCommit',
      () => {
        // A retry goes out with the member's epoch at that moment, which the coordinator accepts:
        // it must not carry a position the member no longer stands for. After the member lost its
        // partitions (fenced, session lost) nothing of this commit is sent: another member may
        // own them and have committed since. After a rebalance only what it still owns is sent.
        if (member && membership.lostGeneration !== lostGeneration)
          throw errorFromCode(
            ErrorCode.FENCED_MEMBER_EPOCH,
            `group "${group.groupId}": the member lost its partitions while this commit was retried; nothing was committed (another member may own them now)`,
          );
        if (member && membership.memberEpoch !== startEpoch)
          sending = sending.filter((o) => this.assigned.has(tpKey(o.topic, o.partition)));
        return {
          groupId: group.groupId,
          memberId: member ? membership.memberId : '',
          memberEpoch: member ? membership.memberEpoch : -1,
          partitions: sending.map((o) => ({
            topic: o.topic,
            partition: o.partition,
            offset: o.offset,
            metadata: o.metadata ?? '',
          })),
        };
      },
      (response) => {
        const failed = response.partitions.find((r) => r.errorCode !== ErrorCode.NONE);
        if (failed === undefined) return undefined;
        const message = `group "${group.groupId}" commit of ${failed.topic}/${failed.partition}: ${failed.errorMessage}`;
        // A deleted topic's partition: final, not a reason to retry the whole commit.
        if (failed.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          return errorFromCode(ErrorCode.INVALID_REQUEST, message);
        return errorFromCode(failed.errorCode, message, response.leaderId);
      },
    );
    for (const o of sending) {
      const state = this.assigned.get(tpKey(o.topic, o.partition));
      if (state !== undefined) state.committedOffset = o.offset;
    }
  }

  /** The group state for a group call; allowed while closing (onPartitionsRevoked may commit), not after. */
  private requireGroup(what: string): GroupState {
    if (this.cluster.isClosed) throw new ClientClosedError('the consumer is closed');
    if (this.group === undefined) throw new InvalidConfigError(`${what} needs a groupId in the consumer options`);
    return this.group;
  }

  private state(tp: TopicPartition): Assigned {
    this.checkOpen();
    const state = this.assigned.get(tpKey(tp.topic, tp.partition));
    if (state === undefined)
      throw new IllegalStateError(`${tp.topic}/${tp.partition} is not assigned; call assign() first`);
    return state;
  }

  private checkOpen(): void {
    if (this.closed) throw new ClientClosedError('the consumer is closed');
  }

  /** Swallows retriable errors (the loop retries); rethrows the others. */
  private onRetriable(error: unknown): void {
    if (error instanceof StreamBusError && error.retriable) return;
    throw error;
  }

  private refreshSoon(topics: readonly string[]): void {
    this.cluster.refreshMetadata([...new Set(topics)]).catch(() => {
      // The next round retries; a broker that stays unreachable shows up as empty polls.
    });
  }
}

/** Drops what was fetched for `state`; with `newGeneration`, also the results of fetches in flight (a seek). */
function discardFetched(state: Assigned, newGeneration = true): void {
  state.fetched = [];
  state.fetchedHead = 0;
  if (!newGeneration) return;
  state.generation++;
  state.error = undefined;
}

function bounded(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min || v > max)
    throw new InvalidConfigError(`${name} must be in [${min}, ${max}], got ${v}`);
  return v;
}

/** The group's committed offsets of `partitions`, keyed by tpKey (absent: nothing committed). */
async function fetchCommitted(
  coordinator: GroupCoordinator,
  partitions: readonly TopicPartition[],
): Promise<Map<string, CommittedOffset>> {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
  const response = await coordinator.call(
    'OffsetFetch',
    () => ({
      groupId: coordinator.groupId,
      partitions: [...byTopic].map(([topic, list]) => ({ topic, partitions: list })),
    }),
    (r) =>
      r.errorCode === ErrorCode.NONE
        ? undefined
        : errorFromCode(r.errorCode, `group "${coordinator.groupId}": ${r.errorMessage}`, r.leaderId),
  );
  const out = new Map<string, CommittedOffset>();
  for (const r of response.partitions) {
    if (r.committedOffset >= 0)
      out.set(tpKey(r.topic, r.partition), {
        topic: r.topic,
        partition: r.partition,
        offset: r.committedOffset,
        metadata: r.metadata,
      });
  }
  return out;
}

/** Group calls made on the way (auto-commits, the commit before a revocation): their failure is not the caller's. */
function dropGroupError(error: unknown): void {
  if (!(error instanceof StreamBusError)) throw error;
}

/** `work`, or nothing once `ms` passed (close goes on without it). */
async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
