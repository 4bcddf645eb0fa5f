/**
 * One partition on this broker: the replicated state machine of its Raft group (applying
 * committed record batches) and, while this broker leads the group, the produce path (dedup,
 * offset stamping, proposal) and the fetch path (committed data only).
 *
 * Offsets are stamped by the leader into each batch before it is proposed, from a "projected"
 * state that includes its proposals in flight. A new leader accepts produce requests only after
 * everything in its log is applied (its first entry of the term is committed), so the projection
 * starts from the applied state and offsets stay gap-free along the log. After any failed
 * proposal the leader stops, waits for its log to drain, and starts the projection again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ErrorCode,
  isRecordBatch,
  offsetTimestampEarliest,
  offsetTimestampLatest,
  readBatchHeader,
  stampBaseOffset,
  validateRecordBatch,
  RecordBatchError,
} from '@streambus/proto';
import type { RecordBatchHeader } from '@streambus/proto';
import { EntryType, NotLeaderError, ProposalDroppedError, Role, StoppedError } from '@streambus/raft';
import type { Entry, RaftHost, Snapshot } from '@streambus/raft';
import { CorruptBatchError, OffsetOutOfRangeError } from '@streambus/storage';
import type { LevelRaftStore } from '@streambus/storage';
import type { Context } from '@opentelemetry/api';
import type { Logger } from '../logging/logger.js';
import { rethrowBug } from '../bugs.js';
import type { RaftTracer } from '../tracing/raft-tracer.js';
import {
  fetchWaitersMax,
  leaderReadyRetryMs,
  producerSequenceModulus,
  producerWindowBatches,
  reorderWaitMsMax,
  reorderWaitersMax,
  uncommittedBytesMax,
} from './constants.js';
import { notLeader } from './not-leader.js';
import type { NotLeaderAnswer } from './not-leader.js';
import { PartitionState } from './partition-state.js';
import type { SequenceCheck } from './partition-state.js';

export type AcksMode = 'all' | 'leader' | 'none';

/** The outcome of a produce for one partition. */
export interface ProduceOutcome {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  /** The offset of the batch's first record; -1 on error or when it is not known (acks none). */
  readonly baseOffset: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly logStartOffset: number;
  /** Records in the batch when it was appended (0 on error). */
  readonly recordCount?: number;
}

export interface FetchOutcome {
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** Whole stored batches; the first may begin before the fetch offset. */
  readonly batches: readonly Uint8Array[];
  readonly bytes: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

interface LeaderState {
  readonly term: number;
  /** Applied state plus every batch proposed in this term and not yet failed. */
  projected: PartitionState;
  ready: boolean;
  uncommittedBytes: number;
  /** Produce promises of batches in flight, by producer id/epoch/first sequence: for retried duplicates. */
  readonly inflight: Map<string, Promise<ProduceOutcome>>;
  readonly readyWaiters: (() => void)[];
  readonly drainWaiters: (() => void)[];
  /** Batches waiting for an earlier sequence of their producer to be appended. */
  readonly appendWaiters: (() => void)[];
}

/**
 * Faults planted on purpose so the chaos harness can prove its checkers catch them. NEVER set in
 * production: each one breaks a guarantee StreamBus makes. All default off.
 */
export interface UnsafeTestingKnobs {
  /** acks=all resolves once the leader persisted the batch, before a quorum has it (commit). */
  readonly ackBeforeCommit?: boolean;
  /** Host writes never ask the store to fsync (acknowledged writes live in the OS cache only). */
  readonly skipSync?: boolean;
  /** Fetch serves batches the leader has in its log but that are not committed yet. */
  readonly servePastHighWatermark?: boolean;
}

export interface PartitionReplicaOptions {
  readonly groupId: number;
  readonly brokerId: number;
  readonly host: RaftHost;
  readonly store: LevelRaftStore;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** Called when this replica finds a corrupt batch in its own log (it stops serving it). */
  readonly onCorrupt?: (error: CorruptBatchError) => void;
  /** Test-only faults; see UnsafeTestingKnobs. */
  readonly unsafeTestingKnobs?: UnsafeTestingKnobs;
  /** Told how long each acks=all batch took from propose to commit (the commit latency metric). */
  readonly observeCommitSeconds?: (seconds: number) => void;
  /** Spans of the Raft part of traced produces (propose, persist, replicate, commit); none without. */
  readonly tracer?: RaftTracer;
}

function producerKey(header: RecordBatchHeader): string {
  return `${header.producerId}/${header.producerEpoch}/${header.baseSequence}`;
}

function errorOutcome(errorCode: ErrorCode, errorMessage: string, leaderId = 0, leaderEpoch = 0): ProduceOutcome {
  return { errorCode, errorMessage, baseOffset: -1, leaderId, leaderEpoch, logStartOffset: -1 };
}

function notLeaderOutcome(answer: NotLeaderAnswer): ProduceOutcome {
  return errorOutcome(answer.errorCode, answer.errorMessage, answer.leaderId);
}

export class PartitionReplica {
  readonly groupId: number;
  /** Labels, filled from the controller's metadata when known. */
  topic = '';
  partition = -1;
  private readonly host: RaftHost;
  private readonly store: LevelRaftStore;
  private readonly brokerId: number;
  private readonly logger: Logger;
  private readonly nowMs: () => number;
  private readonly onCorrupt: ((error: CorruptBatchError) => void) | undefined;
  private readonly knobs: UnsafeTestingKnobs;
  private readonly observeCommitSeconds: ((seconds: number) => void) | undefined;
  private readonly tracer: RaftTracer | undefined;
  private applied = new PartitionState();
  private appliedIndex = 0;
  private leader: LeaderState | null = null;
  private fetchWaiters: (() => void)[] = [];
  private closed = false;

  constructor(options: PartitionReplicaOptions) {
    this.groupId = options.groupId;
    this.brokerId = options.brokerId;
    this.host = options.host;
    this.store = options.store;
    this.logger = options.logger;
    this.nowMs = options.nowMs ?? Date.now;
    this.onCorrupt = options.onCorrupt;
    this.knobs = options.unsafeTestingKnobs ?? {};
    this.observeCommitSeconds = options.observeCommitSeconds;
    this.tracer = options.tracer;
  }

  /** The offset after the last committed (and applied) record: the high watermark. */
  get highWatermark(): number {
    return this.applied.nextOffset;
  }

  get appliedRaftIndex(): number {
    return this.appliedIndex;
  }

  /** True while this broker leads the group and accepts produce requests. */
  get leaderReady(): boolean {
    return this.leader !== null && this.leader.ready;
  }

  // ---- state machine --------------------------------------------------------------------

  /** Applies committed entries in order (called by the broker's state machine dispatcher). */
  apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index <= this.appliedIndex) continue;
      if (entry.type === EntryType.normal && entry.data.length > 0 && isRecordBatch(entry.data)) {
        const header = readBatchHeader(entry.data);
        // A retention snapshot may describe a state later than its own index: batches it
        // already covers are skipped, so replaying them after a restore changes nothing.
        if (header.lastOffset >= this.applied.nextOffset) this.applied.append(header);
      }
      this.appliedIndex = entry.index;
    }
    this.wakeFetchers();
  }

  restore(snapshot: Snapshot): void {
    this.applied = snapshot.data.length === 0 ? new PartitionState() : PartitionState.decode(snapshot.data);
    this.appliedIndex = snapshot.metadata.index;
    this.wakeFetchers();
  }

  /** The partition's small state as of the applied index, for retention's snapshot. */
  stateSnapshot(): { readonly data: Uint8Array; readonly appliedIndex: number } {
    return { data: this.applied.encode(), appliedIndex: this.appliedIndex };
  }

  // ---- leadership -----------------------------------------------------------------------

  /** Called on every leader/role change of this group. */
  onLeaderChange(role: Role, term: number): void {
    const previous = this.leader;
    if (previous !== null && (role !== Role.leader || previous.term !== term)) {
      this.leader = null;
      for (const wake of previous.readyWaiters.splice(0)) wake();
      for (const wake of previous.drainWaiters.splice(0)) wake();
      for (const wake of previous.appendWaiters.splice(0)) wake();
    }
    if (role === Role.leader && this.leader === null) {
      const state: LeaderState = {
        term,
        projected: this.applied,
        ready: false,
        uncommittedBytes: 0,
        inflight: new Map(),
        readyWaiters: [],
        drainWaiters: [],
        appendWaiters: [],
      };
      this.leader = state;
      void this.synchronize(state);
    }
    this.wakeFetchers();
  }

  /**
   * Makes the leader ready: waits until every entry in its log is applied, then starts the
   * projection from the applied state.
   */
  private async synchronize(state: LeaderState): Promise<void> {
    for (;;) {
      if (this.leader !== state || this.closed) return;
      try {
        await this.host.linearizableRead(this.groupId);
        const lastIndex = this.host.status(this.groupId).lastIndex;
        await this.host.waitApplied(this.groupId, lastIndex);
        if (this.leader !== state) return;
        if (this.appliedIndex < this.host.status(this.groupId).lastIndex) continue;
        state.projected = this.applied.clone();
        state.uncommittedBytes = 0;
        state.inflight.clear();
        state.ready = true;
        for (const wake of state.readyWaiters.splice(0)) wake();
        this.logger.debug(
          { group: this.groupId, term: state.term, next_offset: this.applied.nextOffset },
          'partition leader ready',
        );
        return;
      } catch (error) {
        rethrowBug(error);
        if (error instanceof StoppedError) return;
        // Lost leadership or the read timed out: onLeaderChange will start over if needed.
        await sleep(leaderReadyRetryMs);
      }
    }
  }

  private resynchronize(state: LeaderState): void {
    if (!state.ready) return;
    state.ready = false;
    void this.synchronize(state);
  }

  // ---- produce --------------------------------------------------------------------------

  /**
   * Appends one record batch (in the storage format) as leader. `batch` is stamped in place with
   * its base offset: the caller gives up the buffer. `trace` is the produce span's context: the
   * Raft part of a sampled produce is traced under it.
   */
  async produce(batch: Uint8Array, acks: AcksMode, timeoutMs: number, trace?: Context): Promise<ProduceOutcome> {
    const deadline = this.nowMs() + timeoutMs;
    let header: RecordBatchHeader;
    try {
      // The base offset is the leader's to assign (the protocol says a producer's is ignored):
      // clear it first so that a client's placeholder (Kafka clients write 0, others -1) is no error.
      stampBaseOffset(batch, 0);
      // Every record is checked before the batch is proposed: once in the log, a malformed batch
      // would be replicated and would fail every consumer of the partition.
      header = validateRecordBatch(batch);
    } catch (error) {
      if (error instanceof RecordBatchError)
        return errorOutcome(ErrorCode.CORRUPT_MESSAGE, `record batch rejected, nothing appended: ${error.message}`);
      throw error;
    }
    const reorderDeadline = Math.min(deadline, this.nowMs() + reorderWaitMsMax);
    let state: LeaderState | null;
    let check: SequenceCheck;
    for (;;) {
      state = await this.waitUntilWritable(batch.byteLength, deadline);
      if (!(state !== null && state.ready)) {
        if (state === null) return this.notLeader();
        return errorOutcome(
          ErrorCode.REQUEST_TIMED_OUT,
          'partition leader is not ready yet (it is applying its log); retry',
          this.brokerId,
          state.term,
        );
      }
      // From here to propose() nothing awaits: the check and the stamp are atomic.
      check = state.projected.check(header);
      // Pipelined requests of one producer may arrive out of order (HTTP/2 streams interleave):
      // a batch ahead of the next expected sequence waits a little for the ones before it.
      if (check.kind !== 'out-of-order' || !isAhead(header.baseSequence, check.expected)) break;
      const remaining = reorderDeadline - this.nowMs();
      if (remaining <= 0) break;
      await this.waitForAppend(state, remaining);
    }
    switch (check.kind) {
      case 'fenced':
        return errorOutcome(
          ErrorCode.INVALID_PRODUCER_EPOCH,
          `producer ${header.producerId} epoch ${header.producerEpoch} is fenced by epoch ${check.currentEpoch}`,
          this.brokerId,
          state.term,
        );
      case 'out-of-order':
        return errorOutcome(
          ErrorCode.OUT_OF_ORDER_SEQUENCE,
          `producer ${header.producerId}: sequence ${header.baseSequence} is out of order, expected ${check.expected}`,
          this.brokerId,
          state.term,
        );
      case 'duplicate':
        return this.duplicate(state, header, check.batch.baseOffset);
      case 'duplicate-forgotten':
        return errorOutcome(
          ErrorCode.DUPLICATE_SEQUENCE,
          `producer ${header.producerId}: sequence ${header.baseSequence} was appended before the last ${producerWindowBatches} batches (from sequence ${check.oldestSequence}); its offsets are no longer known: treat it as written`,
          this.brokerId,
          state.term,
        );
      case 'new':
        break;
    }
    const baseOffset = state.projected.nextOffset;
    stampBaseOffset(batch, baseOffset);
    const stamped: RecordBatchHeader = { ...header, baseOffset, lastOffset: baseOffset + header.lastOffsetDelta };
    state.projected.append(stamped);
    if (state.appendWaiters.length > 0) for (const wake of state.appendWaiters.splice(0)) wake();
    state.uncommittedBytes += batch.byteLength;
    const outcome = this.propose(state, batch, stamped, acks, trace);
    if (stamped.producerId >= 0) {
      const key = producerKey(stamped);
      state.inflight.set(key, outcome);
      const forget = (): void => {
        state.inflight.delete(key);
      };
      outcome.then(forget, forget);
    }
    if (acks === 'none') {
      void outcome.catch(rethrowBug);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        baseOffset: -1,
        leaderId: this.brokerId,
        leaderEpoch: state.term,
        logStartOffset: -1,
      };
    }
    return withDeadline(outcome, deadline - this.nowMs(), () =>
      errorOutcome(
        ErrorCode.REQUEST_TIMED_OUT,
        `not acknowledged within ${timeoutMs} ms; retry (an idempotent producer's retry is not duplicated)`,
        this.brokerId,
        state.term,
      ),
    );
  }

  private async propose(
    state: LeaderState,
    batch: Uint8Array,
    header: RecordBatchHeader,
    acks: AcksMode,
    trace: Context | undefined,
  ): Promise<ProduceOutcome> {
    const waitFor = acks === 'all' && this.knobs.ackBeforeCommit !== true ? 'commit' : 'persist';
    const traced = this.tracer?.propose(
      trace === undefined
        ? undefined
        : { context: trace, topic: this.topic, partition: this.partition, recordCount: header.recordCount },
      batch,
      this.groupId,
      waitFor,
    );
    try {
      const startedNs = process.hrtime.bigint();
      const receipt = await this.host.propose(this.groupId, batch, { waitFor });
      traced?.settled(receipt);
      if (waitFor === 'commit') this.observeCommitSeconds?.(Number(process.hrtime.bigint() - startedNs) / 1e9);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        // Counted as produced (streambus_messages_produced_total); a deduplicated retry is not.
        recordCount: header.recordCount,
        baseOffset: header.baseOffset,
        leaderId: this.brokerId,
        leaderEpoch: state.term,
        logStartOffset: this.logStartOffset(),
      };
    } catch (error) {
      traced?.failed(
        error instanceof Error ? error.name : 'Error',
        error instanceof Error ? error.message : String(error),
      );
      this.resynchronize(state);
      if (error instanceof NotLeaderError) return this.notLeader();
      if (error instanceof ProposalDroppedError || error instanceof StoppedError) {
        return notLeaderOutcome(
          notLeader(this.host.leaderOf(this.groupId), `write not accepted: ${error.message}; retry`),
        );
      }
      throw error;
    } finally {
      state.uncommittedBytes -= batch.byteLength;
      for (const wake of state.drainWaiters.splice(0)) wake();
    }
  }

  /** A retried batch: answer with where the first attempt landed, once that is durable. */
  private async duplicate(state: LeaderState, header: RecordBatchHeader, baseOffset: number): Promise<ProduceOutcome> {
    const inflight = state.inflight.get(producerKey(header));
    if (inflight !== undefined) return inflight;
    if (baseOffset < this.applied.nextOffset) {
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        baseOffset,
        leaderId: this.brokerId,
        leaderEpoch: state.term,
        logStartOffset: this.logStartOffset(),
      };
    }
    return errorOutcome(
      ErrorCode.REQUEST_TIMED_OUT,
      'the first attempt of this batch is still in flight; retry',
      this.brokerId,
      state.term,
    );
  }

  /** Waits for leadership readiness and room under the uncommitted-bytes bound. */
  private async waitUntilWritable(bytes: number, deadline: number): Promise<LeaderState | null> {
    for (;;) {
      const state = this.leader;
      if (state === null || this.closed) return null;
      if (state.ready && (state.uncommittedBytes === 0 || state.uncommittedBytes + bytes <= uncommittedBytesMax))
        return state;
      const remaining = deadline - this.nowMs();
      if (remaining <= 0) return state;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        const wake = (): void => {
          clearTimeout(timer);
          resolve();
        };
        (state.ready ? state.drainWaiters : state.readyWaiters).push(wake);
      });
    }
  }

  private waitForAppend(state: LeaderState, waitMs: number): Promise<void> {
    if (state.appendWaiters.length >= reorderWaitersMax) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      state.appendWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private notLeader(): ProduceOutcome {
    const leaderId = this.host.hasGroup(this.groupId) ? this.host.leaderOf(this.groupId) : 0;
    return notLeaderOutcome(notLeader(leaderId === this.brokerId ? 0 : leaderId));
  }

  // ---- fetch ----------------------------------------------------------------------------

  logStartOffset(): number {
    return this.store.earliestOffset(this.groupId);
  }

  /** Reads committed batches from `fetchOffset`, as leader. Never past the high watermark. */
  async fetch(fetchOffset: number, bytesMax: number): Promise<FetchOutcome> {
    const state = this.leader;
    const leaderId = this.host.hasGroup(this.groupId) ? this.host.leaderOf(this.groupId) : 0;
    const base = {
      highWatermark: this.highWatermark,
      logStartOffset: this.logStartOffset(),
      leaderId,
      leaderEpoch: state?.term ?? 0,
    };
    if (state === null) return { ...base, ...notLeader(leaderId), batches: [], bytes: 0 };
    const pastHighWatermark = this.knobs.servePastHighWatermark === true;
    // Above the high watermark but within the log is not out of range: a new leader's high
    // watermark lags until it commits in its term, and a consumer may already have read up to the
    // old one. Such a fetch waits like one at the high watermark (Kafka answers it empty too).
    // Until the leader is ready its log end is not known: entries of earlier terms may lie there.
    const logEndOffset = state.ready ? state.projected.nextOffset : Number.POSITIVE_INFINITY;
    if (
      fetchOffset < base.logStartOffset ||
      (fetchOffset > Math.max(base.highWatermark, logEndOffset) && !pastHighWatermark)
    ) {
      return {
        ...base,
        errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
        errorMessage: `offset ${fetchOffset} is outside [${base.logStartOffset}, ${Math.max(base.highWatermark, logEndOffset)}]`,
        batches: [],
        bytes: 0,
      };
    }
    if (fetchOffset >= base.highWatermark && !pastHighWatermark)
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: '', batches: [], bytes: 0 };
    try {
      const indexMax = pastHighWatermark ? this.host.status(this.groupId).lastIndex : this.appliedIndex;
      const stored = await this.store.readBatches(this.groupId, fetchOffset, bytesMax, indexMax);
      let bytes = 0;
      const batches = stored.map((batch) => {
        bytes += batch.data.byteLength;
        return batch.data;
      });
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: '', batches, bytes };
    } catch (error) {
      if (error instanceof OffsetOutOfRangeError)
        return {
          ...base,
          errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
          errorMessage: error.message,
          batches: [],
          bytes: 0,
        };
      if (error instanceof CorruptBatchError) {
        this.logger.error(
          { group: this.groupId, err: error.message },
          'corrupt batch on disk: refusing to serve it; handing leadership to a healthy replica',
        );
        this.onCorrupt?.(error);
        const reason = `stored data is corrupt on broker ${this.brokerId}; it is not served, and leadership moves to a healthy replica: retry`;
        return { ...base, ...notLeader(leaderId, reason), batches: [], bytes: 0 };
      }
      throw error;
    }
  }

  /** Resolves on the next apply or leadership change, or after `waitMs`. */
  waitForData(waitMs: number): Promise<void> {
    if (waitMs <= 0 || this.fetchWaiters.length >= fetchWaitersMax) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.fetchWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Offsets for ListOffsets: earliest, latest (high watermark) or the first at/after a time. */
  offsetFor(timestampMs: number): number | null {
    if (timestampMs === offsetTimestampEarliest) return this.logStartOffset();
    if (timestampMs === offsetTimestampLatest) return this.highWatermark;
    return this.store.offsetForTimestamp(this.groupId, timestampMs, this.appliedIndex);
  }

  close(): void {
    this.closed = true;
    this.onLeaderChange(Role.follower, 0);
    this.wakeFetchers();
  }

  private wakeFetchers(): void {
    if (this.fetchWaiters.length === 0) return;
    const waiters = this.fetchWaiters;
    this.fetchWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** True when `sequence` is ahead of `expected` within half the 31-bit sequence space (wrapping). */
function isAhead(sequence: number, expected: number): boolean {
  const distance = (sequence - expected + producerSequenceModulus) % producerSequenceModulus;
  return distance > 0 && distance < producerSequenceModulus / 2;
}

function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  if (ms <= 0) return Promise.resolve(onTimeout());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
