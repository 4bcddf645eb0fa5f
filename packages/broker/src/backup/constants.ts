/** Bounds of backups (backup create, verify, list, restore). Names carry units last. */
import { recordBatchBytesMax } from '@streambus/proto';
import { assert } from '@streambus/raft';

/** The manifest's `format` and the newest `format_version` this code writes and reads. */
export const backupFormat = 'streambus-backup';
export const backupFormatVersion = 1;
export const manifestFileName = 'manifest.json';
/** sha256 of manifest.json, so that a damaged manifest is found too. */
export const manifestChecksumFileName = 'manifest.sha256';
export const controllerFileName = 'controller.snapshot';
/** A backup being written is under `<id>.partial` and renamed to `<id>` once complete. */
export const partialSuffix = '.partial';
/** A manifest lists every partition and its checksums; anything larger is not a manifest. */
export const manifestBytesMax = 256 * 1024 * 1024;
/** Bytes one read of a partition asks the leader for. */
export const readBytesPerCall = 4 * 1024 * 1024;
/** Bytes read from a backup file at a time (verify, restore). */
export const fileChunkBytes = 8 * 1024 * 1024;
/** Bytes of batches one restore write holds at most (one LevelDB write batch). */
export const restoreWriteBytesMax = 8 * 1024 * 1024;
/** Partitions one offsets request names at most. */
export const offsetsPerRequestMax = 1_000;
/** A partition read that returns nothing below its recorded end is retried for this long (a new leader catching up). */
export const emptyReadRetryMsMax = 10_000;
export const emptyReadPauseMs = 100;
/** Progress is reported at least every this many bytes of one partition. */
export const progressBytes = 64 * 1024 * 1024;
/** Problems `backup verify` lists at most. */
export const verifyProblemsMax = 100;
/** Backups `backup list` reads at most from one directory. */
export const backupsListedMax = 10_000;

assert(fileChunkBytes >= recordBatchBytesMax, 'a file chunk holds the largest batch');
assert(restoreWriteBytesMax >= recordBatchBytesMax, 'a restore write holds the largest batch');
assert(readBytesPerCall >= 1, 'a read asks for something');
assert(emptyReadPauseMs < emptyReadRetryMsMax, 'an empty read is retried more than once');
