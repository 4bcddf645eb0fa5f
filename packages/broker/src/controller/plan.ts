/**
 * Builders the controller leader uses to turn a client request into a command: they validate
 * against the current state (the same checks `apply` makes) and compute a placement, so that the
 * command carries the decision and every broker applies it identically.
 */
import { assert } from '@streambus/raft';
import type { NodeId } from '@streambus/raft';
import type {
  AddPartitionsCommand,
  ConfigEntry,
  CreateTopicCommand,
  PartitionReassignment,
  ReassignPartitionsCommand,
} from './commands.js';
import { partitionsPerTopicMax, reassignmentsPerCommandMax } from './constants.js';
import { assignReplicas, clusterLoad } from './placement.js';
import type { ControllerState, PartitionInfo } from './state.js';
import { failure } from './validation.js';
import type { ControllerFailure } from './validation.js';

export type Plan<C> = { readonly ok: true; readonly command: C } | ControllerFailure;

export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: readonly ConfigEntry[];
}

function placementBrokers(state: ControllerState): { id: number; rack: string | null }[] {
  return state.liveBrokers().map((broker) => ({ id: broker.id, rack: broker.rack }));
}

export function planCreateTopic(state: ControllerState, request: CreateTopicRequest): Plan<CreateTopicCommand> {
  const invalid = state.checkCreateTopic(request.name, request.partitions, request.replicationFactor, request.configs);
  if (invalid !== null) return invalid;
  const assignments = assignReplicas(
    placementBrokers(state),
    request.partitions,
    request.replicationFactor,
    clusterLoad(state),
  );
  return {
    ok: true,
    command: {
      type: 'createTopic',
      name: request.name,
      replicationFactor: request.replicationFactor,
      configs: request.configs,
      assignments,
    },
  };
}

/** Grows topic `name` to `partitionCount` partitions with the topic's replication factor. */
export function planAddPartitions(
  state: ControllerState,
  name: string,
  partitionCount: number,
): Plan<AddPartitionsCommand> {
  const topic = state.topic(name);
  if (topic === undefined) return failure('UNKNOWN_TOPIC', `topic ${name} does not exist`);
  const added = partitionCount - topic.groupIds.length;
  if (!Number.isInteger(partitionCount) || added < 1 || partitionCount > partitionsPerTopicMax) {
    return failure(
      'INVALID_PARTITIONS',
      `topic ${name} has ${topic.groupIds.length} partitions; a new count must be more, and at most ${partitionsPerTopicMax}`,
    );
  }
  const brokers = placementBrokers(state);
  if (topic.replicationFactor > brokers.length) {
    return failure(
      'INVALID_REPLICATION_FACTOR',
      `topic ${name} needs ${topic.replicationFactor} live brokers, ${brokers.length} are live`,
    );
  }
  const assignments = assignReplicas(brokers, added, topic.replicationFactor, clusterLoad(state));
  return { ok: true, command: { type: 'addPartitions', name, assignments } };
}

/** What `planMoveReplicasOff` proposes, and the partitions it found no broker for. */
export interface MoveReplicasPlan {
  /** One command per topic, to propose in order. */
  readonly commands: readonly ReassignPartitionsCommand[];
  /** Partitions left on the broker: no live broker outside them was available. */
  readonly stuck: readonly PartitionInfo[];
}

/**
 * Moves every replica off broker `brokerId` (being decommissioned or lost for good), each to the
 * live broker outside the partition carrying the fewest replicas (then the fewest leaderships when
 * the replica is the preferred leader, then a rack the partition does not use yet). Greedy, one
 * partition at a time: replicas stay within one per broker in the usual cases, but unlike
 * `assignReplicas` nothing guarantees it, and leaderships are not rebalanced.
 * The replacement takes the same position, so a preferred leader is replaced by a new one.
 */
export function planMoveReplicasOff(state: ControllerState, brokerId: NodeId): MoveReplicasPlan | ControllerFailure {
  if (state.broker(brokerId) === undefined) return failure('UNKNOWN_BROKER', `broker ${brokerId} is not registered`);
  const load = clusterLoad(state);
  load.delete(brokerId);
  const live = state.liveBrokers().filter((broker) => broker.id !== brokerId);
  const byTopic = new Map<string, PartitionReassignment[]>();
  const stuck: PartitionInfo[] = [];
  for (const partition of state.partitions()) {
    const position = partition.replicas.indexOf(brokerId);
    if (position < 0) continue;
    // Racks of the replicas that stay.
    const racks = new Set(
      partition.replicas
        .filter((id) => id !== brokerId)
        .map((id) => state.broker(id)?.rack ?? null)
        .filter((rack) => rack !== null),
    );
    let best: { id: NodeId; key: number[] } | null = null;
    for (const broker of live) {
      if (partition.replicas.includes(broker.id)) continue;
      const l = load.get(broker.id) ?? { replicas: 0, leaders: 0 };
      const key = [
        l.replicas,
        position === 0 ? l.leaders : 0,
        broker.rack !== null && racks.has(broker.rack) ? 1 : 0,
        broker.id,
      ];
      if (best === null || compareKeys(key, best.key) < 0) best = { id: broker.id, key };
    }
    if (best === null) {
      stuck.push(partition);
      continue;
    }
    const chosen = load.get(best.id);
    assert(chosen !== undefined, 'a live broker has a load entry');
    load.set(best.id, { replicas: chosen.replicas + 1, leaders: chosen.leaders + (position === 0 ? 1 : 0) });
    const replicas = partition.replicas.map((id) => (id === brokerId ? (best as { id: NodeId }).id : id));
    const list = byTopic.get(partition.topic) ?? [];
    list.push({ partition: partition.partition, replicas });
    byTopic.set(partition.topic, list);
  }
  const commands: ReassignPartitionsCommand[] = [];
  for (const [name, reassignments] of [...byTopic].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (let i = 0; i < reassignments.length; i += reassignmentsPerCommandMax) {
      commands.push({
        type: 'reassignPartitions',
        name,
        reassignments: reassignments.slice(i, i + reassignmentsPerCommandMax),
      });
    }
  }
  return { commands, stuck };
}

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}
