/**
 * Sets of topic partitions as the coordinator keeps them: a map from topic to its partitions,
 * canonical (topics in code-unit order, partitions ascending without duplicates, no empty topic),
 * so that two equal sets encode to the same bytes and compare with a loop.
 */
import type { TopicPartitions } from '@streambus/proto';

/** Partitions by topic: canonical (see the file comment); build one with `partitionSet`. */
export type TopicPartitionSet = ReadonlyMap<string, readonly number[]>;

export const emptyPartitionSet: TopicPartitionSet = new Map();

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical set of `entries` (a topic may repeat; partitions may repeat and be unsorted). */
export function partitionSet(entries: Iterable<readonly [string, Iterable<number>]>): TopicPartitionSet {
  const byTopic = new Map<string, Set<number>>();
  for (const [topic, partitions] of entries) {
    let set = byTopic.get(topic);
    if (set === undefined) {
      set = new Set();
      byTopic.set(topic, set);
    }
    for (const partition of partitions) set.add(partition);
  }
  const result = new Map<string, readonly number[]>();
  for (const topic of [...byTopic.keys()].sort(compareStrings)) {
    const partitions = [...(byTopic.get(topic) as Set<number>)].sort((a, b) => a - b);
    if (partitions.length > 0) result.set(topic, partitions);
  }
  return result;
}

/** From the wire shape (duplicates and order are forgiven). */
export function partitionSetFromWire(list: readonly TopicPartitions[]): TopicPartitionSet {
  return partitionSet(list.map((entry) => [entry.topic, entry.partitions] as const));
}

/** To the wire shape, topics and partitions in canonical order. */
export function partitionSetToWire(set: TopicPartitionSet): TopicPartitions[] {
  return [...set].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
}

export function partitionCount(set: TopicPartitionSet): number {
  let count = 0;
  for (const partitions of set.values()) count += partitions.length;
  return count;
}

export function hasPartition(set: TopicPartitionSet, topic: string, partition: number): boolean {
  const partitions = set.get(topic);
  if (partitions === undefined) return false;
  // Sorted: binary search, since sets of a large topic hold thousands of partitions.
  let low = 0;
  let high = partitions.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = partitions[middle] as number;
    if (value === partition) return true;
    if (value < partition) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

export function partitionSetsEqual(a: TopicPartitionSet, b: TopicPartitionSet): boolean {
  if (a.size !== b.size) return false;
  for (const [topic, partitions] of a) {
    const other = b.get(topic);
    if (other === undefined || other.length !== partitions.length) return false;
    for (let i = 0; i < partitions.length; i++) if (partitions[i] !== other[i]) return false;
  }
  return true;
}

/** Every partition of `a` is in `b`. */
export function isPartitionSubset(a: TopicPartitionSet, b: TopicPartitionSet): boolean {
  for (const [topic, partitions] of a) {
    for (const partition of partitions) if (!hasPartition(b, topic, partition)) return false;
  }
  return true;
}

/** True when `a` and `b` share a partition. */
export function partitionSetsIntersect(a: TopicPartitionSet, b: TopicPartitionSet): boolean {
  for (const [topic, partitions] of a) {
    if (!b.has(topic)) continue;
    for (const partition of partitions) if (hasPartition(b, topic, partition)) return true;
  }
  return false;
}

/** The partitions of `a` that `keep` accepts. */
export function filterPartitionSet(
  a: TopicPartitionSet,
  keep: (topic: string, partition: number) => boolean,
): TopicPartitionSet {
  const result = new Map<string, readonly number[]>();
  for (const [topic, partitions] of a) {
    const kept = partitions.filter((partition) => keep(topic, partition));
    if (kept.length > 0) result.set(topic, kept);
  }
  return result;
}

export function partitionSetDifference(a: TopicPartitionSet, b: TopicPartitionSet): TopicPartitionSet {
  return filterPartitionSet(a, (topic, partition) => !hasPartition(b, topic, partition));
}

export function partitionSetIntersection(a: TopicPartitionSet, b: TopicPartitionSet): TopicPartitionSet {
  return filterPartitionSet(a, (topic, partition) => hasPartition(b, topic, partition));
}

export function partitionSetUnion(a: TopicPartitionSet, b: TopicPartitionSet): TopicPartitionSet {
  return partitionSet([...a, ...b]);
}

/** Every (topic, partition) of the set, in canonical order. */
export function* partitionsOf(set: TopicPartitionSet): Generator<readonly [string, number]> {
  for (const [topic, partitions] of set) for (const partition of partitions) yield [topic, partition];
}
