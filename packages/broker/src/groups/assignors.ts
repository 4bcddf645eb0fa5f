/**
 * Server-side assignors: pure functions from the group's members, their (resolved) subscriptions
 * and the partition counts to a target assignment. Both are deterministic (ties break by member
 * id), so a coordinator that replays the log computes what the old one did.
 *
 * - `uniform` (Kafka's UniformAssignor): every partition of a subscribed topic goes to one
 *   subscriber, loads as even as the subscriptions allow, and sticky: each partition stays with
 *   its owner in the previous target unless moving it is what makes the loads even.
 * - `range` (Kafka's RangeAssignor): per topic, the subscribers in order of instance id (or member
 *   id) get contiguous ranges, the first `partitions % members` one more. Co-partitioned topics
 *   land together; a static member keeps its place when it rejoins with a new member id.
 */
import { partitionSet, type TopicPartitionSet } from './partition-set.js';

export type AssignorName = 'uniform' | 'range';
export const assignorNames: readonly AssignorName[] = ['uniform', 'range'];

export function isAssignorName(name: string): name is AssignorName {
  return name === 'uniform' || name === 'range';
}

export interface AssignmentMember {
  memberId: string;
  /** '' for a dynamic member. */
  instanceId: string;
  /** Topics the member subscribes to that exist (names and regex matches, resolved by the caller). */
  subscribedTopics: ReadonlySet<string>;
}

export interface AssignmentInput {
  members: readonly AssignmentMember[];
  /** Partition count of every topic some member subscribes to (existing topics only). */
  partitionCounts: ReadonlyMap<string, number>;
  /** The previous target by member id (stickiness); members absent from it had none. */
  previousTarget: ReadonlyMap<string, TopicPartitionSet>;
}

/** Target by member id; every member of the input has an entry (maybe empty). */
export type Assignment = Map<string, TopicPartitionSet>;
export type Assignor = (input: AssignmentInput) => Assignment;

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Bounds the balancing passes of `uniform`; each pass that moves nothing ends it earlier. */
const balancePassesMax = 64;

export const uniformAssignor: Assignor = (input) => {
  const members = [...input.members].sort((a, b) => compareStrings(a.memberId, b.memberId));
  const topics = [...input.partitionCounts.keys()].sort(compareStrings);
  // Partitions by a dense index: topic start offsets, then topic and partition of an index.
  const topicStart = new Map<string, number>();
  const topicOfIndex: string[] = [];
  const partitionOfIndex: number[] = [];
  for (const topic of topics) {
    topicStart.set(topic, topicOfIndex.length);
    const count = input.partitionCounts.get(topic) as number;
    for (let partition = 0; partition < count; partition++) {
      topicOfIndex.push(topic);
      partitionOfIndex.push(partition);
    }
  }
  const eligibleByTopic = new Map<string, number[]>();
  for (const topic of topics) eligibleByTopic.set(topic, []);
  members.forEach((member, index) => {
    for (const topic of member.subscribedTopics) eligibleByTopic.get(topic)?.push(index);
  });

  const owner = new Int32Array(topicOfIndex.length).fill(-1);
  const owned: Set<number>[] = members.map(() => new Set<number>());
  const give = (index: number, member: number): void => {
    owner[index] = member;
    (owned[member] as Set<number>).add(index);
  };

  // 1. Sticky: keep what each member had, where it still subscribes and the partition exists.
  members.forEach((member, memberIndex) => {
    const previous = input.previousTarget.get(member.memberId);
    if (previous === undefined) return;
    for (const [topic, partitions] of previous) {
      const start = topicStart.get(topic);
      if (start === undefined || !member.subscribedTopics.has(topic)) continue;
      const count = input.partitionCounts.get(topic) as number;
      for (const partition of partitions) {
        if (partition >= count || owner[start + partition] !== -1) continue;
        give(start + partition, memberIndex);
      }
    }
  });

  // 2. The rest to the least loaded subscriber; topics with the fewest subscribers first, as they
  // have the fewest places to go.
  const topicsByChoice = [...topics].sort(
    (a, b) =>
      (eligibleByTopic.get(a) as number[]).length - (eligibleByTopic.get(b) as number[]).length || compareStrings(a, b),
  );
  for (const topic of topicsByChoice) {
    const eligible = eligibleByTopic.get(topic) as number[];
    if (eligible.length === 0) continue;
    const start = topicStart.get(topic) as number;
    const count = input.partitionCounts.get(topic) as number;
    for (let index = start; index < start + count; index++) {
      if (owner[index] !== -1) continue;
      give(index, leastLoaded(eligible, owned, -1) as number);
    }
  }

  // 3. Balance: move a partition from a member to an eligible one with at least two fewer, until
  // no such move is left. Each move lowers the sum of squared loads, so this ends. A member at
  // most one above the smallest load of all has nowhere to give to, which keeps a balanced
  // group's pass linear in members.
  const smallestLoad = (): number => owned.reduce((low, set) => Math.min(low, set.size), Infinity);
  for (let pass = 0; pass < balancePassesMax; pass++) {
    let moved = false;
    let low = smallestLoad();
    const order = members
      .map((_, index) => index)
      .sort((a, b) => (owned[b] as Set<number>).size - (owned[a] as Set<number>).size || a - b);
    for (const from of order) {
      const mine = owned[from] as Set<number>;
      if (mine.size <= low + 1) continue;
      const candidates = [...mine].sort((a, b) => b - a);
      for (const index of candidates) {
        if (mine.size <= low + 1) break;
        const eligible = eligibleByTopic.get(topicOfIndex[index] as string) as number[];
        const to = leastLoaded(eligible, owned, from);
        if (to === undefined || (owned[to] as Set<number>).size + 1 >= mine.size) continue;
        mine.delete(index);
        give(index, to);
        moved = true;
        low = smallestLoad();
      }
    }
    if (!moved) break;
  }

  // Indexes run through topics in order, partitions ascending: sorted indexes are a canonical set.
  const result: Assignment = new Map();
  members.forEach((member, memberIndex) => {
    const set = new Map<string, number[]>();
    const indexes = [...(owned[memberIndex] as Set<number>)].sort((a, b) => a - b);
    for (const index of indexes) {
      const topic = topicOfIndex[index] as string;
      let list = set.get(topic);
      if (list === undefined) set.set(topic, (list = []));
      list.push(partitionOfIndex[index] as number);
    }
    result.set(member.memberId, set);
  });
  return result;
};

/** The eligible member with the smallest load (lowest index on ties), other than `except`. */
function leastLoaded(eligible: readonly number[], owned: readonly Set<number>[], except: number): number | undefined {
  let best: number | undefined;
  let bestLoad = Infinity;
  for (const member of eligible) {
    if (member === except) continue;
    const load = (owned[member] as Set<number>).size;
    if (load < bestLoad) {
      best = member;
      bestLoad = load;
    }
  }
  return best;
}

export const rangeAssignor: Assignor = (input) => {
  const members = [...input.members].sort((a, b) => compareStrings(a.memberId, b.memberId));
  const byMember = new Map<string, [string, number[]][]>();
  for (const member of members) byMember.set(member.memberId, []);
  const ordered = [...members].sort(
    (a, b) =>
      compareStrings(
        a.instanceId === '' ? a.memberId : a.instanceId,
        b.instanceId === '' ? b.memberId : b.instanceId,
      ) || compareStrings(a.memberId, b.memberId),
  );
  for (const [topic, count] of input.partitionCounts) {
    const subscribers = ordered.filter((member) => member.subscribedTopics.has(topic));
    if (subscribers.length === 0) continue;
    const base = Math.floor(count / subscribers.length);
    const extra = count % subscribers.length;
    let next = 0;
    subscribers.forEach((member, position) => {
      const size = base + (position < extra ? 1 : 0);
      if (size === 0) return;
      const partitions: number[] = [];
      for (let partition = next; partition < next + size; partition++) partitions.push(partition);
      next += size;
      byMember.get(member.memberId)?.push([topic, partitions]);
    });
  }
  const result: Assignment = new Map();
  for (const [memberId, entries] of byMember) result.set(memberId, partitionSet(entries));
  return result;
};

export const assignors: Readonly<Record<AssignorName, Assignor>> = { uniform: uniformAssignor, range: rangeAssignor };
