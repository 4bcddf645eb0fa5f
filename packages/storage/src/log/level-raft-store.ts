/**
 * `LevelRaftStore`: the durable store of every Raft group of a broker, in ONE classic-level
 * (LevelDB) database. Keys are `[kind u8][group u32][index u64]` big-endian (see keys.ts).
 *
 * Group commit: `persist` writes every group's snapshot, entries and hard state of one host loop
 * turn as ONE LevelDB write batch, so one fsync covers them all.
 *
 * Acknowledgement semantics (`walSync`), i.e. what it means when `persist` resolves:
 *  - `always` (default): the batch was written with `sync: true` (LevelDB appends it to its log
 *    and fsyncs) whenever `mustSync` is true. It survives a process crash, a kernel crash and
 *    a power loss. `acks=all` then means a quorum holds the batch on disk.
 *  - `periodic`: the batch is in LevelDB's log file (handed to the OS, written without fsync).
 *    It survives a crash of the process (SIGKILL), but a kernel crash or power loss may lose
 *    writes acknowledged since the last completed sync. A timer every `walSyncIntervalMs` forces
 *    an fsync by writing a tiny marker with `sync: true`; when that resolves every `persist`
 *    resolved before it started is on disk (`onSync` reports how many, `syncNow()` forces one).
 *    So the window of acknowledged-but-losable writes is at most one interval plus one fsync.
 *  - `none`: never fsync; the OS writes back when it likes. Survives process crashes only.
 * In every policy a crash keeps a prefix of the write batches (LevelDB replays its log up to
 * the first torn record), so the store reopens consistent: never a torn batch, never a hole.
 * Caveat (LevelDB): its log file switches when the memtable fills; the old file is not
 * fsynced at the switch, so under `periodic`/`none` a power loss can also lose writes older
 * than the last sync if they sat in the previous log file and had not been flushed to a table.
 *
 * Writes other than `persist` (compaction, retention, group deletion) use the same policy.
 */
import { assert, EntryType, GroupNotFoundError } from '@streambus/raft';
import type { ConfState, Entry, GroupId, GroupWrite, HardState, LogStorage, OpenGroupOptions, RaftLogger, RaftStore, Snapshot } from '@streambus/raft';
import { isRecordBatch, readBatchHeader, RecordBatchError } from '@streambus/proto';
import {
  decodeBatchLocation,
  decodeGroupMeta,
  decodeHardState,
  decodeSnapshotMeta,
  decodeTerm,
  encodeBatchLocation,
  encodeEntryValueInto,
  encodeGroupMeta,
  encodeHardState,
  encodeSnapshotMeta,
  encodeTerm,
} from '../codec.js';
import type { BatchLocation } from '../codec.js';
import {
  entryValueHeaderBytes,
  groupIdMax,
  progressGroupsEvery,
  storeLayoutVersion,
  tailCacheBytesMaxDefault,
  walSyncIntervalMsDefault,
  walSyncIntervalMsMax,
  walSyncIntervalMsMin,
} from '../constants.js';
import { CorruptStoreError, InvalidStoreConfigError, StoreClosedError } from '../errors.js';
import { openDb } from '../open-db.js';
import type { Db } from '../open-db.js';
import { groupRangeEnd, indexRange, KeyKind, keyIndex, keyGroup, kindRange, makeKey } from '../keys.js';
import { readBatches } from '../read/batch-reader.js';
import type { StoredBatch } from '../read/batch-reader.js';
import { EntryLoader } from '../read/entry-loader.js';
import { offsetForTimestamp } from '../read/offset-lookup.js';
import { planRetention } from '../retention/retention.js';
import type { RetentionPolicy, RetentionResult } from '../retention/retention.js';
import { scrubBatches } from '../verify/scrub.js';
import type { ScrubResult } from '../verify/scrub.js';
import { GroupLog } from './group-log.js';
import { storeStats } from './store-stats.js';
import type { StoreStats } from './store-stats.js';
import { TailCache } from './tail-cache.js';

export type WalSyncPolicy = 'always' | 'periodic' | 'none';

export interface OpenProgress {
  readonly groupsLoaded: number;
  readonly groupsTotal: number;
}

export interface LevelRaftStoreOptions {
  /** Config `wal_sync`. Default `always`. */
  readonly walSync?: WalSyncPolicy;
  /** Config `wal_sync_interval` in ms, for `periodic`. Default 10. */
  readonly walSyncIntervalMs?: number;
  /** Byte budget of the tail cache shared by all groups. Default 64 MiB. */
  readonly tailCacheBytesMax?: number;
  readonly logger?: RaftLogger;
  /** Called while groups are loaded at open (every 100 groups and at the end). */
  readonly onOpenProgress?: (progress: OpenProgress) => void;
  /**
   * The offset after the last record a group's snapshot covers, decoded from the application's
   * snapshot data (null when the group holds no records). When a snapshot from the leader replaces
   * a follower's log, it becomes the group's earliest and next offset: the follower may never
   * have held the batches the snapshot summarises.
   */
  readonly snapshotNextOffset?: (groupId: GroupId, data: Uint8Array) => number | null;
}

type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

const emptyConfState: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const emptyHardState: HardState = { term: 0, vote: 0, commit: 0 };
const emptyBytes = Buffer.alloc(0);

export class LevelRaftStore implements RaftStore {
  private readonly groups = new Map<GroupId, GroupLog>();
  /** Groups created by `openGroup` and not yet written. */
  private readonly creating = new Set<GroupLog>();
  private readonly syncListeners: ((persistCount: number) => void)[] = [];
  private readonly walSync: WalSyncPolicy;
  private readonly logger: RaftLogger | undefined;
  private readonly cache: TailCache;
  private readonly loader: EntryLoader;
  private queue: Promise<void> = Promise.resolve();
  /**
   * Range deletes below a snapshot, chained per group, run outside the write queue: deleting a
   * large prefix can take long and must not hold up every group's persist. They only touch keys
   * below the group's first index, which no later write of the group uses; a deleted or
   * re-created group waits for them first.
   */
  private readonly rangeDeletes = new Map<GroupId, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /**
   * Entry values are assembled here and handed to the LevelDB write batch, which copies them into
   * its own buffer during `put` (classic-level's batch_put -> leveldb::WriteBatch::Put; the store
   * registers no 'write' listener or prewrite hook that would keep a reference). So one scratch
   * buffer serves every entry: no allocation, no garbage, one warm memcpy per entry.
   */
  private scratch = Buffer.allocUnsafeSlow(1024 * 1024);
  private readonly snapshotNextOffset: ((groupId: GroupId, data: Uint8Array) => number | null) | undefined;
  private persists = 0;
  private persistsSynced = 0;
  private syncs = 0;

  private constructor(readonly db: Db, readonly location: string, options: LevelRaftStoreOptions) {
    this.walSync = options.walSync ?? 'always';
    this.cache = new TailCache(options.tailCacheBytesMax ?? tailCacheBytesMaxDefault);
    this.logger = options.logger;
    this.snapshotNextOffset = options.snapshotNextOffset;
    this.loader = new EntryLoader({
      db,
      logger: options.logger,
      isClosed: () => this.closed,
      isCurrent: (log) => this.groups.get(log.groupId) === log,
    });
  }

  /** Opens (creating if needed) the store in `dir` and rebuilds every group's in-memory view. */
  static async open(dir: string, options: LevelRaftStoreOptions = {}): Promise<LevelRaftStore> {
    validateOptions(options);
    const db = await openDb(dir, true);
    const store = new LevelRaftStore(db, dir, options);
    assert(db.listenerCount('write') === 0, 'no write listener holds batch values (the scratch buffer is reused)');
    try {
      await store.recover(options.onOpenProgress);
    } catch (error: unknown) {
      await db.close();
      throw error;
    }
    if (store.walSync === 'periodic') {
      const intervalMs = options.walSyncIntervalMs ?? walSyncIntervalMsDefault;
      store.timer = setInterval(() => store.periodicSync(), intervalMs);
      store.timer.unref();
    }
    return store;
  }

  // ---------------------------------------------------------------- RaftStore

  groupIds(): readonly GroupId[] {
    return [...this.groups.keys()];
  }

  openGroup(groupId: GroupId, bootstrap: ConfState | null, options: OpenGroupOptions = {}): LogStorage {
    return this.group(groupId, bootstrap, options);
  }

  /** Like `openGroup`, typed as the concrete log (offsets, cache figures). */
  group(groupId: GroupId, bootstrap: ConfState | null = null, options: OpenGroupOptions = {}): GroupLog {
    this.checkOpen();
    assert(Number.isInteger(groupId) && groupId >= 0 && groupId <= groupIdMax, 'group id is unsigned 32-bit');
    const existing = this.groups.get(groupId);
    if (existing !== undefined) return existing;
    const snap: Snapshot = { metadata: { index: 0, term: 0, confState: bootstrap ?? emptyConfState }, data: emptyBytes };
    const log = new GroupLog(groupId, this.loader, emptyHardState, snap, 0, 0);
    log.pendingCreate = true;
    // See OpenGroupOptions.joining: no votes until the group holds an entry from a leader.
    if (options.joining === true) log.repairIndex = 1;
    this.creating.add(log);
    this.groups.set(groupId, log);
    return log;
  }

  persist(writes: readonly GroupWrite[], mustSync: boolean): Promise<void> {
    return this.exclusive(() => this.persistNow(writes, mustSync));
  }

  compact(groupId: GroupId, snapshot: Snapshot): Promise<void> {
    return this.exclusive(() => this.compactNow(groupId, snapshot));
  }

  /**
   * Repair of a corrupt replica (see `RaftStore.discardFrom`): drops entries [fromIndex, last]
   * with their offsets and term runs, lowers the commit index below them (term and vote stay)
   * and records the old last index as the group's repairIndex, in one synced write.
   */
  discardFrom(groupId: GroupId, fromIndex: number): Promise<void> {
    return this.exclusive(async () => {
      const log = this.existingGroup(groupId);
      assert(fromIndex > log.snap.metadata.index && fromIndex <= log.last, 'the dropped suffix lies within the log');
      const g = groupId;
      const batch = this.db.batch();
      // Key by key, so that the whole repair is one atomic write.
      for (let index = fromIndex; index <= log.last; index++) batch.del(makeKey(KeyKind.entry, g, index));
      for (let i = log.offsets.findRaftIndex(fromIndex); i < log.offsets.count; i++) batch.del(makeKey(KeyKind.offsetIndex, g, log.offsets.raftIndexAt(i)));
      for (const run of log.runs.runs) if (run.startIndex >= fromIndex) batch.del(makeKey(KeyKind.termRun, g, run.startIndex));
      const hard: HardState = { ...log.hard, commit: Math.min(log.hard.commit, fromIndex - 1) };
      const repairIndex = Math.max(log.repairIndex, log.last);
      batch.put(makeKey(KeyKind.hardState, g, 0), encodeHardState(hard));
      batch.put(makeKey(KeyKind.groupMeta, g, 0), encodeGroupMeta({ offsetFloor: log.offsetFloor, repairIndex }));
      await batch.write({ sync: true });
      this.logger?.warn({ groupId: g, fromIndex, lastIndex: log.last }, 'storage: corrupt suffix dropped; the replica re-replicates it');
      this.cache.release(log.truncateFrom(fromIndex));
      log.hard = hard;
      log.repairIndex = repairIndex;
    });
  }

  deleteGroup(groupId: GroupId): Promise<void> {
    return this.exclusive(async () => {
      const log = this.groups.get(groupId);
      if (log === undefined) return;
      // The meta key goes first: without it the group does not exist at the next open, and
      // whatever of it a crash leaves behind is cleared when the id is created again.
      await this.db.del(makeKey(KeyKind.groupMeta, groupId, 0), { sync: this.walSync === 'always' });
      await this.rangeDeletes.get(groupId);
      this.groups.delete(groupId);
      this.creating.delete(log);
      this.cache.release(log.evictThrough(log.last));
      log.truncateFrom(log.firstIndex()); // drops its load windows (and bumps the generation)
      await this.clearGroup(groupId);
    });
  }

  onEntriesLoaded(listener: (groupId: GroupId) => void): void {
    this.loader.onLoaded(listener);
  }

  // ---------------------------------------------------------------- durability

  /** Called after each completed sync with the number of `persist` calls it made durable. */
  onSync(listener: (persistCount: number) => void): void {
    this.syncListeners.push(listener);
  }

  /** Number of `persist` calls resolved so far. */
  get persistCount(): number {
    return this.persists;
  }

  /** Forces an fsync: when it resolves, every write resolved before the call is on disk. */
  async syncNow(): Promise<void> {
    this.checkOpen();
    const covered = this.persists;
    await this.db.put(makeKey(KeyKind.syncMarker, 0, 0), emptyBytes, { sync: true });
    this.syncs++;
    if (covered > this.persistsSynced) this.persistsSynced = covered;
    for (const listener of this.syncListeners) listener(covered);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.queue;
    while (this.rangeDeletes.size > 0) await Promise.all(this.rangeDeletes.values());
    if (this.walSync === 'periodic' && this.persists > this.persistsSynced) await this.syncNow();
    this.closed = true;
    await this.db.close();
  }

  // ---------------------------------------------------------------- partition reads

  /** Committed record batches from `fromOffset`, never past raft index `maxIndexInclusive`: see read/batch-reader.ts. */
  async readBatches(groupId: GroupId, fromOffset: number, bytesMax: number, maxIndexInclusive: number): Promise<StoredBatch[]> {
    this.checkOpen();
    return readBatches(this.db, this.existingGroup(groupId), fromOffset, bytesMax, maxIndexInclusive);
  }

  /**
   * Background verification (scrubbing) of the stored batches of `groupId`, from LevelDB itself,
   * from raft index `fromIndex` up to `maxIndexInclusive`, about `bytesMax` bytes a pass: see
   * verify/scrub.ts.
   */
  async scrub(groupId: GroupId, fromIndex: number, maxIndexInclusive: number, bytesMax: number): Promise<ScrubResult> {
    this.checkOpen();
    return scrubBatches(this.db, this.existingGroup(groupId), fromIndex, maxIndexInclusive, bytesMax);
  }

  /** The offset of the first batch kept (after retention), or the next offset when none. */
  earliestOffset(groupId: GroupId): number {
    return this.existingGroup(groupId).earliestOffset();
  }

  /** The offset after the last batch at or below raft index `maxIndexInclusive` (the high watermark). */
  latestOffset(groupId: GroupId, maxIndexInclusive = Infinity): number {
    return this.existingGroup(groupId).nextOffset(maxIndexInclusive);
  }

  /** The base offset of the first batch holding a record at or after `timestampMs`, or null: see read/offset-lookup.ts. */
  offsetForTimestamp(groupId: GroupId, timestampMs: number, maxIndexInclusive = Infinity): number | null {
    return offsetForTimestamp(this.existingGroup(groupId), timestampMs, maxIndexInclusive);
  }

  // ---------------------------------------------------------------- retention and stats

  /**
   * Deletes the oldest whole batches of a partition that are older than `maxAgeMs` or beyond
   * `maxBytes`, never above `appliedIndex`: records `partitionState` (the partition's small
   * state — next offset, producer sequences — as of `appliedIndex`) as the snapshot at the cut
   * index, then range-deletes the prefix. The cut is the raft index just below the first batch
   * kept (or the applied index when every batch goes).
   * The state describes `appliedIndex` but is recorded at the cut (<= appliedIndex): a replica
   * that installs this snapshot re-applies entries (cut, appliedIndex] on top of it, so the
   * partition's apply must be idempotent for them (next offset = max, sequences only forward).
   * `policy.confStateAt` should answer the membership as of the cut (the host knows it; the
   * storage does not decode conf changes); without it the current snapshot's is used.
   */
  applyRetention(groupId: GroupId, policy: RetentionPolicy, partitionState: Uint8Array): Promise<RetentionResult> {
    return this.exclusive(async () => {
      const log = this.existingGroup(groupId);
      const cut = planRetention(log, policy, partitionState);
      if (cut === null) return { snapshotIndex: null, batchesDeleted: 0, bytesDeleted: 0, earliestOffset: log.earliestOffset() };
      await this.compactNow(groupId, cut.snapshot);
      return { snapshotIndex: cut.snapshot.metadata.index, batchesDeleted: cut.batchesDeleted, bytesDeleted: cut.bytesDeleted, earliestOffset: log.earliestOffset() };
    });
  }

  stats(): StoreStats {
    return storeStats(this.groups.values(), {
      cacheBytes: this.cache.bytes,
      cacheBytesMax: this.cache.bytesMax,
      loadWindowBytes: this.loader.windowBytes,
      persistCount: this.persists,
      syncCount: this.syncs,
    });
  }

  // ---------------------------------------------------------------- internals

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      this.checkOpen();
      return fn();
    });
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private existingGroup(groupId: GroupId): GroupLog {
    const log = this.groups.get(groupId);
    if (log === undefined) throw new GroupNotFoundError(groupId);
    return log;
  }

  private periodicSync(): void {
    if (this.closed || this.persists === this.persistsSynced) return;
    this.syncNow().catch((error: unknown) => this.logger?.warn({ error: String(error) }, 'periodic sync failed'));
  }

  private async persistNow(writes: readonly GroupWrite[], mustSync: boolean): Promise<void> {
    const logs = writes.map((write) => this.existingGroup(write.groupId));
    assert(new Set(logs).size === logs.length, 'one write per group in a persist');
    const batch = this.db.batch();
    const after: (() => void)[] = [];
    const creating = [...this.creating];
    for (const log of creating) {
      // A crashed deleteGroup may have left keys of this id behind: clear them first.
      await this.rangeDeletes.get(log.groupId);
      await this.clearGroup(log.groupId);
      batch.put(makeKey(KeyKind.groupMeta, log.groupId, 0), encodeGroupMeta({ offsetFloor: 0, repairIndex: log.repairIndex }));
      batch.put(makeKey(KeyKind.snapshotMeta, log.groupId, 0), encodeSnapshotMeta(log.snap.metadata));
      batch.put(makeKey(KeyKind.snapshotData, log.groupId, 0), Buffer.from(log.snap.data));
      batch.put(makeKey(KeyKind.hardState, log.groupId, 0), encodeHardState(log.hard));
    }
    const entryPuts: [Buffer, Entry][] = [];
    writes.forEach((write, i) => this.planWrite(logs[i] as GroupLog, write, batch, after, entryPuts));
    // Entry values go last: LevelDB's WriteBatch is one growing string, and a small record
    // appended after a large value would make it reallocate and copy that value again.
    for (const [key, entry] of entryPuts) batch.put(key, this.entryValue(entry));
    await batch.write({ sync: mustSync && this.walSync === 'always' });
    for (const log of creating) {
      log.pendingCreate = false;
      this.creating.delete(log);
    }
    for (const apply of after) apply();
    this.persists++;
    if (mustSync && this.walSync === 'always') {
      this.syncs++;
      this.persistsSynced = this.persists;
    }
    this.cache.evict();
  }

  /** Adds one group's write to `batch` (entry values to `entryPuts`); pushes the in-memory changes to apply once it is written. */
  private planWrite(
    log: GroupLog,
    write: GroupWrite,
    batch: ReturnType<Db['batch']>,
    after: (() => void)[],
    entryPuts: [Buffer, Entry][],
  ): void {
    const g = log.groupId;
    let last = log.last;
    let snapIndex = log.snap.metadata.index;
    let snapTerm = log.snap.metadata.term;
    let batchesKept = log.offsets.count;
    let runsKept = log.runs.runs;
    let metaFloor: number | null = null;
    const snapshot = write.snapshot;
    if (snapshot !== null) {
      assert(snapshot.metadata.index >= snapIndex, 'an installed snapshot does not go backwards');
      batch.put(makeKey(KeyKind.snapshotMeta, g, 0), encodeSnapshotMeta(snapshot.metadata));
      batch.put(makeKey(KeyKind.snapshotData, g, 0), Buffer.from(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength));
      // The whole log is replaced. Keys above the snapshot go in this batch; those at or below
      // it are garbage once the snapshot is written, and are range-deleted afterwards.
      for (let index = Math.max(snapIndex, snapshot.metadata.index) + 1; index <= last; index++) batch.del(makeKey(KeyKind.entry, g, index));
      for (let i = log.offsets.findRaftIndex(snapshot.metadata.index + 1); i < log.offsets.count; i++) batch.del(makeKey(KeyKind.offsetIndex, g, log.offsets.raftIndexAt(i)));
      for (const run of runsKept) batch.del(makeKey(KeyKind.termRun, g, run.startIndex));
      const upTo = snapshot.metadata.index + 1;
      const dropPos = log.offsets.findRaftIndex(upTo);
      const dropped = dropPos > 0 ? Math.max(log.offsetFloor, log.offsets.lastOffsetAt(dropPos - 1) + 1) : log.offsetFloor;
      const floor = Math.max(dropped, this.snapshotNextOffset?.(g, snapshot.data) ?? 0);
      metaFloor = floor;
      after.push(() => {
        this.cache.release(log.installSnapshot(snapshot));
        log.offsetFloor = Math.max(log.offsetFloor, floor);
        this.clearBelowLater(g, upTo);
      });
      snapIndex = snapshot.metadata.index;
      snapTerm = snapshot.metadata.term;
      last = snapIndex;
      batchesKept = 0;
      runsKept = [];
    }
    const entries = write.entries;
    const first = entries[0];
    if (first !== undefined) {
      assert(first.index > snapIndex, 'entries are appended above the snapshot');
      assert(first.index <= last + 1, 'entries leave no gap in the log');
      let lastBatch: BatchLocation | null = null;
      if (first.index <= last) {
        for (let index = first.index; index <= last; index++) batch.del(makeKey(KeyKind.entry, g, index));
        const pos = log.offsets.findRaftIndex(first.index);
        for (let i = pos; i < batchesKept; i++) batch.del(makeKey(KeyKind.offsetIndex, g, log.offsets.raftIndexAt(i)));
        batchesKept = Math.min(batchesKept, pos);
        for (const run of runsKept) if (run.startIndex >= first.index) batch.del(makeKey(KeyKind.termRun, g, run.startIndex));
        const truncateAt = first.index;
        after.push(() => {
          this.cache.release(log.truncateFrom(truncateAt));
        });
      }
      if (batchesKept > 0) lastBatch = log.offsets.at(batchesKept - 1);
      let prevTerm = first.index - 1 === snapIndex ? snapTerm : log.runs.termAt(first.index - 1);
      const newRuns: [number, number][] = [];
      const newBatches: BatchLocation[] = [];
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i] as Entry;
        assert(entry.index === first.index + i, 'entries are contiguous');
        entryPuts.push([makeKey(KeyKind.entry, g, entry.index), entry]);
        if (entry.term !== prevTerm || (i === 0 && first.index === snapIndex + 1)) {
          assert(entry.term >= prevTerm, 'terms never decrease along the log');
          batch.put(makeKey(KeyKind.termRun, g, entry.index), encodeTerm(entry.term));
          newRuns.push([entry.index, entry.term]);
          prevTerm = entry.term;
        }
        const loc = batchLocation(entry);
        if (loc !== null && (lastBatch === null || loc.baseOffset > lastBatch.lastOffset)) {
          batch.put(makeKey(KeyKind.offsetIndex, g, entry.index), encodeBatchLocation(loc));
          newBatches.push(loc);
          lastBatch = loc;
        } else if (loc !== null) {
          this.logger?.warn({ groupId: g, index: entry.index, baseOffset: loc.baseOffset }, 'record batch overlaps the previous offsets; not indexed');
        }
      }
      after.push(() => {
        for (const [index, term] of newRuns) log.runs.push(index, term);
        for (const loc of newBatches) log.offsets.append(loc);
        this.cache.append(log, entries);
      });
    }
    const lastAfter = first === undefined ? last : first.index + entries.length - 1;
    const repaired = log.repairIndex !== 0 && lastAfter >= log.repairIndex;
    if (metaFloor !== null || repaired) {
      const floor = metaFloor ?? log.offsetFloor;
      const repairIndex = repaired ? 0 : log.repairIndex;
      batch.put(makeKey(KeyKind.groupMeta, g, 0), encodeGroupMeta({ offsetFloor: floor, repairIndex }));
      after.push(() => {
        log.repairIndex = repairIndex;
      });
    }
    const hardState = write.hardState;
    if (hardState !== null) {
      batch.put(makeKey(KeyKind.hardState, g, 0), encodeHardState(hardState));
      after.push(() => {
        log.hard = hardState;
      });
    }
  }

  private entryValue(entry: Entry): Buffer {
    const bytes = entryValueHeaderBytes + entry.data.byteLength;
    if (this.scratch.byteLength < bytes) this.scratch = Buffer.allocUnsafeSlow(Math.max(bytes, 2 * this.scratch.byteLength));
    return encodeEntryValueInto(this.scratch, entry);
  }

  private async compactNow(groupId: GroupId, snapshot: Snapshot): Promise<void> {
    const log = this.existingGroup(groupId);
    const index = snapshot.metadata.index;
    if (index <= log.snap.metadata.index) return;
    assert(index <= log.last, 'compaction within the log');
    assert(log.term(index) === snapshot.metadata.term, 'compaction snapshot term matches the log');
    const g = groupId;
    const batch = this.db.batch();
    batch.put(makeKey(KeyKind.snapshotMeta, g, 0), encodeSnapshotMeta(snapshot.metadata));
    batch.put(makeKey(KeyKind.snapshotData, g, 0), Buffer.from(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength));
    // The run covering index + 1 must start there once the runs below are gone.
    if (index < log.last) {
      const term = log.term(index + 1);
      batch.put(makeKey(KeyKind.termRun, g, index + 1), encodeTerm(term));
    }
    const dropPos = log.offsets.findRaftIndex(index + 1);
    const floor = dropPos > 0 ? Math.max(log.offsetFloor, log.offsets.lastOffsetAt(dropPos - 1) + 1) : log.offsetFloor;
    batch.put(makeKey(KeyKind.groupMeta, g, 0), encodeGroupMeta({ offsetFloor: floor, repairIndex: log.repairIndex }));
    await batch.write({ sync: this.walSync === 'always' });
    this.cache.release(log.compactTo(snapshot));
    this.clearBelowLater(g, index + 1);
  }

  /** Schedules `clearBelow` after the group's earlier range deletes (see `rangeDeletes`). */
  private clearBelowLater(groupId: GroupId, index: number): void {
    const previous = this.rangeDeletes.get(groupId) ?? Promise.resolve();
    const next = previous
      .then(() => this.clearBelow(groupId, index))
      .catch((error: unknown) => this.logger?.warn({ groupId, index, error: String(error) }, 'range delete below the snapshot failed; it is retried at the next open'));
    this.rangeDeletes.set(groupId, next);
    void next.then(() => {
      if (this.rangeDeletes.get(groupId) === next) this.rangeDeletes.delete(groupId);
    });
  }

  /** Range-deletes entries, offset index and term runs of a group below `index`. */
  private async clearBelow(groupId: GroupId, index: number): Promise<void> {
    await this.db.clear(indexRange(KeyKind.entry, groupId, 0, index));
    await this.db.clear(indexRange(KeyKind.offsetIndex, groupId, 0, index));
    await this.db.clear(indexRange(KeyKind.termRun, groupId, 0, index));
  }

  private async clearGroup(groupId: GroupId): Promise<void> {
    for (const kind of [KeyKind.hardState, KeyKind.snapshotMeta, KeyKind.snapshotData, KeyKind.termRun, KeyKind.offsetIndex, KeyKind.entry]) {
      await this.db.clear({ gte: makeKey(kind, groupId, 0), lte: groupRangeEnd(kind, groupId) });
    }
  }

  // ---------------------------------------------------------------- recovery

  private async recover(onProgress: ((progress: OpenProgress) => void) | undefined): Promise<void> {
    const versionKey = makeKey(KeyKind.storeMeta, 0, 0);
    const version = await this.db.get(versionKey);
    if (version === undefined) await this.db.put(versionKey, Buffer.from([storeLayoutVersion]), { sync: true });
    else if (version[0] !== storeLayoutVersion) throw new CorruptStoreError(0, `layout version ${version[0]}, this build reads ${storeLayoutVersion}`);
    const ids: GroupId[] = [];
    for await (const key of this.db.keys(kindRange(KeyKind.groupMeta))) ids.push(keyGroup(key));
    for (let i = 0; i < ids.length; i++) {
      await this.recoverGroup(ids[i] as GroupId);
      if ((i + 1) % progressGroupsEvery === 0 || i + 1 === ids.length) {
        onProgress?.({ groupsLoaded: i + 1, groupsTotal: ids.length });
        this.logger?.info({ groupsLoaded: i + 1, groupsTotal: ids.length }, 'storage: groups loaded');
      }
    }
  }

  private async recoverGroup(g: GroupId): Promise<void> {
    const meta = decodeGroupMeta(required(g, 'group meta', await this.db.get(makeKey(KeyKind.groupMeta, g, 0))));
    const hard = decodeHardState(required(g, 'hard state', await this.db.get(makeKey(KeyKind.hardState, g, 0))));
    const snapMeta = decodeSnapshotMeta(required(g, 'snapshot metadata', await this.db.get(makeKey(KeyKind.snapshotMeta, g, 0))));
    const snapData = (await this.db.get(makeKey(KeyKind.snapshotData, g, 0))) ?? emptyBytes;
    if (meta === null || hard === null || snapMeta === null) throw new CorruptStoreError(g, 'metadata does not decode');
    const firstIndex = snapMeta.index + 1;
    let last = snapMeta.index;
    for await (const key of this.db.keys({ ...indexRange(KeyKind.entry, g, firstIndex, Infinity), reverse: true, limit: 1 })) last = keyIndex(key);
    const log = new GroupLog(g, this.loader, hard, { metadata: snapMeta, data: snapData }, last, meta.offsetFloor);
    log.repairIndex = meta.repairIndex;
    for await (const [key, value] of this.db.iterator({ ...indexRange(KeyKind.termRun, g, firstIndex, last + 1) })) {
      const term = decodeTerm(value);
      if (term === null) throw new CorruptStoreError(g, 'term run does not decode');
      log.runs.push(keyIndex(key), term);
    }
    if (last >= firstIndex && log.runs.runs[0]?.startIndex !== firstIndex) throw new CorruptStoreError(g, `no term run starts at the first index ${firstIndex}`);
    for await (const [key, value] of this.db.iterator({ ...indexRange(KeyKind.offsetIndex, g, firstIndex, last + 1) })) {
      const loc = decodeBatchLocation(keyIndex(key), value);
      if (loc === null) throw new CorruptStoreError(g, 'offset index does not decode');
      if (log.offsets.accepts(loc.raftIndex, loc.baseOffset)) log.offsets.append(loc);
    }
    this.groups.set(g, log);
    // Keys below the snapshot left by a crash between a compaction and its range delete.
    let stale = false;
    for await (const key of this.db.keys({ ...indexRange(KeyKind.entry, g, 0, firstIndex), limit: 1 })) stale = key.byteLength > 0;
    if (stale) {
      this.logger?.info({ groupId: g, firstIndex }, 'clearing entries left below the snapshot');
      this.clearBelowLater(g, firstIndex);
    }
  }
}

function required(groupId: GroupId, what: string, value: Buffer | undefined): Buffer {
  if (value === undefined) throw new CorruptStoreError(groupId, `${what} is missing`);
  return value;
}

/** The offset-index entry of a record batch entry, or null for other payloads. */
function batchLocation(entry: Entry): BatchLocation | null {
  if (entry.type !== EntryType.normal || !isRecordBatch(entry.data)) return null;
  try {
    const h = readBatchHeader(entry.data);
    return { raftIndex: entry.index, baseOffset: h.baseOffset, lastOffset: h.lastOffset, maxTimestamp: h.maxTimestamp, bytes: h.sizeBytes };
  } catch (error: unknown) {
    if (error instanceof RecordBatchError) return null;
    throw error;
  }
}

function validateOptions(options: LevelRaftStoreOptions): void {
  const policy = options.walSync ?? 'always';
  if (policy !== 'always' && policy !== 'periodic' && policy !== 'none') throw new InvalidStoreConfigError(`wal_sync must be always, periodic or none, got ${String(policy)}`);
  const interval = options.walSyncIntervalMs ?? walSyncIntervalMsDefault;
  if (!Number.isFinite(interval) || interval < walSyncIntervalMsMin || interval > walSyncIntervalMsMax) {
    throw new InvalidStoreConfigError(`wal_sync_interval must be within [${walSyncIntervalMsMin}, ${walSyncIntervalMsMax}] ms, got ${interval}`);
  }
  const cache = options.tailCacheBytesMax ?? tailCacheBytesMaxDefault;
  if (!Number.isSafeInteger(cache) || cache < 0) throw new InvalidStoreConfigError(`tail cache bytes must be a non-negative integer, got ${cache}`);
}
