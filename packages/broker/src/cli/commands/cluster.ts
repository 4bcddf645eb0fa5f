/**
 * `streambus cluster status`: brokers, controller leader, leaders per broker, under-replicated
 * partitions, and the consumer groups whose lag is over a threshold.
 */
import type { CliClient, CliClusterStatus, CliTopicPartition } from '../client.js';
import type { Command } from '../command.js';
import { clientOptionHelp, clientOptions, integerOption } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable, jsonLine } from '../format.js';
import { withClient } from './with-client.js';

/** The alert rule's threshold (ops/prometheus/alerts.yml: ConsumerLagHigh). */
const lagThresholdDefault = 10_000;
/** Groups described at most (one DescribeGroups and one ListOffsets round each). */
const lagGroupsMax = 100;
/** The lag part's own budget, within the command's --timeout: the status itself must not wait on it. */
const lagSummaryMsMax = 4_000;

export const clusterStatus: Command = {
  path: ['cluster', 'status'],
  summary: 'brokers, controller leader, leaders per broker, under-replicated partitions, lagging groups',
  synopsis: 'cluster status [--lag-threshold N]',
  optionHelp: [
    ...clientOptionHelp,
    `    --lag-threshold N            list consumer groups whose lag is over N records (default ${lagThresholdDefault})`,
  ],
  options: { ...clientOptions, 'lag-threshold': { type: 'string' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const lagThreshold =
      integerOption(input.values, 'lag-threshold', 0, Number.MAX_SAFE_INTEGER) ?? lagThresholdDefault;
    return withClient(input, 'cluster status', async ({ client, json, out }) => {
      const status = await client.clusterStatus();
      const groups = await lagSummary(client, lagThreshold);
      out(
        json
          ? jsonLine({ ...(statusToJson(status) as object), consumer_groups: groups })
          : formatStatus(status, groups),
      );
      return ExitCode.ok;
    });
  },
};

/** What cluster status says of consumer groups. */
type LagSummary =
  | {
      readonly count: number;
      readonly lag_threshold: number;
      /** Groups over the threshold, the most lagging first. */
      readonly lagging: readonly { readonly group: string; readonly lag: number; readonly lag_max: number }[];
      /** Groups beyond lagGroupsMax, not described. */
      readonly not_described: number;
    }
  | { readonly error: string };

/**
 * The groups whose lag (the sum over their partitions) is over `threshold`. A failure (a broker
 * down: listing asks every broker) is reported in the summary, never failing the status.
 */
async function lagSummary(client: CliClient, threshold: number): Promise<LagSummary> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<LagSummary>((resolve) => {
    timer = setTimeout(
      () => resolve({ error: `no answer within ${lagSummaryMsMax} ms (a coordinator unreachable?)` }),
      lagSummaryMsMax,
    );
  });
  try {
    return await Promise.race([describeLagging(client, threshold), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function describeLagging(client: CliClient, threshold: number): Promise<LagSummary> {
  try {
    const groups = await client.listGroups();
    const described = [...groups].sort((a, b) => (a.groupId < b.groupId ? -1 : 1)).slice(0, lagGroupsMax);
    const lagging: { group: string; lag: number; lag_max: number }[] = [];
    for (const listing of described) {
      const group = await client.describeGroup(listing.groupId);
      const lags = group.partitions.map((partition) => partition.lag);
      const lag = lags.reduce((sum, value) => sum + value, 0);
      if (lag > threshold) lagging.push({ group: group.groupId, lag, lag_max: Math.max(...lags) });
    }
    lagging.sort((a, b) => b.lag - a.lag);
    return { count: groups.length, lag_threshold: threshold, lagging, not_described: groups.length - described.length };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

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

function formatLag(groups: LagSummary): string {
  if ('error' in groups) return `consumer groups: unknown (${groups.error})\n`;
  const over = `lag over ${groups.lag_threshold} records`;
  const skipped = groups.not_described === 0 ? '' : ` (${groups.not_described} more not described)`;
  if (groups.lagging.length === 0) return `consumer groups: ${groups.count}, none with ${over}${skipped}\n`;
  const names = groups.lagging.map((g) => `${g.group} (lag ${g.lag}, max ${g.lag_max} on one partition)`);
  return `consumer groups: ${groups.count}, with ${over}: ${names.join(', ')}${skipped}\n`;
}

function formatStatus(status: CliClusterStatus, groups: LagSummary): string {
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
    `offline partitions: ${list(status.offlinePartitions)}\n` +
    formatLag(groups)
  );
}
