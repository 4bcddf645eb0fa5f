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
 *
 * This class is the write path (persist, compact, discardFrom, deleteGroup, recovery at open);
 * what goes into its batches is planned by the pure functions of write-plan.ts. The rest works
 * over the same key layout (keys.ts) and the groups' logs in memory: fetches and offset lookups
 * in read/, the loads behind the tail cache in read/entry-loader.ts, the tail cache's budget in
 * tail-cache.ts, retention in retention/, scrubbing in verify/scrub.ts.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, GroupNotFoundError } from '@streambus/raft';
import type {
  ConfState,
  Entry,
  GroupId,
  GroupWrite,
  HardState,
  LogStorage,
  OpenGroupOptions,
  RaftLogger,
  RaftStore,
  Snapshot,
} from '@streambus/raft';
import {
  decodeBatchLocation,
  decodeGroupMeta,
  decodeHardState,
  decodeSnapshotMeta,
  decodeTerm,
  encodeEntryValueInto,
} from '../codec.js';
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
import { groupRangeEnd, indexRange, KeyKind, keyIndex, keyGroup, kindRange, makeKey } from '../keys.js';
import { openDb } from '../open-db.js';
import type { Db } from '../open-db.js';
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
import { planCompaction, planCreate, planDiscard, planGroupWrite, writesOf } from './write-plan.js';
import type { GroupWritePlan, KeyWrite, SnapshotInstallPlan, SnapshotNextOffset } from './write-plan.js';

export type WalSyncPolicy = 'always' | 'periodic' | 'none';

/** What the database takes on disk and in memory (the storage metrics). */
export interface StoreFootprint {
  /** Every file of the database directory: tables, LevelDB's log, manifest. */
  readonly diskBytes: number;
  /** LevelDB's write-ahead log files (NNNNNN.log): what a crash replays. */
  readonly walBytes: number;
  /** LevelDB's estimate of its memtables' memory (leveldb.approximate-memory-usage). */
  readonly memtableBytes: number;
}

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
  /** LevelDB's write buffer (memtable) size. Default `levelWriteBufferBytes` (32 MiB). */
  readonly writeBufferBytes?: number;
  /** LevelDB's table file size. Default LevelDB's own, 2 MiB. */
  readonly tableFileBytesMax?: number;
  /**
   * Called after every completed sync (a synced persist under `always`, a periodic sync, a
   * `syncNow`) with how long its write took in milliseconds, fdatasync included: the metrics.
   */
  readonly onSyncMs?: (durationMs: number) => void;
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

/** LevelDB names its write-ahead log files NNNNNN.log (its info log is LOG). */
const levelWalFilePattern = /^\d+\.log$/;

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
  private readonly snapshotNextOffset: SnapshotNextOffset | undefined;
  private persists = 0;
  private persistsSynced = 0;
  private syncs = 0;
  private readonly onSyncMs: ((durationMs: number) => void) | undefined;

  private constructor(
    readonly db: Db,
    readonly location: string,
    options: LevelRaftStoreOptions,
  ) {
    this.walSync = options.walSync ?? 'always';
    this.cache = new TailCache(options.tailCacheBytesMax ?? tailCacheBytesMaxDefault);
    this.logger = options.logger;
    this.snapshotNextOffset = options.snapshotNextOffset;
    this.onSyncMs = options.onSyncMs;
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
    const db = await openDb(dir, true, {
      ...(options.writeBufferBytes === undefined ? {} : { writeBufferBytes: options.writeBufferBytes }),
      ...(options.tableFileBytesMax === undefined ? {} : { tableFileBytesMax: options.tableFileBytesMax }),
    });
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
    const snap: Snapshot = {
      metadata: { index: 0, term: 0, confState: bootstrap ?? emptyConfState },
      data: emptyBytes,
    };
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
      const plan = planDiscard(log, fromIndex);
      const batch = this.db.batch();
      addWrites(batch, plan.writes);
      await batch.write({ sync: true });
      this.logger?.warn(
        { groupId, fromIndex, lastIndex: log.last },
        'storage: corrupt suffix dropped; the replica re-replicates it',
      );
      this.cache.release(log.truncateFrom(fromIndex));
      log.hard = plan.hardState;
      log.repairIndex = plan.repairIndex;
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
    const startedMs = performance.now();
    await this.db.put(makeKey(KeyKind.syncMarker, 0, 0), emptyBytes, { sync: true });
    this.onSyncMs?.(performance.now() - startedMs);
    this.syncs++;
    if (covered > this.persistsSynced) this.persistsSynced = covered;
    for (const listener of this.syncListeners) listener(covered);
  }

  /**
   * Records in the group's batches after raft index `raftIndex`: how far a follower that matched
   * `raftIndex` is behind this log, in records (0 when it has every batch). Batches compacted
   * away are not counted.
   */
  recordsAfter(groupId: GroupId, raftIndex: number): number {
    const log = this.existingGroup(groupId);
    const position = log.offsets.findRaftIndex(raftIndex + 1);
    if (position >= log.offsets.count) return 0;
    return log.nextOffset() - log.offsets.at(position).baseOffset;
  }

  /**
   * Sizes of the database's files and its memtables. Reads the directory (one stat per file):
   * for a periodic metrics refresh, not for a hot path. A file removed while it is read (a
   * compaction) is skipped.
   */
  async footprint(): Promise<StoreFootprint> {
    this.checkOpen();
    const names = await readdir(this.location);
    let diskBytes = 0;
    let walBytes = 0;
    for (const name of names) {
      const info = await stat(join(this.location, name)).catch(() => null);
      if (info === null || !info.isFile()) continue;
      diskBytes += info.size;
      if (levelWalFilePattern.test(name)) walBytes += info.size;
    }
    const memory = Number(this.db.getProperty('leveldb.approximate-memory-usage'));
    return { diskBytes, walBytes, memtableBytes: Number.isFinite(memory) ? memory : 0 };
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

  /** Committed record batches from `fromOffset`, never past raft index `indexMaxInclusive`: see read/batch-reader.ts. */
  async readBatches(
    groupId: GroupId,
    fromOffset: number,
    bytesMax: number,
    indexMaxInclusive: number,
  ): Promise<StoredBatch[]> {
    this.checkOpen();
    return readBatches(this.db, this.existingGroup(groupId), fromOffset, bytesMax, indexMaxInclusive);
  }

  /**
   * Background verification (scrubbing) of the stored batches of `groupId`, from LevelDB itself,
   * from raft index `fromIndex` up to `indexMaxInclusive`, about `bytesMax` bytes a pass: see
   * verify/scrub.ts.
   */
  async scrub(groupId: GroupId, fromIndex: number, indexMaxInclusive: number, bytesMax: number): Promise<ScrubResult> {
    this.checkOpen();
    return scrubBatches(this.db, this.existingGroup(groupId), fromIndex, indexMaxInclusive, bytesMax);
  }

  /** The offset of the first batch kept (after retention), or the next offset when none. */
  earliestOffset(groupId: GroupId): number {
    return this.existingGroup(groupId).earliestOffset();
  }

  /** The offset after the last batch at or below raft index `indexMaxInclusive` (the high watermark). */
  latestOffset(groupId: GroupId, indexMaxInclusive = Infinity): number {
    return this.existingGroup(groupId).nextOffset(indexMaxInclusive);
  }

  /** The base offset of the first batch holding a record at or after `timestampMs`, or null: see read/offset-lookup.ts. */
  offsetForTimestamp(groupId: GroupId, timestampMs: number, indexMaxInclusive = Infinity): number | null {
    return offsetForTimestamp(this.existingGroup(groupId), timestampMs, indexMaxInclusive);
  }

  // ---------------------------------------------------------------- retention and stats

  /**
   * Deletes the oldest whole batches of a partition that are older than `ageMsMax` or beyond
   * `bytesMax`, never above `appliedIndex`: records `partitionState` (the partition's small
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
      if (cut === null)
        return { snapshotIndex: null, batchesDeleted: 0, bytesDeleted: 0, earliestOffset: log.earliestOffset() };
      await this.compactNow(groupId, cut.snapshot);
      return {
        snapshotIndex: cut.snapshot.metadata.index,
        batchesDeleted: cut.batchesDeleted,
        bytesDeleted: cut.bytesDeleted,
        earliestOffset: log.earliestOffset(),
      };
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

  // ---------------------------------------------------------------- the write path

  private async persistNow(writes: readonly GroupWrite[], mustSync: boolean): Promise<void> {
    const logs = writes.map((write) => this.existingGroup(write.groupId));
    assert(new Set(logs).size === logs.length, 'one write per group in a persist');
    const batch = this.db.batch();
    // Awaited only when there are groups to create: every other persist plans and writes without yielding first.
    const creating = this.creating.size === 0 ? [] : await this.addCreates(batch);
    const plans = writes.map((write, i) => planGroupWrite(logs[i] as GroupLog, write, this.snapshotNextOffset));
    this.addPlans(batch, plans);
    const synced = mustSync && this.walSync === 'always';
    const startedMs = performance.now();
    await batch.write({ sync: synced });
    if (synced) this.onSyncMs?.(performance.now() - startedMs);
    for (const log of creating) {
      log.pendingCreate = false;
      this.creating.delete(log);
    }
    plans.forEach((plan, i) => this.applyPlan(logs[i] as GroupLog, plan));
    this.persists++;
    if (synced) {
      this.syncs++;
      this.persistsSynced = this.persists;
    }
    this.cache.evict();
  }

  /** Adds the keys of the groups created since the last persist to `batch`; returns those groups. */
  private async addCreates(batch: ReturnType<Db['batch']>): Promise<GroupLog[]> {
    const creating = [...this.creating];
    for (const log of creating) {
      // A crashed deleteGroup may have left keys of this id behind: clear them first.
      await this.rangeDeletes.get(log.groupId);
      await this.clearGroup(log.groupId);
      addWrites(batch, planCreate(log));
    }
    return creating;
  }

  private addPlans(batch: ReturnType<Db['batch']>, plans: readonly GroupWritePlan[]): void {
    for (const plan of plans) {
      this.warnUnindexed(plan);
      addWrites(batch, writesOf(plan));
    }
    // Entry values go last: LevelDB's WriteBatch is one growing string, and a small record
    // appended after a large value would make it reallocate and copy that value again.
    for (const plan of plans) {
      for (const entry of plan.append?.entries ?? [])
        batch.put(makeKey(KeyKind.entry, plan.groupId, entry.index), this.entryValue(entry));
    }
  }

  private warnUnindexed(plan: GroupWritePlan): void {
    for (const loc of plan.append?.unindexed ?? []) {
      this.logger?.warn(
        { groupId: plan.groupId, index: loc.raftIndex, baseOffset: loc.baseOffset },
        'record batch overlaps the previous offsets; not indexed',
      );
    }
  }

  /** Makes a written plan's changes to the group's log in memory, in the order the log was written. */
  private applyPlan(log: GroupLog, plan: GroupWritePlan): void {
    if (plan.install !== null) this.applyInstall(log, plan.install);
    if (plan.truncation !== null) this.cache.release(log.truncateFrom(plan.truncation.fromIndex));
    const append = plan.append;
    if (append !== null) {
      for (const run of append.runs) log.runs.push(run.startIndex, run.term);
      for (const loc of append.batches) log.offsets.append(loc);
      this.cache.append(log, append.entries);
    }
    if (plan.meta !== null) log.repairIndex = plan.meta.repairIndex;
    if (plan.hardState !== null) log.hard = plan.hardState.hardState;
  }

  private applyInstall(log: GroupLog, install: SnapshotInstallPlan): void {
    this.cache.release(log.installSnapshot(install.snapshot));
    log.offsetFloor = Math.max(log.offsetFloor, install.offsetFloor);
    this.clearBelowLater(log.groupId, install.clearBelowIndex);
  }

  private entryValue(entry: Entry): Buffer {
    const bytes = entryValueHeaderBytes + entry.data.byteLength;
    if (this.scratch.byteLength < bytes)
      this.scratch = Buffer.allocUnsafeSlow(Math.max(bytes, 2 * this.scratch.byteLength));
    return encodeEntryValueInto(this.scratch, entry);
  }

  private async compactNow(groupId: GroupId, snapshot: Snapshot): Promise<void> {
    const log = this.existingGroup(groupId);
    const index = snapshot.metadata.index;
    if (index <= log.snap.metadata.index) return;
    const batch = this.db.batch();
    addWrites(batch, planCompaction(log, snapshot));
    await batch.write({ sync: this.walSync === 'always' });
    this.cache.release(log.compactTo(snapshot));
    this.clearBelowLater(groupId, index + 1);
  }

  /** Schedules `clearBelow` after the group's earlier range deletes (see `rangeDeletes`). */
  private clearBelowLater(groupId: GroupId, index: number): void {
    const previous = this.rangeDeletes.get(groupId) ?? Promise.resolve();
    const next = previous
      .then(() => this.clearBelow(groupId, index))
      .catch((error: unknown) =>
        this.logger?.warn(
          { groupId, index, error: String(error) },
          'range delete below the snapshot failed; it is retried at the next open',
        ),
      );
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
    for (const kind of [
      KeyKind.hardState,
      KeyKind.snapshotMeta,
      KeyKind.snapshotData,
      KeyKind.termRun,
      KeyKind.offsetIndex,
      KeyKind.entry,
    ]) {
      await this.db.clear({ gte: makeKey(kind, groupId, 0), lte: groupRangeEnd(kind, groupId) });
    }
  }

  // ---------------------------------------------------------------- recovery

  private async recover(onProgress: ((progress: OpenProgress) => void) | undefined): Promise<void> {
    const versionKey = makeKey(KeyKind.storeMeta, 0, 0);
    const version = await this.db.get(versionKey);
    if (version === undefined) await this.db.put(versionKey, Buffer.from([storeLayoutVersion]), { sync: true });
    else if (version[0] !== storeLayoutVersion)
      throw new CorruptStoreError(0, `layout version ${version[0]}, this build reads ${storeLayoutVersion}`);
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
    const snapMeta = decodeSnapshotMeta(
      required(g, 'snapshot metadata', await this.db.get(makeKey(KeyKind.snapshotMeta, g, 0))),
    );
    const snapData = (await this.db.get(makeKey(KeyKind.snapshotData, g, 0))) ?? emptyBytes;
    if (meta === null || hard === null || snapMeta === null) throw new CorruptStoreError(g, 'metadata does not decode');
    const firstIndex = snapMeta.index + 1;
    let last = snapMeta.index;
    for await (const key of this.db.keys({
      ...indexRange(KeyKind.entry, g, firstIndex, Infinity),
      reverse: true,
      limit: 1,
    }))
      last = keyIndex(key);
    const log = new GroupLog(g, this.loader, hard, { metadata: snapMeta, data: snapData }, last, meta.offsetFloor);
    log.repairIndex = meta.repairIndex;
    await this.recoverTermRuns(log, firstIndex);
    await this.recoverOffsetIndex(log, firstIndex);
    this.groups.set(g, log);
    // Keys below the snapshot left by a crash between a compaction and its range delete.
    if (await this.hasEntriesBelow(g, firstIndex)) {
      this.logger?.info({ groupId: g, firstIndex }, 'clearing entries left below the snapshot');
      this.clearBelowLater(g, firstIndex);
    }
  }

  /** Loads the term runs of [firstIndex, log.last]; one must start at the first index. */
  private async recoverTermRuns(log: GroupLog, firstIndex: number): Promise<void> {
    const g = log.groupId;
    for await (const [key, value] of this.db.iterator({
      ...indexRange(KeyKind.termRun, g, firstIndex, log.last + 1),
    })) {
      const term = decodeTerm(value);
      if (term === null) throw new CorruptStoreError(g, 'term run does not decode');
      log.runs.push(keyIndex(key), term);
    }
    if (log.last >= firstIndex && log.runs.runs[0]?.startIndex !== firstIndex)
      throw new CorruptStoreError(g, `no term run starts at the first index ${firstIndex}`);
  }

  /** Loads the offset index of [firstIndex, log.last], skipping entries that do not follow in order. */
  private async recoverOffsetIndex(log: GroupLog, firstIndex: number): Promise<void> {
    const g = log.groupId;
    for await (const [key, value] of this.db.iterator({
      ...indexRange(KeyKind.offsetIndex, g, firstIndex, log.last + 1),
    })) {
      const loc = decodeBatchLocation(keyIndex(key), value);
      if (loc === null) throw new CorruptStoreError(g, 'offset index does not decode');
      if (log.offsets.accepts(loc.raftIndex, loc.baseOffset)) log.offsets.append(loc);
    }
  }

  private async hasEntriesBelow(groupId: GroupId, index: number): Promise<boolean> {
    let found = false;
    for await (const key of this.db.keys({ ...indexRange(KeyKind.entry, groupId, 0, index), limit: 1 }))
      found = key.byteLength > 0;
    return found;
  }
}

function required(groupId: GroupId, what: string, value: Buffer | undefined): Buffer {
  if (value === undefined) throw new CorruptStoreError(groupId, `${what} is missing`);
  return value;
}

function addWrites(batch: ReturnType<Db['batch']>, writes: readonly KeyWrite[]): void {
  for (const write of writes) {
    if (write.type === 'put') batch.put(write.key, write.value);
    else batch.del(write.key);
  }
}

function validateOptions(options: LevelRaftStoreOptions): void {
  const policy = options.walSync ?? 'always';
  if (policy !== 'always' && policy !== 'periodic' && policy !== 'none')
    throw new InvalidStoreConfigError(`wal_sync must be always, periodic or none, got ${String(policy)}`);
  const interval = options.walSyncIntervalMs ?? walSyncIntervalMsDefault;
  if (!Number.isFinite(interval) || interval < walSyncIntervalMsMin || interval > walSyncIntervalMsMax) {
    throw new InvalidStoreConfigError(
      `wal_sync_interval must be within [${walSyncIntervalMsMin}, ${walSyncIntervalMsMax}] ms, got ${interval}`,
    );
  }
  const cache = options.tailCacheBytesMax ?? tailCacheBytesMaxDefault;
  if (!Number.isSafeInteger(cache) || cache < 0)
    throw new InvalidStoreConfigError(`tail cache bytes must be a non-negative integer, got ${cache}`);
}
