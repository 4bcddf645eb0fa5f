/**
 * The coordinator of one __consumer_offsets partition while this broker leads it: it loads the
 * shard by replaying the partition's committed records, then runs the group calls against it and
 * appends the records they return to the partition's Raft log (acks all) before it answers.
 *
 * Calls are serialized: the queued calls run against the shard one after the other, and the
 * records of all of them go out as one record batch (group commit: one Raft entry, all or
 * nothing); the next calls run once that batch is committed. So no answer ever reflects a change
 * that is not committed, and a failed append (leadership lost, a timeout) leaves nothing behind
 * that later records depend on: the shard is discarded and rebuilt from the log, once every entry
 * of the log is applied (a timed-out batch that commits after all is then replayed too).
 *
 * Compaction: when the log holds more than twice the records of the last checkpoint plus
 * compactionSlackRecords, the shard's live records (checkpointRecords) are appended, followed by
 * a marker record that counts them, and once committed the log is cut below the first of them:
 * replay from the new log start rebuilds the same state. Replicas that do not lead the partition
 * cut theirs when they find the marker (CheckpointFollower).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, decodeRecordBatch, encodeRecordBatch, errorCodeName } from '@streambus/proto';
import { assert } from '@streambus/raft';
import type { GroupId, NodeId } from '@streambus/raft';
import { rethrowBug } from '../bugs.js';
import type { Logger } from '../logging/logger.js';
import type { AcksMode, FetchOutcome, ProduceOutcome } from '../partition/partition-replica.js';
import {
  appendBatchBytesMax,
  appendTimeoutMs,
  callsPerAppendMax,
  checkpointMarkerKey,
  compactionSlackRecords,
  coordinatorPendingCallsMax,
  loadPollMs,
  loadReadBytesMax,
  recordsPerAppendBatchMax,
} from './constants.js';
import type { CoordinatorShard, ShardKit, ShardResult } from './shard.js';

/** The partition replica as the coordinator reads and appends to it (PartitionReplica). */
export interface CoordinatorReplica {
  /** True while this broker leads the partition and everything before its term is applied. */
  readonly leaderReady: boolean;
  readonly highWatermark: number;
  readonly appliedRaftIndex: number;
  logStartOffset(): number;
  fetch(fetchOffset: number, bytesMax: number): Promise<FetchOutcome>;
  produce(batch: Uint8Array, acks: AcksMode, timeoutMs: number): Promise<ProduceOutcome>;
}

/** The RaftHost as a coordinator partition asks it. */
export interface CoordinatorHost {
  /** The group's last log index on this broker. */
  lastIndex(groupId: GroupId): number;
  /** The group's leader as this broker sees it, 0 when unknown. */
  leaderOf(groupId: GroupId): NodeId;
}

/** Why a call was not answered by the shard. */
export interface CallFailure {
  readonly ok: false;
  readonly errorCode: ErrorCode;
  readonly errorMessage: string;
  /** With NOT_COORDINATOR: the broker that leads the partition now, 0 when unknown. */
  readonly leaderId: NodeId;
}

export type CallOutcome<T> = { readonly ok: true; readonly response: T } | CallFailure;

export type CoordinatorStatus = 'loading' | 'active' | 'closed';

export interface CoordinatorPartitionOptions<R> {
  readonly nodeId: NodeId;
  readonly groupId: GroupId;
  /** The partition index in __consumer_offsets. */
  readonly partition: number;
  /** The Raft term this broker leads the partition in: a new term is a new coordinator. */
  readonly term: number;
  readonly replica: CoordinatorReplica;
  readonly host: CoordinatorHost;
  readonly newShard: () => CoordinatorShard<R>;
  readonly kit: Pick<ShardKit<R>, 'encode' | 'decode'>;
  /** Cuts the partition's log below `offset` (retention's machinery); resolves with whether it cut. */
  readonly cutBelow: (groupId: GroupId, offset: number) => Promise<boolean>;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** Told of every load: records replayed and how long it took. */
  readonly onLoaded?: (records: number, ms: number) => void;
}

/** A call waiting for its turn: `execute` runs it against the shard, `settle` answers it. */
interface Pending<R> {
  readonly kind: 'call' | 'tick' | 'checkpoint';
  execute(shard: CoordinatorShard<R>, nowMs: number): R[];
  succeed(): void;
  fail(failure: CallFailure): void;
}

/** Retried after this when a load could not read or decode the log. */
const loadRetryMs = 2_000;

export class CoordinatorPartition<R> {
  readonly groupId: GroupId;
  readonly partition: number;
  readonly term: number;
  private readonly nowMs: () => number;
  private statusValue: CoordinatorStatus = 'loading';
  private shard: CoordinatorShard<R> | null = null;
  private readonly queue: Pending<R>[] = [];
  private draining = false;
  private tickQueued = false;
  private checkpointQueued = false;
  /** Records in the partition's log from its start (replayed, then appended). */
  private recordsInLog = 0;
  /** Records of the last checkpoint (or the live records at load). */
  private checkpointSize = 0;
  /** The last checkpoint the load replayed: where it starts, and how many records the load replayed before it. */
  private lastCheckpoint: { start: number; recordsBefore: number } | null = null;

  constructor(private readonly options: CoordinatorPartitionOptions<R>) {
    this.groupId = options.groupId;
    this.partition = options.partition;
    this.term = options.term;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get status(): CoordinatorStatus {
    return this.statusValue;
  }

  /** The loaded shard, for read-only looks (metrics); null unless active. Its state may be ahead of the commit. */
  get activeShard(): CoordinatorShard<R> | null {
    return this.statusValue === 'active' ? this.shard : null;
  }

  /** Records in the log from its start, as this coordinator counts them (compaction tests). */
  get logRecords(): number {
    return this.recordsInLog;
  }

  /** Starts loading. */
  start(): void {
    void this.load().catch(rethrowBug);
  }

  /**
   * Runs `operation` against the shard in turn and answers once its records are committed.
   * While loading: COORDINATOR_LOAD_IN_PROGRESS; once closed: NOT_COORDINATOR.
   */
  call<T>(operation: (shard: CoordinatorShard<R>, nowMs: number) => ShardResult<T, R>): Promise<CallOutcome<T>> {
    const refused = this.refusal();
    if (refused !== null) return Promise.resolve(refused);
    if (this.queue.length >= coordinatorPendingCallsMax)
      return Promise.resolve(
        failure(
          ErrorCode.REQUEST_TIMED_OUT,
          `coordinator of partition ${this.partition} has ${this.queue.length} calls waiting; retry after a backoff`,
          0,
        ),
      );
    return new Promise((resolve) => {
      let response: T | undefined;
      let answered = false;
      this.queue.push({
        kind: 'call',
        execute: (shard, nowMs) => {
          const result = operation(shard, nowMs);
          response = result.response;
          answered = true;
          return result.records;
        },
        succeed: () => {
          assert(answered, 'a call is answered only after it ran');
          resolve({ ok: true, response: response as T });
        },
        fail: (why) => resolve(why),
      });
      this.kick();
    });
  }

  /** A read in turn (no records): it sees every change committed before it, and nothing uncommitted. */
  read<T>(operation: (shard: CoordinatorShard<R>) => T): Promise<CallOutcome<T>> {
    return this.call((shard) => ({ response: operation(shard), records: [] }));
  }

  /** Queues the shard's tick (timeouts, retention) unless one is waiting already. */
  tick(): void {
    if (this.statusValue !== 'active' || this.tickQueued) return;
    this.tickQueued = true;
    const done = (): void => {
      this.tickQueued = false;
    };
    this.queue.push({
      kind: 'tick',
      execute: (shard, nowMs) => shard.tick(nowMs),
      succeed: done,
      fail: done,
    });
    this.kick();
  }

  /** Leadership moved: pending calls answer NOT_COORDINATOR; the shard is dropped. */
  close(): void {
    if (this.statusValue === 'closed') return;
    this.statusValue = 'closed';
    this.shard = null;
    this.failQueued(this.notCoordinator());
  }

  // ---- load --------------------------------------------------------------------------------

  private async load(): Promise<void> {
    for (;;) {
      if (this.statusValue !== 'loading') return;
      const replica = this.options.replica;
      // The leader's ready point (it committed an entry of its term) and every entry of its log
      // applied: the high watermark is then the end of the log, and no append of ours is in flight.
      if (!replica.leaderReady || this.options.host.lastIndex(this.groupId) > replica.appliedRaftIndex) {
        await sleep(loadPollMs);
        continue;
      }
      const started = this.nowMs();
      const shard = this.options.newShard();
      let records: number | null;
      try {
        records = await this.replay(shard);
      } catch (error) {
        rethrowBug(error);
        this.options.logger.error(
          { partition: this.partition, err: (error as Error).message },
          'group coordinator cannot load its partition; it answers COORDINATOR_LOAD_IN_PROGRESS and tries again',
        );
        await sleep(loadRetryMs);
        continue;
      }
      if (this.statusValue !== 'loading') return;
      if (records === null) {
        await sleep(loadPollMs);
        continue;
      }
      shard.loaded(this.nowMs());
      this.shard = shard;
      this.recordsInLog = records;
      this.checkpointSize = shard.checkpointRecords().length;
      // A checkpoint committed before this load (by an earlier leader) that this replica's log
      // still holds records below: cut them now, the log from there rebuilds the same state.
      const checkpoint = this.lastCheckpoint;
      if (checkpoint !== null && checkpoint.start > this.options.replica.logStartOffset()) {
        this.recordsInLog = records - checkpoint.recordsBefore;
        this.cut(checkpoint.start);
      }
      this.statusValue = 'active';
      const ms = this.nowMs() - started;
      this.options.onLoaded?.(records, ms);
      this.options.logger.info(
        { partition: this.partition, term: this.term, records, groups: shard.groupCount(), ms },
        'group coordinator loaded',
      );
      this.kick();
      return;
    }
  }

  /** Replays the committed log into `shard`; the records replayed, or null when a read failed (retry). */
  private async replay(shard: CoordinatorShard<R>): Promise<number | null> {
    const replica = this.options.replica;
    let offset = replica.logStartOffset();
    const end = replica.highWatermark;
    let records = 0;
    this.lastCheckpoint = null;
    while (offset < end) {
      if (this.statusValue !== 'loading') return null;
      const outcome = await replica.fetch(offset, loadReadBytesMax);
      if (outcome.errorCode !== ErrorCode.NONE || outcome.batches.length === 0) {
        this.options.logger.debug(
          { partition: this.partition, offset, code: errorCodeName(outcome.errorCode) },
          'group coordinator load read failed; retrying',
        );
        return null;
      }
      for (const bytes of outcome.batches) {
        const batch = decodeRecordBatch(bytes);
        for (const record of batch.records) {
          if (record.offset < offset) continue;
          if (record.key === null) throw new Error(`record at offset ${record.offset} has no key: not a group record`);
          records++;
          if (isCheckpointMarker(record.key)) {
            const start = checkpointStart(record.offset, record.value);
            // Records replayed before the checkpoint began: the log counts that many fewer after a cut there.
            if (start !== null) this.lastCheckpoint = { start, recordsBefore: records - 1 - (record.offset - start) };
            continue;
          }
          shard.replay(
            this.options.kit.decode(asBuffer(record.key), record.value === null ? null : asBuffer(record.value)),
          );
        }
        offset = Math.max(offset, batch.header.lastOffset + 1);
      }
    }
    return records;
  }

  // ---- calls -------------------------------------------------------------------------------

  private kick(): void {
    if (this.draining || this.statusValue !== 'active' || this.queue.length === 0) return;
    // A bug (an assertion in the shard) crashes the broker: it is never turned into an answer.
    void this.drain().catch(rethrowBug);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.statusValue === 'active' && this.queue.length > 0) {
        const shard = this.shard;
        assert(shard !== null, 'an active coordinator has its shard');
        const calls = this.takeTurn();
        const nowMs = this.nowMs();
        const records: R[] = [];
        for (const pending of calls) for (const record of pending.execute(shard, nowMs)) records.push(record);
        if (records.length === 0 && calls[0]?.kind !== 'checkpoint') {
          for (const pending of calls) pending.succeed();
          continue;
        }
        const checkpoint = calls.length === 1 && calls[0]?.kind === 'checkpoint';
        const appended = await this.append(records, nowMs, checkpoint);
        if (!appended.ok) {
          for (const pending of calls) pending.fail(appended);
          this.rebuild(appended);
          return;
        }
        this.recordsInLog += records.length;
        if (checkpoint) {
          // The checkpoint and its marker are all the log needs from here on.
          this.checkpointSize = records.length + 1;
          this.recordsInLog = records.length + 1;
          this.cut(appended.baseOffset);
        }
        for (const pending of calls) pending.succeed();
        this.maybeCompact();
      }
    } finally {
      this.draining = false;
    }
  }

  /** The calls of one turn: up to callsPerAppendMax, a checkpoint always alone (its first offset is the cut). */
  private takeTurn(): Pending<R>[] {
    if (this.queue[0]?.kind === 'checkpoint') return this.queue.splice(0, 1);
    let count = 0;
    while (count < this.queue.length && count < callsPerAppendMax && this.queue[count]?.kind !== 'checkpoint') count++;
    return this.queue.splice(0, count);
  }

  /**
   * Appends the records in order, as few batches as the bounds allow (a checkpoint's end with its
   * marker); the first batch's base offset.
   */
  private async append(
    records: readonly R[],
    nowMs: number,
    checkpoint: boolean,
  ): Promise<{ ok: true; baseOffset: number } | CallFailure> {
    let baseOffset = -1;
    const encoded = records.map((record) => this.options.kit.encode(record));
    if (checkpoint) encoded.push({ key: checkpointMarkerKey, value: checkpointMarkerValue(records.length) });
    for (const batch of encodeBatches(encoded, nowMs)) {
      const outcome = await this.options.replica.produce(batch, 'all', appendTimeoutMs);
      if (outcome.errorCode !== ErrorCode.NONE) return this.appendFailure(outcome);
      if (baseOffset < 0) baseOffset = outcome.baseOffset;
    }
    assert(baseOffset >= 0, 'an append of records has an offset');
    return { ok: true, baseOffset };
  }

  private appendFailure(outcome: ProduceOutcome): CallFailure {
    if (outcome.errorCode === ErrorCode.NOT_LEADER) {
      const leaderId = outcome.leaderId === this.options.nodeId ? 0 : outcome.leaderId;
      return failure(
        ErrorCode.NOT_COORDINATOR,
        leaderId === 0
          ? `broker ${this.options.nodeId} no longer coordinates partition ${this.partition}; ask FindCoordinator again`
          : `broker ${leaderId} coordinates partition ${this.partition} now; retry there`,
        leaderId,
      );
    }
    return failure(
      ErrorCode.REQUEST_TIMED_OUT,
      `the group's records were not committed (${errorCodeName(outcome.errorCode)}: ${outcome.errorMessage}); retry`,
      0,
    );
  }

  /** After a failed append: the shard may hold changes the log does not; it is rebuilt from the log. */
  private rebuild(why: CallFailure): void {
    if (this.statusValue !== 'active') return;
    this.options.logger.warn(
      { partition: this.partition, code: errorCodeName(why.errorCode), err: why.errorMessage },
      'group coordinator append failed; rebuilding its state from the log',
    );
    this.statusValue = 'loading';
    this.shard = null;
    this.failQueued(why);
    void this.load().catch(rethrowBug);
  }

  // ---- compaction --------------------------------------------------------------------------

  private maybeCompact(): void {
    if (this.checkpointQueued || this.recordsInLog <= 2 * this.checkpointSize + compactionSlackRecords) return;
    this.checkpointQueued = true;
    const done = (): void => {
      this.checkpointQueued = false;
    };
    this.queue.push({ kind: 'checkpoint', execute: (shard) => shard.checkpointRecords(), succeed: done, fail: done });
  }

  private cut(offset: number): void {
    this.options
      .cutBelow(this.groupId, offset)
      .then((cut) =>
        this.options.logger.info(
          { partition: this.partition, log_start_offset: offset, records: this.checkpointSize, cut },
          'group coordinator checkpoint committed; log cut below it',
        ),
      )
      .catch((error: unknown) => {
        rethrowBug(error);
        this.options.logger.warn(
          { partition: this.partition, err: (error as Error).message },
          'offsets log cut failed',
        );
      });
  }

  // ---- answers -----------------------------------------------------------------------------

  private refusal(): CallFailure | null {
    if (this.statusValue === 'closed') return this.notCoordinator();
    if (this.statusValue === 'loading')
      return failure(
        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
        `broker ${this.options.nodeId} is loading partition ${this.partition} of the groups; retry shortly`,
        this.options.nodeId,
      );
    return null;
  }

  private notCoordinator(): CallFailure {
    const seen = this.options.host.leaderOf(this.groupId);
    const leaderId = seen === this.options.nodeId ? 0 : seen;
    return failure(
      ErrorCode.NOT_COORDINATOR,
      leaderId === 0
        ? `broker ${this.options.nodeId} no longer coordinates partition ${this.partition}; ask FindCoordinator again`
        : `broker ${leaderId} coordinates partition ${this.partition} now; retry there`,
      leaderId,
    );
  }

  private failQueued(why: CallFailure): void {
    for (const pending of this.queue.splice(0)) pending.fail(why);
  }
}

export function failure(errorCode: ErrorCode, errorMessage: string, leaderId: NodeId): CallFailure {
  return { ok: false, errorCode, errorMessage, leaderId };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Record batches of `records` in order, each within the append bounds. */
function encodeBatches(records: readonly { key: Buffer; value: Buffer | null }[], nowMs: number): Buffer[] {
  const batches: Buffer[] = [];
  let current: { key: Buffer; value: Buffer | null; timestamp: number }[] = [];
  let bytes = 0;
  for (const { key, value } of records) {
    const size = key.byteLength + (value?.byteLength ?? 0);
    if (current.length > 0 && (bytes + size > appendBatchBytesMax || current.length >= recordsPerAppendBatchMax)) {
      batches.push(encodeRecordBatch({ records: current }));
      current = [];
      bytes = 0;
    }
    current.push({ key, value, timestamp: nowMs });
    bytes += size;
  }
  if (current.length > 0) batches.push(encodeRecordBatch({ records: current }));
  return batches;
}

/** True for the key of a checkpoint marker (the broker's record, never a group record). */
export function isCheckpointMarker(key: Uint8Array): boolean {
  return Buffer.compare(asBuffer(key), checkpointMarkerKey) === 0;
}

/** The value of a checkpoint marker: how many checkpoint records precede it. */
function checkpointMarkerValue(recordsBefore: number): Buffer {
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(BigInt(recordsBefore));
  return value;
}

/** Where the checkpoint that a marker at `markerOffset` ends begins; null for a value that is not a marker's. */
export function checkpointStart(markerOffset: number, value: Uint8Array | null): number | null {
  if (value === null || value.byteLength !== 8) return null;
  const recordsBefore = Number(asBuffer(value).readBigUInt64BE());
  return recordsBefore <= markerOffset ? markerOffset - recordsBefore : null;
}
