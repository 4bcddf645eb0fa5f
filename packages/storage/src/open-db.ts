import { ClassicLevel } from 'classic-level';
import { StoreLockedError, StoreNotFoundError } from './errors.js';

export type Db = ClassicLevel<Buffer, Buffer>;

/** Opens the LevelDB database of a store, turning a held lock or a missing dir into typed errors. */
export async function openDb(dir: string, createIfMissing: boolean): Promise<Db> {
  const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing });
  try {
    await db.open();
  } catch (error: unknown) {
    const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
    if (cause?.code === 'LEVEL_LOCKED') throw new StoreLockedError(dir);
    if (!createIfMissing && typeof cause?.message === 'string' && cause.message.includes('does not exist')) throw new StoreNotFoundError(dir);
    throw error;
  }
  return db;
}
