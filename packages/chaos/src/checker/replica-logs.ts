/**
 * Reads the final state of every replica of a partition from running in-process brokers: the
 * stored batches up to each replica's applied index (its high watermark), byte for byte.
 */
import { decodeRecordBatch } from '@streambus/proto';
import { CorruptBatchError } from '@streambus/storage';
import type { LevelRaftStore } from '@streambus/storage';
import type { Broker } from '@streambus/broker';
import type { ReplicaLog, ReplicaRecord, StoredBatchBytes } from './final-state.js';

const readBytesMax = 4 * 1024 * 1024;

export async function readReplicaLog(broker: Broker, groupId: number): Promise<ReplicaLog | null> {
  const replica = broker.replicas.get(groupId);
  if (replica === undefined || !broker.host.hasGroup(groupId)) return null;
  const highWatermark = replica.highWatermark;
  const read = await readStoredLog(
    broker.store,
    groupId,
    highWatermark,
    replica.appliedRaftIndex,
    readBytesMax,
    'report',
  );
  return { brokerId: broker.nodeId, highWatermark, ...read };
}

/**
 * Every stored batch of a group from its earliest offset up to `highWatermark` (raft indexes at
 * most `indexMax`), copied, with its records decoded. A corrupt batch ends the read: reported as
 * `corrupt` or rethrown.
 */
export async function readStoredLog(
  store: LevelRaftStore,
  groupId: number,
  highWatermark: number,
  indexMax: number,
  bytesPerRead: number,
  onCorrupt: 'report' | 'throw',
): Promise<Pick<ReplicaLog, 'batches' | 'records' | 'corrupt'>> {
  const batches: StoredBatchBytes[] = [];
  const records: ReplicaRecord[] = [];
  let offset = store.earliestOffset(groupId);
  let corrupt = false;
  while (offset < highWatermark) {
    let stored;
    try {
      stored = await store.readBatches(groupId, offset, bytesPerRead, indexMax);
    } catch (error) {
      if (error instanceof CorruptBatchError && onCorrupt === 'report') {
        corrupt = true;
        break;
      }
      throw error;
    }
    if (stored.length === 0) break;
    for (const batch of stored) {
      const data = Uint8Array.from(batch.data);
      batches.push({ baseOffset: batch.baseOffset, lastOffset: batch.lastOffset, data });
      for (const record of decodeRecordBatch(data).records) {
        records.push({
          offset: record.offset,
          value: record.value === null ? '' : Buffer.from(record.value).toString('utf8'),
        });
      }
      offset = batch.lastOffset + 1;
    }
  }
  return { batches, records, corrupt };
}
