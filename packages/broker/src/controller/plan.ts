/**
 * Builders the controller leader uses to turn a client request into a command: they validate
 * against the current state (the same checks `apply` makes) and compute a placement, so that the
 * command carries the decision and every broker applies it identically.
 */
import type { AddPartitionsCommand, ConfigEntry, CreateTopicCommand } from './commands.js';
import { partitionsPerTopicMax } from './constants.js';
import { assignReplicas, clusterLoad } from './placement.js';
import type { ControllerState } from './state.js';
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
  const assignments = assignReplicas(placementBrokers(state), request.partitions, request.replicationFactor, clusterLoad(state));
  return {
    ok: true,
    command: { type: 'createTopic', name: request.name, replicationFactor: request.replicationFactor, configs: request.configs, assignments },
  };
}

/** Grows topic `name` to `partitionCount` partitions with the topic's replication factor. */
export function planAddPartitions(state: ControllerState, name: string, partitionCount: number): Plan<AddPartitionsCommand> {
  const topic = state.topic(name);
  if (topic === undefined) return failure('UNKNOWN_TOPIC', `topic ${name} does not exist`);
  const added = partitionCount - topic.groupIds.length;
  if (!Number.isInteger(partitionCount) || added < 1 || partitionCount > partitionsPerTopicMax) {
    return failure('INVALID_PARTITIONS', `topic ${name} has ${topic.groupIds.length} partitions; a new count must be more, and at most ${partitionsPerTopicMax}`);
  }
  const brokers = placementBrokers(state);
  if (topic.replicationFactor > brokers.length) {
    return failure('INVALID_REPLICATION_FACTOR', `topic ${name} needs ${topic.replicationFactor} live brokers, ${brokers.length} are live`);
  }
  const assignments = assignReplicas(brokers, added, topic.replicationFactor, clusterLoad(state));
  return { ok: true, command: { type: 'addPartitions', name, assignments } };
}
