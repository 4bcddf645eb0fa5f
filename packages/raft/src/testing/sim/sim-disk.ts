/**
 * The host simulator's disk: a `RaftStore` over one `MemoryStorage` per group that survives the
 * crashes of the hosts using it. A persist lands at once (synchronous disk) or after a seeded
 * virtual latency (asynchronous disk); a crash meanwhile either lands it (the fsync finished, the
 * host never heard) or loses it. What was written without a sync, by the Ready contract only a
 * newer commit index, may be lost by a crash too (the page cache), back to the last synced state.
 * Every write is shown to the checkers before and after it lands.
 */
import { assert, GroupNotFoundError } from '../../errors.js';
import type { GroupWrite, LogStorage, OpenGroupOptions, RaftStore } from '../../storage.js';
import type { ConfState, GroupId, HardState, NodeId, Snapshot } from '../../types.js';
import { emptyConfState, MemoryStorage } from '../memory-storage.js';
import type { Prng } from './prng.js';
import { SimViolation } from './violation.js';

/** What watches the writes of a disk (the simulator's checkers). */
export interface SimDiskObserver {
  beforeWrite(groupId: GroupId, storage: MemoryStorage, write: GroupWrite): void;
  afterWrite(groupId: GroupId, storage: MemoryStorage, write: GroupWrite): void;
}

interface InFlightPersist {
  readonly writes: readonly GroupWrite[];
  readonly mustSync: boolean;
  readonly resolve: () => void;
}

export interface SimDiskOptions {
  readonly nodeId: NodeId;
  /** Virtual milliseconds a persist takes (drawn per persist), or null for a synchronous disk. */
  readonly latencyMs: (() => number) | null;
  /** Runs `run` after `delayMs` of virtual time (the simulator's clock). */
  readonly schedule: (delayMs: number, run: () => void) => void;
  readonly observer: SimDiskObserver;
}

export class SimDisk implements RaftStore {
  readonly nodeId: NodeId;
  private readonly groups = new Map<GroupId, MemoryStorage>();
  private readonly groupOfStorage = new Map<LogStorage, GroupId>();
  /** Each group's hard state as of the last synced write (what a crash falls back to). */
  private readonly synced = new Map<GroupId, HardState>();
  private inFlight: InFlightPersist | null = null;
  private readonly options: SimDiskOptions;
  persistCalls = 0;
  syncCalls = 0;

  constructor(options: SimDiskOptions) {
    this.nodeId = options.nodeId;
    this.options = options;
  }

  groupIds(): readonly GroupId[] {
    return [...this.groups.keys()];
  }

  openGroup(groupId: GroupId, bootstrap: ConfState | null, options: OpenGroupOptions = {}): MemoryStorage {
    const existing = this.groups.get(groupId);
    if (existing !== undefined) return existing;
    const storage = new MemoryStorage(bootstrap ?? emptyConfState);
    if (options.joining === true) storage.markJoining();
    this.groups.set(groupId, storage);
    this.groupOfStorage.set(storage, groupId);
    // The bootstrap is durable at once: the simulator creates groups before any fault.
    this.synced.set(groupId, storage.hardState());
    return storage;
  }

  /** The stored log of a group; throws GroupNotFoundError when the disk has none. */
  group(groupId: GroupId): MemoryStorage {
    const storage = this.groups.get(groupId);
    if (storage === undefined) throw new GroupNotFoundError(groupId);
    return storage;
  }

  /** The group a storage handed out by `openGroup` belongs to (the host passes only the storage to a node). */
  groupOf(storage: LogStorage): GroupId {
    const groupId = this.groupOfStorage.get(storage);
    assert(groupId !== undefined, 'the storage was opened on this disk');
    return groupId;
  }

  /** True while a persist has not landed. */
  busy(): boolean {
    return this.inFlight !== null;
  }

  persist(writes: readonly GroupWrite[], mustSync: boolean): Promise<void> {
    this.checkIdle('persist');
    for (const write of writes) this.group(write.groupId);
    this.persistCalls++;
    if (mustSync) this.syncCalls++;
    const latencyMs = this.options.latencyMs;
    if (latencyMs === null) {
      this.land(writes, mustSync);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const persist: InFlightPersist = { writes, mustSync, resolve };
      this.inFlight = persist;
      this.options.schedule(latencyMs(), () => {
        // A crash took this persist (landed or lost): its host is gone and never hears of it.
        if (this.inFlight !== persist) return;
        this.inFlight = null;
        this.land(writes, mustSync);
        resolve();
      });
    });
  }

  compact(groupId: GroupId, snapshot: Snapshot): Promise<void> {
    this.checkIdle('compact');
    this.group(groupId).compact(snapshot);
    return Promise.resolve();
  }

  deleteGroup(groupId: GroupId): Promise<void> {
    this.checkIdle('deleteGroup');
    const storage = this.groups.get(groupId);
    if (storage !== undefined) this.groupOfStorage.delete(storage);
    this.groups.delete(groupId);
    this.synced.delete(groupId);
    return Promise.resolve();
  }

  /** Entries are always in memory here, so the listener never fires. */
  onEntriesLoaded(listener: (groupId: GroupId) => void): void {
    void listener;
  }

  /**
   * The machine crashes: a persist in flight lands or is lost (a coin of `prng`), then each
   * group's unsynced hard state survives or falls back to its last synced one. Returns what
   * happened, for the trace.
   */
  crash(prng: Prng): string {
    const fates: string[] = [];
    const persist = this.inFlight;
    this.inFlight = null;
    if (persist !== null) {
      if (prng.chance(0.5)) {
        this.land(persist.writes, persist.mustSync);
        fates.push('in-flight persist landed');
      } else {
        fates.push('in-flight persist lost');
      }
    }
    for (const [groupId, storage] of this.groups) {
      const synced = this.synced.get(groupId);
      assert(synced !== undefined, 'every group has a synced state');
      if (sameHardState(storage.hardState(), synced) || !prng.chance(0.5)) continue;
      storage.setHardState(synced);
      fates.push(`group ${groupId} unsynced commit lost`);
    }
    return fates.length === 0 ? 'nothing in flight' : fates.join(', ');
  }

  private land(writes: readonly GroupWrite[], mustSync: boolean): void {
    for (const write of writes) {
      const storage = this.group(write.groupId);
      this.options.observer.beforeWrite(write.groupId, storage, write);
      storage.write(write);
      this.options.observer.afterWrite(write.groupId, storage, write);
    }
    // One fsync makes everything written before it durable, every group's writes included.
    if (mustSync) for (const [groupId, storage] of this.groups) this.synced.set(groupId, storage.hardState());
  }

  /** The host runs one persist at a time and compacts or deletes only between them. */
  private checkIdle(operation: string): void {
    if (this.inFlight !== null)
      throw new SimViolation('node-error', `host ${this.nodeId} calls ${operation} while a persist is in flight`);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
