/** `streambus topic create|list|describe|delete`. */
import type { CliTopicDescription } from '../client.js';
import type { Command } from '../command.js';
import { booleanOption, clientOptionHelp, clientOptions, integerOption } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatIdList, formatTable, jsonLine } from '../format.js';
import { withClient } from './with-client.js';

const partitionsMax = 100_000;
const replicationFactorMax = 64;

export const topicCreate: Command = {
  path: ['topic', 'create'],
  summary: 'create a topic',
  synopsis: 'topic create NAME [--partitions N] [--replication-factor R] [--if-not-exists]',
  optionHelp: [
    '-p, --partitions N               partition count (default: the cluster default)',
    '-r, --replication-factor R       replicas per partition (default: the cluster default)',
    '    --if-not-exists              succeed when the topic exists already',
    ...clientOptionHelp,
  ],
  options: {
    ...clientOptions,
    partitions: { type: 'string', short: 'p' },
    'replication-factor': { type: 'string', short: 'r' },
    'if-not-exists': { type: 'boolean' },
  },
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const name = input.positionals[0] ?? '';
    const partitions = integerOption(input.values, 'partitions', 1, partitionsMax);
    const replicationFactor = integerOption(input.values, 'replication-factor', 1, replicationFactorMax);
    return withClient(input, 'topic create', async ({ client, json, out }) => {
      let created = true;
      try {
        await client.createTopic({
          name,
          ...(partitions === undefined ? {} : { partitions }),
          ...(replicationFactor === undefined ? {} : { replicationFactor }),
        });
      } catch (error: unknown) {
        const exists =
          typeof error === 'object' && error !== null && 'code' in error && error.code === 'TOPIC_ALREADY_EXISTS';
        if (!exists || !booleanOption(input.values, 'if-not-exists')) throw error;
        created = false;
      }
      if (json) {
        out(
          jsonLine({
            topic: name,
            created,
            ...(partitions === undefined ? {} : { partitions }),
            ...(replicationFactor === undefined ? {} : { replication_factor: replicationFactor }),
          }),
        );
      } else if (!created) {
        out(`topic ${name} exists already\n`);
      } else {
        const shape = [
          partitions === undefined ? '' : `${partitions} partitions`,
          replicationFactor === undefined ? '' : `replication factor ${replicationFactor}`,
        ].filter((part) => part !== '');
        out(`created topic ${name}${shape.length === 0 ? '' : ` (${shape.join(', ')})`}\n`);
      }
      return ExitCode.ok;
    });
  },
};

export const topicList: Command = {
  path: ['topic', 'list'],
  summary: 'list topics',
  synopsis: 'topic list',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) =>
    withClient(input, 'topic list', async ({ client, json, out }) => {
      const names = [...(await client.listTopics())].sort();
      if (json) out(jsonLine({ topics: names }));
      else out(names.map((name) => `${name}\n`).join(''));
      return ExitCode.ok;
    }),
};

export const topicDescribe: Command = {
  path: ['topic', 'describe'],
  summary: 'show partitions, leaders, replicas, in-sync replicas and high watermarks',
  synopsis: 'topic describe NAME',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) =>
    withClient(input, 'topic describe', async ({ client, json, out }) => {
      const description = await client.describeTopic(input.positionals[0] ?? '');
      out(json ? jsonLine(topicToJson(description)) : formatTopic(description));
      return ExitCode.ok;
    }),
};

export const topicDelete: Command = {
  path: ['topic', 'delete'],
  summary: 'delete a topic and its records',
  synopsis: 'topic delete NAME [--if-exists]',
  optionHelp: ['    --if-exists                  succeed when there is no such topic', ...clientOptionHelp],
  options: { ...clientOptions, 'if-exists': { type: 'boolean' } },
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const name = input.positionals[0] ?? '';
    return withClient(input, 'topic delete', async ({ client, json, out }) => {
      let deleted = true;
      try {
        await client.deleteTopic(name);
      } catch (error: unknown) {
        const missing =
          typeof error === 'object' && error !== null && 'code' in error && error.code === 'UNKNOWN_TOPIC_OR_PARTITION';
        if (!missing || !booleanOption(input.values, 'if-exists')) throw error;
        deleted = false;
      }
      if (json) out(jsonLine({ topic: name, deleted }));
      else out(deleted ? `deleted topic ${name}\n` : `topic ${name} does not exist\n`);
      return ExitCode.ok;
    });
  },
};

export function topicToJson(description: CliTopicDescription): unknown {
  return {
    topic: description.name,
    partitions: description.partitions.map((partition) => ({
      partition: partition.partition,
      leader: partition.leaderId,
      replicas: partition.replicas,
      isr: partition.inSyncReplicas,
      high_watermark: partition.highWatermark,
      log_start_offset: partition.logStartOffset,
    })),
  };
}

function formatTopic(description: CliTopicDescription): string {
  const partitions = [...description.partitions].sort((a, b) => a.partition - b.partition);
  const underReplicated = partitions.filter(
    (partition) => partition.inSyncReplicas.length < partition.replicas.length,
  ).length;
  const header = `topic ${description.name}: ${partitions.length} partitions, replication factor ${partitions[0]?.replicas.length ?? 0}${underReplicated === 0 ? '' : `, ${underReplicated} under-replicated`}\n`;
  const rows = partitions.map((partition) => [
    String(partition.partition),
    partition.leaderId === 0 ? 'none' : String(partition.leaderId),
    formatIdList(partition.replicas),
    formatIdList(partition.inSyncReplicas),
    String(partition.highWatermark),
    String(partition.logStartOffset),
  ]);
  return header + formatTable(['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'HIGH-WATERMARK', 'LOG-START'], rows);
}
