/**
 * The tail cache's budget, shared by every group of a store. Each `GroupLog` holds its newest
 * entries (the ones its followers and its apply loop are about to read); this counts their bytes
 * together and evicts in append order across groups, oldest first, so that the tail of an idle
 * group goes before the newest entries of a busy one.
 */
import type { Entry } from '@streambus/raft';
import { tailCacheChunksMax } from '../constants.js';
import type { GroupLog } from './group-log.js';

/** One append to a group's cache: evicting it drops that group's entries up to `throughIndex`. */
interface CacheChunk {
  readonly log: GroupLog;
  readonly throughIndex: number;
}

/** Evicted chunks kept before the chunk list is copied down (amortised: at most half is dead). */
const evictedChunksCompactMin = 1024;

export class TailCache {
  private bytesTotal = 0;
  private chunks: CacheChunk[] = [];
  private chunksHead = 0;

  constructor(readonly bytesMax: number) {}

  get bytes(): number {
    return this.bytesTotal;
  }

  /** Appends entries that now follow the log's last index to its cache (see GroupLog.cacheAppend). */
  append(log: GroupLog, entries: readonly Entry[]): void {
    this.bytesTotal += log.cacheAppend(entries);
    this.chunks.push({ log, throughIndex: log.last });
  }

  /** A group dropped `bytes` of cached entries itself (truncation, compaction, snapshot, deletion). */
  release(bytes: number): void {
    this.bytesTotal -= bytes;
  }

  /** Evicts the oldest appends while the cache holds more bytes or appends than its bounds. */
  evict(): void {
    while (this.over() && this.chunksHead < this.chunks.length) {
      const chunk = this.chunks[this.chunksHead] as CacheChunk;
      this.chunksHead++;
      this.bytesTotal -= chunk.log.evictThrough(chunk.throughIndex);
    }
    if (this.chunksHead > evictedChunksCompactMin && this.chunksHead * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.chunksHead);
      this.chunksHead = 0;
    }
  }

  private over(): boolean {
    return this.bytesTotal > this.bytesMax || this.chunks.length - this.chunksHead > tailCacheChunksMax;
  }
}
