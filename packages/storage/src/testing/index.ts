// Test-only helpers for @streambus/storage. Never used in production.
export { openTempStore, makeTempDir, batchEntry, plainEntry } from './temp-store.js';
export type { TempStore, BatchEntrySpec } from './temp-store.js';
