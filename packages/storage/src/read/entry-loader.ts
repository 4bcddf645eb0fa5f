/**
 * Loads a group's entries from LevelDB when Raft reads below its tail cache (a lagging follower,
 * the apply loop after a restart): `GroupLog.entries` throws `EntriesPendingError` and asks for a
 * load; a window of entries is read asynchronously, handed to the group, and the `onLoaded`
 * listeners tell the host to retry. One load per group at a time; the windows of all groups
 * together stay under `loadWindowsBytesMax`, oldest dropped first.
 */
import type { Entry, GroupId, RaftLogger } from '@streambus/raft';
import { decodeEntryValue } from '../codec.js';
import { loadWindowBytesMax, loadWindowEntriesMax, loadWindowsBytesMax } from '../constants.js';
import { CorruptStoreError } from '../errors.js';
import { indexRange, KeyKind, keyIndex } from '../keys.js';
import type { GroupLog, GroupLogHost, LoadWindow } from '../log/group-log.js';
import type { Db } from '../open-db.js';

/** What the loader asks of the store that owns the groups. */
export interface EntryLoaderOwner {
  readonly db: Db;
  readonly logger: RaftLogger | undefined;
  /** True once the store is closed: no load starts. */
  isClosed(): boolean;
  /** True while `log` is the store's group of its id (not deleted, not re-created since). */
  isCurrent(log: GroupLog): boolean;
}

/** Window entries of the queue, beyond which windows already dropped are filtered out of it. */
const windowQueueLengthMax = (4 * loadWindowsBytesMax) / loadWindowBytesMax;

export class EntryLoader implements GroupLogHost {
  private readonly listeners: ((groupId: GroupId) => void)[] = [];
  /** Load windows of all groups, oldest first, for the global bound (stale ones are skipped). */
  private windowQueue: { readonly log: GroupLog; readonly window: LoadWindow }[] = [];
  private windowBytesTotal = 0;

  constructor(private readonly owner: EntryLoaderOwner) {}

  /** Bytes of entries loaded and held for readers behind the tail cache, all groups. */
  get windowBytes(): number {
    return this.windowBytesTotal;
  }

  onLoaded(listener: (groupId: GroupId) => void): void {
    this.listeners.push(listener);
  }

  loadEntries(log: GroupLog, lo: number, hi: number): void {
    if (log.loading || this.owner.isClosed()) return;
    log.loading = true;
    const generation = log.generation;
    void readEntries(this.owner.db, log.groupId, lo, hi).then(
      ({ entries, bytes }) => {
        log.loading = false;
        if (entries.length > 0 && generation === log.generation && this.owner.isCurrent(log))
          this.addWindow(log, { lo, entries, bytes });
        this.notifyLoaded(log.groupId);
      },
      (error: unknown) => {
        log.loading = false;
        this.owner.logger?.warn({ groupId: log.groupId, lo, hi, error: String(error) }, 'loading entries failed');
        this.notifyLoaded(log.groupId);
      },
    );
  }

  windowsDropped(bytes: number): void {
    this.windowBytesTotal -= bytes;
  }

  private addWindow(log: GroupLog, window: LoadWindow): void {
    this.windowBytesTotal += window.bytes;
    log.addWindow(window);
    this.windowQueue.push({ log, window });
    while (this.windowBytesTotal > loadWindowsBytesMax && this.windowQueue.length > 1) {
      const oldest = this.windowQueue.shift();
      if (oldest !== undefined && oldest.log.removeWindow(oldest.window)) this.windowBytesTotal -= oldest.window.bytes;
    }
    if (this.windowQueue.length > windowQueueLengthMax) {
      this.windowQueue = this.windowQueue.filter((w) => w.log.hasWindow(w.window));
    }
  }

  private notifyLoaded(groupId: GroupId): void {
    for (const listener of this.listeners) listener(groupId);
  }
}

/**
 * Entries [lo, hi) of a group from LevelDB, stopping at a gap, after `loadWindowBytesMax` bytes
 * or `loadWindowEntriesMax` entries. fillCache off: old entries read once would evict the block
 * index from LevelDB's small cache.
 */
export async function readEntries(
  db: Db,
  groupId: GroupId,
  lo: number,
  hi: number,
): Promise<{ entries: Entry[]; bytes: number }> {
  const entries: Entry[] = [];
  let bytes = 0;
  for await (const [key, value] of db.iterator({ ...indexRange(KeyKind.entry, groupId, lo, hi), fillCache: false })) {
    const index = keyIndex(key);
    if (index !== lo + entries.length) break;
    const entry = decodeEntryValue(index, value);
    if (entry === null) throw new CorruptStoreError(groupId, `entry ${index} is malformed`);
    entries.push(entry);
    bytes += entry.data.byteLength;
    if (bytes >= loadWindowBytesMax || entries.length >= loadWindowEntriesMax) break;
  }
  return { entries, bytes };
}
