/**
 * Test helpers: a store in a fresh temp directory, and record-batch entries made to order.
 * Never used in production.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch } from '@streambus/proto';
import { EntryType } from '@streambus/raft';
import type { Entry } from '@streambus/raft';
import { LevelRaftStore } from '../log/level-raft-store.js';
import type { LevelRaftStoreOptions } from '../log/level-raft-store.js';

export interface TempStore {
  store: LevelRaftStore;
  readonly dir: string;
  /** Closes the store (if open) and opens it again on the same directory. */
  reopen(options?: LevelRaftStoreOptions): Promise<LevelRaftStore>;
  /** Closes the store and removes the directory. */
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix = 'streambus-storage-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function openTempStore(options: LevelRaftStoreOptions = {}): Promise<TempStore> {
  const dir = await makeTempDir();
  const temp: TempStore = {
    store: await LevelRaftStore.open(dir, options),
    dir,
    async reopen(reopenOptions: LevelRaftStoreOptions = options) {
      await temp.store.close();
      temp.store = await LevelRaftStore.open(dir, reopenOptions);
      return temp.store;
    },
    async cleanup() {
      await temp.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return temp;
}

export interface BatchEntrySpec {
  readonly index: number;
  readonly term: number;
  readonly baseOffset: number;
  readonly records?: number;
  readonly valueBytes?: number;
  readonly timestampMs?: number;
}

/** A normal entry whose data is a record batch of `records` records (default 2) of `valueBytes`. */
export function batchEntry(spec: BatchEntrySpec): Entry {
  const records = Array.from({ length: spec.records ?? 2 }, (_, i) => ({
    key: Buffer.from(`k${String(spec.baseOffset + i).padStart(12, '0')}`),
    value: Buffer.alloc(spec.valueBytes ?? 16, (spec.baseOffset + i) % 251),
  }));
  const data = encodeRecordBatch(
    { baseOffset: spec.baseOffset, records },
    { timestampMs: spec.timestampMs ?? 1_700_000_000_000 },
  );
  return { index: spec.index, term: spec.term, type: EntryType.normal, data };
}

/** A normal entry that is not a record batch (a leader no-op when `data` is empty). */
export function plainEntry(index: number, term: number, data: Uint8Array = new Uint8Array(0)): Entry {
  return { index, term, type: EntryType.normal, data };
}
