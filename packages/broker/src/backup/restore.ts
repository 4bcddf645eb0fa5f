/**
 * `streambus backup restore --backup-id ID --target DIR`: builds the data directories of a new
 * cluster with the backup's topics and data, without any broker running. Started on them (with
 * the backup's broker ids as their ids and peers), the brokers serve every record of the backup
 * at its original offset.
 *
 * Each broker's store is built the same way, so that every replica of a group holds the very same
 * Raft log (which is what makes the restored groups safe to elect leaders in):
 *  - the controller group: a snapshot at index 1, term 1, of the backed-up controller state with
 *    leadership reports cleared, drains cleared, and each partition's initial replicas set to its
 *    replicas (the groups are bootstrapped anew with them); voters are every broker of the state;
 *  - each partition group a broker is a replica of: a snapshot at index 1, term 1, whose partition
 *    state starts at the backup's start offset, then one entry per backed-up batch (term 1,
 *    indexes 2, 3, ...), all committed; voters are the partition's replicas.
 * Every batch is CRC-checked and every file's sha256 compared to the manifest on the way; a broker
 * directory is written under `<dir>.restoring` and renamed only once complete and synced.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, EntryType } from '@streambus/raft';
import type { Entry, GroupWrite, NodeId } from '@streambus/raft';
import { LevelRaftStore } from '@streambus/storage';
import { controllerGroupId } from '../controller/constants.js';
import { encodeSnapshot } from '../controller/snapshot.js';
import { ControllerState } from '../controller/state.js';
import { PartitionState } from '../partition/partition-state.js';
import { writeFeatureMarker } from '../server/feature-marker.js';
import { confState } from '../server/replica-lifecycle.js';
import { readBatchFile } from './batch-file.js';
import { restoreWriteBytesMax } from './constants.js';
import { BackupError } from './errors.js';
import type { BackupManifest, PartitionManifest } from './manifest.js';
import { readControllerState, readManifest } from './verify.js';

/** The Raft position every restored group starts from. */
const restoredTerm = 1;
const restoredSnapshotIndex = 1;

export interface RestoreOptions {
  /** The backup's directory (`<dest>/<backup id>`). */
  readonly backupDir: string;
  /**
   * With `brokerId`: that broker's data directory. Without: a directory holding one data
   * directory per broker of the backup, `broker-<id>`.
   */
  readonly target: string;
  readonly brokerId?: NodeId;
  readonly onProgress?: (line: string) => void;
}

export interface RestoreReport {
  readonly backupId: string;
  /** Broker id and its data directory, for each directory written. */
  readonly brokers: readonly { readonly brokerId: NodeId; readonly dataDir: string }[];
  readonly partitions: number;
  readonly records: number;
  readonly bytes: number;
}

/** The controller state a restored cluster starts from (see the file comment). */
export function restoredControllerState(state: ControllerState): ControllerState {
  const parts = state.toParts();
  return ControllerState.fromParts({
    ...parts,
    brokers: parts.brokers.map((broker) => ({ ...broker, fenced: false })),
    partitions: parts.partitions.map((partition) => ({
      ...partition,
      initialReplicas: [...partition.replicas],
      leader: null,
    })),
  });
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreReport> {
  const progress = options.onProgress ?? (() => undefined);
  const manifest = await readManifest(options.backupDir);
  const state = restoredControllerState(await readControllerState(options.backupDir, manifest));
  const brokerIds = state.brokers().map((broker) => broker.id);
  if (brokerIds.length === 0) throw new BackupError('BACKUP_CORRUPT', `backup ${manifest.backupId} names no broker`);
  const targets =
    options.brokerId === undefined
      ? brokerIds.map((brokerId) => ({ brokerId, dataDir: join(options.target, `broker-${brokerId}`) }))
      : [{ brokerId: options.brokerId, dataDir: options.target }];
  for (const { brokerId, dataDir } of targets) {
    if (!brokerIds.includes(brokerId))
      throw new BackupError(
        'BACKUP_INVALID_REQUEST',
        `broker ${brokerId} is not in backup ${manifest.backupId} (its brokers: ${brokerIds.join(', ')}); restore as one of them`,
      );
    if (!(await isEmptyOrMissing(dataDir)))
      throw new BackupError('BACKUP_INVALID_REQUEST', `${dataDir} is not empty; restore into a new directory`);
  }
  let records = 0;
  let bytes = 0;
  let partitions = 0;
  for (const { brokerId, dataDir } of targets) {
    const restoring = `${dataDir}.restoring`;
    await rm(restoring, { recursive: true, force: true });
    await mkdir(restoring, { recursive: true });
    try {
      const written = await restoreBroker(manifest, state, brokerIds, brokerId, options.backupDir, restoring, progress);
      records += written.records;
      bytes += written.bytes;
      partitions += written.partitions;
      await writeFeatureMarker(restoring, state.finalizedFeatureLevel);
      await rm(dataDir, { recursive: true, force: true });
      await rename(restoring, dataDir);
    } catch (error) {
      await rm(restoring, { recursive: true, force: true });
      throw error;
    }
    progress(`restore ${manifest.backupId}: broker ${brokerId} ready in ${dataDir}`);
  }
  return { backupId: manifest.backupId, brokers: targets, partitions, records, bytes };
}

async function restoreBroker(
  manifest: BackupManifest,
  state: ControllerState,
  brokerIds: readonly NodeId[],
  brokerId: NodeId,
  backupDir: string,
  dataDir: string,
  progress: (line: string) => void,
): Promise<{ partitions: number; records: number; bytes: number }> {
  const store = await LevelRaftStore.open(join(dataDir, 'raft'), {
    walSync: 'always',
    snapshotNextOffset: (groupId, data) =>
      groupId === controllerGroupId || data.byteLength === 0 ? null : PartitionState.decode(data).nextOffset,
  });
  let partitions = 0;
  let records = 0;
  let bytes = 0;
  try {
    const controllerConf = confState(brokerIds);
    store.openGroup(controllerGroupId, controllerConf);
    await store.persist(
      [
        {
          groupId: controllerGroupId,
          hardState: { term: restoredTerm, vote: 0, commit: restoredSnapshotIndex },
          entries: [],
          snapshot: {
            metadata: { index: restoredSnapshotIndex, term: restoredTerm, confState: controllerConf },
            data: encodeSnapshot(state),
          },
        },
      ],
      true,
    );
    for (const topic of manifest.topics) {
      for (const p of topic.partitions) {
        if (!p.replicas.includes(brokerId)) continue;
        const written = await restorePartition(store, backupDir, p, `${topic.name}-${p.partition}`);
        partitions += 1;
        records += p.records;
        bytes += written;
        progress(
          `restore ${manifest.backupId}: broker ${brokerId}: ${topic.name}-${p.partition}, ${p.records} records`,
        );
      }
    }
  } finally {
    await store.close();
  }
  return { partitions, records, bytes };
}

/** Writes one partition group: its snapshot, then its batches in bounded writes; the last one synced. */
async function restorePartition(
  store: LevelRaftStore,
  backupDir: string,
  p: PartitionManifest,
  name: string,
): Promise<number> {
  const conf = confState(p.replicas);
  store.openGroup(p.groupId, conf);
  let nextIndex = restoredSnapshotIndex + 1;
  let pending: Entry[] = [];
  let pendingBytes = 0;
  let first: GroupWrite['snapshot'] = {
    metadata: { index: restoredSnapshotIndex, term: restoredTerm, confState: conf },
    data: new PartitionState(p.startOffset).encode(),
  };
  const flush = async (sync: boolean): Promise<void> => {
    await store.persist(
      [
        {
          groupId: p.groupId,
          hardState: { term: restoredTerm, vote: 0, commit: nextIndex - 1 },
          entries: pending,
          snapshot: first,
        },
      ],
      sync,
    );
    first = null;
    pending = [];
    pendingBytes = 0;
  };
  const path = join(backupDir, p.file);
  const found = await readBatchFile(path, p.startOffset, async (batch) => {
    if (pendingBytes + batch.byteLength > restoreWriteBytesMax) await flush(false);
    // The reader's buffer is reused: the entry keeps a copy.
    pending.push({
      term: restoredTerm,
      index: nextIndex,
      type: EntryType.normal,
      data: Uint8Array.prototype.slice.call(batch),
    });
    nextIndex += 1;
    pendingBytes += batch.byteLength;
  });
  if (found.sha256 !== p.sha256 || found.nextOffset !== p.endOffset || found.batches !== p.batches)
    throw new BackupError(
      'BACKUP_CORRUPT',
      `${path} does not match the manifest (sha256, end offset or batch count); run streambus backup verify`,
    );
  await flush(true);
  assert(nextIndex - 1 - restoredSnapshotIndex === p.batches, `${name}: every batch became one entry`);
  return found.bytes;
}
