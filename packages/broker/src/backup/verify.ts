/**
 * `streambus backup verify` and `backup list`: a backup read back against its manifest. Verify
 * checks the manifest's own checksum, the controller snapshot (sha256, then its CRC-32C and
 * invariants by decoding it, and that it names the manifest's topics and partitions), and every
 * partition file (sha256, size, each batch's CRC-32C, offsets following on from start_offset to
 * end_offset, batch and record counts).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { rethrowBug } from '../bugs.js';
import { ControllerCodecError } from '../controller/errors.js';
import { decodeSnapshot } from '../controller/snapshot.js';
import type { ControllerState } from '../controller/state.js';
import { readBatchFile } from './batch-file.js';
import {
  backupsListedMax,
  manifestBytesMax,
  manifestChecksumFileName,
  manifestFileName,
  partialSuffix,
  verifyProblemsMax,
} from './constants.js';
import { BackupError } from './errors.js';
import { backupIdPattern, manifestTotals, parseManifest } from './manifest.js';
import type { BackupManifest } from './manifest.js';

/** The directory of backup `backupId` in `dest`; throws BACKUP_NOT_FOUND. */
export async function backupDirectory(dest: string, backupId: string): Promise<string> {
  if (!backupIdPattern.test(backupId))
    throw new BackupError(
      'BACKUP_INVALID_REQUEST',
      `"${backupId}" is not a backup id (YYYYMMDD-HHMMSS); see streambus backup list`,
    );
  const dir = join(dest, backupId);
  const found = await stat(join(dir, manifestFileName)).then(
    () => true,
    () => false,
  );
  if (!found) {
    const partial = await stat(dir + partialSuffix).then(
      () => true,
      () => false,
    );
    throw new BackupError(
      'BACKUP_NOT_FOUND',
      partial
        ? `backup ${backupId} in ${dest} never completed (${backupId}${partialSuffix}); take a new one`
        : `no backup ${backupId} in ${dest}; see streambus backup list --dest ${dest}`,
    );
  }
  return dir;
}

/** Reads and checks the manifest of the backup in `dir` (its checksum too). */
export async function readManifest(dir: string): Promise<BackupManifest> {
  const path = join(dir, manifestFileName);
  const size = (await stat(path)).size;
  if (size > manifestBytesMax)
    throw new BackupError('BACKUP_CORRUPT', `${path} is larger than a manifest (${size} bytes)`);
  const text = await readFile(path, 'utf8');
  const recorded = (await readFile(join(dir, manifestChecksumFileName), 'utf8').catch(() => '')).split(/\s+/)[0] ?? '';
  const actual = createHash('sha256').update(text).digest('hex');
  if (recorded !== actual)
    throw new BackupError(
      'BACKUP_CORRUPT',
      `${path} does not match ${manifestChecksumFileName}: the manifest was damaged or edited`,
    );
  return parseManifest(text, path);
}

/** Reads the controller snapshot of a backup: sha256 against the manifest, then its own CRC and invariants. */
export async function readControllerState(dir: string, manifest: BackupManifest): Promise<ControllerState> {
  const path = join(dir, manifest.controller.file);
  const bytes = await readFile(path);
  if (
    bytes.byteLength !== manifest.controller.bytes ||
    createHash('sha256').update(bytes).digest('hex') !== manifest.controller.sha256
  )
    throw new BackupError('BACKUP_CORRUPT', `${path} does not match the manifest's size and sha256`);
  let state: ControllerState;
  try {
    state = decodeSnapshot(bytes);
  } catch (error) {
    if (!(error instanceof ControllerCodecError)) throw error;
    throw new BackupError(error.needsUpgrade ? 'BACKUP_UNSUPPORTED' : 'BACKUP_CORRUPT', `${path}: ${error.message}`);
  }
  for (const topic of manifest.topics) {
    const partitions = state.partitionsOf(topic.name);
    if (partitions.length !== topic.partitions.length)
      throw new BackupError(
        'BACKUP_CORRUPT',
        `${path} and the manifest disagree on the partitions of topic ${topic.name}`,
      );
    for (const p of topic.partitions)
      if (partitions[p.partition]?.groupId !== p.groupId)
        throw new BackupError('BACKUP_CORRUPT', `${path} and the manifest disagree on ${topic.name}-${p.partition}`);
  }
  if (state.topicCount !== manifest.topics.length)
    throw new BackupError(
      'BACKUP_CORRUPT',
      `${path} holds ${state.topicCount} topics, the manifest ${manifest.topics.length}`,
    );
  return state;
}

export interface VerifyBackupReport {
  readonly backupId: string;
  /** Empty when the backup is sound. */
  readonly problems: readonly string[];
  readonly partitions: number;
  readonly batches: number;
  readonly records: number;
  readonly bytes: number;
}

/** Verifies the backup in `dir`; damage is reported, not thrown (a missing manifest is thrown). */
export async function verifyBackup(
  dir: string,
  onProgress: (line: string) => void = () => undefined,
): Promise<VerifyBackupReport> {
  const manifest = await readManifest(dir);
  const problems: string[] = [];
  const note = (problem: string): void => {
    if (problems.length < verifyProblemsMax) problems.push(problem);
  };
  try {
    await readControllerState(dir, manifest);
  } catch (error) {
    rethrowBug(error);
    if (!(error instanceof BackupError)) throw error;
    note(error.message);
  }
  let partitions = 0;
  let batches = 0;
  let records = 0;
  let bytes = 0;
  for (const topic of manifest.topics) {
    for (const p of topic.partitions) {
      const path = join(dir, p.file);
      try {
        const found = await readBatchFile(path, p.startOffset);
        if (found.sha256 !== p.sha256) note(`${path}: sha256 ${found.sha256} is not the manifest's ${p.sha256}`);
        if (found.bytes !== p.bytes) note(`${path}: ${found.bytes} bytes, the manifest says ${p.bytes}`);
        if (found.nextOffset !== p.endOffset)
          note(`${path}: ends before offset ${found.nextOffset}, the manifest says ${p.endOffset}`);
        if (found.batches !== p.batches) note(`${path}: ${found.batches} batches, the manifest says ${p.batches}`);
        partitions += 1;
        batches += found.batches;
        records += found.records;
        bytes += found.bytes;
      } catch (error) {
        rethrowBug(error);
        if (error instanceof BackupError) note(error.message);
        else if ((error as NodeJS.ErrnoException).code === 'ENOENT') note(`${path} is missing`);
        else throw error;
      }
    }
    onProgress(`backup ${manifest.backupId}: topic ${topic.name} checked`);
  }
  return { backupId: manifest.backupId, problems, partitions, batches, records, bytes };
}

export interface BackupListing {
  readonly backupId: string;
  readonly completedAt: string;
  readonly recordedAt: string;
  readonly clusterId: string;
  readonly topics: number;
  readonly partitions: number;
  readonly records: number;
  readonly bytes: number;
}

/** The complete backups in `dest`, oldest first (incomplete ones and other files are skipped). */
export async function listBackups(dest: string): Promise<{ backups: BackupListing[]; unreadable: string[] }> {
  let names: string[];
  try {
    names = await readdir(dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new BackupError('BACKUP_NOT_FOUND', `${dest} does not exist; create a backup there first`);
    throw error;
  }
  const backups: BackupListing[] = [];
  const unreadable: string[] = [];
  for (const name of names
    .filter((entry) => backupIdPattern.test(entry))
    .sort()
    .slice(0, backupsListedMax)) {
    try {
      const manifest = await readManifest(join(dest, name));
      const totals = manifestTotals(manifest);
      backups.push({
        backupId: manifest.backupId,
        completedAt: manifest.completedAt,
        recordedAt: manifest.recordedAt,
        clusterId: manifest.clusterId,
        topics: manifest.topics.length,
        partitions: totals.partitions,
        records: totals.records,
        bytes: totals.bytes,
      });
    } catch (error) {
      rethrowBug(error);
      if (!(error instanceof BackupError) && (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      unreadable.push(`${name}: ${(error as Error).message}`);
    }
  }
  return { backups, unreadable };
}
