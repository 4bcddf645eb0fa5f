/**
 * Test helper: a group's log in memory as the store holds it once `entries` are written above
 * `snapshot` (term runs, offset index, tail cache), with no store behind it: for the unit tests
 * of the pure planners. Built here by hand, not by the planners it tests. Never used in production.
 */
import { isRecordBatch, readBatchHeader } from '@streambus/proto';
import { EntryType } from '@streambus/raft';
import type { ConfState, Entry, HardState, Snapshot } from '@streambus/raft';
import { GroupLog } from '../log/group-log.js';
import type { GroupLogHost } from '../log/group-log.js';

export interface GroupLogSpec {
  readonly groupId?: number;
  readonly snapshot?: Snapshot;
  readonly hard?: HardState;
  readonly offsetFloor?: number;
  readonly repairIndex?: number;
}

export const testVoters: ConfState = {
  voters: [1, 2, 3],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

/** Loads are never started: every entry sits in the tail cache. */
const noLoads: GroupLogHost = {
  loadEntries(): void {},
  windowsDropped(): void {},
};

export function groupLogOf(entries: readonly Entry[], spec: GroupLogSpec = {}): GroupLog {
  const snapshot = spec.snapshot ?? { metadata: { index: 0, term: 0, confState: testVoters }, data: new Uint8Array(0) };
  const hard = spec.hard ?? { term: 0, vote: 0, commit: 0 };
  const log = new GroupLog(spec.groupId ?? 1, noLoads, hard, snapshot, snapshot.metadata.index, spec.offsetFloor ?? 0);
  log.repairIndex = spec.repairIndex ?? 0;
  let term: number | null = null;
  for (const entry of entries) {
    if (entry.term !== term) log.runs.push(entry.index, entry.term);
    term = entry.term;
    if (entry.type !== EntryType.normal || !isRecordBatch(entry.data)) continue;
    const h = readBatchHeader(entry.data);
    log.offsets.append({
      raftIndex: entry.index,
      baseOffset: h.baseOffset,
      lastOffset: h.lastOffset,
      maxTimestamp: h.maxTimestamp,
      bytes: h.sizeBytes,
    });
  }
  log.cacheAppend(entries);
  return log;
}
