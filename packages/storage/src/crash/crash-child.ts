/**
 * Crash-test child: appends one batch to each of three groups per `persist` (group commit)
 * forever, printing `ack N` when the persist of batch N resolved and `synced N` when a sync
 * covering batch N completed (periodic). The parent SIGKILLs it at random moments.
 *   node --conditions=@streambus/source --import tsx crash-child.ts DIR POLICY
 */
import { EntryType } from '@streambus/raft';
import { LevelRaftStore } from '../log/level-raft-store.js';
import type { WalSyncPolicy } from '../log/level-raft-store.js';
import { crashBatch, crashGroupIds } from './crash-workload.js';

const [dir, policyArg] = process.argv.slice(2);
if (dir === undefined || policyArg === undefined) throw new Error('usage: crash-child DIR always|periodic|none');
const policy = policyArg as WalSyncPolicy;
const voters = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

const store = await LevelRaftStore.open(dir, { walSync: policy, walSyncIntervalMs: 5 });
const logs = crashGroupIds.map((g) => store.openGroup(g, voters));
const batchOfPersist: number[] = [0];
store.onSync((persistCount) => {
  const n = batchOfPersist[persistCount];
  if (n !== undefined && n > 0) process.stdout.write(`synced ${n}\n`);
});
let n = Math.min(...logs.map((log) => log.lastIndex())) + 1;
process.stdout.write(`ready ${n - 1}\n`);
for (;;) {
  const index = n;
  await store.persist(
    crashGroupIds.map((groupId) => ({
      groupId,
      hardState: { term: 1, vote: 1, commit: index },
      snapshot: null,
      entries: [{ index, term: 1, type: EntryType.normal, data: crashBatch(groupId, index) }],
    })),
    true,
  );
  batchOfPersist[store.persistCount] = index;
  process.stdout.write(`ack ${index}\n`);
  n++;
}
