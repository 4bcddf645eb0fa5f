/**
 * A partition file of a backup: record batches concatenated as stored. Written with the sha256 of
 * its bytes; read back in bounded chunks, every batch's CRC-32C checked (verifyBatch) and the
 * offsets checked to follow on from each other, and the sha256 computed again (a pair: checksum on
 * write, verify on read).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { RecordBatchError, splitRecordBatches, verifyBatch } from '@streambus/proto';
import type { RecordBatchHeader } from '@streambus/proto';
import { fileChunkBytes } from './constants.js';
import { BackupError } from './errors.js';

/** Appends batches to a new file, hashing them. */
export class BatchFileWriter {
  private readonly hash = createHash('sha256');
  private written = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
  ) {}

  static async create(path: string): Promise<BatchFileWriter> {
    return new BatchFileWriter(await open(path, 'wx'), path);
  }

  get bytes(): number {
    return this.written;
  }

  async append(batch: Uint8Array): Promise<void> {
    this.hash.update(batch);
    let at = 0;
    while (at < batch.byteLength) {
      const { bytesWritten } = await this.handle.write(batch, at, batch.byteLength - at);
      at += bytesWritten;
    }
    this.written += batch.byteLength;
  }

  /** Flushes to disk and closes; returns the file's sha256 (hex). */
  async finish(): Promise<string> {
    await this.handle.sync();
    await this.handle.close();
    return this.hash.digest('hex');
  }

  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** What reading a partition file found. */
export interface BatchFileSummary {
  readonly sha256: string;
  readonly bytes: number;
  readonly batches: number;
  readonly records: number;
  /** The offset after the last batch (startOffset when empty). */
  readonly nextOffset: number;
}

/**
 * Reads every batch of `path` in order, checks its CRC-32C and that it starts where the previous
 * one ended (the first at `startOffset`), and hands it to `visit`. Throws BackupError
 * (BACKUP_CORRUPT) at the first damage, naming the byte position.
 */
export async function readBatchFile(
  path: string,
  startOffset: number,
  visit: (batch: Uint8Array, header: RecordBatchHeader) => void | Promise<void> = () => undefined,
): Promise<BatchFileSummary> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  let carry: Buffer = Buffer.alloc(0);
  let position = 0;
  let batches = 0;
  let records = 0;
  let nextOffset = startOffset;
  try {
    const chunk = Buffer.alloc(fileChunkBytes);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.byteLength, null);
      if (bytesRead === 0) break;
      hash.update(chunk.subarray(0, bytesRead));
      const data =
        carry.byteLength === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      let split: ReturnType<typeof splitRecordBatches>;
      try {
        split = splitRecordBatches(data);
      } catch (error) {
        throw corrupt(path, position, error);
      }
      for (const batch of split.batches) {
        let header: RecordBatchHeader;
        try {
          header = verifyBatch(batch);
        } catch (error) {
          throw corrupt(path, position, error);
        }
        if (header.baseOffset !== nextOffset)
          throw new BackupError(
            'BACKUP_CORRUPT',
            `${path}: the batch at byte ${position} starts at offset ${header.baseOffset}, not ${nextOffset}`,
          );
        // `batch` views the reused chunk: the visitor copies what it keeps.
        await visit(batch, header);
        nextOffset = header.lastOffset + 1;
        batches += 1;
        records += header.recordCount;
        position += batch.byteLength;
      }
      carry = Buffer.from(data.subarray(data.byteLength - split.restBytes));
    }
  } finally {
    await handle.close();
  }
  if (carry.byteLength > 0)
    throw new BackupError(
      'BACKUP_CORRUPT',
      `${path}: ${carry.byteLength} bytes after byte ${position} are not a whole batch`,
    );
  return { sha256: hash.digest('hex'), bytes: position, batches, records, nextOffset };
}

function corrupt(path: string, position: number, error: unknown): BackupError {
  if (!(error instanceof RecordBatchError)) throw error;
  return new BackupError('BACKUP_CORRUPT', `${path}: the batch at byte ${position} is damaged: ${error.message}`);
}
