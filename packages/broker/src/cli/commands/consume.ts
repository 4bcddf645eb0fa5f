/** `streambus consume TOPIC [--group G | --partition P] [--from-beginning | --offset O] [--limit N]`. */
import type { CliConsumeStart, CliRecord } from '../client.js';
import type { Command } from '../command.js';
import {
  UsageError,
  booleanOption,
  clientOptionHelp,
  clientOptions,
  durationOption,
  integerOption,
  stringOption,
} from '../command.js';
import { ExitCode } from '../exit-codes.js';
import { decodeUtf8, jsonLine } from '../format.js';
import { partitionIndexMax } from './produce.js';
import { withClient } from './with-client.js';

const limitMax = Number.MAX_SAFE_INTEGER;

export const consume: Command = {
  path: ['consume'],
  summary: 'print committed records (Ctrl-C, --limit or --idle-timeout stops)',
  synopsis:
    'consume TOPIC [--group G | --partition P] [--from-beginning | --offset O] [--limit N] [--idle-timeout DURATION]',
  optionHelp: [
    '-g, --group G                    consume as a member of group G: partitions shared with its other members, committed as printed (at least once)',
    '-P, --partition P                read one partition (default: all)',
    '    --from-beginning             start at the oldest record (default: only new records); with --group: where no offset is committed',
    '    --offset O                   start at offset O (needs --partition)',
    '-n, --limit N                    stop after N records',
    '    --idle-timeout DURATION      stop when no record arrives for this long (e.g. 2s)',
    ...clientOptionHelp,
  ],
  options: {
    ...clientOptions,
    partition: { type: 'string', short: 'P' },
    group: { type: 'string', short: 'g' },
    'from-beginning': { type: 'boolean' },
    offset: { type: 'string' },
    limit: { type: 'string', short: 'n' },
    'idle-timeout': { type: 'string' },
  },
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const topic = input.positionals[0] ?? '';
    const partition = integerOption(input.values, 'partition', 0, partitionIndexMax);
    const offset = integerOption(input.values, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const fromBeginning = booleanOption(input.values, 'from-beginning');
    const limit = integerOption(input.values, 'limit', 1, limitMax);
    const idleTimeoutMs =
      stringOption(input.values, 'idle-timeout') === undefined
        ? undefined
        : durationOption(input.values, 'idle-timeout', 0);
    const group = stringOption(input.values, 'group');
    if (fromBeginning && offset !== undefined) throw new UsageError('--from-beginning and --offset exclude each other');
    if (group !== undefined && (partition !== undefined || offset !== undefined))
      throw new UsageError('--group excludes --partition and --offset: the group assigns partitions and keeps offsets');
    if (group !== undefined && !/^[a-zA-Z0-9._-]{1,249}$/.test(group))
      throw new UsageError(`--group must be 1..249 characters of [a-zA-Z0-9._-], got "${group}"`);
    if (offset !== undefined && partition === undefined)
      throw new UsageError('--offset needs --partition: offsets are per partition');
    const start: CliConsumeStart = offset !== undefined ? { offset } : fromBeginning ? 'beginning' : 'end';
    return withClient(
      input,
      'consume',
      async ({ client, json, out }) => {
        const stop = new AbortController();
        const onInterrupt = (): void => stop.abort();
        input.deps.io.signal.addEventListener('abort', onInterrupt, { once: true });
        let idleTimer: NodeJS.Timeout | undefined;
        const armIdle = (): void => {
          if (idleTimeoutMs === undefined) return;
          clearTimeout(idleTimer);
          idleTimer = setTimeout(() => stop.abort(), idleTimeoutMs);
        };
        try {
          armIdle();
          let count = 0;
          const records = client.consume({
            topic,
            start,
            signal: stop.signal,
            ...(partition === undefined ? {} : { partition }),
            ...(group === undefined ? {} : { group }),
          });
          for await (const record of records) {
            out(json ? jsonLine(recordToJson(record)) : formatRecord(record));
            count++;
            if (limit !== undefined && count >= limit) break;
            armIdle();
          }
          return ExitCode.ok;
        } finally {
          clearTimeout(idleTimer);
          input.deps.io.signal.removeEventListener('abort', onInterrupt);
          stop.abort();
        }
      },
      false,
    );
  },
};

function recordToJson(record: CliRecord): unknown {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp_ms: record.timestampMs,
    key: record.key === null ? null : decodeUtf8(record.key),
    value: decodeUtf8(record.value),
  };
}

function formatRecord(record: CliRecord): string {
  const where = `[${record.partition}@${record.offset}]`;
  return record.key === null
    ? `${where} ${decodeUtf8(record.value)}\n`
    : `${where} ${decodeUtf8(record.key)}: ${decodeUtf8(record.value)}\n`;
}
