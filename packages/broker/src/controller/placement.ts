/**
 * Where replicas go, and which partitions need attention. Pure and deterministic.
 *
 * `assignReplicas` places partitions one at a time, greedily (see `choosePartition`): the leader
 * (replicas[0], the preferred leader) is a broker with the fewest preferred leaderships, the
 * followers are brokers with the fewest replicas. Balance is the hard rule; racks are honoured
 * within it: a placement that spreads over more racks is taken only when it keeps brokers with
 * more replicas from having fewer leaderships than brokers with fewer replicas ("correlated load").
 * That condition is what lets the next leader always have both the fewest leaderships and the
 * fewest replicas, so from a balanced start (every broker within one replica and one leadership
 * of the others, e.g. an empty cluster) both stay within one, topic after topic, whatever the
 * replication factors (the property tests check it over random clusters).
 * Ties are broken by a rotation over a rack-interleaved broker order, so equal loads spread in a
 * ring the way Kafka's round-robin assignment does.
 */
import { assert } from '@streambus/raft';
import type { NodeId } from '@streambus/raft';
import type { ControllerState, PartitionInfo } from './state.js';

export interface PlacementBroker {
  readonly id: NodeId;
  readonly rack: string | null;
}

/** How many replicas and preferred leaderships a broker carries already. */
export interface BrokerLoad {
  readonly replicas: number;
  readonly leaders: number;
}

/**
 * Brokers ordered so that consecutive ones sit on different racks when racks are set: racks
 * sorted by name, brokers of each rack by id, then taken one per rack in turn.
 */
function rackInterleaved(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const broker of [...brokers].sort((a, b) => a.id - b.id)) {
    const rack = broker.rack ?? '';
    const list = byRack.get(rack) ?? [];
    list.push(broker);
    byRack.set(rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const ordered: PlacementBroker[] = [];
  for (let round = 0; ordered.length < brokers.length; round++) {
    for (const rack of racks) {
      const broker = byRack.get(rack)?.[round];
      if (broker !== undefined) ordered.push(broker);
    }
  }
  return ordered;
}

interface Candidate {
  readonly id: NodeId;
  readonly rack: string | null;
  readonly position: number;
  replicas: number;
  leaders: number;
}

function compareBy(keys: (c: Candidate) => readonly number[]): (a: Candidate, b: Candidate) => number {
  return (a, b) => {
    const ka = keys(a);
    const kb = keys(b);
    for (let i = 0; i < ka.length; i++) {
      const d = (ka[i] as number) - (kb[i] as number);
      if (d !== 0) return d;
    }
    return 0;
  };
}

function pickMin(candidates: readonly Candidate[], compare: (a: Candidate, b: Candidate) => number): Candidate {
  let best = candidates[0];
  assert(best !== undefined, 'there is a candidate to pick');
  for (const candidate of candidates) if (compare(candidate, best) < 0) best = candidate;
  return best;
}

/** Adds (+1) or removes (-1) one partition's replicas and leadership. */
function place(chosen: readonly Candidate[], delta: 1 | -1): void {
  const leader = chosen[0];
  assert(leader !== undefined, 'a partition has a leader');
  leader.leaders += delta;
  for (const c of chosen) c.replicas += delta;
}

/**
 * True when a broker carrying more replicas never has fewer preferred leaderships than one
 * carrying fewer. While this holds, the next leader can always be a broker with both the fewest
 * leaderships and the fewest replicas, which is what keeps both spreads within one.
 */
function loadCorrelated(candidates: readonly Candidate[]): boolean {
  const levels = new Map<number, { leadersMin: number; leadersMax: number }>();
  for (const c of candidates) {
    const level = levels.get(c.replicas);
    if (level === undefined) levels.set(c.replicas, { leadersMin: c.leaders, leadersMax: c.leaders });
    else {
      level.leadersMin = Math.min(level.leadersMin, c.leaders);
      level.leadersMax = Math.max(level.leadersMax, c.leaders);
    }
  }
  let leadersMaxBelow = -Infinity;
  for (const replicas of [...levels.keys()].sort((a, b) => a - b)) {
    const level = levels.get(replicas);
    assert(level !== undefined, 'level exists');
    if (level.leadersMin < leadersMaxBelow) return false;
    leadersMaxBelow = Math.max(leadersMaxBelow, level.leadersMax);
  }
  return true;
}

/**
 * One partition's replicas, leader first:
 *  - B, the brokers with the fewest replicas: if B can hold the whole partition every replica
 *    goes there (else the replica spread grows to 2); if not, all of B is used plus others;
 *  - the leader has the fewest leaderships; among those, one in B when the partition fits in B,
 *    else one outside B (it gets the extra replica and the extra leadership together);
 *  - followers have the fewest replicas, then (rack first or not) an unused rack and the most
 *    leaderships, so that brokers short of leaderships stay short of replicas.
 */
function choosePartition(
  candidates: readonly Candidate[],
  replicationFactor: number,
  start: number,
  rotation: (position: number, start: number) => number,
  rackFirst: boolean,
): Candidate[] {
  const replicasMin = Math.min(...candidates.map((c) => c.replicas));
  const fitsInFewest = candidates.filter((c) => c.replicas === replicasMin).length >= replicationFactor;
  const leader = pickMin(candidates, compareBy((c) => [c.leaders, fitsInFewest ? c.replicas : -c.replicas, rotation(c.position, start)]));
  const chosen: Candidate[] = [leader];
  const racks = new Set<string | null>([leader.rack]);
  while (chosen.length < replicationFactor) {
    const rest = candidates.filter((c) => !chosen.includes(c));
    const rackUsed = (c: Candidate): number => (c.rack !== null && racks.has(c.rack) ? 1 : 0);
    const follower = pickMin(
      rest,
      compareBy((c) =>
        rackFirst
          ? [c.replicas, rackUsed(c), -c.leaders, rotation(c.position, leader.position + 1)]
          : [c.replicas, -c.leaders, rackUsed(c), rotation(c.position, leader.position + 1)],
      ),
    );
    chosen.push(follower);
    racks.add(follower.rack);
  }
  return chosen;
}

/**
 * Replicas for `partitions` new partitions of `replicationFactor` replicas on `brokers`, given the
 * load they carry already. The caller checks that 1 <= replicationFactor <= brokers.length.
 */
export function assignReplicas(
  brokers: readonly PlacementBroker[],
  partitions: number,
  replicationFactor: number,
  existingLoad: ReadonlyMap<NodeId, BrokerLoad> = new Map(),
): NodeId[][] {
  assert(Number.isInteger(partitions) && partitions >= 0, 'partition count is a natural number');
  assert(Number.isInteger(replicationFactor) && replicationFactor >= 1, 'replication factor is at least 1');
  assert(replicationFactor <= brokers.length, 'replication factor fits on the brokers');
  assert(new Set(brokers.map((b) => b.id)).size === brokers.length, 'brokers are distinct');
  const candidates: Candidate[] = rackInterleaved(brokers).map((broker, position) => ({
    id: broker.id,
    rack: broker.rack,
    position,
    replicas: existingLoad.get(broker.id)?.replicas ?? 0,
    leaders: existingLoad.get(broker.id)?.leaders ?? 0,
  }));
  const size = candidates.length;
  const rotation = (position: number, start: number): number => (((position - start) % size) + size) % size;
  let start = candidates.reduce((sum, c) => sum + c.leaders, 0);
  const assignments: NodeId[][] = [];
  for (let p = 0; p < partitions; p++, start++) {
    // Rack spread first when that keeps load and leaderships correlated; else the safe choice.
    let chosen = choosePartition(candidates, replicationFactor, start, rotation, true);
    place(chosen, +1);
    if (!loadCorrelated(candidates)) {
      place(chosen, -1);
      chosen = choosePartition(candidates, replicationFactor, start, rotation, false);
      place(chosen, +1);
    }
    assignments.push(chosen.map((c) => c.id));
  }
  return assignments;
}

/** Replicas and preferred leaderships per live broker, over all partitions of `state`. */
export function clusterLoad(state: ControllerState): Map<NodeId, BrokerLoad> {
  const load = new Map<NodeId, { replicas: number; leaders: number }>();
  for (const broker of state.liveBrokers()) load.set(broker.id, { replicas: 0, leaders: 0 });
  for (const partition of state.partitions()) {
    for (const [i, id] of partition.replicas.entries()) {
      const entry = load.get(id);
      if (entry === undefined) continue;
      entry.replicas++;
      if (i === 0) entry.leaders++;
    }
  }
  return load;
}

/** A partition whose leadership should go back to its preferred leader. */
export interface PreferredLeaderMove {
  readonly partition: PartitionInfo;
  readonly currentLeaderId: NodeId;
  readonly preferredLeaderId: NodeId;
}

/**
 * Partitions led by another broker than their preferred one (replicas[0]) while the preferred
 * one is live and in the ISR: the core transfers leadership back, e.g. after a broker returns.
 */
export function preferredLeaderElections(state: ControllerState): PreferredLeaderMove[] {
  const moves: PreferredLeaderMove[] = [];
  for (const partition of state.partitions()) {
    const preferred = partition.replicas[0];
    const leader = partition.leader;
    if (preferred === undefined || leader === null || leader.leaderId === preferred) continue;
    if (!state.isLive(preferred) || !leader.isr.includes(preferred)) continue;
    moves.push({ partition, currentLeaderId: leader.leaderId, preferredLeaderId: preferred });
  }
  return moves;
}

/** Partitions whose reported ISR lacks some of their replicas (never-reported ones excluded). */
export function underReplicated(state: ControllerState): PartitionInfo[] {
  return state.partitions().filter((p) => p.leader !== null && p.replicas.some((id) => !p.leader?.isr.includes(id)));
}

/** Partitions with no known leader: never reported, or the reported leader is fenced or gone. */
export function offlinePartitions(state: ControllerState): PartitionInfo[] {
  return state.partitions().filter((p) => p.leader === null || !state.isLive(p.leader.leaderId));
}

/** Unfenced brokers whose last heartbeat is older than `sessionTimeoutMs` at `nowMs`: fence them. */
export function brokersToFence(state: ControllerState, nowMs: number, sessionTimeoutMs: number): NodeId[] {
  return state
    .liveBrokers()
    .filter((broker) => nowMs - broker.lastHeartbeatMs > sessionTimeoutMs)
    .map((broker) => broker.id);
}
