import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch } from '@streambus/proto';
import { LevelRaftStore } from '@streambus/storage';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackup } from '../../src/backup/create.js';
import type { BackupSource } from '../../src/backup/create.js';
import { BackupError } from '../../src/backup/errors.js';
import { parseManifest } from '../../src/backup/manifest.js';
import { restoreBackup, restoredControllerState } from '../../src/backup/restore.js';
import { backupDirectory, listBackups, verifyBackup } from '../../src/backup/verify.js';
import { encodeSnapshot, decodeSnapshot } from '../../src/controller/snapshot.js';
import { PartitionState } from '../../src/partition/partition-state.js';
import { readFeatureMarker } from '../../src/server/feature-marker.js';
import { controllerStateWith } from '../server/fakes.js';

const dirs: string[] = [];
async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `streambus-${name}-`));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A cluster of 3 brokers with topic t (2 partitions, RF 2): partition p holds `batches[p]` batches of 3 records. */
function fakeSource(batchesPerPartition: readonly number[], logStart = 0): { source: BackupSource; reads: number } {
  const state = controllerStateWith(3, [{ name: 't', partitions: batchesPerPartition.length, replicationFactor: 2 }]);
  const logs = batchesPerPartition.map((count, partition) =>
    Array.from({ length: count }, (_, i) =>
      encodeRecordBatch(
        {
          baseOffset: logStart + i * 3,
          records: [0, 1, 2].map((r) => ({
            key: null,
            value: Buffer.from(`p${partition}-${i * 3 + r}`),
            timestamp: 1000,
          })),
        },
        { timestampMs: 1000 },
      ),
    ),
  );
  const counter = { reads: 0 };
  const source: BackupSource = {
    exportControllerState: async () => ({
      clusterId: 'c1',
      appliedIndex: 42,
      finalizedLevel: 1,
      snapshot: encodeSnapshot(state),
    }),
    listOffsets: async (partitions, spec) =>
      partitions.map(({ topic, partition }) => ({
        topic,
        partition,
        offset: spec === 'earliest' ? logStart : logStart + (logs[partition]?.length ?? 0) * 3,
      })),
    readBatches: async ({ partition }, offset, bytesMax) => {
      counter.reads += 1;
      const log = logs[partition] ?? [];
      // Whole batches from the one holding `offset`, at least one, about bytesMax.
      const first = log.findIndex((_, i) => logStart + i * 3 + 2 >= offset);
      const batches: Uint8Array[] = [];
      let bytes = 0;
      for (const batch of first < 0 ? [] : log.slice(first)) {
        if (batches.length > 0 && bytes + batch.byteLength > bytesMax) break;
        batches.push(batch);
        bytes += batch.byteLength;
      }
      return { batches, highWatermark: logStart + log.length * 3 };
    },
  };
  return {
    source,
    get reads() {
      return counter.reads;
    },
  };
}

describe('backups', () => {
  it('create writes a manifest with the recorded offsets; verify and list read it back', async () => {
    const dest = await tempDir('backups');
    const { source } = fakeSource([4, 0]);
    const lines: string[] = [];
    const manifest = await createBackup({
      source,
      dest,
      nowMs: () => Date.UTC(2025, 0, 7, 10, 30, 45),
      onProgress: (l) => lines.push(l),
    });
    expect(manifest.backupId).toBe('20250107-103045');
    expect(manifest.topics).toHaveLength(1);
    expect(manifest.topics[0]?.partitions.map((p) => [p.startOffset, p.endOffset, p.batches, p.records])).toEqual([
      [0, 12, 4, 12],
      [0, 0, 0, 0],
    ]);
    expect(lines.at(-1)).toBe(
      'backup 20250107-103045: complete, 2 partitions, 12 records, ' +
        String(manifest.topics[0]?.partitions[0]?.bytes) +
        ' bytes',
    );
    // A second backup in the same second gets its own id.
    const second = await createBackup({ source, dest, nowMs: () => Date.UTC(2025, 0, 7, 10, 30, 45) });
    expect(second.backupId).toBe('20250107-103045-2');
    const report = await verifyBackup(await backupDirectory(dest, manifest.backupId));
    expect(report).toMatchObject({ problems: [], partitions: 2, batches: 4, records: 12 });
    const { backups } = await listBackups(dest);
    expect(backups.map((b) => b.backupId)).toEqual(['20250107-103045', '20250107-103045-2']);
    await expect(backupDirectory(dest, '20250107-999999')).rejects.toMatchObject({ code: 'BACKUP_NOT_FOUND' });
    await expect(backupDirectory(dest, '../etc')).rejects.toMatchObject({ code: 'BACKUP_INVALID_REQUEST' });
  });

  it('verify finds a flipped byte, a truncated file and an edited manifest', async () => {
    const dest = await tempDir('backups');
    const manifest = await createBackup({ source: fakeSource([3, 2]).source, dest });
    const dir = join(dest, manifest.backupId);
    const file = join(dir, manifest.topics[0]?.partitions[0]?.file ?? '');
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from([0xff]), 0, 1, 70);
    await handle.close();
    const flipped = await verifyBackup(dir);
    expect(flipped.problems.join('\n')).toMatch(
      /the batch at byte 0 is damaged: record batch bad crc: stored 0x[0-9a-f]+, computed/,
    );
    const other = join(dir, manifest.topics[0]?.partitions[1]?.file ?? '');
    const bytes = await readFile(other);
    await writeFile(other, bytes.subarray(0, bytes.byteLength - 5));
    expect((await verifyBackup(dir)).problems.join('\n')).toMatch(/bytes after byte \d+ are not a whole batch/);
    const text = await readFile(join(dir, 'manifest.json'), 'utf8');
    await writeFile(join(dir, 'manifest.json'), text.replace('"cluster_id": "c1"', '"cluster_id": "c2"'));
    await expect(verifyBackup(dir)).rejects.toMatchObject({ code: 'BACKUP_CORRUPT' });
  });

  it('parseManifest refuses what it did not write, naming the field', () => {
    const bad = (text: string): string => {
      try {
        parseManifest(text, 'm.json');
      } catch (error) {
        expect(error).toBeInstanceOf(BackupError);
        return (error as BackupError).message;
      }
      throw new Error('accepted');
    };
    expect(bad('{')).toMatch(/^m.json is not JSON/);
    expect(bad('{"format":"other"}')).toBe('m.json: format is not "streambus-backup"');
    expect(bad('{"format":"streambus-backup","format_version":9}')).toMatch(/format version 9 is newer/);
    const manifest = {
      format: 'streambus-backup',
      format_version: 1,
      backup_id: '20250107-103045',
      streambus_version: '0.2.0',
      cluster_id: 'c',
      feature_level: 1,
      started_at: '2025-01-07T10:30:45.000Z',
      recorded_at: '2025-01-07T10:30:45.000Z',
      completed_at: '2025-01-07T10:30:45.000Z',
      controller: { file: 'controller.snapshot', bytes: 10, sha256: 'a'.repeat(64), applied_index: 1 },
      topics: [
        {
          name: 't',
          replication_factor: 1,
          configs: {},
          partitions: [
            {
              partition: 0,
              group_id: 1,
              replicas: [1],
              start_offset: 5,
              end_offset: 3,
              batches: 0,
              records: 0,
              bytes: 0,
              file: 'p/0',
              sha256: 'a'.repeat(64),
            },
          ],
        },
      ],
    };
    expect(bad(JSON.stringify(manifest))).toBe('m.json: topics[0].partitions[0].end_offset is not an integer >= 5');
    const escape = structuredClone(manifest);
    (escape.topics[0]?.partitions[0] as { end_offset: number; file: string }).end_offset = 5;
    (escape.topics[0]?.partitions[0] as { file: string }).file = '../../etc/passwd';
    expect(bad(JSON.stringify(escape))).toBe('m.json: topics[0].partitions[0].file leaves the backup directory');
  });

  it('restore builds identical stores for every replica: the batches at their offsets, committed, above a snapshot of the start offset', async () => {
    const dest = await tempDir('backups');
    const manifest = await createBackup({ source: fakeSource([3, 1], 30).source, dest });
    const target = await tempDir('restored');
    const report = await restoreBackup({ backupDir: join(dest, manifest.backupId), target });
    expect(report.brokers.map((b) => b.brokerId)).toEqual([1, 2, 3]);
    expect(report.partitions).toBe(4);
    const partition0 = manifest.topics[0]?.partitions[0];
    if (partition0 === undefined) throw new Error('no partition 0');
    for (const brokerId of partition0.replicas) {
      const dataDir = join(target, `broker-${brokerId}`);
      expect((await readFeatureMarker(dataDir)).level).toBe(1);
      const store = await LevelRaftStore.open(join(dataDir, 'raft'), {
        snapshotNextOffset: (groupId, data) =>
          groupId === 0 || data.byteLength === 0 ? null : PartitionState.decode(data).nextOffset,
      });
      try {
        const log = store.openGroup(partition0.groupId, null);
        expect(log.initialState().hardState).toEqual({ term: 1, vote: 0, commit: 4 });
        expect([log.firstIndex(), log.lastIndex()]).toEqual([2, 4]);
        expect(PartitionState.decode(log.snapshot().data).nextOffset).toBe(30);
        const batches = await store.readBatches(partition0.groupId, 30, 1 << 20, 4);
        expect(batches.map((b) => [b.raftIndex, b.baseOffset, b.lastOffset])).toEqual([
          [2, 30, 32],
          [3, 33, 35],
          [4, 36, 38],
        ]);
        const controller = store.openGroup(0, null);
        expect(controller.initialState().confState.voters).toEqual([1, 2, 3]);
        const restoredState = decodeSnapshot(controller.snapshot().data);
        expect(restoredState.partitions().every((p) => p.leader === null)).toBe(true);
      } finally {
        await store.close();
      }
    }
    // A target in use is refused before anything is written.
    await expect(restoreBackup({ backupDir: join(dest, manifest.backupId), target })).rejects.toMatchObject({
      code: 'BACKUP_INVALID_REQUEST',
    });
    await expect(
      restoreBackup({ backupDir: join(dest, manifest.backupId), target: await tempDir('one'), brokerId: 9 }),
    ).rejects.toThrow(/broker 9 is not in backup/);
  });

  it('the restored controller state keeps topics and counters, and clears leaders and drains', () => {
    const state = controllerStateWith(3, [{ name: 't', partitions: 2, replicationFactor: 3 }]);
    state.apply({ type: 'setBrokerFenced', brokerId: 2, fenced: true });
    state.apply({ type: 'allocateProducerIds', brokerId: 1, count: 500 });
    const restored = restoredControllerState(state);
    expect(restored.nextProducerId).toBe(state.nextProducerId);
    expect(restored.nextGroupId).toBe(state.nextGroupId);
    expect(restored.broker(2)?.fenced).toBe(false);
    expect(restored.partitionsOf('t').map((p) => p.replicas)).toEqual(state.partitionsOf('t').map((p) => p.replicas));
  });
});
