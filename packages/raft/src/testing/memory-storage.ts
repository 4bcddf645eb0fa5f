/**
 * In-memory storage for tests and the simulator: `MemoryStorage` is one group's stable log
 * (`LogStorage`), `MemoryRaftStore` a store of many groups (`RaftStore`). Never used in
 * production: nothing here survives the process.
 */
import {
  assert,
  CompactedError,
  EntriesPendingError,
  GroupNotFoundError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from '../errors.js';
import type { GroupWrite, InitialState, LogStorage, OpenGroupOptions, RaftStore } from '../storage.js';
import type { ConfState, Entry, GroupId, HardState, Snapshot } from '../types.js';

const emptyConfState: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const emptyHardState: HardState = { term: 0, vote: 0, commit: 0 };

/** One group's log in memory. Entries are kept by reference: they are immutable values. */
export class MemoryStorage implements LogStorage {
  private hard: HardState = emptyHardState;
  private snap: Snapshot;
  /** Entries (snap.metadata.index, lastIndex]; `log[i]` has index snap.metadata.index + 1 + i. */
  private log: Entry[] = [];
  /** Test knob: the snapshot is "being produced" while true. */
  snapshotUnavailable = false;
  /** Test knob: entries below this index are "on disk" and reported pending once each. */
  private pendingBelowIndex = 0;
  /** See InitialState.repairIndex. */
  private repairIndex = 0;

  constructor(confState: ConfState = emptyConfState) {
    this.snap = { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
  }

  /** A storage holding one group's state with the given voters, as bootstrapped. */
  static withVoters(voters: readonly number[]): MemoryStorage {
    return new MemoryStorage({ ...emptyConfState, voters: [...voters] });
  }

  initialState(): InitialState {
    if (this.repairIndex !== 0 && this.lastIndex() >= this.repairIndex) this.repairIndex = 0;
    return {
      hardState: this.hard,
      confState: this.snap.metadata.confState,
      ...(this.repairIndex === 0 ? {} : { repairIndex: this.repairIndex }),
    };
  }

  /** A new member that may have been in the group before (OpenGroupOptions.joining): no votes until it holds an entry. */
  markJoining(): void {
    assert(this.lastIndex() === 0 && this.hard.term === 0, 'only a new, empty group joins');
    this.repairIndex = 1;
  }

  /** Drops entries at and above `fromIndex` as a corrupt-suffix repair does (RaftStore.discardFrom). */
  discardFrom(fromIndex: number): void {
    assert(fromIndex > this.snap.metadata.index && fromIndex <= this.lastIndex(), 'discard within the log');
    this.repairIndex = Math.max(this.repairIndex, this.lastIndex());
    this.log.length = fromIndex - this.snap.metadata.index - 1;
    this.hard = { ...this.hard, commit: Math.min(this.hard.commit, fromIndex - 1) };
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    this.checkRange(lo, hi);
    if (lo < this.pendingBelowIndex) {
      this.pendingBelowIndex = 0;
      throw new EntriesPendingError(lo, hi);
    }
    const offset = this.snap.metadata.index + 1;
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index < hi; index++) {
      const entry = this.log[index - offset];
      assert(entry !== undefined, 'entry in range is stored');
      bytes += entry.data.byteLength;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  term(index: number): number {
    const snapIndex = this.snap.metadata.index;
    if (index < snapIndex) throw new CompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    if (index === snapIndex) return this.snap.metadata.term;
    const entry = this.log[index - snapIndex - 1];
    assert(entry !== undefined, 'term of stored index');
    return entry.term;
  }

  firstIndex(): number {
    return this.snap.metadata.index + 1;
  }

  lastIndex(): number {
    return this.snap.metadata.index + this.log.length;
  }

  snapshot(): Snapshot {
    if (this.snapshotUnavailable) throw new SnapshotTemporarilyUnavailableError();
    return this.snap;
  }

  hardState(): HardState {
    return this.hard;
  }

  setHardState(hardState: HardState): void {
    this.hard = hardState;
  }

  /** Appends after truncating any stored entries at or above entries[0].index. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.snap.metadata.index, 'append above the snapshot');
    assert(first.index <= this.lastIndex() + 1, 'append leaves no gap');
    this.log.length = first.index - this.snap.metadata.index - 1;
    for (const entry of entries) this.log.push(entry);
  }

  /** Installs a snapshot received from a leader: the whole log is replaced by it. */
  applySnapshot(snapshot: Snapshot): void {
    assert(snapshot.metadata.index >= this.snap.metadata.index, 'snapshot does not go backwards');
    // As etcd: the node only restores a snapshot its log does not already match, so the whole
    // stored log is replaced; entries after it arrive in the same or a later write.
    this.snap = snapshot;
    this.log = [];
  }

  /** Records the application's snapshot at an applied index and drops the log up to it. */
  compact(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.snap.metadata.index) return;
    assert(index <= this.lastIndex(), 'compact within the log');
    assert(this.term(index) === snapshot.metadata.term, 'compact snapshot term matches the log');
    this.log = this.log.slice(index - this.snap.metadata.index);
    this.snap = snapshot;
  }

  /** Test knob: the next `entries()` call below `index` throws EntriesPendingError once. */
  makePendingBelow(index: number): void {
    this.pendingBelowIndex = index;
  }

  /** Applies one GroupWrite in the order the contract gives: snapshot, entries, hard state. */
  write(write: Omit<GroupWrite, 'groupId'>): void {
    if (write.snapshot !== null) this.applySnapshot(write.snapshot);
    this.append(write.entries);
    if (write.hardState !== null) this.setHardState(write.hardState);
  }

  private checkRange(lo: number, hi: number): void {
    assert(lo <= hi, 'entries range is ordered');
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi, this.lastIndex());
  }
}

/** Many groups in memory; `persist` applies a batch synchronously, hence atomically. */
export class MemoryRaftStore implements RaftStore {
  private readonly groups = new Map<GroupId, MemoryStorage>();
  /** Number of persist calls and of those that asked for a sync, for tests of group commit. */
  persistCalls = 0;
  syncCalls = 0;

  groupIds(): readonly GroupId[] {
    return [...this.groups.keys()];
  }

  openGroup(groupId: GroupId, bootstrap: ConfState | null, options: OpenGroupOptions = {}): MemoryStorage {
    const existing = this.groups.get(groupId);
    if (existing !== undefined) return existing;
    const storage = new MemoryStorage(bootstrap ?? emptyConfState);
    if (options.joining === true) storage.markJoining();
    this.groups.set(groupId, storage);
    return storage;
  }

  /** The storage of a group already open; throws GroupNotFoundError otherwise. */
  group(groupId: GroupId): MemoryStorage {
    const storage = this.groups.get(groupId);
    if (storage === undefined) throw new GroupNotFoundError(groupId);
    return storage;
  }

  persist(writes: readonly GroupWrite[], mustSync: boolean): Promise<void> {
    // Resolve every group first so that a bad id fails the batch before anything is written.
    let targets: MemoryStorage[];
    try {
      targets = writes.map((write) => this.group(write.groupId));
    } catch (error) {
      return Promise.reject(error);
    }
    targets.forEach((storage, i) => {
      const write = writes[i];
      assert(write !== undefined, 'write for target');
      storage.write(write);
    });
    this.persistCalls++;
    if (mustSync) this.syncCalls++;
    return Promise.resolve();
  }

  compact(groupId: GroupId, snapshot: Snapshot): Promise<void> {
    this.group(groupId).compact(snapshot);
    return Promise.resolve();
  }

  discardFrom(groupId: GroupId, fromIndex: number): Promise<void> {
    this.group(groupId).discardFrom(fromIndex);
    return Promise.resolve();
  }

  deleteGroup(groupId: GroupId): Promise<void> {
    this.groups.delete(groupId);
    return Promise.resolve();
  }

  /** Entries are always in memory here, so the listener never fires. */
  onEntriesLoaded(listener: (groupId: GroupId) => void): void {
    void listener;
  }
}

export { emptyConfState };
