/** `streambus produce TOPIC [--partition P] [--key K] [--value V]`: one record, or one per stdin line. */
import type { CliClient, CliProduceRecord, CliProduceResult } from '../client.js';
import type { Command } from '../command.js';
import { UsageError, clientOptionHelp, clientOptions, integerOption, stringOption } from '../command.js';
import { produceBatchBytesMax, produceBatchRecordsMax, stdinLineBytesMax } from '../constants.js';
import { ExitCode } from '../exit-codes.js';
import { encodeUtf8, jsonLine } from '../format.js';
import { withClient } from './with-client.js';

export const partitionIndexMax = 99_999;

export const produce: Command = {
  path: ['produce'],
  summary: 'send records (acks=all) and print where each landed',
  synopsis: 'produce TOPIC [--partition P] [--key K] [--value V]',
  optionHelp: [
    '-P, --partition P                partition to write (default: by key hash, else spread)',
    '-k, --key K                      record key (UTF-8)',
    '-v, --value V                    record value (UTF-8); without it, one record per stdin line',
    ...clientOptionHelp,
  ],
  options: {
    ...clientOptions,
    partition: { type: 'string', short: 'P' },
    key: { type: 'string', short: 'k' },
    value: { type: 'string', short: 'v' },
  },
  positionalsMin: 1,
  positionalsMax: 1,
  run: (input) => {
    const topic = input.positionals[0] ?? '';
    const partition = integerOption(input.values, 'partition', 0, partitionIndexMax);
    const keyText = stringOption(input.values, 'key');
    const value = stringOption(input.values, 'value');
    const key = keyText === undefined ? null : encodeUtf8(keyText);
    const record = (text: string): CliProduceRecord => ({
      topic,
      key,
      value: encodeUtf8(text),
      ...(partition === undefined ? {} : { partition }),
    });
    return withClient(
      input,
      'produce',
      async ({ client, json, out }) => {
        const print = (results: readonly CliProduceResult[]): void => {
          for (const result of results) {
            out(
              json
                ? jsonLine({ topic: result.topic, partition: result.partition, offset: result.offset })
                : `partition ${result.partition} offset ${result.offset}\n`,
            );
          }
        };
        if (value !== undefined) {
          print(await client.produce([record(value)]));
          return ExitCode.ok;
        }
        await produceLines(client, input.deps.io.stdinLines(), record, print);
        return ExitCode.ok;
        // From stdin the input may last as long as its writer: each record is bounded by the
        // producer's delivery timeout (--timeout), not the whole run.
      },
      value !== undefined,
    );
  },
};

/** Sends stdin lines in bounded batches, printing results batch by batch, in input order. */
async function produceLines(
  client: CliClient,
  lines: AsyncIterable<string>,
  record: (text: string) => CliProduceRecord,
  print: (results: readonly CliProduceResult[]) => void,
): Promise<void> {
  let batch: CliProduceRecord[] = [];
  let batchBytes = 0;
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    const next = record(line);
    if (next.value.byteLength > stdinLineBytesMax)
      throw new UsageError(`stdin line ${lineNumber} is longer than ${stdinLineBytesMax} bytes`);
    if (batch.length === produceBatchRecordsMax || batchBytes + next.value.byteLength > produceBatchBytesMax) {
      print(await client.produce(batch));
      batch = [];
      batchBytes = 0;
    }
    batch.push(next);
    batchBytes += next.value.byteLength;
  }
  if (batch.length > 0) print(await client.produce(batch));
}
