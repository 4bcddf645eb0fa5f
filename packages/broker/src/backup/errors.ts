/** Expected failures of backups, as typed values with a stable `code`. */

export type BackupErrorCode =
  /** No backup with that id, or the directory is not a backup directory. */
  | 'BACKUP_NOT_FOUND'
  /** A backup's files do not match its manifest (damaged, truncated, edited). */
  | 'BACKUP_CORRUPT'
  /** The manifest is of a newer format than this version reads. */
  | 'BACKUP_UNSUPPORTED'
  /** A restore target that is not empty, a bad broker id, a backup id that is not an id. */
  | 'BACKUP_INVALID_REQUEST'
  /** The cluster changed under the backup in a way it cannot follow (a partition deleted, gaps). */
  | 'BACKUP_SOURCE_CHANGED';

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}
