/**
 * The final state of replicas read from stopped brokers' data directories (real processes): every
 * partition group's committed batches (up to the commit index in its hard state). Partition
 * numbers are recovered from the history: the values a group holds were sent to one partition.
 */
import { join } from 'node:path';
import { LevelRaftStore } from '@streambus/storage';
import type { History } from '../history/history.js';
import type { PartitionFinalState, ReplicaLog, ReplicaRecord } from './final-state.js';
import { readStoredLog } from './replica-logs.js';

const readBytesMax = 16 * 1024 * 1024;

export interface BrokerDataDir {
  readonly brokerId: number;
  /** The broker's data directory (its store is `<dataDir>/raft`). */
  readonly dataDir: string;
}

export async function readStoppedReplicas(
  dirs: readonly BrokerDataDir[],
  topic: string,
  history: History,
): Promise<PartitionFinalState[]> {
  const partitionOfValue = new Map<string, number>();
  for (const op of history.produces) if (op.topic === topic) partitionOfValue.set(op.value, op.partition);
  const byPartition = new Map<number, { groupId: number; replicas: ReplicaLog[] }>();
  for (const { brokerId, dataDir } of dirs) {
    const store = await LevelRaftStore.open(join(dataDir, 'raft'), { walSync: 'none' });
    try {
      for (const groupId of store.groupIds()) {
        if (groupId === 0) continue;
        const log = await readGroup(store, groupId, brokerId);
        const partition = majorityPartition(log.records, partitionOfValue);
        if (partition === null) continue; // another topic's group (or an empty one)
        const entry = byPartition.get(partition) ?? { groupId, replicas: [] };
        entry.replicas.push(log);
        byPartition.set(partition, entry);
      }
    } finally {
      await store.close();
    }
  }
  return [...byPartition]
    .sort(([a], [b]) => a - b)
    .map(([partition, { groupId, replicas }]) => ({ topic, partition, groupId, replicas }));
}

async function readGroup(store: LevelRaftStore, groupId: number, brokerId: number): Promise<ReplicaLog> {
  const commit = store.openGroup(groupId, null).initialState().hardState.commit;
  const highWatermark = store.latestOffset(groupId, commit);
  const read = await readStoredLog(store, groupId, highWatermark, commit, readBytesMax, 'throw');
  return { brokerId, highWatermark, ...read };
}

function majorityPartition(
  records: readonly ReplicaRecord[],
  partitionOfValue: ReadonlyMap<string, number>,
): number | null {
  const votes = new Map<number, number>();
  for (const record of records.slice(0, 100)) {
    const partition = partitionOfValue.get(record.value);
    if (partition !== undefined) votes.set(partition, (votes.get(partition) ?? 0) + 1);
  }
  let best: number | null = null;
  let bestVotes = 0;
  for (const [partition, count] of votes) {
    if (count > bestVotes) {
      best = partition;
      bestVotes = count;
    }
  }
  return best;
}
