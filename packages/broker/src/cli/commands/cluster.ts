/** `streambus cluster status`: brokers, controller leader, leaders per broker, under-replicated partitions. */
import type { CliClusterStatus, CliTopicPartition } from '../client.js';
import type { Command } from '../command.js';
import { clientOptionHelp, clientOptions } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable, jsonLine } from '../format.js';
import { withClient } from './with-client.js';

export const clusterStatus: Command = {
  path: ['cluster', 'status'],
  summary: 'brokers, controller leader, leaders per broker, under-replicated partitions',
  synopsis: 'cluster status',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) =>
    withClient(input, 'cluster status', async ({ client, json, out }) => {
      const status = await client.clusterStatus();
      out(json ? jsonLine(statusToJson(status)) : formatStatus(status));
      return ExitCode.ok;
    }),
};

/** `streambus status`: the same as `cluster status` (the seeds' shorter verb). */
export const status: Command = {
  ...clusterStatus,
  path: ['status'],
  summary: 'alias of cluster status',
  synopsis: 'status',
  run: (input) => clusterStatus.run(input),
};

const partitionName = (tp: CliTopicPartition): string => `${tp.topic}-${tp.partition}`;

function statusToJson(status: CliClusterStatus): unknown {
  return {
    cluster_id: status.clusterId,
    controller: status.controllerId,
    topics: status.topicCount,
    partitions: status.partitionCount,
    brokers: status.brokers.map((broker) => ({
      id: broker.id,
      address: `${broker.host}:${broker.port}`,
      alive: broker.alive,
      drained: broker.drained,
      leaders: broker.leaderCount,
      replicas: broker.replicaCount,
    })),
    under_replicated: status.underReplicatedPartitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
    offline: status.offlinePartitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
  };
}

function formatStatus(status: CliClusterStatus): string {
  const controller = status.controllerId === 0 ? 'none (election under way)' : `broker ${status.controllerId}`;
  const header = `cluster ${status.clusterId}: controller ${controller}, ${status.brokers.length} brokers, ${status.topicCount} topics, ${status.partitionCount} partitions\n`;
  const rows = [...status.brokers]
    .sort((a, b) => a.id - b.id)
    .map((broker) => [
      String(broker.id),
      `${broker.host}:${broker.port}`,
      broker.alive ? 'yes' : 'NO',
      broker.drained ? 'yes' : 'no',
      String(broker.leaderCount),
      String(broker.replicaCount),
    ]);
  const list = (items: readonly CliTopicPartition[]): string =>
    items.length === 0 ? 'none' : items.map(partitionName).join(', ');
  return (
    header +
    formatTable(['BROKER', 'ADDRESS', 'ALIVE', 'DRAINED', 'LEADERS', 'REPLICAS'], rows) +
    `under-replicated partitions: ${list(status.underReplicatedPartitions)}\n` +
    `offline partitions: ${list(status.offlinePartitions)}\n`
  );
}
