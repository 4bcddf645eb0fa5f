/**
 * The age of the oldest unconsumed record of each group and topic a broker coordinates (the
 * streambus_consumer_group_oldest_unconsumed_age_seconds gauge): over the topic's partitions with
 * lag > 0, the largest now - timestamp of the record at the committed offset (from the log start
 * without a commit, or when retention removed the committed one); 0 when nothing is unconsumed.
 *
 * Timestamps live in the partitions' stored batches, so finding them costs a read (local when
 * this broker leads the partition, else a Fetch to the leader). A look runs in the background
 * every unconsumedAgeSampleMs, never on a scrape; a scrape only subtracts the timestamps it found
 * from the clock, so an age keeps growing between looks. A committed record never changes, so a
 * partition whose committed offset did not move is not read again; at most
 * unconsumedAgeReadsPerPassMax reads a look (the rest wait for the next ones, in turn), each with
 * a deadline. A failed read keeps the partition's last timestamp (an older record: the age errs
 * high, never hides a stuck group). A group and topic whose lagging partitions were never read
 * yet exports nothing rather than a made-up 0.
 */
import { decodeRecordBatch, readBatchHeader } from '@streambus/proto';
import { rethrowBug } from '../bugs.js';
import type { Logger } from '../logging/logger.js';
import {
  unconsumedAgeReadDeadlineMs,
  unconsumedAgeReadsInFlightMax,
  unconsumedAgeReadsPerPassMax,
} from './constants.js';
import { shardGroupTopics } from './group-lag.js';
import type { LagView } from './group-lag.js';
import type { CoordinatorShard } from './shard.js';

/** A partition a group has not consumed to its end: its first unconsumed record is at `offset`. */
export interface UnconsumedPosition {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface UnconsumedPositions {
  /** Every group and topic the lag gauges list, lagging or not. */
  readonly pairs: readonly { readonly group: string; readonly topic: string }[];
  /** The partitions with lag > 0 among them. */
  readonly positions: readonly UnconsumedPosition[];
}

/** The unconsumed positions of the groups of the loaded shards, as this broker knows the partitions' offsets. */
export function unconsumedPositions<R>(
  shards: Iterable<{ readonly shard: CoordinatorShard<R> }>,
  view: LagView,
): UnconsumedPositions {
  const pairs: { group: string; topic: string }[] = [];
  const positions: UnconsumedPosition[] = [];
  for (const { shard } of shards)
    for (const { group, topics, committed } of shardGroupTopics(shard))
      for (const topic of topics) {
        const count = view.partitionCount(topic);
        if (count === undefined) continue;
        pairs.push({ group, topic });
        const offsets = committed.get(topic);
        for (let partition = 0; partition < count; partition++) {
          const known = view.offsets(topic, partition);
          if (known === null) continue;
          // A commit below the log start points at a record retention removed: the log start is next.
          const offset = Math.max(offsets?.get(partition) ?? known.logStartOffset, known.logStartOffset);
          if (known.highWatermark > offset) positions.push({ group, topic, partition, offset });
        }
      }
  return { pairs, positions };
}

/**
 * The timestamp of the record at `offset` in whole stored batches (as a fetch from `offset`
 * returns them: the first may begin before it), or of the first record after it; null when the
 * batches end before it. The first record of a batch carries the header's first timestamp.
 */
export function recordTimestampAt(batches: readonly Uint8Array[], offset: number): number | null {
  for (const batch of batches) {
    const header = readBatchHeader(batch);
    if (header.lastOffset < offset) continue;
    if (header.baseOffset >= offset) return header.firstTimestamp;
    const record = decodeRecordBatch(batch).records.find((candidate) => candidate.offset >= offset);
    if (record !== undefined) return record.timestamp;
  }
  return null;
}

/**
 * Reads the timestamp of the record at `offset` of a partition (or of the first one after it),
 * within `deadlineMs`; rejects when it cannot (no leader, timeout, nothing there yet).
 */
export type RecordTimeRead = (topic: string, partition: number, offset: number, deadlineMs: number) => Promise<number>;

export interface UnconsumedAgeDeps<R> {
  /** The coordinator shards loaded on this broker: only a group's coordinator exports it. */
  shards(): Iterable<{ readonly shard: CoordinatorShard<R> }>;
  view(): LagView;
  read: RecordTimeRead;
  nowMs(): number;
  logger: Logger;
}

interface GaugeLike {
  reset(): void;
  set(labels: { group: string; topic: string }, value: number): void;
}

/** What the last look knows of a partition's first unconsumed record for one group. */
interface KnownRecord {
  readonly offset: number;
  readonly timestampMs: number;
}

export class UnconsumedAge<R> {
  /** By group, topic and partition (positionKey). */
  private known = new Map<string, KnownRecord>();
  /** By group and topic, from the last look: the oldest timestamp, null when nothing is unconsumed. */
  private oldest: { readonly group: string; readonly topic: string; readonly timestampMs: number | null }[] = [];
  private looking = false;
  /** Where the next look starts among the reads due, so that every partition gets its turn. */
  private cursor = 0;

  constructor(private readonly deps: UnconsumedAgeDeps<R>) {}

  /** Starts a look unless one is still running (the timer's callback). */
  run(): void {
    if (this.looking) return;
    this.looking = true;
    this.look()
      .catch((error: unknown) => {
        rethrowBug(error);
        this.deps.logger.warn({ err: (error as Error).message }, 'unconsumed record age look failed');
      })
      .finally(() => {
        this.looking = false;
      });
  }

  /** One look: reads the records due (bounded), then the oldest per group and topic. */
  async look(): Promise<void> {
    const { pairs, positions } = unconsumedPositions(this.deps.shards(), this.deps.view());
    const due = new Map<string, UnconsumedPosition>();
    for (const position of positions)
      if (this.known.get(positionKey(position))?.offset !== position.offset) due.set(readKey(position), position);
    const reads = this.turn([...due.values()]);
    const found = new Map<string, number>();
    await inTurns(reads, unconsumedAgeReadsInFlightMax, async (position) => {
      try {
        const { topic, partition, offset } = position;
        found.set(readKey(position), await this.deps.read(topic, partition, offset, unconsumedAgeReadDeadlineMs));
      } catch (error) {
        rethrowBug(error);
        this.deps.logger.debug(
          {
            topic: position.topic,
            partition: position.partition,
            offset: position.offset,
            err: (error as Error).message,
          },
          'could not read the first unconsumed record: the partition keeps its last age',
        );
      }
    });
    const known = new Map<string, KnownRecord>();
    for (const position of positions) {
      const key = positionKey(position);
      const timestampMs = found.get(readKey(position));
      const record = timestampMs === undefined ? this.known.get(key) : { offset: position.offset, timestampMs };
      if (record !== undefined) known.set(key, record);
    }
    this.known = known;
    this.oldest = oldestByPair(pairs, positions, known);
  }

  /**
   * Sets the gauge from the last look: now minus the oldest timestamp, in seconds, never below 0.
   * Only for the groups still coordinated here: a coordinator that moved away stops exporting at
   * once, not at its next look.
   */
  sample(gauge: GaugeLike): void {
    gauge.reset();
    const coordinated = new Set<string>();
    for (const { shard } of this.deps.shards())
      for (const listed of shard.listGroups([])) coordinated.add(listed.groupId);
    const nowMs = this.deps.nowMs();
    for (const { group, topic, timestampMs } of this.oldest)
      if (coordinated.has(group))
        gauge.set({ group, topic }, timestampMs === null ? 0 : Math.max(0, nowMs - timestampMs) / 1000);
  }

  /** The reads of this look: at most unconsumedAgeReadsPerPassMax, from where the last look stopped. */
  private turn(due: UnconsumedPosition[]): UnconsumedPosition[] {
    if (due.length <= unconsumedAgeReadsPerPassMax) return due;
    const start = this.cursor % due.length;
    const rotated = [...due.slice(start), ...due.slice(0, start)];
    this.cursor = start + unconsumedAgeReadsPerPassMax;
    return rotated.slice(0, unconsumedAgeReadsPerPassMax);
  }
}

/** The oldest known timestamp per group and topic; a pair whose lagging partitions are all unknown is left out. */
function oldestByPair(
  pairs: UnconsumedPositions['pairs'],
  positions: readonly UnconsumedPosition[],
  known: ReadonlyMap<string, KnownRecord>,
): { group: string; topic: string; timestampMs: number | null }[] {
  const lagging = new Map<string, number | undefined>();
  for (const position of positions) {
    const key = pairKey(position.group, position.topic);
    const timestampMs = known.get(positionKey(position))?.timestampMs;
    const before = lagging.get(key);
    if (timestampMs === undefined) {
      if (!lagging.has(key)) lagging.set(key, undefined);
    } else lagging.set(key, before === undefined ? timestampMs : Math.min(before, timestampMs));
  }
  const out: { group: string; topic: string; timestampMs: number | null }[] = [];
  for (const { group, topic } of pairs) {
    const key = pairKey(group, topic);
    if (!lagging.has(key)) out.push({ group, topic, timestampMs: null });
    else {
      const timestampMs = lagging.get(key);
      if (timestampMs !== undefined) out.push({ group, topic, timestampMs });
    }
  }
  return out;
}

/** Runs `work` over `items`, at most `inFlightMax` at once. */
async function inTurns<T>(items: readonly T[], inFlightMax: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlightMax, items.length) }, worker));
}

function pairKey(group: string, topic: string): string {
  return `${group}\u0000${topic}`;
}

function positionKey(position: UnconsumedPosition): string {
  return `${position.group}\u0000${position.topic}\u0000${position.partition}`;
}

/** Groups at the same offset of a partition share one read. */
function readKey(position: UnconsumedPosition): string {
  return `${position.topic}\u0000${position.partition}\u0000${position.offset}`;
}
