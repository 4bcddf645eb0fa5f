/**
 * `streambus backup create|list|verify|restore` (seed 000's verbs): online backups of a cluster's
 * committed data and controller state into a backup directory, and the data directories of a new
 * cluster built from one. See src/backup/ for the format and how each step is checked.
 */
import type { Command, CommandInput } from '../command.js';
import { UsageError, booleanOption, clientOptionHelp, clientOptions, integerOption, stringOption } from '../command.js';
import { exitCodeForError, ExitCode } from '../exit-codes.js';
import { formatTable, jsonLine } from '../format.js';
import { brokerIdMax } from '../../controller/constants.js';
import { rethrowBug } from '../../bugs.js';
import { reportFailure, withClient } from './with-client.js';

const destHelp = '    --dest DIR                   the backup directory (one subdirectory per backup)';
const idHelp = '    --backup-id ID               the backup (YYYYMMDD-HHMMSS; see backup list)';
const jsonHelp = '    --json                       machine-readable output, one JSON document per line';

function requiredString(input: CommandInput, name: string): string {
  const value = stringOption(input.values, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** Runs a verb that needs no cluster; failures are reported like a client verb's. */
async function local(input: CommandInput, verb: string, run: (json: boolean) => Promise<number>): Promise<number> {
  const json = booleanOption(input.values, 'json');
  try {
    return await run(json);
  } catch (error: unknown) {
    rethrowBug(error);
    reportFailure(input, verb, json, error);
    return exitCodeForError(error);
  }
}

export const backupCreate: Command = {
  path: ['backup', 'create'],
  summary: 'online backup: committed data up to recorded offsets, plus the controller state',
  synopsis: 'backup create --dest DIR',
  optionHelp: [
    destHelp,
    ...clientOptionHelp.map((line) =>
      line.includes('--timeout') ? line.replace('deadline of the operation', 'deadline of each call') : line,
    ),
  ],
  options: { ...clientOptions, dest: { type: 'string' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const dest = requiredString(input, 'dest');
    return withClient(
      input,
      'backup create',
      async ({ client, json, out }) => {
        const { createBackup } = await import('../../backup/create.js');
        const { manifestTotals } = await import('../../backup/manifest.js');
        const manifest = await createBackup({
          source: client,
          dest,
          onProgress: (line) => input.deps.io.stderr(`${line}\n`),
        });
        const totals = manifestTotals(manifest);
        out(
          json
            ? jsonLine({
                backup_id: manifest.backupId,
                dir: `${dest}/${manifest.backupId}`,
                recorded_at: manifest.recordedAt,
                completed_at: manifest.completedAt,
                topics: manifest.topics.length,
                ...totals,
              })
            : `backup ${manifest.backupId} created in ${dest}/${manifest.backupId}: ${manifest.topics.length} topics, ${totals.partitions} partitions, ${totals.records} records, ${totals.bytes} bytes; restore point ${manifest.recordedAt}\n`,
        );
        return ExitCode.ok;
      },
      false,
    );
  },
};

export const backupList: Command = {
  path: ['backup', 'list'],
  summary: 'the complete backups in a backup directory',
  synopsis: 'backup list --dest DIR',
  optionHelp: [destHelp, jsonHelp],
  options: { dest: { type: 'string' }, json: { type: 'boolean' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const dest = requiredString(input, 'dest');
    return local(input, 'backup list', async (json) => {
      const { listBackups } = await import('../../backup/verify.js');
      const { backups, unreadable } = await listBackups(dest);
      const out = input.deps.io.stdout;
      if (json) for (const backup of backups) out(jsonLine(backup));
      else
        out(
          formatTable(
            ['BACKUP ID', 'RESTORE POINT', 'TOPICS', 'PARTITIONS', 'RECORDS', 'BYTES'],
            backups.map((b) => [
              b.backupId,
              b.recordedAt,
              String(b.topics),
              String(b.partitions),
              String(b.records),
              String(b.bytes),
            ]),
          ),
        );
      for (const line of unreadable) input.deps.io.stderr(`streambus backup list: skipped ${line}\n`);
      return ExitCode.ok;
    });
  },
};

export const backupVerify: Command = {
  path: ['backup', 'verify'],
  summary: 'check a backup against its manifest: checksums, every batch CRC, offsets, counts',
  synopsis: 'backup verify --dest DIR --backup-id ID',
  optionHelp: [destHelp, idHelp, jsonHelp],
  options: { dest: { type: 'string' }, 'backup-id': { type: 'string' }, json: { type: 'boolean' } },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const dest = requiredString(input, 'dest');
    const backupId = requiredString(input, 'backup-id');
    return local(input, 'backup verify', async (json) => {
      const { backupDirectory, verifyBackup } = await import('../../backup/verify.js');
      const report = await verifyBackup(await backupDirectory(dest, backupId));
      const ok = report.problems.length === 0;
      const out = input.deps.io.stdout;
      if (json) out(jsonLine({ backup_id: report.backupId, ok, ...report }));
      else {
        for (const problem of report.problems) out(`problem: ${problem}\n`);
        out(
          `backup ${report.backupId}: ${ok ? 'ok' : `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`}; ${report.partitions} partitions, ${report.batches} batches, ${report.records} records, ${report.bytes} bytes checked\n`,
        );
      }
      return ok ? ExitCode.ok : ExitCode.failed;
    });
  },
};

export const backupRestore: Command = {
  path: ['backup', 'restore'],
  summary: 'build the data directories of a new cluster holding a backup',
  synopsis: 'backup restore --dest DIR --backup-id ID --target DIR [--broker-id N]',
  optionHelp: [
    destHelp,
    idHelp,
    "    --target DIR                 with --broker-id: that broker's data directory (empty or new);",
    '                                 without: one data directory per broker, DIR/broker-<id>',
    "    --broker-id N                restore only broker N (run it on each broker's host)",
    jsonHelp,
  ],
  options: {
    dest: { type: 'string' },
    'backup-id': { type: 'string' },
    target: { type: 'string' },
    'broker-id': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionalsMin: 0,
  positionalsMax: 0,
  run: (input) => {
    const dest = requiredString(input, 'dest');
    const backupId = requiredString(input, 'backup-id');
    const target = requiredString(input, 'target');
    const brokerId = integerOption(input.values, 'broker-id', 1, brokerIdMax);
    return local(input, 'backup restore', async (json) => {
      const { backupDirectory } = await import('../../backup/verify.js');
      const { restoreBackup } = await import('../../backup/restore.js');
      const started = Date.now();
      const report = await restoreBackup({
        backupDir: await backupDirectory(dest, backupId),
        target,
        ...(brokerId === undefined ? {} : { brokerId }),
        onProgress: (line) => input.deps.io.stderr(`${line}\n`),
      });
      const out = input.deps.io.stdout;
      const ms = Date.now() - started;
      if (json)
        out(
          jsonLine({
            backup_id: report.backupId,
            brokers: report.brokers.map((b) => ({ broker: b.brokerId, data_dir: b.dataDir })),
            partitions: report.partitions,
            records: report.records,
            bytes: report.bytes,
            ms,
          }),
        );
      else {
        for (const b of report.brokers) out(`broker ${b.brokerId}: ${b.dataDir}\n`);
        out(
          `restored backup ${report.backupId} in ${ms} ms (${report.partitions} partition replicas, ${report.records} records); start each broker on its data directory with its id (--id) and the backup's broker ids as --peers\n`,
        );
      }
      return ExitCode.ok;
    });
  },
};
