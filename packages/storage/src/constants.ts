/**
 * Every bound and fixed value of the storage package in one place, with load-time checks of how
 * they relate. Names carry units last.
 */
import { assert } from '@streambus/raft';

/** The Raft library's default bytes per append message (not exported by it; mirrored here). */
const raftMessageBytesMaxDefault = 1024 * 1024;

/** Bytes of a key: [kind u8][group u32][index u64], big-endian so that ranges iterate in order. */
export const keyBytes = 13;
/** Bytes before an entry's data in its stored value: [term u64][type u8]. */
export const entryValueHeaderBytes = 9;

/**
 * LevelDB memtable size. Larger than the 4 MiB default so that a memtable flush carries many
 * batches: fewer level-0 tables, hence fewer compactions rewriting log data (the hard state key,
 * rewritten by every persist, makes each table overlap the previous one). Costs up to twice this
 * in memory (active and immutable memtable).
 */
export const levelWriteBufferBytes = 32 * 1024 * 1024;
/** LevelDB's own table file size (options.h max_file_size): the store keeps it unless told otherwise. */
export const levelTableFileBytesDefault = 2 * 1024 * 1024;
/** Default byte budget of the tail cache, shared by all groups of a store. */
export const tailCacheBytesMaxDefault = 64 * 1024 * 1024;
/** Appends remembered for cache eviction order; beyond it the oldest are evicted regardless of bytes. */
export const tailCacheChunksMax = 1 << 20;
/** Bytes one asynchronous load of old entries reads for one group (at least one entry). */
export const loadWindowBytesMax = 4 * 1024 * 1024;
/** Load windows one group keeps (readers at different positions: applying, followers catching up). */
export const loadWindowsPerGroupMax = 4;
/** Bytes of load windows kept across all groups; beyond it the oldest windows are dropped. */
export const loadWindowsBytesMax = 64 * 1024 * 1024;
/** Entries one asynchronous load reads for one group. */
export const loadWindowEntriesMax = 65_536;
/** Default interval of the `periodic` sync policy. */
export const walSyncIntervalMsDefault = 10;
/** Bounds of the `periodic` interval. */
export const walSyncIntervalMsMin = 1;
export const walSyncIntervalMsMax = 60_000;
/** Batches one `readBatches` call returns, whatever `bytesMax` says. */
export const readBatchesMax = 10_000;
/** Problems `verifyStore` lists in detail before only counting them. */
export const verifyProblemsMax = 1000;
/** A progress callback fires at most every this many groups (open) or entries (verify). */
export const progressGroupsEvery = 100;
export const progressEntriesEvery = 100_000;
/** Largest group id: ids are unsigned 32-bit. */
export const groupIdMax = 0xffff_ffff;
/** Version of the key/value layout, stored under the store-meta key. */
export const storeLayoutVersion = 1;

assert(
  loadWindowBytesMax >= raftMessageBytesMaxDefault,
  'one load window holds at least one append message of entries',
);
assert(tailCacheBytesMaxDefault >= loadWindowBytesMax, 'the tail cache is larger than one load window');
assert(loadWindowsBytesMax >= loadWindowsPerGroupMax * loadWindowBytesMax, 'one group can keep its windows whole');
assert(walSyncIntervalMsMin <= walSyncIntervalMsDefault, 'default sync interval within bounds');
assert(walSyncIntervalMsDefault <= walSyncIntervalMsMax, 'default sync interval within bounds');
