/**
 * `streambus topic reassign NAME`: gives partitions new replica lists. The controller records the
 * targets (all or none); each partition's leader then changes its Raft membership one replica at
 * a time (new replicas join as learners, are promoted once caught up, then old ones are removed),
 * so the command returns at once and `topic describe` shows the progress.
 *
 * Two spellings, because node:util parseArgs cannot pair repeated flags:
 *   --partition P --replicas 1,2,4          one partition
 *   --assignment 0=1,2,4 --assignment 1=2,3,4   any number of partitions (repeatable)
 */
import type { CliPartitionReassignment } from '../client.js';
import type { Command, OptionValues } from '../command.js';
import {
  UsageError,
  clientOptionHelp,
  clientOptions,
  integerOption,
  stringListOption,
  stringOption,
} from '../command.js';
import { reassignBrokerIdMax, reassignPartitionMax, reassignReplicasMax, reassignmentsMax } from '../constants.js';
import { ExitCode } from '../exit-codes.js';
import { jsonLine } from '../format.js';
import { withClient } from './with-client.js';

export const topicReassign: Command = {
  path: ['topic', 'reassign'],
  summary: 'move partitions to new replica lists (the move runs in the background)',
  synopsis: 'topic reassign NAME (--partition P --replicas IDS | --assignment P=IDS [--assignment P=IDS ...])',
  optionHelp: [
    '    --partition P                the partition to move (with --replicas)',
    '    --replicas IDS               its new replicas, broker ids, preferred leader first: 1,2,4',
    '    --assignment P=IDS           partition P to replicas IDS, e.g. 0=1,2,4; repeat it for',
    '                                 several partitions (instead of --partition/--replicas)',
    ...clientOptionHelp,
  ],
  options: {
    ...clientOptions,
    partition: { type: 'string' },
    replicas: { type: 'string' },
    assignment: { type: 'string', multiple: true },
  },
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const topic = input.positionals[0] ?? '';
    const reassignments = reassignmentsOption(input.values);
    return withClient(input, 'topic reassign', async ({ client, json, out }) => {
      await client.reassignPartitions(topic, reassignments);
      if (json) {
        out(
          jsonLine({ topic, reassignments: reassignments.map(({ partition, replicas }) => ({ partition, replicas })) }),
        );
      } else {
        out(
          reassignments
            .map(
              ({ partition, replicas }) =>
                `reassigning topic ${topic}: partition ${partition} -> [${replicas.join(',')}]\n`,
            )
            .join(''),
        );
        out(
          `the move proceeds in the background (new replicas join and catch up, then old ones leave); ` +
            `watch it with: streambus topic describe ${topic} (REPLICAS is the target, ISR the replicas caught up)\n`,
        );
      }
      return ExitCode.ok;
    });
  },
};

/** The reassignments asked for, checked; a usage error naming the flag otherwise. */
export function reassignmentsOption(values: OptionValues): readonly CliPartitionReassignment[] {
  const assignments = stringListOption(values, 'assignment');
  const partitionText = stringOption(values, 'partition');
  const replicasText = stringOption(values, 'replicas');
  const pairGiven = partitionText !== undefined || replicasText !== undefined;
  if (assignments.length > 0 && pairGiven)
    throw new UsageError(
      '--assignment and --partition/--replicas exclude each other; write every partition as --assignment P=IDS',
    );
  if (assignments.length === 0 && !pairGiven)
    throw new UsageError('nothing to reassign; give --partition P --replicas IDS, or --assignment P=IDS (repeatable)');
  if (pairGiven) {
    if (partitionText === undefined) throw new UsageError('--replicas needs --partition');
    if (replicasText === undefined) throw new UsageError('--partition needs --replicas');
    const partition = integerOption(values, 'partition', 0, reassignPartitionMax) ?? 0;
    return [{ partition, replicas: parseReplicas(replicasText, '--replicas') }];
  }
  if (assignments.length > reassignmentsMax)
    throw new UsageError(`at most ${reassignmentsMax} partitions per reassignment, got ${assignments.length}`);
  const reassignments = assignments.map(parseAssignment);
  const seen = new Set<number>();
  for (const { partition } of reassignments) {
    if (seen.has(partition)) throw new UsageError(`--assignment names partition ${partition} twice`);
    seen.add(partition);
  }
  return reassignments;
}

/** `P=IDS`, e.g. `0=1,2,4`. */
function parseAssignment(text: string): CliPartitionReassignment {
  const separator = text.indexOf('=');
  if (separator < 0)
    throw new UsageError(`--assignment must be PARTITION=BROKER,BROKER,... (e.g. 0=1,2,4), got "${text}"`);
  const partitionText = text.slice(0, separator).trim();
  if (!/^\d+$/.test(partitionText))
    throw new UsageError(`--assignment ${text}: the partition must be a whole number, got "${partitionText}"`);
  const partition = Number(partitionText);
  if (!Number.isSafeInteger(partition) || partition > reassignPartitionMax)
    throw new UsageError(
      `--assignment ${text}: the partition must be in 0..${reassignPartitionMax}, got ${partitionText}`,
    );
  return { partition, replicas: parseReplicas(text.slice(separator + 1), `--assignment ${text}`) };
}

/** A non-empty list of distinct broker ids, comma-separated: `1,2,4`. */
function parseReplicas(text: string, label: string): readonly number[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.length === 1 && items[0] === '') throw new UsageError(`${label}: no replicas; give broker ids like 1,2,4`);
  if (items.length > reassignReplicasMax)
    throw new UsageError(`${label}: ${items.length} replicas, at most ${reassignReplicasMax} per partition`);
  const replicas: number[] = [];
  for (const item of items) {
    if (!/^\d+$/.test(item)) throw new UsageError(`${label}: "${item}" is not a broker id (a whole number from 1)`);
    const id = Number(item);
    if (!Number.isSafeInteger(id) || id < 1 || id > reassignBrokerIdMax)
      throw new UsageError(`${label}: broker id ${item} is outside 1..${reassignBrokerIdMax}`);
    if (replicas.includes(id))
      throw new UsageError(`${label}: broker ${id} is listed twice; replicas must be distinct`);
    replicas.push(id);
  }
  return replicas;
}
