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

interface RackLoad {
  replicas: number;
  leaders: number;
}

interface Candidate {
  readonly id: NodeId;
  readonly rack: string | null;
  /** Load of the broker's rack (shared by its brokers); null when it has no rack. */
  readonly rackLoad: RackLoad | null;
  readonly position: number;
  replicas: number;
  leaders: number;
  /** Already chosen for the partition being placed. */
  chosen: boolean;
}

/** Adds (+1) or removes (-1) one partition's replicas and leadership. */
function place(chosen: readonly Candidate[], delta: 1 | -1, pairs: Pairs): void {
  const leader = chosen[0];
  assert(leader !== undefined, 'a partition has a leader');
  leader.leaders += delta;
  if (leader.rackLoad !== null) leader.rackLoad.leaders += delta;
  for (const c of chosen) {
    c.replicas += delta;
    if (c.rackLoad !== null) c.rackLoad.replicas += delta;
    if (c !== leader) pairs.add(leader, c, delta);
  }
}

/**
 * How often each broker followed each leader in this placement. Spreading a leader's followers
 * spreads its leaderships over many brokers when it fails (Kafka shifts followers for the same
 * reason), instead of pairing brokers for good.
 */
class Pairs {
  private readonly counts = new Map<number, number>();
  constructor(private readonly size: number) {}
  private key(leader: Candidate, follower: Candidate): number {
    return leader.position * this.size + follower.position;
  }
  get(leader: Candidate, follower: Candidate): number {
    return this.counts.get(this.key(leader, follower)) ?? 0;
  }
  add(leader: Candidate, follower: Candidate, delta: number): void {
    const key = this.key(leader, follower);
    this.counts.set(key, (this.counts.get(key) ?? 0) + delta);
  }
}

/**
 * True when a broker carrying more replicas never has fewer preferred leaderships than one
 * carrying fewer. While this holds, the next leader can always be a broker with both the fewest
 * leaderships and the fewest replicas, which is what keeps both spreads within one. It is also
 * necessary: from a state without it, a run of RF 1 topics must unbalance one of the two.
 */
function loadCorrelated(candidates: readonly Candidate[]): boolean {
  let replicasMin = Infinity;
  let replicasMax = -Infinity;
  for (const c of candidates) {
    replicasMin = Math.min(replicasMin, c.replicas);
    replicasMax = Math.max(replicasMax, c.replicas);
  }
  if (replicasMax - replicasMin <= 1) {
    // The balanced case, without allocating: two levels of replica counts.
    let leadersMaxLow = -Infinity;
    let leadersMinHigh = Infinity;
    for (const c of candidates) {
      if (c.replicas === replicasMin) leadersMaxLow = Math.max(leadersMaxLow, c.leaders);
      else leadersMinHigh = Math.min(leadersMinHigh, c.leaders);
    }
    return leadersMinHigh >= leadersMaxLow;
  }
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

/** Distance from `start` to `position` going round a ring of `size`. */
function rotation(position: number, start: number, size: number): number {
  return (((position - start) % size) + size) % size;
}

/**
 * One partition's replicas, leader first:
 *  - B, the brokers with the fewest replicas: if B can hold the whole partition every replica
 *    goes there (else the replica spread grows to 2); if not, all of B is used plus others;
 *  - the leader has the fewest leaderships; among those, one in B when the partition fits in B,
 *    else one outside B (it gets the extra replica and the extra leadership together); then the
 *    rack leading least, so leaderships alternate over racks;
 *  - followers have the fewest replicas, then (rack first or not) an unused rack and the most
 *    leaderships (brokers short of leaderships stay short of replicas), then the fewest times
 *    they followed this leader already, then the rack carrying the fewest replicas.
 */
function choosePartition(
  candidates: readonly Candidate[],
  replicationFactor: number,
  start: number,
  rackFirst: boolean,
  pairs: Pairs,
): Candidate[] {
  const size = candidates.length;
  let replicasMin = Infinity;
  let fewestCount = 0;
  for (const c of candidates) {
    if (c.replicas < replicasMin) {
      replicasMin = c.replicas;
      fewestCount = 0;
    }
    if (c.replicas === replicasMin) fewestCount++;
  }
  const replicasSign = fewestCount >= replicationFactor ? 1 : -1;
  let leader: Candidate | undefined;
  for (const c of candidates) {
    if (leader === undefined || compareLeaders(c, leader, replicasSign, start, size) < 0) leader = c;
  }
  assert(leader !== undefined, 'there is a broker to lead');
  leader.chosen = true;
  const chosen: Candidate[] = [leader];
  const racks = new Set<string>();
  if (leader.rack !== null) racks.add(leader.rack);
  while (chosen.length < replicationFactor) {
    let follower: Candidate | undefined;
    for (const c of candidates) {
      if (c.chosen) continue;
      if (follower === undefined || compareFollowers(c, follower, leader, racks, rackFirst, pairs, size) < 0)
        follower = c;
    }
    assert(follower !== undefined, 'there is a broker to follow');
    follower.chosen = true;
    chosen.push(follower);
    if (follower.rack !== null) racks.add(follower.rack);
  }
  for (const c of chosen) c.chosen = false;
  return chosen;
}

function compareLeaders(a: Candidate, b: Candidate, replicasSign: number, start: number, size: number): number {
  return (
    a.leaders - b.leaders ||
    replicasSign * (a.replicas - b.replicas) ||
    (a.rackLoad?.leaders ?? 0) - (b.rackLoad?.leaders ?? 0) ||
    rotation(a.position, start, size) - rotation(b.position, start, size)
  );
}

function compareFollowers(
  a: Candidate,
  b: Candidate,
  leader: Candidate,
  racks: ReadonlySet<string>,
  rackFirst: boolean,
  pairs: Pairs,
  size: number,
): number {
  const start = leader.position + 1;
  const byReplicas = a.replicas - b.replicas;
  if (byReplicas !== 0) return byReplicas;
  const byRack = (a.rack !== null && racks.has(a.rack) ? 1 : 0) - (b.rack !== null && racks.has(b.rack) ? 1 : 0);
  const byLeaders = b.leaders - a.leaders;
  return (
    (rackFirst ? byRack || byLeaders : byLeaders || byRack) ||
    pairs.get(leader, a) - pairs.get(leader, b) ||
    (a.rackLoad?.replicas ?? 0) - (b.rackLoad?.replicas ?? 0) ||
    rotation(a.position, start, size) - rotation(b.position, start, size)
  );
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
  assert(Number.isInteger(partitions), 'partition count is an integer');
  assert(partitions >= 0, 'partition count is not negative');
  assert(Number.isInteger(replicationFactor), 'replication factor is an integer');
  assert(replicationFactor >= 1, 'replication factor is at least 1');
  assert(replicationFactor <= brokers.length, 'replication factor fits on the brokers');
  assert(new Set(brokers.map((b) => b.id)).size === brokers.length, 'brokers are distinct');
  const rackLoads = new Map<string, RackLoad>();
  const candidates: Candidate[] = rackInterleaved(brokers).map((broker, position) => {
    const replicas = existingLoad.get(broker.id)?.replicas ?? 0;
    const leaders = existingLoad.get(broker.id)?.leaders ?? 0;
    let rackLoad: RackLoad | null = null;
    if (broker.rack !== null) {
      rackLoad = rackLoads.get(broker.rack) ?? { replicas: 0, leaders: 0 };
      rackLoads.set(broker.rack, rackLoad);
      rackLoad.replicas += replicas;
      rackLoad.leaders += leaders;
    }
    return { id: broker.id, rack: broker.rack, rackLoad, position, replicas, leaders, chosen: false };
  });
  const racksSet = rackLoads.size > 0;
  const pairs = new Pairs(candidates.length);
  let start = candidates.reduce((sum, c) => sum + c.leaders, 0);
  const assignments: NodeId[][] = [];
  for (let p = 0; p < partitions; p++, start++) {
    // Rack spread first when that keeps load and leaderships correlated; else the safe choice.
    let chosen = choosePartition(candidates, replicationFactor, start, racksSet, pairs);
    place(chosen, +1, pairs);
    if (racksSet && !loadCorrelated(candidates)) {
      place(chosen, -1, pairs);
      chosen = choosePartition(candidates, replicationFactor, start, false, pairs);
      place(chosen, +1, pairs);
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
