/**
 * The coordinator runtime of one offsets partition against a fake shard (an offsets map) and a
 * fake replica (an in-memory log of record batches): load by replay, group commit, answers only
 * after the commit, rebuild after a failed append, compaction below a checkpoint.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, decodeRecordBatch, readBatchHeader, stampBaseOffset } from '@streambus/proto';
import type { OffsetCommitRequest, OffsetCommitResponse, OffsetFetchResponse } from '@streambus/proto';
import { describe, expect, it } from 'vitest';
import { CoordinatorPartition } from '../../src/coordinator/coordinator-partition.js';
import type { CoordinatorReplica } from '../../src/coordinator/coordinator-partition.js';
import { compactionSlackRecords } from '../../src/coordinator/constants.js';
import type { CoordinatorShard, ShardResult } from '../../src/coordinator/shard.js';
import type { FetchOutcome, ProduceOutcome } from '../../src/partition/partition-replica.js';
import { silentLogger } from '../server/fakes.js';

/** A record of the fake shard: one committed offset (value null: deleted). */
interface OffsetRecord {
  readonly key: string;
  readonly offset: number | null;
}

/** Offsets by "group/topic/partition", nothing else. */
class OffsetsShard {
  readonly offsets = new Map<string, number>();
  loadedAtMs = -1;
  replayed = 0;

  replay(record: OffsetRecord): void {
    this.replayed++;
    if (record.offset === null) this.offsets.delete(record.key);
    else this.offsets.set(record.key, record.offset);
  }

  loaded(nowMs: number): void {
    this.loadedAtMs = nowMs;
  }

  commitOffsets(request: OffsetCommitRequest): ShardResult<OffsetCommitResponse, OffsetRecord> {
    const records = request.partitions.map((part) => ({
      key: `${request.groupId}/${part.topic}/${part.partition}`,
      offset: part.offset,
    }));
    for (const record of records) this.replay(record);
    return {
      response: {
        partitions: request.partitions.map((part) => ({
          topic: part.topic,
          partition: part.partition,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
        })),
        leaderId: 0,
      },
      records,
    };
  }

  fetchOffsets(request: { groupId: string }): OffsetFetchResponse {
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      leaderId: 0,
      partitions: [...this.offsets]
        .filter(([key]) => key.startsWith(`${request.groupId}/`))
        .map(([key, offset]) => {
          const [, topic, partition] = key.split('/');
          return {
            topic: topic!,
            partition: Number(partition),
            committedOffset: offset,
            metadata: '',
            commitTimestampMs: 0,
          };
        }),
    };
  }

  tick(): OffsetRecord[] {
    return [];
  }

  checkpointRecords(): OffsetRecord[] {
    return [...this.offsets].map(([key, offset]) => ({ key, offset }));
  }

  groupCount(): number {
    return new Set([...this.offsets.keys()].map((key) => key.split('/')[0])).size;
  }
}

const kit = {
  encode: (record: OffsetRecord) => ({
    key: Buffer.from(record.key),
    value: record.offset === null ? null : Buffer.from(String(record.offset)),
  }),
  decode: (key: Buffer, value: Buffer | null): OffsetRecord => ({
    key: key.toString(),
    offset: value === null ? null : Number(value.toString()),
  }),
};

/** A partition log in memory: batches stamped with offsets as a leader does, committed at once unless told. */
class FakeReplica implements CoordinatorReplica {
  leaderReady = true;
  readonly batches: Buffer[] = [];
  nextOffset = 0;
  startOffset = 0;
  /** The next produce answers this instead of appending. */
  failNext: ErrorCode | null = null;
  /** Produce waits for this before it answers (to observe calls queueing). */
  gate: Promise<void> = Promise.resolve();
  produced = 0;

  get highWatermark(): number {
    return this.nextOffset;
  }

  get appliedRaftIndex(): number {
    return this.batches.length;
  }

  logStartOffset(): number {
    return this.startOffset;
  }

  async fetch(fetchOffset: number): Promise<FetchOutcome> {
    const batches = this.batches.filter((batch) => readBatchHeader(batch).lastOffset >= fetchOffset);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      highWatermark: this.nextOffset,
      logStartOffset: this.startOffset,
      batches,
      bytes: 0,
      leaderId: 1,
      leaderEpoch: 1,
    };
  }

  /** A follower's copy of the log: every batch appended here, never cut with this one. */
  mirror: FakeReplica | null = null;

  async produce(batch: Uint8Array): Promise<ProduceOutcome> {
    await this.gate;
    this.produced++;
    const failing = this.failNext;
    if (failing !== null) {
      this.failNext = null;
      return {
        errorCode: failing,
        errorMessage: 'failed on purpose',
        baseOffset: -1,
        leaderId: 2,
        leaderEpoch: 1,
        logStartOffset: -1,
      };
    }
    const baseOffset = this.nextOffset;
    const bytes = Buffer.from(batch);
    stampBaseOffset(bytes, baseOffset);
    this.batches.push(bytes);
    this.nextOffset = readBatchHeader(bytes).lastOffset + 1;
    if (this.mirror !== null) {
      this.mirror.batches.push(bytes);
      this.mirror.nextOffset = this.nextOffset;
    }
    return { errorCode: ErrorCode.NONE, errorMessage: '', baseOffset, leaderId: 1, leaderEpoch: 1, logStartOffset: 0 };
  }

  /** Drops every batch whose records all lie below `offset`. */
  cutBelow(offset: number): boolean {
    const before = this.batches.length;
    const kept = this.batches.filter((batch) => readBatchHeader(batch).lastOffset >= offset);
    this.batches.splice(0, this.batches.length, ...kept);
    this.startOffset = offset;
    return kept.length < before;
  }

  records(): OffsetRecord[] {
    return this.batches.flatMap((batch) =>
      decodeRecordBatch(batch).records.map((record) =>
        kit.decode(Buffer.from(record.key!), record.value === null ? null : Buffer.from(record.value)),
      ),
    );
  }
}

function setUp(replica = new FakeReplica()) {
  const shards: OffsetsShard[] = [];
  const cuts: number[] = [];
  const coordinator = new CoordinatorPartition<OffsetRecord>({
    nodeId: 1,
    groupId: 7,
    partition: 0,
    term: 3,
    replica,
    host: { lastIndex: () => replica.appliedRaftIndex, leaderOf: () => 2 },
    newShard: () => {
      const shard = new OffsetsShard();
      shards.push(shard);
      return shard as unknown as CoordinatorShard<OffsetRecord>;
    },
    kit,
    cutBelow: async (_groupId, offset) => {
      cuts.push(offset);
      return replica.cutBelow(offset);
    },
    logger: silentLogger,
    nowMs: () => 1_000,
  });
  return { replica, shards, cuts, coordinator };
}

function commit(groupId: string, partition: number, offset: number): OffsetCommitRequest {
  return { groupId, memberId: '', memberEpoch: -1, partitions: [{ topic: 't', partition, offset, metadata: '' }] };
}

async function loaded(coordinator: CoordinatorPartition<OffsetRecord>): Promise<void> {
  for (let i = 0; i < 200 && coordinator.status !== 'active'; i++) await sleep(5);
  expect(coordinator.status).toBe('active');
}

describe('CoordinatorPartition', () => {
  it('answers COORDINATOR_LOAD_IN_PROGRESS until the leader is ready and the log replayed', async () => {
    const { replica, coordinator, shards } = setUp();
    replica.leaderReady = false;
    coordinator.start();
    const early = await coordinator.read((shard) => shard.groupCount());
    expect(early).toMatchObject({ ok: false, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, leaderId: 1 });
    replica.leaderReady = true;
    await loaded(coordinator);
    expect(shards[0]?.loadedAtMs).toBe(1_000);
  });

  it('replays the committed log, then serves calls, appending their records in one batch per turn', async () => {
    const first = setUp();
    first.coordinator.start();
    await loaded(first.coordinator);
    let open: () => void = () => undefined;
    first.replica.gate = new Promise((resolve) => (open = resolve));
    // The first call goes out alone; the four behind it wait, then go out together as one batch.
    const answers = [0, 1, 2, 3, 4].map((i) =>
      first.coordinator.call((shard, nowMs) => shard.commitOffsets(commit('g', i, 10 + i), nowMs)),
    );
    await sleep(5);
    expect(first.replica.batches).toHaveLength(0);
    open();
    for (const answer of await Promise.all(answers)) expect(answer.ok).toBe(true);
    expect(first.replica.batches.map((batch) => readBatchHeader(batch).recordCount)).toEqual([1, 4]);

    const second = setUp(first.replica);
    second.coordinator.start();
    await loaded(second.coordinator);
    const fetched = await second.coordinator.read((shard) => shard.fetchOffsets({ groupId: 'g', partitions: [] }));
    expect(fetched.ok && fetched.response.partitions.map((part) => part.committedOffset)).toEqual([10, 11, 12, 13, 14]);
    expect(second.shards[0]?.replayed).toBe(5);
  });

  it('after a failed append answers the calls of that turn with the error and rebuilds the shard from the log', async () => {
    const { replica, coordinator, shards } = setUp();
    coordinator.start();
    await loaded(coordinator);
    expect((await coordinator.call((shard, nowMs) => shard.commitOffsets(commit('g', 0, 5), nowMs))).ok).toBe(true);
    replica.failNext = ErrorCode.NOT_LEADER;
    const lost = await coordinator.call((shard, nowMs) => shard.commitOffsets(commit('g', 0, 6), nowMs));
    expect(lost).toMatchObject({ ok: false, errorCode: ErrorCode.NOT_COORDINATOR, leaderId: 2 });
    replica.failNext = ErrorCode.REQUEST_TIMED_OUT;
    await loaded(coordinator);
    const timedOut = await coordinator.call((shard, nowMs) => shard.commitOffsets(commit('g', 0, 7), nowMs));
    expect(timedOut).toMatchObject({ ok: false, errorCode: ErrorCode.REQUEST_TIMED_OUT });
    await loaded(coordinator);
    // The shard that answered 6 and 7 in memory is gone: the rebuilt one has what the log has.
    const fetched = await coordinator.read((shard) => shard.fetchOffsets({ groupId: 'g', partitions: [] }));
    expect(fetched.ok && fetched.response.partitions[0]?.committedOffset).toBe(5);
    expect(shards).toHaveLength(3);
  });

  it('answers NOT_COORDINATOR once closed, with the new leader as the hint', async () => {
    const { coordinator } = setUp();
    coordinator.start();
    await loaded(coordinator);
    coordinator.close();
    expect(await coordinator.read((shard) => shard.groupCount())).toMatchObject({
      ok: false,
      errorCode: ErrorCode.NOT_COORDINATOR,
      leaderId: 2,
    });
  });

  it('compacts: appends a checkpoint once the log outgrows it, cuts below it, and a replay from the cut rebuilds the same state', async () => {
    const { replica, coordinator, cuts } = setUp();
    const follower = new FakeReplica();
    replica.mirror = follower;
    coordinator.start();
    await loaded(coordinator);
    // 20 live offsets, rewritten until the log passes 2 x 0 + slack records.
    const rounds = Math.ceil((compactionSlackRecords + 1) / 20) + 1;
    for (let round = 0; round < rounds; round++) {
      const request: OffsetCommitRequest = {
        groupId: 'g',
        memberId: '',
        memberEpoch: -1,
        partitions: Array.from({ length: 20 }, (_, partition) => ({
          topic: 't',
          partition,
          offset: round,
          metadata: '',
        })),
      };
      expect((await coordinator.call((shard, nowMs) => shard.commitOffsets(request, nowMs))).ok).toBe(true);
    }
    for (let i = 0; i < 100 && cuts.length === 0; i++) await sleep(5);
    expect(cuts).toHaveLength(1);
    expect(replica.logStartOffset()).toBe(cuts[0]);
    expect(coordinator.logRecords).toBeLessThan(100);
    expect(replica.records().length).toBeLessThan(100);
    const again = setUp(replica);
    again.coordinator.start();
    await loaded(again.coordinator);
    const fetched = await again.coordinator.read((shard) => shard.fetchOffsets({ groupId: 'g', partitions: [] }));
    expect(fetched.ok && fetched.response.partitions.map((part) => part.committedOffset)).toEqual(
      Array.from({ length: 20 }, () => rounds - 1),
    );
    // A follower that never cut becomes coordinator: it replays its whole log, then cuts at the checkpoint it found.
    const promoted = setUp(follower);
    expect(follower.logStartOffset()).toBe(0);
    promoted.coordinator.start();
    await loaded(promoted.coordinator);
    expect(promoted.cuts).toEqual(cuts);
    expect(follower.logStartOffset()).toBe(cuts[0]);
    expect(promoted.coordinator.logRecords).toBe(coordinator.logRecords);
  });
});
