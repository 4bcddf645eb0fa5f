/**
 * `streambus backup create --dest DIR`: an online backup through the client API. The cluster
 * keeps serving; the backup reads only committed data.
 *
 *  1. The controller state (ExportControllerState, after a ReadIndex round): topics, configs,
 *     partitions and replicas, id counters (producer ids above it are never reissued after a
 *     restore), the feature level.
 *  2. The recorded offsets: each partition's high watermark right after (ListOffsets latest).
 *     Every record below them is in the backup; this is the restore point.
 *  3. Each partition's committed batches from its log start up to its recorded offset, as stored
 *     (Fetch), CRC-checked as they arrive, written with their sha256.
 *  4. The manifest and its checksum; then the directory `<id>.partial` becomes `<id>`.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecordBatchError, verifyBatch } from '@streambus/proto';
import type { RecordBatchHeader } from '@streambus/proto';
import { decodeSnapshot } from '../controller/snapshot.js';
import { streambusVersion } from '../version.js';
import { BatchFileWriter } from './batch-file.js';
import {
  controllerFileName,
  emptyReadPauseMs,
  emptyReadRetryMsMax,
  manifestChecksumFileName,
  manifestFileName,
  offsetsPerRequestMax,
  partialSuffix,
  progressBytes,
  readBytesPerCall,
} from './constants.js';
import { BackupError } from './errors.js';
import { manifestToJson, manifestTotals } from './manifest.js';
import type { BackupManifest, PartitionManifest, TopicManifest } from './manifest.js';

export interface BackupTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** The cluster as a backup reads it (the SDK's Admin, through the CLI's client). */
export interface BackupSource {
  exportControllerState(): Promise<{
    readonly clusterId: string;
    readonly appliedIndex: number;
    readonly finalizedLevel: number;
    readonly snapshot: Uint8Array;
  }>;
  listOffsets(
    partitions: readonly BackupTopicPartition[],
    spec: 'earliest' | 'latest',
  ): Promise<readonly { readonly topic: string; readonly partition: number; readonly offset: number }[]>;
  readBatches(
    tp: BackupTopicPartition,
    offset: number,
    bytesMax: number,
  ): Promise<{ readonly batches: readonly Uint8Array[]; readonly highWatermark: number }>;
}

export interface CreateBackupOptions {
  readonly source: BackupSource;
  /** The backup directory (several backups, one subdirectory each). */
  readonly dest: string;
  readonly onProgress?: (line: string) => void;
  readonly nowMs?: () => number;
  readonly sleepMs?: (ms: number) => Promise<unknown>;
}

/** A backup id for `atMs`: YYYYMMDD-HHMMSS, UTC. */
export function backupIdAt(atMs: number): string {
  const iso = new Date(atMs).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A fresh id (a suffix when another backup started in the same second). */
async function freshId(dest: string, atMs: number): Promise<string> {
  const base = backupIdAt(atMs);
  for (let n = 1; n < 10_000; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    if (!(await exists(join(dest, id))) && !(await exists(join(dest, id + partialSuffix)))) return id;
  }
  throw new BackupError('BACKUP_INVALID_REQUEST', `${dest} already holds 10000 backups of ${base}`);
}

async function offsetsOf(
  source: BackupSource,
  partitions: readonly BackupTopicPartition[],
  spec: 'earliest' | 'latest',
): Promise<Map<string, number>> {
  const offsets = new Map<string, number>();
  for (let i = 0; i < partitions.length; i += offsetsPerRequestMax) {
    for (const answer of await source.listOffsets(partitions.slice(i, i + offsetsPerRequestMax), spec))
      offsets.set(`${answer.topic}/${answer.partition}`, answer.offset);
  }
  return offsets;
}

/** Creates a backup in `dest`; resolves with its manifest once it is complete on disk. */
export async function createBackup(options: CreateBackupOptions): Promise<BackupManifest> {
  const nowMs = options.nowMs ?? Date.now;
  const progress = options.onProgress ?? (() => undefined);
  const source = options.source;
  await mkdir(options.dest, { recursive: true });
  const startedMs = nowMs();
  const backupId = await freshId(options.dest, startedMs);
  const partial = join(options.dest, backupId + partialSuffix);
  await mkdir(partial);
  try {
    const exported = await source.exportControllerState();
    // Decoding checks the snapshot's CRC-32C and every invariant before anything depends on it.
    const state = decodeSnapshot(exported.snapshot);
    await writeFile(join(partial, controllerFileName), exported.snapshot, { flush: true });
    const partitions = state.partitions().map((p) => ({ topic: p.topic, partition: p.partition }));
    const ends = await offsetsOf(source, partitions, 'latest');
    const recordedMs = nowMs();
    const starts = await offsetsOf(source, partitions, 'earliest');
    progress(
      `backup ${backupId}: controller state as of log index ${exported.appliedIndex} (${state.topicCount} topics, ${state.partitionCount} partitions); offsets recorded`,
    );
    const topics: TopicManifest[] = [];
    for (const topic of state.topics()) {
      await mkdir(join(partial, 'partitions', topic.name), { recursive: true });
      const topicPartitions: PartitionManifest[] = [];
      for (const info of state.partitionsOf(topic.name)) {
        const key = `${info.topic}/${info.partition}`;
        const endOffset = ends.get(key);
        const startOffset = starts.get(key);
        if (endOffset === undefined || startOffset === undefined)
          throw new BackupError('BACKUP_SOURCE_CHANGED', `no offsets for ${info.topic}-${info.partition}`);
        const file = `partitions/${topic.name}/${info.partition}.batches`;
        const written = await backUpPartition(
          options,
          { topic: info.topic, partition: info.partition },
          {
            path: join(partial, file),
            startOffset: Math.min(startOffset, endOffset),
            endOffset,
            label: `backup ${backupId}: ${info.topic}-${info.partition}`,
          },
        );
        topicPartitions.push({
          partition: info.partition,
          groupId: info.groupId,
          replicas: [...info.replicas],
          startOffset: written.startOffset,
          endOffset,
          batches: written.batches,
          records: endOffset - written.startOffset,
          bytes: written.bytes,
          file,
          sha256: written.sha256,
        });
      }
      topics.push({
        name: topic.name,
        replicationFactor: topic.replicationFactor,
        configs: Object.fromEntries(topic.configs.map((entry) => [entry.key, entry.value])),
        partitions: topicPartitions,
      });
    }
    const manifest: BackupManifest = {
      backupId,
      streambusVersion,
      clusterId: exported.clusterId,
      featureLevel: exported.finalizedLevel,
      startedAt: new Date(startedMs).toISOString(),
      recordedAt: new Date(recordedMs).toISOString(),
      completedAt: new Date(nowMs()).toISOString(),
      controller: {
        file: controllerFileName,
        bytes: exported.snapshot.byteLength,
        sha256: createHash('sha256').update(exported.snapshot).digest('hex'),
        appliedIndex: exported.appliedIndex,
      },
      topics,
    };
    const text = manifestToJson(manifest);
    await writeFile(join(partial, manifestFileName), text, { flush: true });
    await writeFile(
      join(partial, manifestChecksumFileName),
      `${createHash('sha256').update(text).digest('hex')}  ${manifestFileName}\n`,
      { flush: true },
    );
    await rename(partial, join(options.dest, backupId));
    const totals = manifestTotals(manifest);
    progress(
      `backup ${backupId}: complete, ${totals.partitions} partitions, ${totals.records} records, ${totals.bytes} bytes`,
    );
    return manifest;
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}

interface PartitionTarget {
  readonly path: string;
  readonly startOffset: number;
  readonly endOffset: number;
  readonly label: string;
}

/** Copies [startOffset, endOffset) of one partition into its file. */
async function backUpPartition(
  options: CreateBackupOptions,
  tp: BackupTopicPartition,
  target: PartitionTarget,
): Promise<{ startOffset: number; batches: number; bytes: number; sha256: string }> {
  const nowMs = options.nowMs ?? Date.now;
  const sleep = options.sleepMs ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const progress = options.onProgress ?? (() => undefined);
  const writer = await BatchFileWriter.create(target.path);
  let offset = target.startOffset;
  let batches = 0;
  let reported = 0;
  let emptySinceMs: number | null = null;
  try {
    while (offset < target.endOffset) {
      const read = await options.source.readBatches(tp, offset, readBytesPerCall);
      let progressed = false;
      for (const batch of read.batches) {
        const header = checkedHeader(batch, target.path);
        if (header.lastOffset < offset) continue;
        if (header.baseOffset >= target.endOffset) break;
        if (header.baseOffset !== offset || header.lastOffset >= target.endOffset)
          throw new BackupError(
            'BACKUP_SOURCE_CHANGED',
            `${tp.topic}-${tp.partition}: a batch of offsets ${header.baseOffset}..${header.lastOffset} does not follow offset ${offset - 1} within the recorded end ${target.endOffset}`,
          );
        await writer.append(batch);
        batches += 1;
        offset = header.lastOffset + 1;
        progressed = true;
      }
      if (!progressed) {
        // A new leader may not have applied up to the recorded offset yet: wait a little.
        emptySinceMs ??= nowMs();
        if (nowMs() - emptySinceMs > emptyReadRetryMsMax)
          throw new BackupError(
            'BACKUP_SOURCE_CHANGED',
            `${tp.topic}-${tp.partition}: no batch at offset ${offset} below the recorded end ${target.endOffset} for ${emptyReadRetryMsMax} ms (high watermark ${read.highWatermark})`,
          );
        await sleep(emptyReadPauseMs);
        continue;
      }
      emptySinceMs = null;
      if (writer.bytes - reported >= progressBytes) {
        reported = writer.bytes;
        progress(
          `${target.label}: ${offset - target.startOffset} of ${target.endOffset - target.startOffset} records, ${writer.bytes} bytes`,
        );
      }
    }
  } catch (error) {
    await writer.abandon();
    throw error;
  }
  const bytes = writer.bytes;
  const sha256 = await writer.finish();
  progress(`${target.label}: ${target.endOffset - target.startOffset} records, ${batches} batches, ${bytes} bytes`);
  return { startOffset: target.startOffset, batches, bytes, sha256 };
}

function checkedHeader(batch: Uint8Array, path: string): RecordBatchHeader {
  try {
    return verifyBatch(batch);
  } catch (error) {
    if (!(error instanceof RecordBatchError)) throw error;
    throw new BackupError('BACKUP_SOURCE_CHANGED', `a batch read for ${path} failed its check: ${error.message}`);
  }
}
