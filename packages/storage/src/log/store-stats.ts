/** The store's figures (the broker's `/metrics` gauges and `/health`), computed from memory only. */
import type { GroupId } from '@streambus/raft';
import type { GroupLog } from './group-log.js';

export interface GroupStats {
  readonly groupId: GroupId;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly entryCount: number;
  readonly batchCount: number;
  /** Bytes of record batches kept (the partition's size as retention counts it). */
  readonly batchBytes: number;
  readonly earliestOffset: number;
  readonly nextOffset: number;
  readonly cachedEntries: number;
  readonly cacheBytes: number;
}

export interface StoreStats {
  readonly groups: readonly GroupStats[];
  readonly groupCount: number;
  readonly entryCount: number;
  readonly batchCount: number;
  readonly batchBytes: number;
  readonly cacheBytes: number;
  readonly cacheBytesMax: number;
  /** Bytes of entries loaded from disk and held for readers behind the tail cache. */
  readonly loadWindowBytes: number;
  readonly persistCount: number;
  readonly syncCount: number;
}

/** The store-wide figures that are not sums over the groups. */
export type StoreTotals = Pick<
  StoreStats,
  'cacheBytes' | 'cacheBytesMax' | 'loadWindowBytes' | 'persistCount' | 'syncCount'
>;

export function groupStats(log: GroupLog): GroupStats {
  return {
    groupId: log.groupId,
    firstIndex: log.firstIndex(),
    lastIndex: log.last,
    entryCount: log.last - log.firstIndex() + 1,
    batchCount: log.offsets.count,
    batchBytes: log.offsets.bytes,
    earliestOffset: log.earliestOffset(),
    nextOffset: log.nextOffset(),
    cachedEntries: log.cachedEntries,
    cacheBytes: log.cacheBytes,
  };
}

export function storeStats(logs: Iterable<GroupLog>, totals: StoreTotals): StoreStats {
  const groups: GroupStats[] = [];
  let entryCount = 0;
  let batchCount = 0;
  let batchBytes = 0;
  for (const log of logs) {
    const s = groupStats(log);
    groups.push(s);
    entryCount += s.entryCount;
    batchCount += s.batchCount;
    batchBytes += s.batchBytes;
  }
  return { groups, groupCount: groups.length, entryCount, batchCount, batchBytes, ...totals };
}
