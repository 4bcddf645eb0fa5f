/** Offset lookups of a partition over its offset index in memory: no disk reads. */
import type { GroupLog } from '../log/group-log.js';

/**
 * The base offset of the first batch holding a record with timestamp >= `timestampMs`
 * (fetching from it yields that record first among the newer ones), or null when no batch at or
 * below `indexMaxInclusive` does. Batch granularity: records of that batch that are older
 * than `timestampMs` are the consumer's to skip.
 */
export function offsetForTimestamp(log: GroupLog, timestampMs: number, indexMaxInclusive: number): number | null {
  const pos = log.offsets.findTimestamp(timestampMs);
  if (pos >= log.offsets.count) return null;
  const loc = log.offsets.at(pos);
  return loc.raftIndex <= indexMaxInclusive ? loc.baseOffset : null;
}
