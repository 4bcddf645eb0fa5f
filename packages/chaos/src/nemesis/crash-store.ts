/**
 * The disk-fault layer: a RaftStore wrapper that knows which writes a crash may lose, so that a
 * kill of an in-process broker loses exactly what a power loss would (the OS page cache is gone),
 * and the guarantees of each sync policy are measured, not assumed.
 *
 * A write is durable once a sync covered it: with `always`, a persist asked to sync (LevelDB's
 * log is sequential, so a synced write also covers everything before it); with `periodic`, when
 * the store reports a completed sync; with `none`, never. For each write not yet durable it
 * remembers every touched group's state before it. On `crash()` it freezes (the store's own sync
 * at close comes too late to count); after the kill, `rollbackStore(dir, rewinds())` reopens the
 * data directory and rewinds each group to its last durable state: the log truncated to the last
 * durable entry, the hard state as it was. The caller must cut the broker off the network before
 * the crash: an acknowledgement of a write the crash then rewinds must never leave.
 *
 * Limits: an unsynced InstallSnapshot or group creation is not rewound, and a log with no durable
 * entry keeps its first one (both counted in `unrollbackable`).
 */
import { assert, EntriesPendingError } from '@streambus/raft';
import type {
  ConfState,
  GroupId,
  GroupWrite,
  HardState,
  LogStorage,
  OpenGroupOptions,
  RaftStore,
  Snapshot,
  Entry,
} from '@streambus/raft';
import { LevelRaftStore } from '@streambus/storage';

export type WalSyncPolicy = 'always' | 'periodic' | 'none';

interface GroupBefore {
  readonly lastIndex: number;
  readonly hardState: HardState;
  /** The lowest entry index this write replaced or appended (Infinity when it wrote no entries). */
  readonly firstTouched: number;
  readonly snapshot: boolean;
}

interface PendingWrite {
  readonly seq: number;
  readonly groups: Map<GroupId, GroupBefore>;
}

/** The rewind a crash needs for one group. */
export interface GroupRewind {
  readonly groupId: GroupId;
  readonly durableLastIndex: number;
  readonly hardState: HardState;
  readonly rewindable: boolean;
}

export interface RollbackResult {
  readonly groupsRewound: number;
  readonly entriesDropped: number;
  readonly unrollbackable: number;
}

export class CrashableStore implements RaftStore {
  private seq = 0;
  private durableSeq = 0;
  private pending: PendingWrite[] = [];
  private frozen = false;
  /** A slow disk: every persist takes this much longer. */
  slowMs = 0;
  /** A failing disk: every persist throws (the host then stops: it cannot trust what is durable). */
  failing = false;

  constructor(
    private readonly inner: RaftStore,
    private readonly policy: WalSyncPolicy,
  ) {
    if (policy === 'periodic' && inner instanceof LevelRaftStore) {
      // The store counts its own persists; ours match them one for one (the host is the only writer).
      inner.onSync((persistCount) => this.markDurable(persistCount));
    }
  }

  groupIds(): readonly GroupId[] {
    return this.inner.groupIds();
  }

  openGroup(groupId: GroupId, bootstrap: ConfState | null, options?: OpenGroupOptions): LogStorage {
    return this.inner.openGroup(groupId, bootstrap, options);
  }

  async persist(writes: readonly GroupWrite[], mustSync: boolean): Promise<void> {
    const groups = new Map<GroupId, GroupBefore>();
    for (const write of writes) {
      const log = this.inner.openGroup(write.groupId, null);
      groups.set(write.groupId, {
        lastIndex: log.lastIndex(),
        hardState: log.initialState().hardState,
        firstTouched: write.entries[0]?.index ?? Infinity,
        snapshot: write.snapshot !== null,
      });
    }
    const seq = ++this.seq;
    this.pending.push({ seq, groups });
    if (this.slowMs > 0) await new Promise((resolve) => setTimeout(resolve, this.slowMs));
    if (this.failing) throw new Error('injected disk failure: write failed (EIO)');
    await this.inner.persist(writes, mustSync);
    if (this.policy === 'always' && mustSync) this.markDurable(seq);
  }

  compact(groupId: GroupId, snapshot: Snapshot): Promise<void> {
    return this.inner.compact(groupId, snapshot);
  }

  async discardFrom(groupId: GroupId, fromIndex: number): Promise<void> {
    if (this.inner.discardFrom === undefined) throw new Error('the inner store cannot drop a suffix');
    await this.inner.discardFrom(groupId, fromIndex);
    // A synced LevelDB write: everything written before it is on disk too.
    this.markDurable(this.seq);
  }

  deleteGroup(groupId: GroupId): Promise<void> {
    return this.inner.deleteGroup(groupId);
  }

  onEntriesLoaded(listener: (groupId: GroupId) => void): void {
    this.inner.onEntriesLoaded(listener);
  }

  /** Forces a real fsync of the underlying store (a checkpoint: the OS wrote everything back). */
  async syncNow(): Promise<void> {
    const seq = this.seq;
    if (this.inner instanceof LevelRaftStore) await this.inner.syncNow();
    this.markDurable(seq);
  }

  /** Writes not yet covered by a sync. */
  get unsyncedWrites(): number {
    return this.pending.length;
  }

  /**
   * The power goes out: from now on nothing becomes durable (a sync the store makes while it is
   * being killed, e.g. at close, came too late). Writes still in flight stay in the pending list
   * and are rewound too.
   */
  crash(): void {
    this.frozen = true;
  }

  /** What a crash must rewind: for each group touched since the last durable point, its durable end. Call after the kill. */
  rewinds(): GroupRewind[] {
    const rewinds = new Map<GroupId, { before: GroupBefore; firstTouched: number; snapshot: boolean }>();
    for (const write of this.pending) {
      for (const [groupId, before] of write.groups) {
        const seen = rewinds.get(groupId);
        if (seen === undefined)
          rewinds.set(groupId, { before, firstTouched: before.firstTouched, snapshot: before.snapshot });
        else
          rewinds.set(groupId, {
            before: seen.before,
            firstTouched: Math.min(seen.firstTouched, before.firstTouched),
            snapshot: seen.snapshot || before.snapshot,
          });
      }
    }
    return [...rewinds].map(([groupId, { before, firstTouched, snapshot }]) => ({
      groupId,
      durableLastIndex: Math.min(before.lastIndex, firstTouched - 1),
      hardState: before.hardState,
      rewindable: !snapshot,
    }));
  }

  private markDurable(seq: number): void {
    if (this.frozen || seq <= this.durableSeq) return;
    this.durableSeq = seq;
    this.pending = this.pending.filter((write) => write.seq > seq);
  }
}

/** Rewinds a closed store at `dir` to the durable state `crash()` computed. */
export async function rollbackStore(dir: string, rewinds: readonly GroupRewind[]): Promise<RollbackResult> {
  let groupsRewound = 0;
  let entriesDropped = 0;
  let unrollbackable = 0;
  if (rewinds.length === 0) return { groupsRewound, entriesDropped, unrollbackable };
  const store = await LevelRaftStore.open(dir, { walSync: 'always' });
  try {
    const present = new Set(store.groupIds());
    for (const rewind of rewinds) {
      if (!present.has(rewind.groupId)) continue;
      if (!rewind.rewindable) {
        unrollbackable += 1;
        continue;
      }
      const log = store.openGroup(rewind.groupId, null);
      const lastIndex = log.lastIndex();
      if (lastIndex <= rewind.durableLastIndex) {
        await store.persist(
          [{ groupId: rewind.groupId, hardState: rewind.hardState, entries: [], snapshot: null }],
          true,
        );
        groupsRewound += 1;
        continue;
      }
      // Rewriting the last durable entry truncates everything after it. When nothing after the
      // snapshot was durable, the first entry is kept (the store cannot hold an empty log above
      // a snapshot it did not write): one entry, usually a new leader's empty one, survives.
      const keep = Math.max(rewind.durableLastIndex, log.firstIndex());
      if (keep > rewind.durableLastIndex) unrollbackable += 1;
      const entry = await entryAt(store, log, keep);
      await store.persist(
        [
          {
            groupId: rewind.groupId,
            hardState: { ...rewind.hardState, commit: Math.min(rewind.hardState.commit, keep) },
            entries: [entry],
            snapshot: null,
          },
        ],
        true,
      );
      assert(log.lastIndex() === keep, 'rewind truncated the log to its durable end');
      groupsRewound += 1;
      entriesDropped += lastIndex - keep;
    }
  } finally {
    await store.close();
  }
  return { groupsRewound, entriesDropped, unrollbackable };
}

async function entryAt(store: LevelRaftStore, log: LogStorage, index: number): Promise<Entry> {
  for (let attempt = 0; attempt < 500; attempt++) {
    try {
      const entry = log.entries(index, index + 1, Infinity)[0];
      assert(entry !== undefined, 'the durable entry is in the log');
      return entry;
    } catch (error) {
      if (!(error instanceof EntriesPendingError)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  void store;
  throw new Error(`entry ${index} did not load from the store`);
}
