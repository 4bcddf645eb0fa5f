/**
 * The workload of the crash test, shared by the child (which writes it) and the parent (which
 * checks what survived): batch `n` of group `g` has a content fixed by (g, n), so any torn or
 * misplaced byte shows.
 */
import { encodeRecordBatch } from '@streambus/proto';

export const crashGroupIds = [1, 2, 3] as const;
export const crashRecordsPerBatch = 4;
export const crashValueBytes = 256;

export function crashBatch(groupId: number, n: number): Buffer {
  const records = Array.from({ length: crashRecordsPerBatch }, (_, i) => ({
    key: Buffer.from(`g${groupId}-n${n}-r${i}`),
    value: Buffer.alloc(crashValueBytes, (groupId * 31 + n * 7 + i) % 251),
  }));
  return encodeRecordBatch(
    { baseOffset: (n - 1) * crashRecordsPerBatch, records },
    { timestampMs: 1_700_000_000_000 + n },
  );
}
