import { stat } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { levelWriteBufferBytes } from './constants.js';
import { StoreLockedError, StoreNotFoundError } from './errors.js';

export type Db = ClassicLevel<Buffer, Buffer>;

/** How the store opens LevelDB (the benchmark opens its raw baseline the same way). */
export const levelOpenOptions = {
  keyEncoding: 'buffer',
  valueEncoding: 'buffer',
  writeBufferSize: levelWriteBufferBytes,
} as const;

/** LevelDB's knobs a store's owner may turn (config storage.memtable_flush_threshold, max_sstable_size). */
export interface LevelTuning {
  readonly writeBufferBytes?: number;
  readonly tableFileBytesMax?: number;
}

/** Opens the LevelDB database of a store, turning a held lock or a missing dir into typed errors. */
export async function openDb(dir: string, createIfMissing: boolean, tuning: LevelTuning = {}): Promise<Db> {
  // classic-level creates the directory even when the database must exist: check first.
  if (
    !createIfMissing &&
    !(await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw new StoreNotFoundError(dir);
  const db: Db = new ClassicLevel<Buffer, Buffer>(dir, {
    ...levelOpenOptions,
    ...(tuning.writeBufferBytes === undefined ? {} : { writeBufferSize: tuning.writeBufferBytes }),
    ...(tuning.tableFileBytesMax === undefined ? {} : { maxFileSize: tuning.tableFileBytesMax }),
    createIfMissing,
  });
  try {
    await db.open();
  } catch (error: unknown) {
    const cause =
      error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
    if (cause?.code === 'LEVEL_LOCKED') throw new StoreLockedError(dir);
    if (!createIfMissing && typeof cause?.message === 'string' && cause.message.includes('does not exist'))
      throw new StoreNotFoundError(dir);
    throw error;
  }
  return db;
}
