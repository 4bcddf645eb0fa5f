/** `streambus consumer-groups list|describe|delete|reset-offsets`. */
import type { CliGroupDescription, CliOffsetResetPlan, CliOffsetResetTarget } from '../client.js';
import type { Command, CommandInput } from '../command.js';
import { UsageError, booleanOption, clientOptionHelp, clientOptions, integerOption, stringOption } from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable, jsonLine } from '../format.js';
import { withClient } from './with-client.js';

const groupIdShape = /^[a-zA-Z0-9._-]{1,249}$/;

function groupArgument(input: CommandInput): string {
  const group = input.positionals[0] ?? '';
  if (!groupIdShape.test(group))
    throw new UsageError(`GROUP must be 1..249 characters of [a-zA-Z0-9._-], got "${group}"`);
  return group;
}

export const consumerGroupsList: Command = {
  path: ['consumer-groups', 'list'],
  summary: 'list consumer groups with their state and member count',
  synopsis: 'consumer-groups list',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) =>
    withClient(input, 'consumer-groups list', async ({ client, json, out }) => {
      const groups = await client.listGroups();
      if (json)
        out(
          jsonLine({
            groups: groups.map((g) => ({
              group: g.groupId,
              state: g.state,
              members: g.memberCount,
              coordinator: g.coordinatorId,
            })),
          }),
        );
      else
        out(
          formatTable(
            ['GROUP', 'STATE', 'MEMBERS', 'COORDINATOR'],
            groups.map((g) => [g.groupId, g.state, String(g.memberCount), String(g.coordinatorId)]),
          ),
        );
      return ExitCode.ok;
    }),
};

export const consumerGroupsDescribe: Command = {
  path: ['consumer-groups', 'describe'],
  summary: "show a group's members and, per partition, its committed offset, log end offset and lag",
  synopsis: 'consumer-groups describe GROUP',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const group = groupArgument(input);
    return withClient(input, 'consumer-groups describe', async ({ client, json, out }) => {
      const description = await client.describeGroup(group);
      out(json ? jsonLine(groupToJson(description)) : formatGroup(description));
      return ExitCode.ok;
    });
  },
};

export const consumerGroupsDelete: Command = {
  path: ['consumer-groups', 'delete'],
  summary: 'delete an empty group and its committed offsets',
  synopsis: 'consumer-groups delete GROUP',
  optionHelp: clientOptionHelp,
  options: clientOptions,
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const group = groupArgument(input);
    return withClient(input, 'consumer-groups delete', async ({ client, json, out }) => {
      await client.deleteGroup(group);
      out(json ? jsonLine({ group, deleted: true }) : `deleted group ${group}\n`);
      return ExitCode.ok;
    });
  },
};

export const consumerGroupsResetOffsets: Command = {
  path: ['consumer-groups', 'reset-offsets'],
  summary: "plan (and with --execute apply) moving a group's committed offsets of a topic",
  synopsis:
    'consumer-groups reset-offsets GROUP --topic T (--to-earliest | --to-latest | --to-offset N | --to-datetime ISO) [--execute]',
  optionHelp: [
    '-t, --topic T                    the topic whose partitions move (all of them)',
    '    --to-earliest                to the log start',
    '    --to-latest                  to the end: skip everything not consumed yet',
    "    --to-offset N                to offset N (kept inside each partition's log start..end)",
    '    --to-datetime ISO            to the first record at or after this time (e.g. 2025-01-07T10:30:00Z)',
    '    --execute                    apply the plan (refused while the group has members); without it: print it only',
    ...clientOptionHelp,
  ],
  options: {
    ...clientOptions,
    topic: { type: 'string', short: 't' },
    'to-earliest': { type: 'boolean' },
    'to-latest': { type: 'boolean' },
    'to-offset': { type: 'string' },
    'to-datetime': { type: 'string' },
    execute: { type: 'boolean' },
  },
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const group = groupArgument(input);
    const topic = stringOption(input.values, 'topic');
    if (topic === undefined || topic === '') throw new UsageError('--topic is required');
    const to = resetTarget(input);
    const execute = booleanOption(input.values, 'execute');
    return withClient(input, 'consumer-groups reset-offsets', async ({ client, json, out }) => {
      const plan = await client.resetOffsets(group, topic, to, execute);
      out(json ? jsonLine(planToJson(plan)) : formatPlan(plan));
      return ExitCode.ok;
    });
  },
};

function resetTarget(input: CommandInput): CliOffsetResetTarget {
  const chosen: CliOffsetResetTarget[] = [];
  if (booleanOption(input.values, 'to-earliest')) chosen.push('earliest');
  if (booleanOption(input.values, 'to-latest')) chosen.push('latest');
  const offset = integerOption(input.values, 'to-offset', 0, Number.MAX_SAFE_INTEGER);
  if (offset !== undefined) chosen.push({ offset });
  const datetime = stringOption(input.values, 'to-datetime');
  if (datetime !== undefined) {
    // An ISO 8601 date-time with a zone, or a date alone (midnight UTC): a local time would depend on the machine.
    const shaped = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(datetime);
    const timestampMs = Date.parse(datetime);
    if (!shaped || !Number.isFinite(timestampMs) || timestampMs < 0)
      throw new UsageError(
        `--to-datetime must be an ISO 8601 time with a zone (e.g. 2025-01-07T10:30:00Z), got "${datetime}"`,
      );
    chosen.push({ timestampMs });
  }
  if (chosen.length !== 1)
    throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime ISO');
  return chosen[0] as CliOffsetResetTarget;
}

const orNone = (value: number): string => (value < 0 ? '-' : String(value));

export function groupToJson(d: CliGroupDescription): unknown {
  return {
    group: d.groupId,
    state: d.state,
    group_epoch: d.groupEpoch,
    assignor: d.assignor,
    coordinator: d.coordinatorId,
    partitions: d.partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      current_offset: p.committedOffset,
      log_end_offset: p.logEndOffset,
      lag: p.lag,
      consumer_id: p.memberId,
      host: p.clientHost,
    })),
    members: d.members.map((m) => ({
      member_id: m.memberId,
      instance_id: m.instanceId,
      client_id: m.clientId,
      host: m.clientHost,
      member_epoch: m.memberEpoch,
      assignment: m.assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
    })),
  };
}

function formatGroup(d: CliGroupDescription): string {
  const lag = d.partitions.reduce((sum, p) => sum + Math.max(0, p.lag), 0);
  const header = `group ${d.groupId}: ${d.state}, ${d.members.length} members, assignor ${d.assignor || '-'}, coordinator ${d.coordinatorId}, epoch ${d.groupEpoch}, total lag ${lag}\n`;
  const partitions = formatTable(
    ['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST'],
    d.partitions.map((p) => [
      p.topic,
      String(p.partition),
      orNone(p.committedOffset),
      orNone(p.logEndOffset),
      orNone(p.lag),
      p.memberId || '-',
      p.clientHost || '-',
    ]),
  );
  if (d.members.length === 0) return `${header}${partitions}`;
  const members = formatTable(
    ['MEMBER-ID', 'INSTANCE-ID', 'CLIENT-ID', 'HOST', 'EPOCH', 'PARTITIONS'],
    d.members.map((m) => [
      m.memberId,
      m.instanceId || '-',
      m.clientId || '-',
      m.clientHost || '-',
      String(m.memberEpoch),
      String(m.assignment.length),
    ]),
  );
  return `${header}${partitions}\nmembers:\n${members}`;
}

function planToJson(plan: CliOffsetResetPlan): unknown {
  return {
    group: plan.groupId,
    topic: plan.topic,
    executed: plan.executed,
    members: plan.memberCount,
    partitions: plan.partitions.map((p) => ({
      partition: p.partition,
      current_offset: p.currentOffset,
      new_offset: p.newOffset,
    })),
  };
}

function formatPlan(plan: CliOffsetResetPlan): string {
  const table = formatTable(
    ['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'NEW-OFFSET'],
    plan.partitions.map((p) => [plan.topic, String(p.partition), orNone(p.currentOffset), String(p.newOffset)]),
  );
  const footer = plan.executed
    ? `group ${plan.groupId}: offsets of ${plan.topic} reset\n`
    : plan.memberCount > 0
      ? `dry run: nothing changed; group ${plan.groupId} has ${plan.memberCount} members, stop them before --execute\n`
      : 'dry run: nothing changed; add --execute to apply\n';
  return table + footer;
}
