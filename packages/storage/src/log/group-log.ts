/**
 * One group's log as `RaftNode` sees it (`LogStorage`): synchronous answers from memory. The
 * store keeps, per group, the hard state, the latest snapshot, the term of every index (as
 * runs), the offset index, and a tail of recent entries whose bytes count against a budget
 * shared by all groups. Older entries are loaded asynchronously: `entries()` then throws
 * `EntriesPendingError`, the store loads a window of them and calls its `onEntriesLoaded`
 * listeners, and the retry is served from that window.
 *
 * All mutation goes through the owning `LevelRaftStore`, after its writes have reached LevelDB.
 */
import { assert, CompactedError, EntriesPendingError, UnavailableError } from '@streambus/raft';
import { loadWindowsPerGroupMax } from '../constants.js';
import type { Entry, GroupId, HardState, InitialState, LogStorage, Snapshot } from '@streambus/raft';
import { OffsetIndex } from './offset-index.js';
import { TermRuns } from './term-runs.js';

/** What a group needs from its store. */
export interface GroupLogHost {
  /** Starts an asynchronous load of entries [lo, hi). */
  loadEntries(log: GroupLog, lo: number, hi: number): void;
  /** Load windows of `bytes` in total were dropped by the group itself. */
  windowsDropped(bytes: number): void;
}

/** Entries loaded from disk for a reader behind the tail cache. */
export interface LoadWindow {
  readonly lo: number;
  readonly entries: readonly Entry[];
  readonly bytes: number;
}

export class GroupLog implements LogStorage {
  hard: HardState;
  snap: Snapshot;
  last: number;
  readonly runs = new TermRuns();
  readonly offsets = new OffsetIndex();
  /** The offset after the last batch dropped by compaction or retention. */
  offsetFloor: number;
  /** See InitialState.repairIndex; cleared once a write brings the log back to it. */
  repairIndex = 0;
  /** Bumped by every truncation, snapshot or compaction: a load started before is stale. */
  generation = 0;
  loading = false;
  /** Created by `openGroup` but not yet written by a `persist`. */
  pendingCreate = false;

  /** Tail cache: entries [cacheFirst, last]; `cache[cacheHead]` has index cacheFirst. */
  private cache: Entry[] = [];
  private cacheHead = 0;
  private cacheFirstIndex: number;
  private cacheBytesTotal = 0;
  /** Windows of entries loaded from disk, oldest first (at most loadWindowsPerGroupMax). */
  private windows: LoadWindow[] = [];

  constructor(
    readonly groupId: GroupId,
    private readonly host: GroupLogHost,
    hard: HardState,
    snap: Snapshot,
    last: number,
    offsetFloor: number,
  ) {
    this.hard = hard;
    this.snap = snap;
    this.last = last;
    this.offsetFloor = offsetFloor;
    this.cacheFirstIndex = last + 1;
  }

  initialState(): InitialState {
    return {
      hardState: this.hard,
      confState: this.snap.metadata.confState,
      ...(this.repairIndex === 0 ? {} : { repairIndex: this.repairIndex }),
    };
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    assert(lo <= hi, 'entries range is ordered');
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.last + 1) throw new UnavailableError(hi, this.last);
    const out: Entry[] = [];
    let bytes = 0;
    let index = lo;
    while (index < hi) {
      const entry = this.cachedEntry(index) ?? this.windowEntry(index);
      if (entry === undefined) break;
      bytes += entry.data.byteLength;
      if (out.length > 0 && bytes > bytesMax) return out;
      out.push(entry);
      index++;
    }
    if (index === hi) return out;
    // Entries from `index` on are on disk only. Start loading them, reading ahead up to the tail
    // cache (one window's worth: readers mostly go forward); a short answer is allowed (the
    // caller asks again from where it stopped), an empty one must be a pending error.
    this.host.loadEntries(this, index, this.cacheFirstIndex);
    if (out.length > 0) return out;
    throw new EntriesPendingError(lo, hi);
  }

  term(index: number): number {
    const snapIndex = this.snap.metadata.index;
    if (index < snapIndex) throw new CompactedError(index, this.firstIndex());
    if (index > this.last) throw new UnavailableError(index, this.last);
    if (index === snapIndex) return this.snap.metadata.term;
    return this.runs.termAt(index);
  }

  firstIndex(): number {
    return this.snap.metadata.index + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- tail cache and load window (driven by the store) ----

  get cacheBytes(): number {
    return this.cacheBytesTotal;
  }

  get cachedEntries(): number {
    return this.cache.length - this.cacheHead;
  }

  get windowBytes(): number {
    return this.windows.reduce((n, w) => n + w.bytes, 0);
  }

  cachedEntry(index: number): Entry | undefined {
    if (index < this.cacheFirstIndex || index > this.last) return undefined;
    return this.cache[this.cacheHead + index - this.cacheFirstIndex];
  }

  private windowEntry(index: number): Entry | undefined {
    for (const w of this.windows) {
      if (index >= w.lo && index < w.lo + w.entries.length) return w.entries[index - w.lo];
    }
    return undefined;
  }

  /** Adds a loaded window, dropping this group's oldest beyond the per-group bound. */
  addWindow(window: LoadWindow): void {
    this.windows.push(window);
    if (this.windows.length > loadWindowsPerGroupMax) {
      const oldest = this.windows.shift() as LoadWindow;
      this.host.windowsDropped(oldest.bytes);
    }
  }

  /** Removes `window` if still held (the store's global budget); true when it was. */
  removeWindow(window: LoadWindow): boolean {
    const i = this.windows.indexOf(window);
    if (i < 0) return false;
    this.windows.splice(i, 1);
    return true;
  }

  hasWindow(window: LoadWindow): boolean {
    return this.windows.includes(window);
  }

  private clearWindows(): void {
    const bytes = this.windowBytes;
    this.windows = [];
    if (bytes > 0) this.host.windowsDropped(bytes);
  }

  /** Appends entries that now follow `last` (truncation already applied); returns bytes added. */
  cacheAppend(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return 0;
    assert(first.index === this.last + 1, 'cache appends follow the last index');
    if (this.cachedEntries === 0) {
      this.cache = [];
      this.cacheHead = 0;
      this.cacheFirstIndex = first.index;
    }
    let bytes = 0;
    for (const entry of entries) {
      this.cache.push(entry);
      bytes += entry.data.byteLength;
    }
    this.cacheBytesTotal += bytes;
    this.last = first.index + entries.length - 1;
    return bytes;
  }

  /** Drops cached entries at or above `index` and sets `last` to index - 1; returns bytes freed. */
  truncateFrom(index: number): number {
    assert(index > this.snap.metadata.index, 'truncation stays above the snapshot');
    assert(index <= this.last + 1, 'truncation within the log');
    this.generation++;
    this.clearWindows();
    let freed = 0;
    if (index < this.cacheFirstIndex) {
      freed = this.cacheBytesTotal;
      this.cache = [];
      this.cacheHead = 0;
      this.cacheBytesTotal = 0;
      this.cacheFirstIndex = index;
    } else {
      const keep = this.cacheHead + index - this.cacheFirstIndex;
      for (let i = keep; i < this.cache.length; i++) freed += (this.cache[i] as Entry).data.byteLength;
      this.cache.length = keep;
      this.cacheBytesTotal -= freed;
    }
    this.last = index - 1;
    this.runs.truncateFrom(index);
    this.offsets.truncateFrom(index);
    return freed;
  }

  /** Drops cached entries at or below `index` (eviction or compaction); returns bytes freed. */
  evictThrough(index: number): number {
    let freed = 0;
    while (this.cacheFirstIndex <= index && this.cacheHead < this.cache.length) {
      freed += (this.cache[this.cacheHead] as Entry).data.byteLength;
      this.cache[this.cacheHead] = undefined as unknown as Entry;
      this.cacheHead++;
      this.cacheFirstIndex++;
    }
    if (this.cacheHead === this.cache.length) {
      this.cache = [];
      this.cacheHead = 0;
      this.cacheFirstIndex = this.last + 1;
    } else if (this.cacheHead > 1024 && this.cacheHead * 2 > this.cache.length) {
      this.cache = this.cache.slice(this.cacheHead);
      this.cacheHead = 0;
    }
    this.cacheBytesTotal -= freed;
    return freed;
  }

  /** Compaction: the log now starts after `snapshot`; returns cache bytes freed. */
  compactTo(snapshot: Snapshot): number {
    const index = snapshot.metadata.index;
    assert(index <= this.last, 'compaction within the log');
    this.generation++;
    this.clearWindows();
    const freed = this.evictThrough(index);
    this.snap = snapshot;
    if (index === this.last) this.runs.clear();
    else this.runs.dropBelow(index + 1);
    const dropped = this.offsets.dropThrough(index);
    if (dropped !== null) this.offsetFloor = Math.max(this.offsetFloor, dropped.lastOffset + 1);
    return freed;
  }

  /** Snapshot install: the whole log is replaced; returns cache bytes freed. */
  installSnapshot(snapshot: Snapshot): number {
    this.generation++;
    this.clearWindows();
    const freed = this.cacheBytesTotal;
    this.cache = [];
    this.cacheHead = 0;
    this.cacheBytesTotal = 0;
    const dropped = this.offsets.dropThrough(snapshot.metadata.index);
    if (dropped !== null) this.offsetFloor = Math.max(this.offsetFloor, dropped.lastOffset + 1);
    this.offsets.clear();
    this.runs.clear();
    this.snap = snapshot;
    this.last = snapshot.metadata.index;
    this.cacheFirstIndex = this.last + 1;
    return freed;
  }

  /** The offset of the first batch kept (or the floor when none). */
  earliestOffset(): number {
    return this.offsets.first()?.baseOffset ?? this.offsetFloor;
  }

  /** The offset after the last batch at or below `indexMaxInclusive`. */
  nextOffset(indexMaxInclusive = Infinity): number {
    const pos = this.offsets.findRaftIndex(indexMaxInclusive + 1);
    if (pos === 0) return this.offsetFloor;
    return this.offsets.lastOffsetAt(pos - 1) + 1;
  }
}
