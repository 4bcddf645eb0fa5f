// Public API of @streambus/storage. Named exports only.
export { LevelRaftStore } from './log/level-raft-store.js';
export type { WalSyncPolicy, LevelRaftStoreOptions, OpenProgress, StoreFootprint } from './log/level-raft-store.js';
export type { GroupStats, StoreStats } from './log/store-stats.js';
export type { RetentionPolicy, RetentionResult } from './retention/retention.js';
export type { StoredBatch } from './read/batch-reader.js';
export type { ScrubResult } from './verify/scrub.js';
export type { GroupLog } from './log/group-log.js';
export { verifyStore } from './verify/verify-store.js';
export { repairStore } from './verify/repair-store.js';
export type { RepairOptions, RepairReport } from './verify/repair-store.js';
export type {
  VerifyProblem,
  VerifyProblemKind,
  VerifyProgress,
  VerifyOptions,
  VerifyReport,
} from './verify/verify-store.js';
export {
  StorageError,
  CorruptBatchError,
  CorruptStoreError,
  OffsetOutOfRangeError,
  StoreClosedError,
  StoreLockedError,
  StoreNotFoundError,
  InvalidStoreConfigError,
} from './errors.js';
export type { StorageErrorCode } from './errors.js';
export { KeyKind, makeKey } from './keys.js';
export {
  levelTableFileBytesDefault,
  levelWriteBufferBytes,
  tailCacheBytesMaxDefault,
  loadWindowBytesMax,
  walSyncIntervalMsDefault,
  walSyncIntervalMsMin,
  walSyncIntervalMsMax,
  readBatchesMax,
} from './constants.js';
