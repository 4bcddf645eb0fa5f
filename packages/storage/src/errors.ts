/** Expected failures of the storage package, with stable codes. Bugs are `assert` failures. */
export type StorageErrorCode =
  | 'CORRUPT_BATCH'
  | 'CORRUPT_STORE'
  | 'OFFSET_OUT_OF_RANGE'
  | 'STORE_CLOSED'
  | 'STORE_LOCKED'
  | 'STORE_NOT_FOUND'
  | 'INVALID_CONFIG';

export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
}

/** A stored record batch failed its CRC or disagrees with the offset index; it is never served. */
export class CorruptBatchError extends StorageError {
  readonly code = 'CORRUPT_BATCH' as const;
  constructor(
    readonly groupId: number,
    readonly index: number,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(
      `group ${groupId}: the batch at raft index ${index} (offset ${offset}) is corrupt (${reason}); run 'streambus wal verify' and re-replicate this replica`,
    );
  }
}

/** The store's metadata cannot be read back; the data directory needs verification. */
export class CorruptStoreError extends StorageError {
  readonly code = 'CORRUPT_STORE' as const;
  constructor(
    readonly groupId: number,
    readonly reason: string,
  ) {
    super(`group ${groupId}: stored state is inconsistent (${reason}); run 'streambus wal verify' on the data dir`);
  }
}

/** A fetch or lookup asked for an offset outside [earliest, next]. */
export class OffsetOutOfRangeError extends StorageError {
  readonly code = 'OFFSET_OUT_OF_RANGE' as const;
  constructor(
    readonly groupId: number,
    readonly offset: number,
    readonly earliestOffset: number,
    readonly nextOffset: number,
  ) {
    super(
      `group ${groupId}: offset ${offset} is outside the log [${earliestOffset}, ${nextOffset}]; reset to the earliest or latest offset`,
    );
  }
}

/** The store was closed. */
export class StoreClosedError extends StorageError {
  readonly code = 'STORE_CLOSED' as const;
  constructor() {
    super('the storage is closed');
  }
}

/** Options out of range. */
export class InvalidStoreConfigError extends StorageError {
  readonly code = 'INVALID_CONFIG' as const;
  constructor(detail: string) {
    super(`invalid storage config: ${detail}`);
  }
}

/** Another process (a running broker) holds the data directory's lock. */
export class StoreLockedError extends StorageError {
  readonly code = 'STORE_LOCKED' as const;
  constructor(readonly dir: string) {
    super(`the data dir ${dir} is in use by another process (a running broker?); stop it first or verify through it`);
  }
}

/** There is no store at the path given. */
export class StoreNotFoundError extends StorageError {
  readonly code = 'STORE_NOT_FOUND' as const;
  constructor(readonly dir: string) {
    super(`no StreamBus store at ${dir}; check the data dir path`);
  }
}
